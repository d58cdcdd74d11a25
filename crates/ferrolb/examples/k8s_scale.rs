//! How the `k8s` source scales: a controller and a speaker process against the in-memory API
//! server on 127.0.0.1, with N LoadBalancer Services. Prints how long the controller takes
//! to give every Service its address (status patched), and the peak memory of each process.
//!
//! ```sh
//! cargo build --release -p ferrolb
//! cargo run --release -p ferrolb --example k8s_scale -- 10000 target/release/ferrolb
//! ```
//! (`scripts/bench-k8s.sh` does both.) Nothing leaves loopback: the addresses are data.

#[path = "../tests/support/fake_apiserver.rs"]
mod fake_apiserver;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use fake_apiserver::{Fake, NS, kubeconfig, start};
use serde_json::{Value, json};

fn seed(fake: &Fake, services: usize, with_status: bool) {
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/ipaddresspools"),
        json!({"metadata": {"name": "bench", "namespace": NS}, "spec": {"addresses": ["198.18.0.0/15"]}}),
    );
    fake.put(
        &format!("/apis/metallb.io/v1beta1/namespaces/{NS}/l2advertisements"),
        json!({"metadata": {"name": "l2", "namespace": NS}, "spec": {}}),
    );
    fake.put("/api/v1/namespaces", json!({"metadata": {"name": "default"}}));
    for node in ["n1", "n2", "n3"] {
        fake.put(
            "/api/v1/nodes",
            json!({"metadata": {"name": node}, "status": {"addresses": [{"type": "InternalIP", "address": "198.19.255.1"}]}}),
        );
    }
    for i in 0..services {
        let ip = format!("198.18.{}.{}", i / 256, i % 256);
        let status: Value = if with_status { json!({"loadBalancer": {"ingress": [{"ip": ip}]}}) } else { json!({}) };
        fake.put(
            "/api/v1/services",
            json!({"metadata": {"name": format!("svc-{i:06}"), "namespace": "default", "uid": format!("uid-{i}"),
                                "annotations": if with_status { json!({"metallb.io/ip-allocated-from-pool": "bench"}) } else { json!({}) }},
                   "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}], "ipFamilies": ["IPv4"],
                            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]},
                   "status": status}),
        );
    }
}

/// Peak and current resident memory of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `K8S_SCALE_WRAP` (e.g. `heaptrack -o /tmp/speaker`) runs each process under that command,
/// for profiling; the memory figures are then the wrapper's.
fn spawn(binary: &str, args: &[&str], config: &std::path::Path) -> Child {
    let wrap = std::env::var("K8S_SCALE_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(wrapper) => {
            let mut c = Command::new(wrapper);
            c.args(words).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(args)
        .args(["--source", "k8s", "--kubeconfig", config.to_str().unwrap(), "--namespace", NS])
        .args(["--port", "0", "--health-probe-port", "0", "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferrolb starts")
}

fn wait(what: impl Fn() -> bool, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if what() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let services: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let binary = args.get(2).cloned().unwrap_or_else(|| "target/release/ferrolb".into());
    let limit = Duration::from_secs(600);

    // The controller: every Service without an address gets one.
    let fake = Fake::new();
    seed(&fake, services, false);
    let config = kubeconfig(start(Arc::clone(&fake)), "bench-controller");
    let mut controller =
        spawn(&binary, &["controller", "--pod-name", "controller-0", "--webhook-mode", "disabled"], &config);
    let is_status = |s: &fake_apiserver::Seen| {
        s.method == Method::PATCH && s.path.ends_with("/status") && s.path.contains("/services/")
    };
    let took = wait(|| fake.count(is_status) >= services, limit);
    std::thread::sleep(Duration::from_millis(500));
    let (peak, rss) = memory(controller.id());
    let _ = controller.kill();
    let _ = controller.wait();
    match took {
        Some(t) => println!(
            "controller: {services} services allocated and status-patched in {:.2} s ({:.0} services/s); peak RSS {peak:.1} MiB, RSS {rss:.1} MiB",
            t.as_secs_f64(),
            services as f64 / t.as_secs_f64()
        ),
        None => println!("controller: only {} of {services} statuses in {limit:?}", fake.count(is_status)),
    }

    // A speaker of one node: every Service already has its address.
    let fake = Fake::new();
    seed(&fake, services, true);
    let config = kubeconfig(start(Arc::clone(&fake)), "bench-speaker");
    let mut speaker = spawn(&binary, &["speaker", "--node", "n1", "--disable-layer2", "--no-membership"], &config);
    let is_state = |s: &fake_apiserver::Seen| {
        s.method == Method::PATCH && s.path.ends_with("/configurationstates/speaker-n1/status")
    };
    let took = wait(|| fake.count(is_state) >= 1, limit);
    // Let it decide for every service (events are the speaker's last act per service).
    std::thread::sleep(Duration::from_secs(3));
    let (peak, rss) = memory(speaker.id());
    let _ = speaker.kill();
    let _ = speaker.wait();
    match took {
        Some(t) => println!(
            "speaker:    {services} services, first decision after {:.2} s; peak RSS {peak:.1} MiB, RSS {rss:.1} MiB (layer 2 data plane off)",
            t.as_secs_f64()
        ),
        None => println!("speaker: no ConfigurationState in {limit:?}"),
    }
}
