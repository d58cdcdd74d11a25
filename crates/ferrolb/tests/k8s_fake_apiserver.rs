//! `ferrolb controller --source k8s` and `ferrolb speaker --source k8s` as real processes
//! against a small in-memory API server on 127.0.0.1: objects are listed and watched over
//! HTTP, and every write the process makes is recorded and checked. This is the whole chain
//! (kubeconfig, client, watches, reconcilers, status writer, Lease, events) with only the API
//! server played by the test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the process made.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    body: Value,
}

#[derive(Default)]
struct Fake {
    /// Collections by path, each holding objects by name.
    collections: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
    seen: Mutex<Vec<Seen>>,
    names: Mutex<u64>,
}

const NS: &str = "metallb-system";

fn collections() -> Vec<String> {
    let metallb = ["ipaddresspools", "l2advertisements", "bgpadvertisements", "bfdprofiles", "communities"]
        .map(|p| format!("/apis/metallb.io/v1beta1/namespaces/{NS}/{p}"));
    let status = ["servicel2statuses", "servicebgpstatuses", "configurationstates"]
        .map(|p| format!("/apis/metallb.io/v1beta1/namespaces/{NS}/{p}"));
    let mut all: Vec<String> = metallb.into_iter().chain(status).collect();
    all.extend([
        format!("/apis/metallb.io/v1beta2/namespaces/{NS}/bgppeers"),
        format!("/api/v1/namespaces/{NS}/secrets"),
        format!("/api/v1/namespaces/{NS}/pods"),
        format!("/api/v1/namespaces/{NS}/events"),
        "/api/v1/namespaces/default/events".into(),
        format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"),
        "/api/v1/services".into(),
        "/api/v1/nodes".into(),
        "/api/v1/namespaces".into(),
        "/apis/discovery.k8s.io/v1/endpointslices".into(),
    ]);
    all
}

impl Fake {
    fn new() -> Arc<Self> {
        let fake = Self::default();
        fake.collections.lock().unwrap().extend(collections().into_iter().map(|c| (c, BTreeMap::new())));
        Arc::new(fake)
    }

    fn put(&self, collection: &str, object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        self.collections.lock().unwrap().entry(collection.into()).or_default().insert(name, object);
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Where an object path's collection is: `/api/v1/namespaces/default/services/web` is in
    /// the cluster-wide `/api/v1/services` for lists, so writes are matched on the full path.
    fn handle(&self, method: &Method, path: &str, query: &str, body: Value) -> (StatusCode, Value) {
        self.seen.lock().unwrap().push(Seen { method: method.clone(), path: path.to_owned(), body: body.clone() });
        if path == "/version" {
            return (StatusCode::OK, json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-fake"}));
        }
        let mut collections = self.collections.lock().unwrap();
        if let Some(objects) = collections.get(path) {
            return match *method {
                Method::GET => {
                    let items: Vec<Value> = objects.values().cloned().collect();
                    (
                        StatusCode::OK,
                        json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}),
                    )
                }
                Method::POST => {
                    let mut object = body;
                    if object["metadata"]["name"].as_str().is_none() {
                        let mut n = self.names.lock().unwrap();
                        *n += 1;
                        let prefix = object["metadata"]["generateName"].as_str().unwrap_or("x-").to_owned();
                        object["metadata"]["name"] = json!(format!("{prefix}{n:05}"));
                    }
                    object["metadata"]["uid"] = json!("uid-1");
                    object["metadata"]["resourceVersion"] = json!("2");
                    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                    collections.get_mut(path).unwrap().insert(name, object.clone());
                    (StatusCode::CREATED, object)
                }
                _ => (StatusCode::METHOD_NOT_ALLOWED, json!({})),
            };
        }
        let _ = query;
        let (parent, name) = path.trim_end_matches("/status").rsplit_once('/').unwrap_or(("", ""));
        let stored = collections.get(parent).and_then(|c| c.get(name)).cloned();
        match *method {
            Method::GET => match stored {
                Some(object) => (StatusCode::OK, object),
                None => not_found(name),
            },
            Method::PUT => {
                let mut object = body;
                object["metadata"]["resourceVersion"] = json!("3");
                collections.entry(parent.into()).or_default().insert(name.into(), object.clone());
                (StatusCode::OK, object)
            }
            Method::PATCH => {
                let mut object = stored.unwrap_or_else(|| json!({"metadata": {"name": name}}));
                merge(&mut object, &body);
                collections.entry(parent.into()).or_default().insert(name.into(), object.clone());
                (StatusCode::OK, object)
            }
            Method::DELETE => {
                collections.get_mut(parent).map(|c| c.remove(name));
                (StatusCode::OK, json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}))
            }
            _ => (StatusCode::METHOD_NOT_ALLOWED, json!({})),
        }
    }
}

fn not_found(name: &str) -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
               "message": format!("{name:?} not found")}),
    )
}

/// JSON merge patch (RFC 7386), enough for the patches ferrolb sends.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

async fn serve(State(fake): State<Arc<Fake>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let query = parts.uri.query().unwrap_or("").to_owned();
    if parts.method == Method::GET && query.split('&').any(|q| q == "watch=true" || q == "watch=1") {
        // A quiet watch: nothing changes while the test looks.
        tokio::time::sleep(Duration::from_secs(60)).await;
        return (StatusCode::OK, "").into_response();
    }
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let (status, answer) = fake.handle(&parts.method, parts.uri.path(), &query, body);
    (status, [("content-type", "application/json")], answer.to_string()).into_response()
}

/// Starts the fake on an ephemeral loopback port; returns its address.
fn start(fake: Arc<Fake>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let app = Router::new().fallback(serve).with_state(fake);
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn kubeconfig(addr: SocketAddr, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-fake-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\nusers:\n- name: fake\n  user:\n    token: test\n"
        ),
    )
    .unwrap();
    path
}

/// The process under test; killed when dropped, whatever happens.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], kubeconfig: &Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(args)
        .args(["--source", "k8s", "--kubeconfig", kubeconfig.to_str().unwrap(), "--namespace", NS])
        .args(["--port", "0", "--health-probe-port", "0", "--log-format", "text"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferrolb starts");
    Process(child)
}

/// Waits until a request matching `what` was made.
fn wait_for(fake: &Fake, what: impl Fn(&Seen) -> bool, describe: &str) -> Seen {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(seen) = fake.seen().into_iter().find(&what) {
            return seen;
        }
        assert!(Instant::now() < deadline, "never saw {describe}; saw:\n{:#?}", fake.seen());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn seed_cluster(fake: &Fake, service_status: Value) {
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools"),
        json!({"metadata": {"name": "pool1", "namespace": NS}, "spec": {"addresses": ["172.30.0.100-172.30.0.110"]}}),
    );
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements"),
        json!({"metadata": {"name": "l2", "namespace": NS}, "spec": {}}),
    );
    fake.put("/api/v1/namespaces", json!({"metadata": {"name": "default"}}));
    fake.put(
        "/api/v1/nodes",
        json!({"metadata": {"name": "n1"}, "status": {"addresses": [{"type": "InternalIP", "address": "172.30.0.11"}]}}),
    );
    fake.put(
        "/api/v1/services",
        json!({"metadata": {"name": "web", "namespace": "default", "uid": "svc-uid-web"},
               "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}], "ipFamilies": ["IPv4"],
                        "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]},
               "status": service_status}),
    );
}

#[test]
fn the_controller_leads_allocates_and_writes_status_pool_state_and_events() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({}));
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "controller");
    let _process = spawn(&["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"], &config);

    let lease = wait_for(&fake, |s| s.method == Method::POST && s.path.ends_with("/leases"), "the Lease being created");
    assert_eq!(lease.body["spec"]["holderIdentity"], "controller-0");
    let annotation = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path == "/api/v1/namespaces/default/services/web",
        "the pool annotation",
    );
    assert_eq!(annotation.body["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"], "pool1");
    let status = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path == "/api/v1/namespaces/default/services/web/status",
        "the service status",
    );
    assert_eq!(status.body["status"]["loadBalancer"]["ingress"], json!([{"ip": "172.30.0.100"}]));
    let pool = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path.ends_with("/ipaddresspools/pool1/status"),
        "the pool status",
    );
    assert_eq!(pool.body["status"]["assignedIPv4"], 1);
    assert_eq!(pool.body["status"]["availableIPv4"], 10);
    let state = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path.ends_with("/configurationstates/controller/status"),
        "the controller's ConfigurationState",
    );
    assert_eq!(state.body["status"]["result"], "Valid");
    assert_eq!(state.body["status"]["conditions"][0]["type"], "poolReconcilerValid");
    let event = wait_for(
        &fake,
        |s| s.method == Method::POST && s.path == "/api/v1/namespaces/default/events",
        "the IPAllocated event",
    );
    assert_eq!(event.body["reason"], "IPAllocated");
    assert_eq!(event.body["involvedObject"]["uid"], "svc-uid-web");
    assert_eq!(event.body["source"]["component"], "metallb-controller");
    wait_for(
        &fake,
        |s| s.method == Method::POST && s.path.ends_with(&format!("/namespaces/{NS}/secrets")),
        "the memberlist Secret",
    );
    // Nothing is written twice: one status patch for the one allocation.
    std::thread::sleep(Duration::from_millis(500));
    let patches = fake.seen().iter().filter(|s| s.path == "/api/v1/namespaces/default/services/web/status").count();
    assert_eq!(patches, 1);
}

#[test]
fn an_undecodable_pool_is_reported_in_configuration_state_and_nothing_is_allocated() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({}));
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools"),
        json!({"metadata": {"name": "broken", "namespace": NS}, "spec": {"addresses": "not-a-list"}}),
    );
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "broken");
    let _process = spawn(&["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"], &config);
    let state = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path.ends_with("/configurationstates/controller/status"),
        "the controller's ConfigurationState",
    );
    assert_eq!(state.body["status"]["result"], "Invalid");
    let summary = state.body["status"]["errorSummary"].as_str().unwrap_or_default();
    assert!(summary.contains("IPAddressPool/broken: spec.addresses"), "{summary}");
    let event = wait_for(
        &fake,
        |s| s.method == Method::POST && s.path == format!("/api/v1/namespaces/{NS}/events"),
        "the event on the broken pool",
    );
    assert_eq!(event.body["type"], "Warning");
    assert_eq!(event.body["reason"], "ConfigurationError");
    assert_eq!(event.body["involvedObject"]["kind"], "IPAddressPool");
    assert_eq!(event.body["involvedObject"]["name"], "broken");
    assert!(!fake.seen().iter().any(|s| s.path.starts_with("/api/v1/namespaces/default/services/web")));
}

#[test]
fn the_speaker_reports_its_configuration_state_and_watches_its_status_objects() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({"loadBalancer": {"ingress": [{"ip": "172.30.0.100"}]}}));
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "speaker");
    let _process = spawn(
        &[
            "speaker",
            "--node",
            "n1",
            "--disable-layer2",
            "--no-membership",
            "--ml-labels",
            "app.kubernetes.io/component=speaker",
        ],
        &config,
    );
    let state = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path.ends_with("/configurationstates/speaker-n1/status"),
        "the speaker's ConfigurationState",
    );
    assert_eq!(state.body["status"]["result"], "Valid");
    let object = fake
        .seen()
        .into_iter()
        .find(|s| s.method == Method::PATCH && s.path.ends_with("/configurationstates/speaker-n1"))
        .expect("the object is applied before its status");
    assert_eq!(object.body["metadata"]["labels"]["metallb.io/node-name"], "n1");
    for kind in ["servicel2statuses", "servicebgpstatuses", "secrets", "endpointslices", "bgppeers", "pods"] {
        assert!(
            fake.seen().iter().any(|s| s.method == Method::GET && s.path.ends_with(kind)),
            "the speaker lists {kind}"
        );
    }
    // The speaker never touches the Service: that is the controller's.
    assert!(!fake.seen().iter().any(|s| s.method != Method::GET && s.path.contains("/services/")));
}
