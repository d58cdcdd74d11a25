//! TokenReview then SubjectAccessReview, against a scripted API server: exactly the calls
//! controller-runtime's secure metrics server makes, with the user passed on unchanged.

use ferrolb_kube::access_review::{Request, Review, review};
use ferrolb_kube::scripted::{self, Exchange};
use serde_json::json;

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
const METRICS: Request<'static> = Request { verb: "get", path: "/metrics" };

fn authenticated() -> Exchange {
    Exchange::post(TOKEN_REVIEWS).body(json!({"spec": {"token": "t0ken"}})).returns(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {},
        "spec": {"token": "t0ken"},
        "status": {"authenticated": true, "user": {
            "username": "system:serviceaccount:monitoring:prometheus", "uid": "u-1",
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/pod-name": ["prometheus-0"]}}}
    }))
}

fn access(allowed: bool, reason: &str) -> Exchange {
    Exchange::post(ACCESS_REVIEWS)
        .exact_body(json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
            "spec": {
                "user": "system:serviceaccount:monitoring:prometheus", "uid": "u-1",
                "groups": ["system:serviceaccounts", "system:authenticated"],
                "extra": {"authentication.kubernetes.io/pod-name": ["prometheus-0"]},
                "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}
        }))
        .returns(json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
            "spec": {}, "status": {"allowed": allowed, "reason": reason}
        }))
}

#[tokio::test]
async fn an_authenticated_user_is_reviewed_for_get_on_metrics_with_all_its_identity() {
    let (out, _) = scripted::run(vec![authenticated(), access(true, "RBAC: allowed")], |c| async move {
        review(&c, "t0ken", METRICS).await
    })
    .await;
    assert_eq!(out.unwrap(), Review::Allowed { user: "system:serviceaccount:monitoring:prometheus".into() });
}

#[tokio::test]
async fn a_user_rbac_does_not_allow_is_denied_with_the_api_servers_reason() {
    let (out, _) = scripted::run(vec![authenticated(), access(false, "no RBAC policy matched")], |c| async move {
        review(&c, "t0ken", METRICS).await
    })
    .await;
    assert_eq!(
        out.unwrap(),
        Review::Denied {
            user: "system:serviceaccount:monitoring:prometheus".into(),
            reason: "no RBAC policy matched".into()
        }
    );
}

#[tokio::test]
async fn a_token_nobody_holds_is_unauthenticated_and_no_access_review_is_made() {
    let rejected = Exchange::post(TOKEN_REVIEWS).returns(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": {},
        "status": {"authenticated": false, "error": "token has expired"}
    }));
    let (out, _) = scripted::run(vec![rejected], |c| async move { review(&c, "old", METRICS).await }).await;
    assert_eq!(out.unwrap(), Review::Unauthenticated { reason: "token has expired".into() });
}

#[tokio::test]
async fn an_api_server_refusing_the_review_itself_is_an_error_not_a_verdict() {
    let forbidden = Exchange::post(TOKEN_REVIEWS).fails(403, "Forbidden");
    let (out, _) = scripted::run(vec![forbidden], |c| async move { review(&c, "t0ken", METRICS).await }).await;
    assert!(out.is_err(), "{out:?}");
}
