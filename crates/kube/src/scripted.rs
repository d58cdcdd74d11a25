//! A scripted API server for tests (feature `testing`).
//!
//! Each scenario is a list of exchanges in the order the adapter must make them: every
//! request is checked for its method, path, query and body, and answered as the API server
//! would. A request the script does not expect fails the test with both sides printed, and a
//! script that is not used up fails too, so a test proves the adapter made exactly these
//! calls and nothing else.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::Value;
use tokio::task::JoinHandle;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// How long a script waits for the next request before failing the test.
const PATIENCE: Duration = Duration::from_secs(10);

/// One expected request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    method: Method,
    path: String,
    query: Vec<String>,
    body: Option<Value>,
    exact_body: bool,
    status: StatusCode,
    answer: Answer,
}

#[derive(Debug, Clone)]
enum Answer {
    Json(Value),
    /// A watch stream: newline-separated events, then the end of the response.
    Lines(Vec<Value>),
}

impl Exchange {
    fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            query: Vec::new(),
            body: None,
            exact_body: false,
            status: StatusCode::OK,
            answer: Answer::Json(Value::Null),
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }
    pub fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// The query string must contain this `key=value` pair (or bare key).
    pub fn query(mut self, pair: &str) -> Self {
        self.query.push(pair.to_owned());
        self
    }

    /// The body must contain this JSON: every key given must be present with an equal value
    /// (objects compared recursively, arrays and scalars exactly).
    pub fn body(mut self, expected: Value) -> Self {
        self.body = Some(expected);
        self.exact_body = false;
        self
    }

    /// The body must be exactly this JSON.
    pub fn exact_body(mut self, expected: Value) -> Self {
        self.body = Some(expected);
        self.exact_body = true;
        self
    }

    /// Answer 200 with this JSON.
    pub fn returns(mut self, answer: Value) -> Self {
        self.answer = Answer::Json(answer);
        self
    }

    /// Answer a watch with these events (`{"type": "ADDED", "object": ...}`), then end it.
    pub fn streams(mut self, events: Vec<Value>) -> Self {
        self.answer = Answer::Lines(events);
        self
    }

    /// Answer with an error status and a `Status` object, as the API server does.
    pub fn fails(mut self, code: u16, reason: &str) -> Self {
        self.status = StatusCode::from_u16(code).expect("a valid HTTP status");
        self.answer = Answer::Json(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("scripted {reason}"), "reason": reason, "code": code,
        }));
        self
    }

    fn check(&self, index: usize, method: &Method, uri: &http::Uri, body: &Value) -> Result<(), String> {
        let query = uri.query().unwrap_or("");
        let mut problems = Vec::new();
        if method != self.method || uri.path() != self.path {
            problems.push(format!("expected {} {}", self.method, self.path));
        }
        for pair in &self.query {
            if !query.split('&').any(|q| q == pair || q.split('=').next() == Some(pair.as_str())) {
                problems.push(format!("query lacks {pair:?}"));
            }
        }
        if let Some(expected) = &self.body {
            let ok = if self.exact_body { expected == body } else { contains(body, expected) };
            if !ok {
                problems.push(format!("body should {} {expected}", if self.exact_body { "be" } else { "contain" }));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("exchange {index}: got {method} {uri} with body {body}: {}", problems.join("; ")))
        }
    }

    fn response(&self) -> Response<Body> {
        let bytes = match &self.answer {
            Answer::Json(value) => serde_json::to_vec(value).expect("JSON serializes"),
            Answer::Lines(events) => events
                .iter()
                .flat_map(|e| {
                    let mut line = serde_json::to_vec(e).expect("JSON serializes");
                    line.push(b'\n');
                    line
                })
                .collect(),
        };
        Response::builder().status(self.status).body(Body::from(bytes)).expect("a valid response")
    }
}

/// Whether `actual` holds everything `expected` says.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        _ => actual == expected,
    }
}

/// A request the adapter made, as the script saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: String,
    pub body: Value,
}

/// A client wired to a scripted server, and the server's handle.
pub fn client() -> (kube::Client, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "metallb-system"), ApiServer { handle })
}

/// The server side of [`client`].
#[derive(Debug)]
pub struct ApiServer {
    handle: Handle,
}

impl ApiServer {
    /// Plays the script on a task; await the handle to learn whether it all happened. The
    /// task ends with the script: any later request finds the server gone.
    pub fn play(self, script: Vec<Exchange>) -> JoinHandle<Vec<Seen>> {
        tokio::spawn(async move {
            let mut handle = self.handle;
            let mut seen = Vec::new();
            for (index, exchange) in script.iter().enumerate() {
                let next = tokio::time::timeout(PATIENCE, handle.next_request()).await;
                let Ok(Some((request, respond))) = next else {
                    panic!("exchange {index} never came: expected {} {}", exchange.method, exchange.path);
                };
                let (parts, body) = request.into_parts();
                let bytes = http_body_util::BodyExt::collect(body).await.expect("request body").to_bytes();
                let body: Value =
                    if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
                if let Err(problem) = exchange.check(index, &parts.method, &parts.uri, &body) {
                    panic!("{problem}");
                }
                seen.push(Seen { method: parts.method, uri: parts.uri.to_string(), body });
                respond.send_response(exchange.response());
            }
            seen
        })
    }
}

/// Plays a script against a fresh client: `run(script, |client| async { ... })`, then checks
/// the script was used up.
pub async fn run<F, Fut, T>(script: Vec<Exchange>, test: F) -> (T, Vec<Seen>)
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let (client, server) = client();
    let played = server.play(script);
    let out = test(client).await;
    let seen = played.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    (out, seen)
}
