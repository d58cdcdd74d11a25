//! Certificate bootstrap and rotation against a scripted API server: exactly these calls and
//! nothing else.

use std::time::{Duration, SystemTime};

use base64::Engine;
use ferrolb_kube::scripted::{self, Exchange};
use ferrolb_webhook::WebhookSettings;
use ferrolb_webhook::certs::{self, Bundle};
use ferrolb_webhook::rotation::{ensure_secret, refresh};
use serde_json::{Value, json};

const SECRET: &str = "/api/v1/namespaces/metallb-system/secrets/metallb-webhook-cert";
const SECRETS: &str = "/api/v1/namespaces/metallb-system/secrets";
const VWC: &str = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/metallb-webhook-configuration";
const CRD: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/bgppeers.metallb.io";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn names() -> Vec<String> {
    certs::dns_names("metallb-webhook-service", "metallb-system")
}

fn secret_json(bundle: Option<&Bundle>) -> Value {
    let data: serde_json::Map<String, Value> =
        bundle.map(|b| b.to_data().into_iter().map(|(k, v)| (k, Value::String(b64(&v)))).collect()).unwrap_or_default();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "metallb-webhook-cert", "namespace": "metallb-system", "resourceVersion": "11"},
        "type": "Opaque",
        "data": data,
    })
}

fn webhook_configuration(ca_bundle: Option<&str>) -> Value {
    let hook = |name: &str, path: &str| {
        let mut client_config =
            json!({"service": {"name": "metallb-webhook-service", "namespace": "metallb-system", "path": path}});
        if let Some(ca) = ca_bundle {
            client_config["caBundle"] = b64(ca.as_bytes()).into();
        }
        json!({"name": name, "clientConfig": client_config, "sideEffects": "None", "admissionReviewVersions": ["v1"]})
    };
    json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "metallb-webhook-configuration"},
        "webhooks": [
            hook("ipaddresspoolvalidationwebhook.metallb.io", "/validate-metallb-io-v1beta1-ipaddresspool"),
            hook("bgppeervalidationwebhook.metallb.io", "/validate-metallb-io-v1beta2-bgppeer"),
        ],
    })
}

fn bgppeer_crd(ca_bundle: Option<&str>) -> Value {
    let crd = ferrolb_api::crds::all().into_iter().find(|c| c.metadata.name.as_deref() == Some("bgppeers.metallb.io"));
    let mut crd = serde_json::to_value(crd.expect("the BGPPeer CRD")).unwrap();
    if let Some(ca) = ca_bundle {
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = b64(ca.as_bytes()).into();
    }
    crd
}

fn decoded(value: &Value) -> String {
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value.as_str().unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn bootstrap_without_a_secret_creates_it_and_patches_every_ca_bundle() {
    let script = vec![
        Exchange::get(SECRET).fails(404, "NotFound"),
        Exchange::post(SECRETS).body(json!({"metadata": {"name": "metallb-webhook-cert"}})).returns(secret_json(None)),
        Exchange::get(VWC).returns(webhook_configuration(None)),
        Exchange::patch(VWC).returns(webhook_configuration(None)),
        Exchange::get(CRD).returns(bgppeer_crd(None)),
        Exchange::patch(CRD).returns(bgppeer_crd(None)),
    ];
    let (bundle, seen) = scripted::run(script, |client| async move {
        refresh(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    let bundle = bundle.expect("bootstrap succeeds");
    let written = &seen[1].body["data"];
    assert_eq!(decoded(&written["ca.crt"]), bundle.ca_cert);
    assert_eq!(decoded(&written["tls.crt"]), bundle.cert);
    assert_eq!(decoded(&written["tls.key"]), bundle.key);
    let hooks = seen[3].body["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2);
    for hook in hooks {
        assert_eq!(decoded(&hook["clientConfig"]["caBundle"]), bundle.ca_cert);
    }
    assert!(seen[3].uri.contains("metallb-webhook-configuration"));
    assert_eq!(decoded(&seen[5].body["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"]), bundle.ca_cert);
}

#[tokio::test]
async fn a_valid_stored_secret_is_reused_and_nothing_is_written() {
    let stored = certs::generate(&names(), SystemTime::now()).unwrap();
    let script = vec![
        Exchange::get(SECRET).returns(secret_json(Some(&stored))),
        Exchange::get(VWC).returns(webhook_configuration(Some(&stored.ca_cert))),
        Exchange::get(CRD).returns(bgppeer_crd(Some(&stored.ca_cert))),
    ];
    let (bundle, _) = scripted::run(script, |client| async move {
        refresh(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert_eq!(bundle.unwrap(), stored);
}

#[tokio::test]
async fn the_empty_secret_of_metallbs_manifests_is_filled_in_with_its_resource_version() {
    let script = vec![
        Exchange::get(SECRET).returns(secret_json(None)),
        Exchange::put(SECRET).body(json!({"metadata": {"resourceVersion": "11"}})).returns(secret_json(None)),
    ];
    let (bundle, seen) = scripted::run(script, |client| async move {
        ensure_secret(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert_eq!(decoded(&seen[1].body["data"]["tls.crt"]), bundle.unwrap().cert);
}

#[tokio::test]
async fn a_conflict_on_create_means_another_replica_won_and_its_certificate_is_used() {
    let theirs = certs::generate(&names(), SystemTime::now()).unwrap();
    let script = vec![
        Exchange::get(SECRET).fails(404, "NotFound"),
        Exchange::post(SECRETS).fails(409, "AlreadyExists"),
        Exchange::get(SECRET).returns(secret_json(Some(&theirs))),
    ];
    let (bundle, _) = scripted::run(script, |client| async move {
        ensure_secret(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert_eq!(bundle.unwrap(), theirs);
}

#[tokio::test(start_paused = true)]
async fn server_errors_and_throttling_are_retried_with_backoff() {
    let stored = certs::generate(&names(), SystemTime::now()).unwrap();
    let script = vec![
        Exchange::get(SECRET).fails(503, "ServiceUnavailable"),
        Exchange::get(SECRET).fails(429, "TooManyRequests"),
        Exchange::get(SECRET).returns(secret_json(Some(&stored))),
    ];
    let started = tokio::time::Instant::now();
    let (bundle, _) = scripted::run(script, |client| async move {
        ensure_secret(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert_eq!(bundle.unwrap(), stored);
    assert!(started.elapsed() >= Duration::from_millis(1500), "backed off 0.5 s then 1 s: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_forbidden_answer_is_not_retried() {
    let script = vec![Exchange::get(SECRET).fails(403, "Forbidden")];
    let (result, _) = scripted::run(script, |client| async move {
        ensure_secret(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert!(result.unwrap_err().to_string().contains("Forbidden"));
}

#[tokio::test]
async fn a_missing_webhook_configuration_or_crd_is_only_a_warning() {
    let stored = certs::generate(&names(), SystemTime::now()).unwrap();
    let script = vec![
        Exchange::get(SECRET).returns(secret_json(Some(&stored))),
        Exchange::get(VWC).fails(404, "NotFound"),
        Exchange::get(CRD).fails(404, "NotFound"),
    ];
    let (bundle, _) = scripted::run(script, |client| async move {
        refresh(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    assert_eq!(bundle.unwrap(), stored);
}

#[tokio::test]
async fn only_webhooks_with_a_stale_ca_bundle_are_patched() {
    let stored = certs::generate(&names(), SystemTime::now()).unwrap();
    let mut config = webhook_configuration(Some(&stored.ca_cert));
    config["webhooks"][1]["clientConfig"]["caBundle"] = b64(b"old").into();
    let script = vec![
        Exchange::get(SECRET).returns(secret_json(Some(&stored))),
        Exchange::get(VWC).returns(config.clone()),
        Exchange::patch(VWC).returns(config),
        Exchange::get(CRD).returns(bgppeer_crd(Some(&stored.ca_cert))),
    ];
    let (_, seen) = scripted::run(script, |client| async move {
        refresh(&client, &WebhookSettings::default(), SystemTime::now()).await
    })
    .await;
    let hooks = seen[2].body["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["name"], "bgppeervalidationwebhook.metallb.io");
}
