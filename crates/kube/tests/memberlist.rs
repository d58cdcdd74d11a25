//! The memberlist Secret and speaker discovery, pure parts and against a scripted API server.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ferrolb_kube::memberlist::{
    Error, SecretOutcome, deployment_owner, encode_key, ensure_secret, generate_key, pod_ips, pod_nodes,
    speaker_pod_ips,
};
use ferrolb_kube::scripted::{self, Exchange};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde_json::{Value, json};

const SECRETS: &str = "/api/v1/namespaces/metallb-system/secrets";
const SECRET: &str = "/api/v1/namespaces/metallb-system/secrets/memberlist";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/metallb-system/deployments/controller";
const PODS: &str = "/api/v1/namespaces/metallb-system/pods";

fn owner() -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: "controller".into(),
        uid: "d-uid".into(),
        ..OwnerReference::default()
    }
}

// ---- the key ----

#[test]
fn the_key_is_unpadded_standard_base64_of_16_bytes() {
    assert_eq!(encode_key(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    let counting: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).expect("small") * 16 + 15);
    let key = encode_key(&counting);
    assert_eq!(key.len(), 22);
    assert!(!key.contains('='));
    assert_eq!(STANDARD_NO_PAD.decode(&key).expect("decodes"), counting);
    // standard alphabet, not URL-safe: 0xfb 0xff encodes with '+' and '/'
    assert_eq!(encode_key(&[0xfb, 0xff, 0xbf, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "+/+/AAAAAAAAAAAAAAAAAA");
}

#[test]
fn generated_keys_are_fresh_22_character_keys() {
    let a = generate_key().expect("the OS has entropy");
    let b = generate_key().expect("the OS has entropy");
    assert_eq!(a.len(), 22);
    assert_eq!(STANDARD_NO_PAD.decode(&a).expect("decodes").len(), 16);
    assert_ne!(a, b);
}

// ---- the Secret ----

#[tokio::test]
async fn an_absent_secret_is_created_with_a_key_and_owned_by_the_deployment() {
    let script = vec![
        Exchange::get(SECRET).fails(404, "NotFound"),
        Exchange::post(SECRETS)
            .body(json!({
                "metadata": {"name": "memberlist", "namespace": "metallb-system", "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "controller", "uid": "d-uid"}
                ]},
            }))
            .returns(json!({})),
    ];
    let (outcome, seen) = scripted::run(script, |client| async move {
        ensure_secret(client, "metallb-system", "memberlist", Some(owner())).await
    })
    .await;
    assert_eq!(outcome.expect("created"), SecretOutcome::Created);
    // data holds the base64 *text*: the mounted file reads as the 22 characters.
    let data = &seen[1].body["data"];
    assert_eq!(data.as_object().map(|d| d.len()), Some(1), "only secretkey: {data}");
    let file = STANDARD.decode(data["secretkey"].as_str().expect("a string")).expect("API base64");
    let text = String::from_utf8(file).expect("text");
    assert_eq!(text.len(), 22);
    assert_eq!(STANDARD_NO_PAD.decode(&text).expect("unpadded base64").len(), 16);
}

#[tokio::test]
async fn an_existing_secret_is_left_alone_whatever_it_holds() {
    let script =
        vec![Exchange::get(SECRET).returns(json!({"metadata": {"name": "memberlist"}, "data": {"other": "eA=="}}))];
    let (outcome, seen) =
        scripted::run(
            script,
            |client| async move { ensure_secret(client, "metallb-system", "memberlist", None).await },
        )
        .await;
    assert_eq!(outcome.expect("found"), SecretOutcome::Existed);
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn a_secret_created_by_another_replica_meanwhile_is_fine() {
    let script =
        vec![Exchange::get(SECRET).fails(404, "NotFound"), Exchange::post(SECRETS).fails(409, "AlreadyExists")];
    let (outcome, _) =
        scripted::run(
            script,
            |client| async move { ensure_secret(client, "metallb-system", "memberlist", None).await },
        )
        .await;
    assert_eq!(outcome.expect("fine"), SecretOutcome::CreatedByOther);
}

#[tokio::test]
async fn a_secret_without_an_owner_has_no_owner_references() {
    let script = vec![Exchange::get(SECRET).fails(404, "NotFound"), Exchange::post(SECRETS).returns(json!({}))];
    let (outcome, seen) =
        scripted::run(
            script,
            |client| async move { ensure_secret(client, "metallb-system", "memberlist", None).await },
        )
        .await;
    assert_eq!(outcome.expect("created"), SecretOutcome::Created);
    assert_eq!(seen[1].body["metadata"].get("ownerReferences"), None);
}

#[tokio::test]
async fn a_forbidden_secret_read_is_a_one_line_error_naming_the_secret() {
    let script = vec![Exchange::get(SECRET).fails(403, "Forbidden")];
    let (outcome, _) =
        scripted::run(
            script,
            |client| async move { ensure_secret(client, "metallb-system", "memberlist", None).await },
        )
        .await;
    let err = outcome.expect_err("forbidden");
    assert!(matches!(err, Error::Secret { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("memberlist Secret metallb-system/memberlist: "), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

#[tokio::test]
async fn the_owner_is_the_controller_deployment_with_its_uid() {
    let script = vec![Exchange::get(DEPLOYMENT).returns(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "controller", "namespace": "metallb-system", "uid": "d-uid"},
    }))];
    let (found, _) =
        scripted::run(script, |client| async move { deployment_owner(client, "metallb-system", "controller").await })
            .await;
    assert_eq!(found.expect("found"), owner());
}

#[tokio::test]
async fn a_missing_deployment_is_reported_by_name() {
    let script = vec![Exchange::get(DEPLOYMENT).fails(404, "NotFound")];
    let (found, _) =
        scripted::run(script, |client| async move { deployment_owner(client, "metallb-system", "controller").await })
            .await;
    let err = found.expect_err("absent");
    assert_eq!(
        err.to_string(),
        "Deployment metallb-system/controller does not exist, so it cannot own the memberlist Secret"
    );
}

// ---- speaker discovery ----

fn pod(name: &str, phase: &str, pod_ip: Option<&str>, pod_ips: &[&str], deleting: bool) -> Value {
    let mut metadata = json!({"name": name, "namespace": "metallb-system"});
    if deleting {
        metadata["deletionTimestamp"] = json!("2025-06-01T12:00:00Z");
    }
    let mut status = json!({"phase": phase});
    if let Some(ip) = pod_ip {
        status["podIP"] = json!(ip);
    }
    if !pod_ips.is_empty() {
        status["podIPs"] = pod_ips.iter().map(|ip| json!({"ip": ip})).collect();
    }
    // Speaker pods are named after their node here.
    let node = name.trim_start_matches("speaker-");
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"nodeName": node, "containers": []}, "status": status})
}

fn pods() -> Vec<Value> {
    vec![
        pod("speaker-c", "Running", Some("10.0.0.3"), &["10.0.0.3", "fd00::3"], false),
        pod("speaker-a", "Running", Some("10.0.0.1"), &[], false),
        pod("speaker-b", "Running", Some("10.0.0.2"), &["10.0.0.2"], false),
        pod("speaker-b-dup", "Running", Some("10.0.0.2"), &["10.0.0.2"], false),
        pod("speaker-pending", "Pending", Some("10.0.0.4"), &["10.0.0.4"], false),
        pod("speaker-leaving", "Running", Some("10.0.0.5"), &["10.0.0.5"], true),
        pod("speaker-no-ip", "Running", None, &[], false),
        pod("speaker-garbage", "Running", Some("not-an-ip"), &["not-an-ip"], false),
    ]
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().expect("an IP")).collect()
}

#[test]
fn only_running_pods_that_are_not_being_deleted_are_seeds_sorted_and_deduplicated() {
    let pods: Vec<Pod> = pods().into_iter().map(|p| serde_json::from_value(p).expect("a pod")).collect();
    assert_eq!(pod_ips(&pods), ips(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::3"]));
    assert!(pod_ips(&[]).is_empty());
    assert!(pod_ips(&[Pod::default()]).is_empty(), "a pod without status");
}

#[test]
fn the_nodes_of_live_speaker_pods_are_the_expected_members() {
    let pods: Vec<Pod> = pods().into_iter().map(|p| serde_json::from_value(p).expect("a pod")).collect();
    let nodes: Vec<String> = pod_nodes(&pods).into_iter().collect();
    assert_eq!(nodes, ["a", "b", "b-dup", "c", "garbage", "no-ip"], "not pending, not leaving");
    assert!(pod_nodes(&[Pod::default()]).is_empty(), "a pod without spec or status");
}

#[tokio::test]
async fn speakers_are_listed_by_label_selector() {
    let script = vec![
        Exchange::get(PODS)
            .query("labelSelector=app%3Dmetallb%2Ccomponent%3Dspeaker")
            .returns(json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods()})),
    ];
    let (found, _) = scripted::run(script, |client| async move {
        speaker_pod_ips(client, "metallb-system", "app=metallb,component=speaker").await
    })
    .await;
    assert_eq!(found.expect("listed"), ips(&["10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::3"]));
}

#[tokio::test]
async fn a_selector_the_api_server_rejects_is_reported_as_such() {
    let script = vec![Exchange::get(PODS).query("labelSelector").fails(400, "BadRequest")];
    let (found, _) =
        scripted::run(
            script,
            |client| async move { speaker_pod_ips(client, "metallb-system", "app in (metallb").await },
        )
        .await;
    let err = found.expect_err("rejected");
    assert!(matches!(&err, Error::Selector { selector, .. } if selector == "app in (metallb"), "{err:?}");
    assert_eq!(err.to_string(), "invalid speaker label selector \"app in (metallb\": scripted BadRequest");
}

#[tokio::test]
async fn an_empty_selector_is_refused_without_asking() {
    let (found, seen) =
        scripted::run(vec![], |client| async move { speaker_pod_ips(client, "metallb-system", " ").await }).await;
    assert!(matches!(found, Err(Error::Selector { .. })), "{found:?}");
    assert!(seen.is_empty());
}

#[tokio::test]
async fn other_list_failures_name_the_namespace() {
    let script = vec![Exchange::get(PODS).fails(503, "ServiceUnavailable")];
    let (found, _) =
        scripted::run(script, |client| async move { speaker_pod_ips(client, "metallb-system", "app=metallb").await })
            .await;
    let err = found.expect_err("unavailable");
    assert!(err.to_string().starts_with("listing speaker pods in metallb-system: "), "{err}");
}
