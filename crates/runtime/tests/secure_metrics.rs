//! `/metrics` over HTTPS on 127.0.0.1 with every scrape's token reviewed by a scripted API
//! server: the answers for no token, a bad header, an unknown token, a user RBAC does not
//! allow, an allowed one (reviewed once per TTL), and an API server that is gone.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferrolb_kube::scripted::{self, Exchange};
use ferrolb_runtime::config::MetricsCertificate;
use ferrolb_runtime::observe::health::Health;
use ferrolb_runtime::observe::metrics::Metrics;
use ferrolb_runtime::observe::scrape_auth::Ttls;
use ferrolb_runtime::observe::secure_metrics::{self, ScrapeAuth};
use ferrolb_webhook::TlsMinVersion;
use ferrolb_webhook::certs;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

fn token_review(token: &str, user: Option<&str>) -> Exchange {
    let status = match user {
        Some(user) => json!({"authenticated": true, "user": {"username": user, "groups": ["system:authenticated"]}}),
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    Exchange::post(TOKEN_REVIEWS).body(json!({"spec": {"token": token}})).returns(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {}, "spec": {}, "status": status
    }))
}

fn access_review(user: &str, allowed: bool) -> Exchange {
    Exchange::post(ACCESS_REVIEWS)
        .body(json!({"spec": {"user": user, "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}}))
        .returns(json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {}, "spec": {},
            "status": {"allowed": allowed}
        }))
}

/// A certificate directory holding a serving certificate for `localhost`; its CA's PEM.
fn cert_dir(name: &str) -> (std::path::PathBuf, String) {
    let bundle = certs::generate(&["localhost".to_owned()], SystemTime::now()).unwrap();
    let dir = std::env::temp_dir().join(format!("ferrolb-metrics-certs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tls.crt"), &bundle.cert).unwrap();
    std::fs::write(dir.join("tls.key"), &bundle.key).unwrap();
    (dir, bundle.ca_cert)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// GETs `path` over HTTPS trusting only `ca`, with `headers` as raw lines; status and body.
async fn get(port: u16, ca: &str, path: &str, headers: &str) -> std::io::Result<(u16, String)> {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls = TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await?;
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n").as_bytes())
        .await?;
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()))
}

async fn get_when_up(port: u16, ca: &str, path: &str) -> (u16, String) {
    for _ in 0..200 {
        if let Ok(answer) = get(port, ca, path, "").await {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the metrics server never came up on 127.0.0.1:{port}");
}

fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n")
}

fn serve(router: axum::Router, dir: &std::path::Path, port: u16) -> tokio::task::JoinHandle<()> {
    let store = secure_metrics::certificate(&MetricsCertificate::Dir(dir.to_owned())).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    tokio::spawn(secure_metrics::serve(addr, router, store, TlsMinVersion::Tls13, Some(dir.to_owned())))
}

#[tokio::test]
async fn each_scrape_is_answered_as_its_token_and_rbac_say_and_reviewed_once_per_ttl() {
    let (dir, ca) = cert_dir("answers");
    let script = vec![
        token_review("stranger", None),
        token_review("viewer", Some("system:serviceaccount:default:viewer")),
        access_review("system:serviceaccount:default:viewer", false),
        token_review("prometheus", Some("system:serviceaccount:monitoring:prometheus")),
        access_review("system:serviceaccount:monitoring:prometheus", true),
    ];
    let port = free_port();
    let (answers, seen) = scripted::run(script, |client| async {
        let metrics = Arc::new(Metrics::new());
        let auth = Arc::new(ScrapeAuth::new(client, Ttls::default()));
        let server = serve(secure_metrics::router(metrics, Arc::new(Health::default()), Some(auth)), &dir, port);
        let mut answers = vec![get_when_up(port, &ca, "/healthz").await];
        for headers in [
            String::new(),
            "Authorization: Basic dXNlcjpwYXNz\r\n".to_owned(),
            bearer("stranger"),
            bearer("viewer"),
            bearer("prometheus"),
            bearer("prometheus"),
            bearer("viewer"),
        ] {
            answers.push(get(port, &ca, "/metrics", &headers).await.unwrap());
        }
        server.abort();
        answers
    })
    .await;
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 401, 401, 401, 403, 200, 200, 403], "{answers:#?}");
    assert_eq!(answers[1].1.trim(), "a bearer token is required");
    assert!(answers[2].1.starts_with("malformed Authorization header"), "{}", answers[2].1);
    assert!(answers[3].1.contains("invalid bearer token"), "{}", answers[3].1);
    assert_eq!(answers[4].1.trim(), "system:serviceaccount:default:viewer may not get /metrics");
    assert!(answers[5].1.contains("metallb_k8s_client_config_loaded_bool"), "{}", answers[5].1);
    assert_eq!(answers[6].1, answers[5].1);
    // Five review calls for three tokens; none for the scrapes repeated within the TTL.
    assert_eq!(seen.len(), 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_api_server_that_cannot_review_is_a_500_and_bad_headers_are_4xx_never_a_crash() {
    let (dir, ca) = cert_dir("unavailable");
    let port = free_port();
    // The scripted server is gone at once: every review fails.
    let (answers, _) = scripted::run(vec![], |client| async {
        let auth = Arc::new(ScrapeAuth::new(client, Ttls::default()));
        let router = secure_metrics::router(Arc::new(Metrics::new()), Arc::new(Health::default()), Some(auth));
        let server = serve(router, &dir, port);
        get_when_up(port, &ca, "/readyz").await;
        let mut answers = Vec::new();
        for headers in [
            bearer("prometheus"),
            bearer("prometheus"),
            bearer(&"x".repeat(100 * 1024)),
            "Authorization: Bearer \u{7f}\u{1}\r\n".to_owned(),
            format!("X-Padding: {}\r\n", "y".repeat(1024 * 1024)),
        ] {
            answers.push(get(port, &ca, "/metrics", &headers).await.map(|(s, _)| s).unwrap_or(0));
        }
        server.abort();
        answers
    })
    .await;
    assert_eq!(answers[..2], [500, 500], "a failure is not cached, and never a 200");
    assert_eq!(answers[2], 401, "a token too long to be one");
    assert_eq!(answers[3], 400, "a header that is not one");
    assert_eq!(answers[4], 431, "a request head over the limit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn without_authentication_https_serves_metrics_and_plain_http_gets_nothing() {
    let (dir, ca) = cert_dir("plain");
    let port = free_port();
    let server = serve(secure_metrics::router(Arc::new(Metrics::new()), Arc::new(Health::default()), None), &dir, port);
    let (status, body) = get_when_up(port, &ca, "/metrics").await;
    assert_eq!(status, 200, "no authentication asked: the dir: source given a certificate");
    assert!(body.contains("metallb_"), "{body}");
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut raw = Vec::new();
    let _ = tcp.read_to_end(&mut raw).await;
    assert!(!String::from_utf8_lossy(&raw).contains("metallb_"));
    server.abort();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_certificate_directory_is_one_line_naming_the_file() {
    let error =
        secure_metrics::certificate(&MetricsCertificate::Dir("/nonexistent/ferrolb-metrics".into())).unwrap_err();
    assert!(
        error.starts_with("cannot use --metrics-cert-dir: cannot read /nonexistent/ferrolb-metrics/tls.crt: "),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1);
    assert!(secure_metrics::certificate(&MetricsCertificate::SelfSigned).is_ok());
}
