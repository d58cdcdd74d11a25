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

/// How long a port still held (by this process's predecessor, still exiting) is tried again.
const BIND_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Listens on `addr`. A port in use is tried again every 100 ms for [`BIND_PATIENCE`]: a
/// speaker restarted on the host network can start before its predecessor has let the port
/// go. `None`, reported, when it cannot be had.
pub async fn listen(addr: SocketAddr, what: &str) -> Option<tokio::net::TcpListener> {
    let deadline = tokio::time::Instant::now() + BIND_PATIENCE;
    let mut said = false;
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => return Some(listener),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tokio::time::Instant::now() < deadline => {
                if !said {
                    warn!(%addr, "the port for {what} is in use; trying again for {BIND_PATIENCE:?}");
                    said = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => {
                warn!(%addr, error = %e, "cannot listen for {what}");
                return None;
            }
        }
    }
}

/// Serves `router` on `addr` until the process ends. A port that cannot be bound is
/// reported and the process goes on without it: metrics are never worth an outage.
pub async fn serve(addr: SocketAddr, router: Router, what: &'static str) {
    let Some(listener) = listen(addr, what).await else { return };
    info!(%addr, "serving {what} over plain HTTP");
    if let Err(e) = axum::serve(listener, router).await {
        warn!(%addr, error = %e, "HTTP server stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_in_use_is_tried_again_until_its_holder_lets_it_go() {
        let held = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = held.local_addr().unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            drop(held);
        });
        let started = std::time::Instant::now();
        let listener = listen(addr, "the test").await.expect("bound once released");
        assert_eq!(listener.local_addr().unwrap(), addr);
        assert!(started.elapsed() >= std::time::Duration::from_millis(250), "{:?}", started.elapsed());
        release.await.unwrap();
    }

    #[tokio::test]
    async fn an_address_this_host_does_not_have_is_given_up_at_once() {
        let started = std::time::Instant::now();
        // TEST-NET-1: never an address of this host; binding sends nothing.
        assert!(listen("192.0.2.1:9".parse().unwrap(), "the test").await.is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
