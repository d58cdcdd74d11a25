//! HTTPS for ferrolb's servers (the webhooks and the secured `/metrics`): TLS from rustls
//! with a hot-swappable certificate, and the accept loop.
//!
//! HTTP/1.1 only, as MetalLB serves its webhooks unless `--webhook-http2` (HTTP/2 rapid-reset
//! exposure); TLS 1.3 only unless told 1.2 is acceptable (`--tls-min-version`). The
//! certificate is looked up per handshake from a [`CertStore`], so a renewed certificate is
//! served from the next connection on, without a restart.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
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

use crate::TlsMinVersion;
use crate::certs::{self, TLS_CERT, TLS_KEY};

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A certificate that cannot be served, or TLS settings that cannot work: one line, naming
/// the file when one is involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

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
    pub fn set_pem(&self, cert_pem: &str, key_pem: &str) -> Result<bool, TlsError> {
        let same =
            self.loaded.read().ok().is_some_and(|l| l.as_ref().is_some_and(|(c, k)| c == cert_pem && k == key_pem));
        if same {
            return Ok(false);
        }
        let bad = |what: &str, e: &dyn std::fmt::Display| TlsError(format!("{what}: {e}"));
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad("tls.crt", &e))?;
        if chain.is_empty() {
            return Err(TlsError("tls.crt holds no certificate".into()));
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

    /// Reads `tls.crt` and `tls.key` from `dir` (someone else manages them: cert-manager, a
    /// mounted Secret). Returns whether anything changed.
    pub fn load_dir(&self, dir: &Path) -> Result<bool, TlsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| TlsError(format!("cannot read {}: {e}", path.display())))
        };
        let (cert, key) = (read(TLS_CERT)?, read(TLS_KEY)?);
        self.set_pem(&cert, &key).map_err(|e| TlsError(format!("{}: {e}", dir.display())))
    }

    /// Serves a certificate made at start for `names`, signed by a throwaway CA nobody else
    /// holds: what controller-runtime serves when given no certificate directory. Clients
    /// that scrape it cannot verify it and are expected to skip verification, or to be given
    /// a real certificate (`--metrics-cert-dir`).
    pub fn self_signed(&self, names: &[String]) -> Result<(), TlsError> {
        let bundle = certs::generate(names, SystemTime::now()).map_err(|e| TlsError(e.to_string()))?;
        self.set_pem(&bundle.cert, &bundle.key).map(|_| ())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().and_then(|c| c.clone())
    }
}

/// The TLS settings: the store's certificate, HTTP/1.1 by ALPN, the versions allowed.
pub fn tls_config(store: Arc<CertStore>, min: TlsMinVersion) -> Result<Arc<ServerConfig>, TlsError> {
    let versions: &[&'static tokio_rustls::rustls::SupportedProtocolVersion] = match min {
        TlsMinVersion::Tls12 => &[&version::TLS13, &version::TLS12],
        TlsMinVersion::Tls13 => &[&version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(store.provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| TlsError(format!("TLS settings: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts connections on `listener` forever, each served on its own task: TLS handshake
/// (bounded in time), then HTTP/1.1 through `app`.
pub async fn serve_tls(listener: TcpListener, tls: Arc<ServerConfig>, app: Router, server: &'static str) {
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: pause instead of spinning.
                tracing::warn!(error = %e, "{server}: accept failed");
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
                    tracing::debug!(%peer, error = %e, "{server}: TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "{server}: TLS handshake timed out");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await
            {
                tracing::debug!(%peer, error = %e, "{server}: connection ended with an error");
            }
        });
    }
}

/// Re-reads `dir` every `interval` forever, serving its certificate from the next handshake
/// on when it changed: a renewal by cert-manager or an updated Secret mount needs no restart.
/// A read that fails keeps the current certificate, and says so.
pub async fn keep_loading(store: Arc<CertStore>, dir: std::path::PathBuf, interval: Duration, server: &'static str) {
    loop {
        tokio::time::sleep(interval).await;
        match store.load_dir(&dir) {
            Ok(true) => tracing::info!(dir = %dir.display(), "{server}: serving a new certificate"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "{server}: certificate reload failed, keeping the current one"),
        }
    }
}
