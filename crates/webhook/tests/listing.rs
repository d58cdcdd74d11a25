//! A review reads the existing objects from the API server, uncached, and judges against them.

use axum::body::Body;
use ferrolb_kube::scripted::{self, Exchange};
use ferrolb_webhook::server::{ExistingSource, router};
use http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn list(api_version: &str, kind: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {"resourceVersion": "1"}, "items": items})
}

fn metadata_list(names: &[(&str, Value)]) -> Value {
    let items: Vec<Value> = names
        .iter()
        .map(|(n, labels)| json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": n, "labels": labels}}))
        .collect();
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": items})
}

/// Every list a review makes, in order, with one existing BGPAdvertisement aggregating to /24.
fn listing_script() -> Vec<Exchange> {
    let ns = "/apis/metallb.io/v1beta1/namespaces/metallb-system";
    let pool =
        json!({"metadata": {"name": "a", "namespace": "metallb-system"}, "spec": {"addresses": ["10.0.0.0/24"]}});
    let ad = json!({"metadata": {"name": "agg", "namespace": "metallb-system"}, "spec": {"aggregationLength": 24}});
    vec![
        Exchange::get(&format!("{ns}/ipaddresspools")).returns(list("metallb.io/v1beta1", "IPAddressPool", vec![pool])),
        Exchange::get(&format!("{ns}/l2advertisements")).returns(list("metallb.io/v1beta1", "L2Advertisement", vec![])),
        Exchange::get(&format!("{ns}/bgpadvertisements")).returns(list(
            "metallb.io/v1beta1",
            "BGPAdvertisement",
            vec![ad],
        )),
        Exchange::get(&format!("{ns}/communities")).returns(list("metallb.io/v1beta1", "Community", vec![])),
        Exchange::get(&format!("{ns}/bfdprofiles")).returns(list("metallb.io/v1beta1", "BFDProfile", vec![])),
        Exchange::get("/apis/metallb.io/v1beta2/namespaces/metallb-system/bgppeers").returns(list(
            "metallb.io/v1beta2",
            "BGPPeer",
            vec![],
        )),
        Exchange::get("/api/v1/namespaces/metallb-system/secrets").returns(list("v1", "Secret", vec![])),
        Exchange::get("/api/v1/nodes").returns(metadata_list(&[("n1", json!({"rack": "r1"}))])),
        Exchange::get("/api/v1/namespaces").returns(metadata_list(&[("default", json!({}))])),
    ]
}

fn pool_review(name: &str, namespace: &str, cidr: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": "metallb.io", "version": "v1beta1", "kind": "IPAddressPool"},
            "resource": {"group": "metallb.io", "version": "v1beta1", "resource": "ipaddresspools"},
            "name": name, "namespace": namespace, "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                       "metadata": {"name": name, "namespace": namespace}, "spec": {"addresses": [cidr]}},
        }
    }))
    .unwrap()
}

async fn review(client: kube::Client, body: Vec<u8>) -> Value {
    let app = router(ExistingSource::Cluster(client), "metallb-system");
    let request = Request::post("/validate-metallb-io-v1beta1-ipaddresspool").body(Body::from(body)).unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn a_review_lists_every_kind_and_denies_a_pool_that_breaks_an_existing_advertisement() {
    let (answer, seen) = scripted::run(listing_script(), |client| {
        review(client, pool_review("narrow", "metallb-system", "10.9.0.0/28"))
    })
    .await;
    assert_eq!(seen.len(), 9);
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.starts_with("BGPAdvertisement/agg: spec.aggregationLength"), "{message}");
}

#[tokio::test]
async fn a_review_that_fits_the_existing_objects_is_allowed() {
    let (answer, _) =
        scripted::run(listing_script(), |client| review(client, pool_review("wide", "metallb-system", "10.9.0.0/24")))
            .await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
}

#[tokio::test]
async fn an_object_in_another_namespace_is_denied_without_listing_anything() {
    let (answer, seen) =
        scripted::run(vec![], |client| review(client, pool_review("p", "default", "10.9.0.0/24"))).await;
    assert!(seen.is_empty());
    assert_eq!(answer["response"]["allowed"], false);
}

#[tokio::test]
async fn a_listing_failure_is_a_500_so_the_failure_policy_decides() {
    let script = vec![
        Exchange::get("/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools").fails(403, "Forbidden"),
    ];
    let (status, _) = scripted::run(script, |client| async move {
        let app = router(ExistingSource::Cluster(client), "metallb-system");
        let request = Request::post("/validate-metallb-io-v1beta1-ipaddresspool")
            .body(Body::from(pool_review("p", "metallb-system", "10.9.0.0/24")))
            .unwrap();
        app.oneshot(request).await.unwrap().status()
    })
    .await;
    assert_eq!(status, 500);
}
