//! `/metrics`, `/healthz` and `/readyz` over plain HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::{info, warn};

use super::metrics::Metrics;

/// What the endpoints report.
#[derive(Debug, Default)]
pub struct Health {
    /// Set once the first snapshot has been processed.
    pub ready: AtomicBool,
}

/// All three endpoints, open: the plain metrics port (`--metrics-insecure`, the `dir:`
/// source) and, then, the health port too.
pub fn router(metrics: Arc<Metrics>, health: Arc<Health>) -> Router {
    Router::new().route("/metrics", get(metrics_handler)).merge(probes(health)).with_state(metrics)
}

/// `/healthz` and `/readyz` only: the health port while `/metrics` is secured, so the
/// metrics cannot be read around the authentication.
pub fn probes<S: Clone + Send + Sync + 'static>(health: Arc<Health>) -> Router<S> {
    Router::new().route("/healthz", get(|| async { "ok\n" })).route("/readyz", get(move || ready(health.clone())))
}

async fn metrics_handler(State(metrics): State<Arc<Metrics>>) -> Response {
    metrics_body(&metrics)
}

/// The OpenMetrics text of every series.
pub fn metrics_body(metrics: &Metrics) -> Response {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], metrics.encode())
        .into_response()
}

async fn ready(health: Arc<Health>) -> impl IntoResponse {
    if health.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// Serves `router` on `addr` until the process ends. A port that cannot be bound is
/// reported and the process goes on without it: metrics are never worth an outage.
pub async fn serve(addr: SocketAddr, router: Router, what: &'static str) {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            info!(%addr, "serving {what} over plain HTTP");
            if let Err(e) = axum::serve(listener, router).await {
                warn!(%addr, error = %e, "HTTP server stopped");
            }
        }
        Err(e) => warn!(%addr, error = %e, "cannot listen for {what}"),
    }
}
