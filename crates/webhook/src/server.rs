//! The webhook routes: one validation path per kind and the conversion path. The HTTPS
//! around them (TLS, hot-swapped certificates, the accept loop) is [`crate::tls`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use ferrolb_api::Resources;

use crate::admission::{self, Kind};
use crate::conversion;
use ferrolb_api::install;

/// The largest request body accepted: the API server's own limit for a request (3 MiB), so
/// no object it accepted is refused here, and nothing larger is buffered.
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;

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
