//! `ferrolb controller --source k8s` and `ferrolb speaker --source k8s` as real processes
//! against a small in-memory API server on 127.0.0.1: objects are listed and watched over
//! HTTP, and every write the process makes is recorded and checked. This is the whole chain
//! (kubeconfig, client, watches, reconcilers, status writer, Lease, events) with only the API
//! server played by the test.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};
use support::fake_apiserver::{Fake, NS, Seen, kubeconfig, start};

/// The process under test; killed when dropped, whatever happens.
struct Process(Child);

impl Process {
    /// Stops the process as Kubernetes does (SIGTERM) and waits for it to exit: afterwards
    /// every write it will ever make has been made (it flushes its writes before exiting).
    fn terminate(&mut self) {
        let pid = self.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.0.wait().expect("the process exits");
        assert!(status.success(), "an orderly stop exits 0: {status}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], kubeconfig: &Path) -> Process {
    spawn_serving(args, kubeconfig, 0, 0, &[])
}

/// With the metrics port on 127.0.0.1 and the health port (0: off), and `env` set.
fn spawn_serving(args: &[&str], kubeconfig: &Path, metrics: u16, health: u16, env: &[(&str, &str)]) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(args)
        .args(["--source", "k8s", "--kubeconfig", kubeconfig.to_str().unwrap(), "--namespace", NS])
        .args(["--port", &metrics.to_string(), "--bind-address", "127.0.0.1"])
        .args(["--health-probe-port", &health.to_string(), "--log-format", "text"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferrolb starts");
    Process(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP GET on 127.0.0.1: the whole answer, or `None` when nothing answers.
fn plain_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Retries `get` until it answers.
fn answered(get: impl Fn() -> Option<String>, describe: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(answer) = get().filter(|a| !a.is_empty()) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{describe} never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    let mut process = spawn(&["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"], &config);

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
    // Nothing is written twice: one status patch for the one allocation, counted once the
    // controller has stopped and flushed everything it had to write.
    process.terminate();
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

#[test]
fn on_k8s_metrics_are_not_served_over_plain_http_and_the_health_port_stays_plain_and_open() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({}));
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "secured");
    let (metrics, health) = (free_port(), free_port());
    let args = ["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"];
    let _process = spawn_serving(&args, &config, metrics, health, &[]);
    let healthz = answered(|| plain_get(health, "/healthz"), "the health port");
    assert!(healthz.starts_with("HTTP/1.1 200"), "{healthz}");
    let on_health = plain_get(health, "/metrics").unwrap_or_default();
    assert!(on_health.starts_with("HTTP/1.1 404"), "metrics cannot be read around the authentication: {on_health}");
    // The metrics port speaks TLS only: a plain request gets no metrics.
    std::thread::sleep(Duration::from_millis(200));
    let plain = plain_get(metrics, "/metrics").unwrap_or_default();
    assert!(!plain.contains("metallb_"), "{plain}");
    assert!(!fake.seen().iter().any(|s| s.path.contains("tokenreviews")), "no scrape was reviewed");
}

#[test]
fn metrics_insecure_serves_plain_http_without_authentication_on_k8s() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({}));
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "insecure");
    let metrics = free_port();
    let args = ["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"];
    let _process = spawn_serving(&args, &config, metrics, 0, &[("FERROLB_METRICS_INSECURE", "true")]);
    let answer = answered(|| plain_get(metrics, "/metrics"), "the plain metrics port");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("metallb_k8s_client_config_loaded_bool"), "{answer}");
    assert!(!fake.seen().iter().any(|s| s.path.contains("tokenreviews")), "nothing to review");
}

#[test]
fn a_bgpextras_configmap_is_reported_as_not_applied_on_the_configmap_and_in_configuration_state() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({}));
    fake.put(
        &format!("/api/v1/namespaces/{NS}/configmaps"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bgpextras", "namespace": NS},
               "data": {"extras": "router bgp 64512\n  neighbor 10.0.0.1 allowas-in origin\n"}}),
    );
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "speaker");
    let _process = spawn(&["speaker", "--node", "n1", "--disable-layer2", "--no-membership"], &config);
    let state = wait_for(
        &fake,
        |s| s.method == Method::PATCH && s.path.ends_with("/configurationstates/speaker-n1/status"),
        "the speaker's ConfigurationState",
    );
    assert_eq!(state.body["status"]["result"], "Valid", "the configuration itself is fine");
    let conditions = state.body["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let extras = conditions.iter().find(|c| c["type"] == "metallbExtrasApplied").expect("the condition");
    assert_eq!((extras["status"].as_str(), extras["reason"].as_str()), (Some("False"), Some("NotApplied")));
    assert!(
        extras["message"].as_str().unwrap().starts_with("ConfigMap bgpextras holds 2 line(s) of raw FRR configuration")
    );
    let event = wait_for(
        &fake,
        |s| s.method == Method::POST && s.path.ends_with("/events") && s.body["involvedObject"]["kind"] == "ConfigMap",
        "a Warning event on the ConfigMap",
    );
    assert_eq!((event.body["type"].as_str(), event.body["reason"].as_str()), (Some("Warning"), Some("NotApplied")));
    assert_eq!(event.body["involvedObject"]["name"], "bgpextras");
    assert_eq!(event.body["involvedObject"]["apiVersion"], "v1");
}

/// `ferrolb why` against the cluster, as a user runs it: read-only, with a kubeconfig.
fn why(kubeconfig: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .arg("why")
        .args(["--source", "k8s", "--kubeconfig", kubeconfig.to_str().unwrap(), "--metallb-namespace", NS])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("ferrolb why runs")
}

#[test]
fn the_speaker_publishes_its_report_and_why_reads_the_cluster_without_writing() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({"loadBalancer": {"ingress": [{"ip": "172.30.0.100"}]}}));
    fake.put(
        "/apis/discovery.k8s.io/v1/endpointslices",
        json!({"metadata": {"name": "web-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "nodeName": "n1"}]}),
    );
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "why");
    let mut process = spawn(&["speaker", "--node", "n1", "--disable-layer2", "--no-membership"], &config);
    let report = wait_for(
        &fake,
        |s| {
            s.method != Method::GET
                && s.path.contains("/configmaps")
                && s.body["metadata"]["name"] == "ferrolb-speaker-n1"
        },
        "the speaker's report ConfigMap",
    );
    assert_eq!(report.body["metadata"]["labels"]["app.kubernetes.io/component"], "speaker-report");
    let published: Value = serde_json::from_str(report.body["data"]["report.json"].as_str().unwrap()).unwrap();
    assert_eq!(published["node"], "n1", "{published}");
    assert_eq!(published["config"].as_str().map(str::len), Some(16), "the configuration digest: {published}");
    // Written on change only: three quiet seconds later there is no second write.
    let report_writes = || {
        fake.count(|s| {
            s.method != Method::GET && s.path.contains("/configmaps/ferrolb-speaker-n1")
                || (s.method == Method::POST && s.body["metadata"]["name"] == "ferrolb-speaker-n1")
        })
    };
    let first = report_writes();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(report_writes(), first, "nothing changed, nothing written");
    // Without a data plane (--disable-layer2) the elected speaker answers nothing and writes
    // no ServiceL2Status: why says so.
    let out = why(&config, &["default/web"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("default/web: not announced (172.30.0.100 from pool pool1)"), "{text}");
    assert!(
        text.contains("layer2 n1: elected, but does not answer: it has not written its ServiceL2Status yet"),
        "{text}"
    );
    // A speaker with a data plane would have written this:
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/servicel2statuses"),
        json!({"metadata": {"name": "l2-web-n1", "namespace": NS},
               "status": {"node": "n1", "serviceName": "web", "serviceNamespace": "default", "interfaces": [{"name": "eth0"}]}}),
    );
    // The speaker is gone (its report and the status stay): from now on nothing writes, and
    // why must not either.
    process.terminate();
    let writes_before = fake.count(|s| s.method != Method::GET);
    let out = why(&config, &["default/web"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("default/web: announced (172.30.0.100 from pool pool1)"), "{text}");
    assert!(text.contains("layer2 n1: elected; answers ARP/NDP on eth0"), "{text}");
    let out = why(&config, &["--all", "-o", "json"]);
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["services"][0]["name"], "web", "{answer}");
    assert_eq!(fake.count(|s| s.method != Method::GET), writes_before, "why only lists; the speaker is gone");
}

/// `why --all` over 10,000 Services (each with its EndpointSlice and its ServiceL2Status) on
/// three nodes: every one is in the table with the right verdict. The time it took is printed
/// (the README's figure comes from `cargo test --release`), never asserted.
#[test]
fn why_all_answers_ten_thousand_services_in_one_table() {
    const SERVICES: usize = 10_000;
    let fake = Fake::new();
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools"),
        json!({"metadata": {"name": "pool1", "namespace": NS}, "spec": {"addresses": ["10.60.0.0/16"]}}),
    );
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements"),
        json!({"metadata": {"name": "l2", "namespace": NS}, "spec": {}}),
    );
    fake.put("/api/v1/namespaces", json!({"metadata": {"name": "default"}}));
    for n in 1..=3 {
        fake.put(
            "/api/v1/nodes",
            json!({"metadata": {"name": format!("n{n}")}, "status": {"addresses": [{"type": "InternalIP", "address": format!("172.30.0.1{n}")}]}}),
        );
    }
    for i in 0..SERVICES {
        let (name, ip) = (format!("svc-{i:05}"), format!("10.60.{}.{}", i / 250, i % 250 + 1));
        fake.put(
            "/api/v1/services",
            json!({"metadata": {"name": name, "namespace": "default"},
                   "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}], "ipFamilies": ["IPv4"], "clusterIPs": ["10.96.0.10"]},
                   "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}),
        );
        fake.put(
            "/apis/discovery.k8s.io/v1/endpointslices",
            json!({"metadata": {"name": format!("{name}-x"), "namespace": "default", "labels": {"kubernetes.io/service-name": name}},
                   "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "nodeName": "n1"}]}),
        );
        // every Service but the last hundred has its announcer's status, on n1 (with ETP
        // Cluster the election may pick another node: those are "not announced" then)
        if i < SERVICES - 100 {
            fake.put(
                &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/servicel2statuses"),
                json!({"metadata": {"name": format!("l2-{name}"), "namespace": NS},
                       "status": {"node": "n1", "serviceName": name, "serviceNamespace": "default", "interfaces": []}}),
            );
        }
    }
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "why-all");
    let started = Instant::now();
    let out = why(&config, &["--all"]);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(out.status.code(), Some(1), "some are not announced: {}", lines.last().unwrap_or(&""));
    assert_eq!(lines.len(), SERVICES + 2, "a title, a row per Service, a count");
    let summary = lines[SERVICES + 1];
    let announced: usize =
        summary.split(": ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(summary.starts_with("10000 Services: "), "{summary}");
    assert!(announced > 0 && announced < SERVICES - 100, "the ones n1 was elected for and announces: {summary}");
    assert!(
        lines.iter().filter(|l| l.contains("claim without election: n1")).count() > 0,
        "the others were elected elsewhere"
    );
    eprintln!("why --all, {SERVICES} Services on the in-memory API server: {} ms ({summary})", took.as_millis());
}

/// `why` on the cluster reads the heartbeat Leases (by the local clock against their
/// duration), the speakers' report ConfigMaps and the ConfigurationStates: a stale heartbeat
/// is "not alive" and the election goes to the other node, whose report says it is fenced; a
/// speaker that rejected the configuration is named first.
#[test]
fn why_on_the_cluster_reads_heartbeat_leases_and_speaker_reports() {
    let fake = Fake::new();
    seed_cluster(&fake, json!({"loadBalancer": {"ingress": [{"ip": "172.30.0.100"}]}}));
    fake.put(
        "/api/v1/nodes",
        json!({"metadata": {"name": "n2"}, "status": {"addresses": [{"type": "InternalIP", "address": "172.30.0.12"}]}}),
    );
    fake.put(
        "/apis/discovery.k8s.io/v1/endpointslices",
        json!({"metadata": {"name": "web-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.244.0.5"], "conditions": {"ready": true}, "nodeName": "n1"},
                             {"addresses": ["10.244.0.6"], "conditions": {"ready": true}, "nodeName": "n2"}]}),
    );
    let now = k8s_openapi::jiff::Timestamp::now();
    let minute_ago = now - k8s_openapi::jiff::SignedDuration::from_secs(60);
    for (node, renewed) in [("n1", now), ("n2", minute_ago)] {
        fake.put(
            &format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"),
            json!({"metadata": {"name": format!("ferrolb-speaker-{node}"), "namespace": NS,
                                "labels": {"app.kubernetes.io/component": "speaker-heartbeat"}},
                   "spec": {"holderIdentity": node, "leaseDurationSeconds": 6, "renewTime": renewed.to_string()}}),
        );
    }
    // a Lease without the label is nobody's heartbeat
    fake.put(
        &format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"),
        json!({"metadata": {"name": "metallb-controller", "namespace": NS},
               "spec": {"holderIdentity": "n2", "leaseDurationSeconds": 6, "renewTime": now.to_string()}}),
    );
    let report = json!({"node": "n1", "membership": {"members": ["n1"], "quorum": false, "fenced": true}});
    fake.put(
        &format!("/api/v1/namespaces/{NS}/configmaps"),
        json!({"metadata": {"name": "ferrolb-speaker-n1", "namespace": NS,
                            "labels": {"app.kubernetes.io/component": "speaker-report"}},
               "data": {"report.json": report.to_string()}}),
    );
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/configurationstates"),
        json!({"metadata": {"name": "speaker-n2", "namespace": NS},
               "status": {"result": "Invalid", "errorSummary": "BGPPeer/r: spec.holdTime: too short"}}),
    );
    let addr = start(Arc::clone(&fake));
    let config = kubeconfig(addr, "why-leases");
    let out = why(&config, &["-n", "default", "web"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("layer2 n1: elected, but does not answer: fenced without quorum: it sees 1 speaker(s)"),
        "{text}"
    );
    assert!(text.contains("layer2 n2: its speaker is not alive (its heartbeat is stale)"), "{text}");
    assert!(
        text.starts_with("configuration: speaker-n2 rejected the configuration: BGPPeer/r: spec.holdTime: too short\n"),
        "{text}"
    );
    assert!(fake.seen().iter().all(|s| s.method == Method::GET), "why only reads");
}
