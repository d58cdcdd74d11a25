//! HTTPS: the routes, TLS with a hot-swappable certificate, and the accept loop.
//!
//! HTTP/1.1 only, as MetalLB serves its webhooks unless `--webhook-http2` (HTTP/2 rapid-reset
//! exposure); TLS 1.3 only unless told 1.2 is acceptable. The certificate is looked up per
//! handshake from a [`CertStore`], so a renewed certificate is served from the next
//! connection on, without a restart.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use ferrolb_api::Resources;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{ServerConfig, version};

use crate::admission::{self, Kind};
use crate::conversion;
use crate::{TlsMinVersion, WebhookError};
use ferrolb_api::install;

/// The largest request body accepted: the API server's own limit for a request (3 MiB), so
/// no object it accepted is refused here, and nothing larger is buffered.
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;
/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where reviews get the existing objects from.
#[derive(Clone)]
pub enum ExistingSource {
    /// The API server, listed at each review ([`crate::existing::list`]).
    Cluster(kube::Client),
    /// A fixed set, for tests and tools.
    Fixed(Arc<Resources>),
}

impl std::fmt::Debug for ExistingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExistingSource::Cluster(_) => f.write_str("ExistingSource::Cluster"),
            ExistingSource::Fixed(r) => f.debug_tuple("ExistingSource::Fixed").field(r).finish(),
        }
    }
}

impl ExistingSource {
    async fn list(&self, namespace: &str) -> Result<Resources, String> {
        match self {
            ExistingSource::Cluster(client) => {
                crate::existing::list(client, namespace).await.map_err(|e| admission::one_line(&e))
            }
            ExistingSource::Fixed(resources) => Ok((**resources).clone()),
        }
    }
}

#[derive(Clone, Debug)]
struct AppState {
    source: ExistingSource,
    namespace: Arc<str>,
}

/// The webhook routes: one validation path per kind (MetalLB's paths) and `/convert`.
pub fn router(source: ExistingSource, namespace: &str) -> Router {
    let state = AppState { source, namespace: namespace.into() };
    let mut router = Router::new().route(install::CONVERSION_PATH, post(convert));
    for (path, kind) in admission::validation_paths() {
        router = router.route(path, post(move |state: State<AppState>, body: Bytes| validate(state, kind, body)));
    }
    router.layer(DefaultBodyLimit::max(BODY_LIMIT)).with_state(state)
}

async fn validate(State(state): State<AppState>, kind: Kind, body: Bytes) -> Response {
    let review = match admission::decode_review(&body) {
        Ok(review) => review,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    if let Some(verdict) = admission::precheck(&review, kind, &state.namespace) {
        return Json(admission::respond(&review, &verdict)).into_response();
    }
    let existing = match state.source.list(&state.namespace).await {
        Ok(existing) => existing,
        // Not a verdict: the API server applies the webhook's failurePolicy.
        Err(e) => {
            tracing::warn!(error = %e, "webhook: cannot list the existing objects");
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot list the existing objects: {e}\n"))
                .into_response();
        }
    };
    let verdict = admission::validate(&review, kind, &existing, &state.namespace);
    if let admission::Verdict::Denied { message } = &verdict {
        tracing::info!(kind = kind.name(), name = %review.name(), %message, "webhook: denied");
    }
    Json(admission::respond(&review, &verdict)).into_response()
}

async fn convert(body: Bytes) -> Response {
    match conversion::decode_conversion(&body) {
        Ok(request) => Json(conversion::convert(request)).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

/// The certificate served, replaceable while serving.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
    provider: Arc<CryptoProvider>,
    /// The PEM texts of the current certificate, to skip reloading the same one.
    loaded: RwLock<Option<(String, String)>>,
}

impl Default for CertStore {
    fn default() -> Self {
        Self::new()
    }
}

impl CertStore {
    pub fn new() -> Self {
        Self {
            current: RwLock::new(None),
            provider: Arc::new(tokio_rustls::rustls::crypto::ring::default_provider()),
            loaded: RwLock::new(None),
        }
    }

    /// Serves `cert_pem` (the chain, leaf first) with `key_pem` from the next handshake on.
    /// Returns whether anything changed.
    pub fn set_pem(&self, cert_pem: &str, key_pem: &str) -> Result<bool, WebhookError> {
        let same =
            self.loaded.read().ok().is_some_and(|l| l.as_ref().is_some_and(|(c, k)| c == cert_pem && k == key_pem));
        if same {
            return Ok(false);
        }
        let bad = |what: &str, e: &dyn std::fmt::Display| WebhookError::Certificate(format!("{what}: {e}"));
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad("tls.crt", &e))?;
        if chain.is_empty() {
            return Err(WebhookError::Certificate("tls.crt holds no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| bad("tls.key", &e))?;
        let signing = self.provider.key_provider.load_private_key(key).map_err(|e| bad("tls.key", &e))?;
        let certified = CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|e| bad("tls.key does not match tls.crt", &e))?;
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::new(certified));
        }
        if let Ok(mut loaded) = self.loaded.write() {
            *loaded = Some((cert_pem.to_owned(), key_pem.to_owned()));
        }
        Ok(true)
    }

    /// Reads `tls.crt` and `tls.key` from `dir` (rotation disabled: someone else manages them).
    pub fn load_dir(&self, dir: &Path) -> Result<bool, WebhookError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| WebhookError::Certificate(format!("{}: {e}", dir.join(name).display())))
        };
        self.set_pem(&read("tls.crt")?, &read("tls.key")?)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().and_then(|c| c.clone())
    }
}

/// The TLS settings: the store's certificate, HTTP/1.1 by ALPN, the versions allowed.
pub fn tls_config(store: Arc<CertStore>, min: TlsMinVersion) -> Result<Arc<ServerConfig>, WebhookError> {
    let versions: &[&'static tokio_rustls::rustls::SupportedProtocolVersion] = match min {
        TlsMinVersion::Tls12 => &[&version::TLS13, &version::TLS12],
        TlsMinVersion::Tls13 => &[&version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(store.provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| WebhookError::Certificate(format!("TLS settings: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts connections on `listener` forever, each served on its own task: TLS handshake
/// (bounded in time), then HTTP/1.1 through `app`.
pub async fn serve_tls(listener: TcpListener, tls: Arc<ServerConfig>, app: Router) -> Result<(), WebhookError> {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "webhook: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "webhook: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "webhook: TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await
            {
                tracing::debug!(%peer, error = %e, "webhook: connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use ferrolb_api::Resources;
    use tower::ServiceExt;

    use super::*;

    async fn status_of(path: &str) -> StatusCode {
        let app = router(ExistingSource::Fixed(Arc::new(Resources::default())), install::NAMESPACE);
        let request = Request::post(path).header("content-type", "application/json").body(Body::from("{}")).unwrap();
        app.oneshot(request).await.unwrap().status()
    }

    /// The server answers every path of the install's webhook configuration (a body that is
    /// not a review is a 400 there, not a 404), the conversion path, and nothing else.
    #[tokio::test]
    async fn the_server_serves_exactly_the_install_surfaces_paths() {
        for hook in install::VALIDATING_WEBHOOKS {
            assert_eq!(status_of(hook.path).await, StatusCode::BAD_REQUEST, "{}", hook.path);
        }
        assert_eq!(status_of(install::LEGACY_BGPPEER_PATH).await, StatusCode::BAD_REQUEST);
        assert_eq!(status_of(install::CONVERSION_PATH).await, StatusCode::BAD_REQUEST);
        assert_eq!(status_of("/validate-metallb-io-v1beta1-servicel2status").await, StatusCode::NOT_FOUND);
        let served: Vec<&str> = admission::validation_paths().into_iter().map(|(p, _)| p).collect();
        assert_eq!(served.len(), install::VALIDATING_WEBHOOKS.len() + 1);
    }
}
