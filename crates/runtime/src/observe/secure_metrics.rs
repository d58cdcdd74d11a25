//! The metrics port over HTTPS, as MetalLB serves it on the `k8s` source: `/metrics` for
//! scrapers whose bearer token the API server vouches for and RBAC allows (decided in
//! [`super::scrape_auth`]), `/healthz` and `/readyz` open for the kubelet's probes.
//!
//! The TLS is the webhooks' ([`ferrolb_webhook::tls`]): rustls, HTTP/1.1, `--tls-min-version`,
//! a certificate swapped in without a restart when `--metrics-cert-dir` changes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrolb_kube::access_review::{self, Request};
use ferrolb_webhook::TlsMinVersion;
use ferrolb_webhook::tls::{self, CertStore};
use tracing::{debug, info, warn};

use super::health::{self, Health};
use super::metrics::Metrics;
use super::scrape_auth::{self, CACHE_CAPACITY, ReviewCache, Ttls, Verdict};
use crate::config::MetricsCertificate;

/// What a scrape asks RBAC for: `get` on the non-resource URL `/metrics`, as MetalLB's
/// metrics-reader ClusterRoles grant it.
const SCRAPE: Request<'static> = Request { verb: "get", path: "/metrics" };

/// The names the certificate made at start is for: controller-runtime's self-signed
/// certificate is for `localhost`, and scrapers of a Pod's IP skip verification anyway.
const SELF_SIGNED_NAMES: &[&str] = &["localhost"];

/// The certificate the metrics port starts with. An unreadable `--metrics-cert-dir` is
/// fatal: serving another certificate than the one asked for would hide the mistake.
pub fn certificate(source: &MetricsCertificate) -> Result<Arc<CertStore>, String> {
    let store = Arc::new(CertStore::new());
    match source {
        MetricsCertificate::SelfSigned => {
            let names: Vec<String> = SELF_SIGNED_NAMES.iter().map(|n| (*n).to_owned()).collect();
            store.self_signed(&names).map_err(|e| format!("cannot make the metrics certificate: {e}"))?;
        }
        MetricsCertificate::Dir(dir) => {
            store.load_dir(dir).map_err(|e| format!("cannot use --metrics-cert-dir: {e}"))?;
        }
    }
    Ok(store)
}

/// Checks scrapes' tokens with the API server, remembering verdicts for a few seconds.
pub struct ScrapeAuth {
    client: kube::Client,
    cache: Mutex<ReviewCache>,
}

impl std::fmt::Debug for ScrapeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeAuth").field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl ScrapeAuth {
    pub fn new(client: kube::Client, ttls: Ttls) -> Self {
        Self { client, cache: Mutex::new(ReviewCache::new(CACHE_CAPACITY, ttls)) }
    }

    /// The verdict on a request's headers: from the header alone when it holds no token,
    /// else from the cache, else from a TokenReview and a SubjectAccessReview.
    pub async fn verdict(&self, headers: &HeaderMap) -> Verdict {
        let credential = scrape_auth::credential(headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()));
        let token = match Verdict::token(credential) {
            Ok(token) => token,
            Err(verdict) => return verdict,
        };
        if let Some(verdict) = self.cache.lock().ok().and_then(|c| c.get(token, Instant::now())) {
            return verdict;
        }
        let verdict = match access_review::review(&self.client, token, SCRAPE).await {
            Ok(review) => Verdict::of_review(Ok(&review)),
            Err(e) => Verdict::of_review(Err(&e.to_string())),
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(token, verdict.clone(), Instant::now());
        }
        verdict
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    auth: Option<Arc<ScrapeAuth>>,
}

/// The HTTPS metrics port's routes; `auth` `None` serves `/metrics` to anyone (the `dir:`
/// source given a certificate).
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>, auth: Option<Arc<ScrapeAuth>>) -> Router {
    Router::new().route("/metrics", get(scrape)).merge(health::probes(health)).with_state(AppState { metrics, auth })
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(auth) = &state.auth else { return health::metrics_body(&state.metrics) };
    let verdict = auth.verdict(&headers).await;
    match &verdict {
        Verdict::Allowed => return health::metrics_body(&state.metrics),
        Verdict::Unavailable(why) => {
            warn!(error = %why, "/metrics: refused a scrape, the API server cannot review tokens")
        }
        Verdict::Unauthenticated(why) | Verdict::Forbidden(why) => debug!(reason = %why, "/metrics: refused a scrape"),
    }
    let message = match &verdict {
        Verdict::Unauthenticated(why) | Verdict::Forbidden(why) => why.as_str(),
        // The cause is in the log; the scraper learns only that it is not its fault.
        _ => "cannot check the token now",
    };
    let mut response = (verdict.status(), format!("{message}\n")).into_response();
    if verdict.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

/// Serves `router` over HTTPS on `addr` until the process ends, re-reading `cert_dir` when
/// given. As on plain HTTP, a port that cannot be bound is reported and the process goes on.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    store: Arc<CertStore>,
    min_version: TlsMinVersion,
    cert_dir: Option<std::path::PathBuf>,
) {
    let config = match tls::tls_config(store.clone(), min_version) {
        Ok(config) => config,
        Err(e) => return warn!(%addr, error = %e, "cannot serve /metrics over HTTPS"),
    };
    let Some(listener) = health::listen(addr, "metrics and health").await else { return };
    info!(%addr, "serving /metrics, /healthz and /readyz over HTTPS");
    match cert_dir {
        Some(dir) => {
            tokio::select! {
                () = tls::serve_tls(listener, config, router, "metrics") => {}
                () = tls::keep_loading(store, dir, ferrolb_webhook::CERT_DIR_INTERVAL, "metrics") => {}
            }
        }
        None => tls::serve_tls(listener, config, router, "metrics").await,
    }
}
