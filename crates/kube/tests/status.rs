//! Status writes against a scripted API server: each scenario lists every request the
//! writer must make, with its body, in order, and nothing else.

use std::time::Duration;

use ferrolb_kube::scripted::{self, Exchange};
use ferrolb_kube::status::{ServiceStatusKind, Settings, StatusEvent, StatusWriter, Target, Wish};
use serde_json::{Value, json};

const NS: &str = "metallb-system";
const L2: &str = "/apis/metallb.io/v1beta1/namespaces/metallb-system/servicel2statuses";

fn writer() -> StatusWriter {
    StatusWriter::new(Settings { namespace: NS.into(), owner: None })
}

/// Runs the writer against the script while `drive` states wishes, until all is written.
async fn play(script: Vec<Exchange>, drive: impl FnOnce(&StatusWriter)) -> Vec<scripted::Seen> {
    let writer = writer();
    drive(&writer);
    let ((), seen) = scripted::run(script, |client| async move {
        let task = tokio::spawn(writer.clone().run(client));
        assert!(writer.flush(Duration::from_secs(60)).await, "the writer settles");
        task.abort();
    })
    .await;
    seen
}

fn service_wish(ips: &[&str], pool: &str) -> Option<Wish> {
    let ingress: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    Some(Wish::Service { ingress: Value::Array(ingress), pool: Some(pool.into()) })
}

fn web() -> Target {
    Target::Service { namespace: "default".into(), name: "web".into() }
}

#[tokio::test(start_paused = true)]
async fn a_service_gets_its_pool_annotation_then_its_status() {
    let script = vec![
        Exchange::patch("/api/v1/namespaces/default/services/web")
            .exact_body(json!({"metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "pool1"}}}))
            .returns(json!({})),
        Exchange::patch("/api/v1/namespaces/default/services/web/status")
            .exact_body(json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}))
            .returns(json!({})),
    ];
    play(script, |w| w.set(web(), service_wish(&["10.0.0.1"], "pool1"))).await;
}

#[tokio::test(start_paused = true)]
async fn only_the_latest_wish_is_written() {
    let script = vec![
        Exchange::patch("/api/v1/namespaces/default/services/web").returns(json!({})),
        Exchange::patch("/api/v1/namespaces/default/services/web/status")
            .exact_body(json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.7"}]}}}))
            .returns(json!({})),
    ];
    play(script, |w| {
        w.set(web(), service_wish(&["10.0.0.1"], "pool1"));
        w.set(web(), service_wish(&["10.0.0.7"], "pool1"));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_cleared_service_loses_annotation_and_ingress() {
    let script = vec![
        Exchange::patch("/api/v1/namespaces/default/services/web")
            .exact_body(json!({"metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": null}}}))
            .returns(json!({})),
        Exchange::patch("/api/v1/namespaces/default/services/web/status")
            .exact_body(json!({"status": {"loadBalancer": {"ingress": null}}}))
            .returns(json!({})),
    ];
    play(script, |w| w.set(web(), None)).await;
}

#[tokio::test(start_paused = true)]
async fn server_errors_and_throttling_are_retried_until_the_write_lands() {
    let script = vec![
        Exchange::patch("/api/v1/namespaces/default/services/web").fails(503, "ServiceUnavailable"),
        Exchange::patch("/api/v1/namespaces/default/services/web").fails(429, "TooManyRequests"),
        Exchange::patch("/api/v1/namespaces/default/services/web").returns(json!({})),
        Exchange::patch("/api/v1/namespaces/default/services/web/status").fails(500, "InternalError"),
        Exchange::patch("/api/v1/namespaces/default/services/web").returns(json!({})),
        Exchange::patch("/api/v1/namespaces/default/services/web/status")
            .body(json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}}}))
            .returns(json!({})),
    ];
    let writer = writer();
    writer.set(web(), service_wish(&["10.0.0.1"], "pool1"));
    let ((), _) = scripted::run(script, |client| async move {
        let task = tokio::spawn(writer.clone().run(client));
        assert!(writer.flush(Duration::from_secs(60)).await);
        assert_eq!(writer.errors(), 3);
        task.abort();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_deleted_service_ends_its_writes() {
    let script = vec![Exchange::patch("/api/v1/namespaces/default/services/web").fails(404, "NotFound")];
    play(script, |w| w.set(web(), service_wish(&["10.0.0.1"], "pool1"))).await;
}

#[tokio::test(start_paused = true)]
async fn pool_status_goes_to_the_status_subresource() {
    let script = vec![
        Exchange::patch("/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/pool1/status")
            .exact_body(json!({"status": {"assignedIPv4": 3, "availableIPv4": 253}}))
            .returns(json!({})),
    ];
    play(script, |w| {
        w.set(Target::Pool { name: "pool1".into() }, Some(Wish::Pool(json!({"assignedIPv4": 3, "availableIPv4": 253}))))
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn configuration_state_is_server_side_applied_object_then_status() {
    let path = "/apis/metallb.io/v1beta1/namespaces/metallb-system/configurationstates/speaker-n1";
    let status = json!({"result": "Valid", "errorSummary": "", "conditions": []});
    let script = vec![
        Exchange::patch(path)
            .query("fieldManager=ferrolb")
            .query("force=true")
            .exact_body(json!({"apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState", "metadata": {
                "name": "speaker-n1", "namespace": NS,
                "labels": {"metallb.io/component-type": "speaker", "metallb.io/node-name": "n1"}}}))
            .returns(json!({})),
        Exchange::patch(&format!("{path}/status"))
            .query("fieldManager=ferrolb")
            .body(json!({"status": status}))
            .returns(json!({})),
        // Deleted by someone: the next write recreates the object first.
        Exchange::patch(&format!("{path}/status")).fails(404, "NotFound"),
        Exchange::patch(path).body(json!({"metadata": {"name": "speaker-n1"}})).returns(json!({})),
        Exchange::patch(&format!("{path}/status")).body(json!({"status": {"result": "Invalid"}})).returns(json!({})),
    ];
    let labels = [("metallb.io/component-type", "speaker"), ("metallb.io/node-name", "n1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let writer = writer();
    let target = Target::ConfigurationState { name: "speaker-n1".into() };
    writer.set(target.clone(), Some(Wish::ConfigurationState { labels, status: status.clone() }));
    let ((), _) = scripted::run(script, |client| async move {
        let task = tokio::spawn(writer.clone().run(client));
        assert!(writer.flush(Duration::from_secs(60)).await);
        let labels = [("metallb.io/component-type", "speaker"), ("metallb.io/node-name", "n1")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        writer.set(target, Some(Wish::ConfigurationState { labels, status: json!({"result": "Invalid"}) }));
        assert!(writer.flush(Duration::from_secs(60)).await);
        task.abort();
    })
    .await;
}

fn l2_target(node: &str) -> Target {
    Target::ServiceStatus {
        kind: ServiceStatusKind::Layer2,
        namespace: "default".into(),
        name: "web".into(),
        node: node.into(),
    }
}

fn l2_object(name: &str, node: &str) -> Value {
    json!({"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status", "metadata": {"name": name, "namespace": NS, "labels": {
        "metallb.io/node": node, "metallb.io/service-name": "web", "metallb.io/service-namespace": "default"}}})
}

#[tokio::test(start_paused = true)]
async fn service_l2_status_is_created_with_generate_name_then_deleted() {
    let status = json!({"node": "n1", "serviceName": "web", "serviceNamespace": "default"});
    let script = vec![
        Exchange::post(L2)
            .body(json!({"metadata": {"generateName": "l2-", "namespace": NS, "labels": {
                "metallb.io/node": "n1", "metallb.io/service-name": "web", "metallb.io/service-namespace": "default"}}}))
            .returns(l2_object("l2-x7k2p", "n1")),
        Exchange::patch(&format!("{L2}/l2-x7k2p/status")).exact_body(json!({"status": status})).returns(json!({})),
        Exchange::delete(&format!("{L2}/l2-x7k2p")).returns(json!({"kind": "Status", "status": "Success"})),
    ];
    let writer = writer();
    writer.set(l2_target("n1"), Some(Wish::ServiceStatus(status)));
    let ((), _) = scripted::run(script, |client| async move {
        let task = tokio::spawn(writer.clone().run(client));
        // Nothing may be created before the existing objects are known.
        tokio::time::sleep(Duration::from_secs(5)).await;
        writer.observe(ServiceStatusKind::Layer2, StatusEvent::Listed(vec![]));
        assert!(writer.flush(Duration::from_secs(60)).await);
        assert!(writer.has(ServiceStatusKind::Layer2, "default", "web", "n1"));
        writer.set(l2_target("n1"), None);
        assert!(writer.flush(Duration::from_secs(60)).await);
        assert!(!writer.has(ServiceStatusKind::Layer2, "default", "web", "n1"));
        assert_eq!(writer.remembered(), 0, "a landed removal is forgotten");
        task.abort();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_left_by_a_lost_create_answer_is_deleted() {
    let status = json!({"node": "n1", "serviceName": "web", "serviceNamespace": "default"});
    let mut first = l2_object("l2-aaaaa", "n1");
    first["status"] = status.clone();
    let script =
        vec![Exchange::delete(&format!("{L2}/l2-bbbbb")).returns(json!({"kind": "Status", "status": "Success"}))];
    play(script, |w| {
        w.observe(ServiceStatusKind::Layer2, StatusEvent::Listed(vec![first, l2_object("l2-bbbbb", "n1")]));
        w.set(l2_target("n1"), Some(Wish::ServiceStatus(status)));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_announcer_deletes_a_dead_nodes_object() {
    let script =
        vec![Exchange::delete(&format!("{L2}/l2-dead1")).returns(json!({"kind": "Status", "status": "Success"}))];
    play(script, |w| {
        w.observe(ServiceStatusKind::Layer2, StatusEvent::Listed(vec![l2_object("l2-dead1", "n2")]));
        assert_eq!(w.remove_others(ServiceStatusKind::Layer2, "default", "web", "n1", |_| false), ["n2"]);
    })
    .await;
}

/// Many targets are written at once, never more than `IN_FLIGHT`: a restart with thousands of
/// services does not wait for each round trip in turn, and does not flood the API server.
#[tokio::test(start_paused = true)]
async fn writes_overlap_up_to_the_in_flight_limit() {
    use ferrolb_kube::status::IN_FLIGHT;
    let (service, mut handle) =
        tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
    let client = kube::Client::new(service, NS);
    let writer = writer();
    let pools = IN_FLIGHT + 3;
    for i in 0..pools {
        writer.set(Target::Pool { name: format!("p{i}") }, Some(Wish::Pool(json!({"assignedIPv4": i}))));
    }
    let task = tokio::spawn(writer.clone().run(client));
    let mut waiting = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (request, respond) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
            .await
            .expect("the first writes start together")
            .expect("a request");
        assert_eq!(request.method(), http::Method::PATCH);
        waiting.push(respond);
    }
    // None answered yet: no further write may start.
    assert!(tokio::time::timeout(Duration::from_secs(5), handle.next_request()).await.is_err());
    for respond in waiting {
        respond.send_response(http::Response::new(kube::client::Body::from(b"{}".to_vec())));
    }
    for _ in IN_FLIGHT..pools {
        let (_, respond) = tokio::time::timeout(Duration::from_secs(5), handle.next_request()).await.unwrap().unwrap();
        respond.send_response(http::Response::new(kube::client::Body::from(b"{}".to_vec())));
    }
    assert!(writer.flush(Duration::from_secs(5)).await);
    task.abort();
}
