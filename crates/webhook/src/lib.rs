//! The validating and conversion webhooks of the metallb.io kinds, as MetalLB's controller
//! serves them (docs/compatibility.md §1.14): same paths, same Service, same certificate Secret.
//!
//! * [`admission`]: pure validation of AdmissionReviews against the whole candidate
//!   configuration (docs/compatibility.md §9.7);
//! * [`conversion`]: pure BGPPeer v1beta1 <-> v1beta2 ConversionReviews;
//! * [`certs`]: the pure certificate decisions (generate, reuse or renew);
//! * [`rotation`], [`existing`]: the API-server side (Secret, caBundles, listing);
//! * [`server`]: the routes; [`tls`]: HTTPS with hot-swapped certificates, shared with the
//!   secured `/metrics`; [`serve`] ties it all together;
//! * [`manifest`]: the ValidatingWebhookConfiguration the install manifests must carry.
//!
//! What the install must grant the process: in the namespace, `get/list` on the six
//! metallb.io configuration kinds and on Secrets, `create/update` on Secrets (the certificate
//! Secret); cluster-wide, `list` on Nodes and Namespaces, `get/patch` on the
//! ValidatingWebhookConfiguration and on `customresourcedefinitions` (`bgppeers.metallb.io`).
//! The Service `<service>` in the namespace must map port 443 to the webhook port (9443).
#![forbid(unsafe_code)]

pub mod admission;
pub mod certs;
pub mod conversion;
pub mod existing;
pub mod manifest;
pub mod rotation;
pub mod server;
pub mod tls;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ferrolb_api::install;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;

use crate::server::ExistingSource;
use crate::tls::CertStore;

/// The lowest TLS version accepted (`--tls-min-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only, MetalLB's default.
    #[default]
    Tls13,
}

/// Everything [`serve`] needs; the defaults are MetalLB's (and the CLI's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The namespace of the configuration, the Secret and the Service (`--namespace`).
    pub namespace: String,
    /// `--webhook-port`.
    pub port: u16,
    /// Address to listen on; all addresses in a Pod.
    pub bind: IpAddr,
    /// `--webhook-secret`: where the CA and serving certificate are stored.
    pub secret_name: String,
    /// `--cert-service-name`: the serving certificate is for `<service>.<namespace>.svc`.
    pub service_name: String,
    /// `--webhook-configuration`: the ValidatingWebhookConfiguration whose caBundles are kept.
    pub configuration_name: String,
    /// `--cert-dir`: where `tls.crt`/`tls.key` are read when rotation is disabled.
    pub cert_dir: PathBuf,
    /// False with `--disable-cert-rotation`.
    pub rotate_certificates: bool,
    /// `--tls-min-version`.
    pub tls_min_version: TlsMinVersion,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            namespace: install::NAMESPACE.into(),
            port: install::WEBHOOK_PORT,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            secret_name: install::WEBHOOK_SECRET.into(),
            service_name: install::WEBHOOK_SERVICE.into(),
            configuration_name: install::WEBHOOK_CONFIGURATION.into(),
            cert_dir: PathBuf::from(install::CERT_DIR),
            rotate_certificates: true,
            tls_min_version: TlsMinVersion::Tls13,
        }
    }
}

/// Why the webhook server stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("webhook certificate: {0}")]
    Certificate(String),
    #[error("webhook certificate generation: {0}")]
    Generate(#[from] certs::CertError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

impl From<tls::TlsError> for WebhookError {
    fn from(e: tls::TlsError) -> Self {
        WebhookError::Certificate(e.0)
    }
}

impl WebhookError {
    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            WebhookError::Bind { .. } => "bind",
            WebhookError::Certificate(_) | WebhookError::Generate(_) => "certificate",
            WebhookError::Kube(_) => "kube",
        }
    }
}

/// How often the stored certificate and the caBundles are checked (and renewed or re-patched
/// when needed): hourly, as cert-controller; a failed check is retried sooner.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(3600);
const RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// How often `--cert-dir` is re-read when rotation is disabled (also `--metrics-cert-dir`).
pub const CERT_DIR_INTERVAL: Duration = Duration::from_secs(60);

/// Runs the webhook server until the future is dropped: obtains the certificate (from the
/// Secret, generating it if needed, or from `cert_dir`), patches the caBundles, listens on
/// `bind:port` over HTTPS, and keeps the certificate fresh, swapping it in without a restart.
///
/// Returns only on a fatal error: the port cannot be bound, or the certificate in `cert_dir`
/// is unusable at start. API-server trouble is retried, never fatal.
pub async fn serve(client: kube::Client, settings: WebhookSettings) -> Result<(), WebhookError> {
    let store = Arc::new(CertStore::new());
    if settings.rotate_certificates {
        let mut delay = Duration::from_secs(1);
        loop {
            match rotation::refresh(&client, &settings, SystemTime::now()).await {
                Ok(bundle) => {
                    store.set_pem(&bundle.cert, &bundle.key)?;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhook: no certificate yet, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_INTERVAL);
                }
            }
        }
    } else {
        store.load_dir(&settings.cert_dir)?;
    }
    let address = std::net::SocketAddr::new(settings.bind, settings.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| WebhookError::Bind { address: address.to_string(), source })?;
    tracing::info!(%address, "webhook: serving");
    let tls = tls::tls_config(store.clone(), settings.tls_min_version)?;
    let app = server::router(ExistingSource::Cluster(client.clone()), &settings.namespace);
    if !settings.rotate_certificates {
        let reload = tls::keep_loading(store, settings.cert_dir.clone(), CERT_DIR_INTERVAL, "webhook");
        tokio::select! {
            () = tls::serve_tls(listener, tls, app, "webhook") => {}
            () = reload => {}
        }
        return Ok(());
    }
    tokio::select! {
        () = tls::serve_tls(listener, tls, app, "webhook") => {}
        () = keep_fresh(&client, &settings, &store) => {}
    }
    Ok(())
}

/// Re-checks the stored certificate forever (see [`CHECK_INTERVAL`]).
async fn keep_fresh(client: &kube::Client, settings: &WebhookSettings, store: &CertStore) {
    let mut wait = CHECK_INTERVAL;
    loop {
        tokio::time::sleep(wait).await;
        let outcome = rotation::refresh(client, settings, SystemTime::now())
            .await
            .and_then(|b| store.set_pem(&b.cert, &b.key).map_err(WebhookError::from));
        match outcome {
            Ok(true) => {
                tracing::info!("webhook: serving a new certificate");
                wait = CHECK_INTERVAL;
            }
            Ok(false) => wait = CHECK_INTERVAL,
            Err(e) => {
                tracing::warn!(error = %e, "webhook: certificate check failed, keeping the current one");
                wait = RETRY_INTERVAL;
            }
        }
    }
}
