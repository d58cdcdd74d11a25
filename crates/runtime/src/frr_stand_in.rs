//! Stand-ins for the helper containers of MetalLB's FRR-flavour speaker pod.
//!
//! Beside the speaker, that pod runs FRR and two helpers that its init containers copy out of
//! the speaker image with `cp-tool`: `frr-reloader.sh`, which reloads FRR when the speaker
//! has written a new configuration, and `frr-metrics`, which exports FRR's BGP and BFD
//! metrics and answers the `/livez` that the FRR container's liveness and startup probes ask
//! (HTTPS, on the metrics port the DaemonSet gives it). ferrolb's speaker speaks BGP and BFD
//! itself and never drives FRR, so there is nothing to reload or to export; but the DaemonSet
//! must run unchanged with ferrolb's image. The image therefore carries both names (the same
//! binary), and under them the binary keeps its container up, answering only what the pod's
//! probes ask, until the kubelet stops it.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use ferrolb_webhook::TlsMinVersion;
use ferrolb_webhook::tls::{self, CertStore};
use tracing::{info, warn};

/// What `/livez` and `/metrics` answer: FRR is not used, and where the metrics are.
const LIVEZ: &str = "ok: ferrolb speaks BGP and BFD itself; FRR in this pod is not used\n";
const METRICS: &str = "# ferrolb's speaker exports the BGP and BFD metrics on its own metrics port (--port); FRR in this pod is not used\n";

/// `frr-reloader.sh`: stays up until SIGTERM or SIGINT; SIGHUP, MetalLB's speaker's "reload
/// FRR", is logged and ignored (its default action would end the container).
pub fn reloader() -> ExitCode {
    block_on(async {
        info!("frr-reloader stand-in: ferrolb's speaker does not drive FRR, so there is nothing to reload");
        let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Some(signal),
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGHUP");
                None
            }
        };
        let stop = crate::process::shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return ExitCode::SUCCESS,
                Some(()) = async { match hangups.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                    info!("SIGHUP ignored: FRR in this pod is not used");
                }
            }
        }
    })
}

/// `frr-metrics`: `/livez` and `/metrics` over HTTPS (a self-signed certificate, as MetalLB's
/// without a certificate directory) on `addr`, until SIGTERM or SIGINT.
pub fn metrics(addr: SocketAddr) -> ExitCode {
    block_on(async move {
        let store = Arc::new(CertStore::new());
        if let Err(e) = store.self_signed(&["localhost".to_owned()]) {
            tracing::error!(error = %e, "frr-metrics stand-in: cannot make a certificate");
            return ExitCode::from(2);
        }
        let config = match tls::tls_config(store, TlsMinVersion::Tls12) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, "frr-metrics stand-in: cannot set up TLS");
                return ExitCode::from(2);
            }
        };
        let Some(listener) = crate::observe::health::listen(addr, "the frr-metrics stand-in").await else {
            return ExitCode::from(2);
        };
        info!(%addr, "frr-metrics stand-in: serving /livez for the FRR container's probes; FRR is not used");
        tokio::select! {
            () = tls::serve_tls(listener, config, router(), "frr-metrics") => ExitCode::from(2),
            () = crate::process::shutdown_signal() => ExitCode::SUCCESS,
        }
    })
}

fn router() -> Router {
    let text = |content_type: &'static str, body: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, content_type)], body).into_response() })
    };
    Router::new()
        .route("/livez", text("text/plain; charset=utf-8", LIVEZ))
        .route("/metrics", text("text/plain; version=0.0.4; charset=utf-8", METRICS))
}

fn block_on(task: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(task),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(2)
        }
    }
}
