//! End to end over HTTPS on 127.0.0.1: a client that trusts only the generated CA, as the
//! API server does through the caBundle.

use std::sync::Arc;
use std::time::SystemTime;

use ferrolb_api::{Resources, load_str};
use ferrolb_webhook::TlsMinVersion;
use ferrolb_webhook::certs::{self, Bundle};
use ferrolb_webhook::server::{ExistingSource, router};
use ferrolb_webhook::tls::{CertStore, serve_tls, tls_config};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion, version};

const SERVER_NAME: &str = "metallb-webhook-service.metallb-system.svc";

struct Server {
    port: u16,
    store: Arc<CertStore>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn bundle() -> Bundle {
    certs::generate(&certs::dns_names("metallb-webhook-service", "metallb-system"), SystemTime::now()).unwrap()
}

async fn start(bundle: &Bundle, min: TlsMinVersion, existing: Resources) -> Server {
    let store = Arc::new(CertStore::new());
    store.set_pem(&bundle.cert, &bundle.key).unwrap();
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = router(ExistingSource::Fixed(Arc::new(existing)), "metallb-system");
    let tls = tls_config(store.clone(), min).unwrap();
    let task = tokio::spawn(async move {
        serve_tls(listener, tls, app, "webhook").await;
    });
    Server { port, store, task }
}

/// POSTs `body` to `path` and returns the status code and the body.
async fn post(
    port: u16,
    ca_pem: &str,
    versions: &[&'static SupportedProtocolVersion],
    path: &str,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls = TlsConnector::from(Arc::new(config)).connect(ServerName::try_from(SERVER_NAME).unwrap(), tcp).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await?;
    tls.write_all(body).await?;
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn pool_review(name: &str, addresses: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{name}"),
            "kind": {"group": "metallb.io", "version": "v1beta1", "kind": "IPAddressPool"},
            "resource": {"group": "metallb.io", "version": "v1beta1", "resource": "ipaddresspools"},
            "name": name, "namespace": "metallb-system", "operation": "CREATE", "userInfo": {},
            "object": {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                       "metadata": {"name": name, "namespace": "metallb-system"},
                       "spec": {"addresses": addresses}},
        }
    }))
    .unwrap()
}

const POOL_PATH: &str = "/validate-metallb-io-v1beta1-ipaddresspool";

#[tokio::test]
async fn admission_reviews_are_answered_over_https() {
    let bundle = bundle();
    let mut existing = Resources::default();
    load_str(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: a, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24]}\n",
        "existing",
        &mut existing,
    )
    .unwrap();
    let server = start(&bundle, TlsMinVersion::Tls13, existing).await;

    let (status, body) =
        post(server.port, &bundle.ca_cert, &[&version::TLS13], POOL_PATH, &pool_review("b", &["10.0.1.0/24"]))
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["uid"], "uid-b");
    assert_eq!(answer["response"]["allowed"], true);

    let (status, body) =
        post(server.port, &bundle.ca_cert, &[&version::TLS13], POOL_PATH, &pool_review("c", &["10.0.0.0/25"]))
            .await
            .unwrap();
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["allowed"], false);
    assert!(answer["response"]["status"]["message"].as_str().unwrap().contains("overlap"), "{answer}");
}

#[tokio::test]
async fn conversion_reviews_are_answered_over_https() {
    let bundle = bundle();
    let server = start(&bundle, TlsMinVersion::Tls13, Resources::default()).await;
    let review = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
        "request": {"uid": "c1", "desiredAPIVersion": "metallb.io/v1beta2", "objects": [
            {"apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "r1"},
             "spec": {"myASN": 1, "peerASN": 2, "peerAddress": "10.0.0.1"}}]}
    });
    let (status, body) =
        post(server.port, &bundle.ca_cert, &[&version::TLS13], "/convert", &serde_json::to_vec(&review).unwrap())
            .await
            .unwrap();
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response"]["convertedObjects"][0]["apiVersion"], "metallb.io/v1beta2");
}

#[tokio::test]
async fn a_malformed_body_is_a_400_with_one_line() {
    let bundle = bundle();
    let server = start(&bundle, TlsMinVersion::Tls13, Resources::default()).await;
    for path in [POOL_PATH, "/convert"] {
        let (status, body) = post(server.port, &bundle.ca_cert, &[&version::TLS13], path, b"{not json").await.unwrap();
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body.trim_end().lines().count(), 1, "{body}");
    }
}

#[tokio::test]
async fn tls_1_2_is_refused_by_default_and_accepted_when_allowed() {
    let bundle = bundle();
    let strict = start(&bundle, TlsMinVersion::Tls13, Resources::default()).await;
    assert!(post(strict.port, &bundle.ca_cert, &[&version::TLS12], "/convert", b"{}").await.is_err());
    let lenient = start(&bundle, TlsMinVersion::Tls12, Resources::default()).await;
    let (status, _) = post(lenient.port, &bundle.ca_cert, &[&version::TLS12], "/convert", b"{}").await.unwrap();
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_client_trusting_another_ca_is_refused_and_a_swapped_certificate_is_served_at_once() {
    let old = bundle();
    let new = bundle();
    let server = start(&old, TlsMinVersion::Tls13, Resources::default()).await;
    assert!(post(server.port, &new.ca_cert, &[&version::TLS13], "/convert", b"{}").await.is_err());
    assert!(server.store.set_pem(&new.cert, &new.key).unwrap());
    assert!(!server.store.set_pem(&new.cert, &new.key).unwrap(), "the same certificate is not reloaded");
    let (status, _) = post(server.port, &new.ca_cert, &[&version::TLS13], "/convert", b"{}").await.unwrap();
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bodies_over_the_api_servers_limit_are_refused() {
    let bundle = bundle();
    let server = start(&bundle, TlsMinVersion::Tls13, Resources::default()).await;
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    let (status, _) = post(server.port, &bundle.ca_cert, &[&version::TLS13], "/convert", &huge).await.unwrap();
    assert_eq!(status, 413);
}

/// A port free on 127.0.0.1 a moment ago (serve() binds its own listener).
fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// Retries until the server listens (it binds after fetching its certificate).
async fn post_when_up(port: u16, ca_pem: &str, path: &str, body: &[u8]) -> (u16, String) {
    for _ in 0..200 {
        if let Ok(answer) = post(port, ca_pem, &[&version::TLS13], path, body).await {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the webhook server never came up on 127.0.0.1:{port}");
}

fn loopback_settings(port: u16) -> ferrolb_webhook::WebhookSettings {
    ferrolb_webhook::WebhookSettings {
        port,
        bind: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        ..Default::default()
    }
}

#[tokio::test]
async fn serve_uses_the_stored_certificate_and_answers() {
    use base64::Engine;
    use ferrolb_kube::scripted::{self, Exchange};
    let stored = bundle();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let data: serde_json::Map<String, Value> =
        stored.to_data().into_iter().map(|(k, v)| (k, Value::String(b64(&String::from_utf8(v).unwrap())))).collect();
    let mut crd = serde_json::to_value(
        ferrolb_api::crds::all()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some("bgppeers.metallb.io"))
            .unwrap(),
    )
    .unwrap();
    crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] = b64(&stored.ca_cert).into();
    let script = vec![
        Exchange::get("/api/v1/namespaces/metallb-system/secrets/metallb-webhook-cert").returns(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "metallb-webhook-cert"}, "data": data}),
        ),
        Exchange::get(
            "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/metallb-webhook-configuration",
        )
        .returns(json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                        "metadata": {"name": "metallb-webhook-configuration"}, "webhooks": []})),
        Exchange::get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/bgppeers.metallb.io").returns(crd),
    ];
    let port = free_port();
    let ca = stored.ca_cert.clone();
    let ((status, _), _) = scripted::run(script, |client| async move {
        let server = tokio::spawn(ferrolb_webhook::serve(client, loopback_settings(port)));
        let answer = post_when_up(port, &ca, "/convert", b"{}").await;
        server.abort();
        answer
    })
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn with_rotation_disabled_the_certificate_comes_from_the_cert_dir() {
    let stored = bundle();
    let dir = std::env::temp_dir().join(format!("ferrolb-webhook-certdir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tls.crt"), &stored.cert).unwrap();
    std::fs::write(dir.join("tls.key"), &stored.key).unwrap();
    let port = free_port();
    let settings = ferrolb_webhook::WebhookSettings {
        rotate_certificates: false,
        cert_dir: dir.clone(),
        ..loopback_settings(port)
    };
    // No API call is expected: the scripted server fails the test on any.
    let ((status, _), _) = ferrolb_kube::scripted::run(vec![], |client| async move {
        let server = tokio::spawn(ferrolb_webhook::serve(client, settings));
        let answer = post_when_up(port, &stored.ca_cert, "/convert", b"{}").await;
        server.abort();
        answer
    })
    .await;
    assert_eq!(status, 400);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_unreadable_cert_dir_is_a_fatal_error_naming_the_file() {
    let settings = ferrolb_webhook::WebhookSettings {
        rotate_certificates: false,
        cert_dir: "/nonexistent/ferrolb".into(),
        ..loopback_settings(free_port())
    };
    let (result, _) = ferrolb_kube::scripted::run(vec![], |client| ferrolb_webhook::serve(client, settings)).await;
    let message = result.unwrap_err().to_string();
    assert!(message.contains("/nonexistent/ferrolb/tls.crt"), "{message}");
}
