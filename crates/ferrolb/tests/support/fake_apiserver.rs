//! A small in-memory API server on 127.0.0.1 for tests and benchmarks of the `k8s` source:
//! objects are listed over HTTP (watches stay quiet), and every request is recorded so a test
//! can check the writes a process made. Shared by `tests/k8s_fake_apiserver.rs` and
//! `examples/k8s_scale.rs`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the process made.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub body: Value,
}

#[derive(Default)]
pub struct Fake {
    /// Collections by path, each holding objects by name.
    collections: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
    seen: Mutex<Vec<Seen>>,
    names: Mutex<u64>,
}

pub const NS: &str = "metallb-system";

fn collections() -> Vec<String> {
    let metallb = ["ipaddresspools", "l2advertisements", "bgpadvertisements", "bfdprofiles", "communities"]
        .map(|p| format!("/apis/metallb.io/v1beta1/namespaces/{NS}/{p}"));
    let status = ["servicel2statuses", "servicebgpstatuses", "configurationstates"]
        .map(|p| format!("/apis/metallb.io/v1beta1/namespaces/{NS}/{p}"));
    let mut all: Vec<String> = metallb.into_iter().chain(status).collect();
    all.extend([
        format!("/apis/metallb.io/v1beta2/namespaces/{NS}/bgppeers"),
        format!("/api/v1/namespaces/{NS}/secrets"),
        format!("/api/v1/namespaces/{NS}/configmaps"),
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
    pub fn new() -> Arc<Self> {
        let fake = Self::default();
        fake.collections.lock().unwrap().extend(collections().into_iter().map(|c| (c, BTreeMap::new())));
        Arc::new(fake)
    }

    pub fn put(&self, collection: &str, object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        self.collections.lock().unwrap().entry(collection.into()).or_default().insert(name, object);
    }

    /// How many recorded requests match, without copying them.
    pub fn count(&self, what: impl Fn(&Seen) -> bool) -> usize {
        self.seen.lock().unwrap().iter().filter(|s| what(s)).count()
    }

    pub fn seen(&self) -> Vec<Seen> {
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
                    // Pages as the API server serves them (`limit`, `continue`): a client
                    // never holds more than one page of raw objects at once.
                    let param = |key: &str| query.split('&').find_map(|q| q.strip_prefix(key)?.strip_prefix('='));
                    let limit = param("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
                    let after = param("continue").unwrap_or("").to_owned();
                    // `labelSelector=key=value` (one equality, as ferrolb asks)
                    let selector = param("labelSelector").map(|s| s.replace("%3D", "=").replace("%2F", "/"));
                    let selected = |object: &Value| {
                        selector
                            .as_deref()
                            .and_then(|s| s.split_once('='))
                            .is_none_or(|(key, value)| object["metadata"]["labels"][key].as_str() == Some(value))
                    };
                    let items: Vec<Value> = objects
                        .iter()
                        .filter(|(name, _)| after.is_empty() || name.as_str() > after.as_str())
                        .filter(|(_, object)| selected(object))
                        .take(limit.unwrap_or(usize::MAX))
                        .map(|(_, object)| object.clone())
                        .collect();
                    let last = items.last().and_then(|o| o["metadata"]["name"].as_str()).unwrap_or("").to_owned();
                    let more = objects.keys().next_back().is_some_and(|k| !items.is_empty() && *k != last);
                    let mut metadata = json!({"resourceVersion": "1"});
                    if more {
                        metadata["continue"] = json!(last);
                    }
                    (StatusCode::OK, json!({"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items}))
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
pub fn start(fake: Arc<Fake>) -> SocketAddr {
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

pub fn kubeconfig(addr: SocketAddr, name: &str) -> PathBuf {
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
