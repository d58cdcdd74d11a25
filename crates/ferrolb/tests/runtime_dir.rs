//! The runtime on the `dir:` source, process by process: election, allocation, release,
//! takeover after `kill -9`, rejected configurations, bad files, signals. Everything runs on
//! a scratch directory; the only sockets are on 127.0.0.1.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const POOL: &str =
    "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [10.50.0.0/29]}\n";
const NODES: &str = "apiVersion: v1\nkind: Node\nmetadata: {name: node1}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node2}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node3}\n";

fn service(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\nspec: {{type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{{port: 80}}]}}\n"
    )
}

struct Lab {
    dir: PathBuf,
    procs: Vec<(String, Child)>,
}

impl Lab {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ferrolb-rt-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("manifests")).unwrap();
        fs::write(dir.join("manifests/pool.yaml"), POOL).unwrap();
        fs::write(dir.join("manifests/nodes.yaml"), NODES).unwrap();
        Self { dir, procs: Vec::new() }
    }

    fn manifests(&self) -> PathBuf {
        self.dir.join("manifests")
    }

    fn state(&self, rel: &str) -> PathBuf {
        self.manifests().join(".ferrolb").join(rel)
    }

    fn start(&mut self, node: &str, extra: &[&str]) {
        let log = fs::File::create(self.dir.join(format!("{node}.log"))).unwrap();
        let source = format!("dir:{}", self.manifests().display());
        let mut args =
            vec!["run", "--node", node, "--source", &source, "--log-format", "json", "--health-probe-port", "0"];
        if !extra.contains(&"--port") {
            args.extend(["--port", "0"]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
            .args(args)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((node.to_owned(), child));
    }

    fn log(&self, node: &str) -> String {
        fs::read_to_string(self.dir.join(format!("{node}.log"))).unwrap_or_default()
    }

    fn pid(&self, node: &str) -> u32 {
        self.procs.iter().find(|(n, _)| n == node).unwrap().1.id()
    }

    fn signal(&mut self, node: &str, signal: &str) {
        let pid = self.pid(node).to_string();
        assert!(Command::new("kill").args([&format!("-{signal}"), &pid]).status().unwrap().success());
    }

    fn leader(&self) -> Option<(String, u32)> {
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(self.state("leader.json")).ok()?).ok()?;
        Some((v["node"].as_str()?.to_owned(), v["pid"].as_u64()? as u32))
    }

    fn service_ips(&self, name: &str) -> Option<Vec<String>> {
        let text = fs::read_to_string(self.state(&format!("services/default/{name}.json"))).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(v["ingress"].as_array()?.iter().filter_map(|i| i["ip"].as_str().map(str::to_owned)).collect())
    }

    fn controller_result(&self) -> Option<String> {
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(self.state("configurationstates/controller.json")).ok()?).ok()?;
        v["result"].as_str().map(str::to_owned)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Polls `check` every 10 ms until it holds or `limit` passes; returns the time it took.
#[track_caller]
fn within<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> (T, Duration) {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return (value, start.elapsed());
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    fs::write(&tmp, text).unwrap();
    fs::rename(tmp, path).unwrap();
}

#[test]
fn three_processes_elect_exactly_one_controller_that_allocates_and_releases() {
    let mut lab = Lab::new("elect");
    for node in ["node1", "node2", "node3"] {
        lab.start(node, &[]);
    }
    let ((leader, pid), _) = within(Duration::from_secs(5), "a leader", || lab.leader());
    assert_eq!(pid, lab.pid(&leader));

    fs::write(lab.manifests().join("web.yaml"), service("web")).unwrap();
    let (ips, took) = within(Duration::from_secs(1), "web gets an address", || lab.service_ips("web"));
    assert_eq!(ips, ["10.50.0.0"]);
    eprintln!("address written {took:?} after the Service file");

    let leading: Vec<&str> =
        ["node1", "node2", "node3"].into_iter().filter(|n| lab.log(n).contains("controller: leading")).collect();
    assert_eq!(leading, [leader.as_str()], "exactly one process leads");

    fs::remove_file(lab.manifests().join("web.yaml")).unwrap();
    within(Duration::from_secs(1), "web's address released", || lab.service_ips("web").is_none().then_some(()));
    for node in ["node1", "node2", "node3"] {
        let state = lab.state(&format!("configurationstates/speaker-{node}.json"));
        within(Duration::from_secs(2), "every speaker reports its configuration", || state.exists().then_some(()));
    }
}

#[test]
fn killing_the_leader_hands_the_role_to_another_process_without_moving_addresses() {
    let mut lab = Lab::new("takeover");
    lab.start("node1", &[]);
    within(Duration::from_secs(5), "node1 leads", || lab.leader().filter(|(n, _)| n == "node1"));
    lab.start("node2", &[]);
    fs::write(lab.manifests().join("a.yaml"), service("a")).unwrap();
    let (before, _) = within(Duration::from_secs(2), "a gets an address", || lab.service_ips("a"));

    lab.signal("node1", "KILL");
    let (_, took) = within(Duration::from_secs(1), "node2 takes over", || lab.leader().filter(|(n, _)| n == "node2"));
    eprintln!("takeover {took:?} after kill -9");

    fs::write(lab.manifests().join("b.yaml"), service("b")).unwrap();
    let (b, _) = within(Duration::from_secs(2), "b gets an address from the new leader", || lab.service_ips("b"));
    assert_ne!(b, before);
    assert_eq!(lab.service_ips("a"), Some(before), "a restart never moves an address");
}

#[test]
fn an_invalid_pool_edit_is_reported_and_changes_nothing() {
    let mut lab = Lab::new("invalid");
    lab.start("node1", &[]);
    fs::write(lab.manifests().join("web.yaml"), service("web")).unwrap();
    let (ips, _) = within(Duration::from_secs(2), "web gets an address", || lab.service_ips("web"));
    within(Duration::from_secs(2), "Valid", || (lab.controller_result()? == "Valid").then_some(()));

    let bad = format!(
        "{POOL}---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: q}}\nspec: {{addresses: [10.50.0.4/30]}}\n"
    );
    write_atomically(&lab.manifests().join("pool.yaml"), &bad);
    within(Duration::from_secs(2), "Invalid", || (lab.controller_result()? == "Invalid").then_some(()));
    let summary = fs::read_to_string(lab.state("configurationstates/controller.json")).unwrap();
    assert!(summary.contains("overlaps"), "{summary}");
    fs::write(lab.manifests().join("api.yaml"), service("api")).unwrap();
    within(Duration::from_secs(2), "new services still get addresses from the last good pools", || {
        lab.service_ips("api")
    });
    assert_eq!(lab.service_ips("web"), Some(ips));
    assert!(lab.log("node1").contains("configuration rejected"));

    write_atomically(&lab.manifests().join("pool.yaml"), POOL);
    within(Duration::from_secs(2), "Valid again", || (lab.controller_result()? == "Valid").then_some(()));
}

#[test]
fn a_restart_keeps_every_address_and_clears_nothing() {
    let mut lab = Lab::new("restart");
    lab.start("node1", &[]);
    for name in ["a", "b", "c"] {
        fs::write(lab.manifests().join(format!("{name}.yaml")), service(name)).unwrap();
    }
    let before: Vec<Vec<String>> =
        ["a", "b", "c"].iter().map(|n| within(Duration::from_secs(2), "an address", || lab.service_ips(n)).0).collect();
    lab.signal("node1", "KILL");
    let _ = lab.procs[0].1.wait();
    // A new service that sorts first arrives while no controller runs.
    fs::write(lab.manifests().join("0-first.yaml"), service("0-first")).unwrap();
    lab.procs.clear();
    lab.start("node2", &[]);
    within(Duration::from_secs(2), "the newcomer gets an address", || lab.service_ips("0-first"));
    let after: Vec<Vec<String>> = ["a", "b", "c"].iter().map(|n| lab.service_ips(n).unwrap()).collect();
    assert_eq!(after, before);
}

#[test]
fn a_file_that_does_not_parse_keeps_the_last_good_state() {
    let mut lab = Lab::new("syntax");
    lab.start("node1", &[]);
    fs::write(lab.manifests().join("web.yaml"), service("web")).unwrap();
    let (ips, _) = within(Duration::from_secs(2), "web gets an address", || lab.service_ips("web"));
    fs::write(
        lab.manifests().join("web.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default\n",
    )
    .unwrap();
    within(Duration::from_secs(2), "the load error is logged", || {
        lab.log("node1").contains("manifests do not load").then_some(())
    });
    // The directory loads again with a second Service: once that one has its address, the
    // runtime has reconciled past the broken state, and the first never lost its own.
    fs::write(lab.manifests().join("web.yaml"), format!("{}---\n{}", service("web"), service("api"))).unwrap();
    within(Duration::from_secs(2), "api gets an address", || lab.service_ips("api"));
    assert_eq!(lab.service_ips("web"), Some(ips), "a half-written file never withdraws anything");
    assert!(!lab.log("node1").contains("service status cleared"), "web was never cleared meanwhile");
}

#[test]
fn metrics_health_and_readiness_are_served() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut lab = Lab::new("metrics");
    lab.start("node1", &["--port", &port.to_string(), "--bind-address", "127.0.0.1"]);
    fs::write(lab.manifests().join("web.yaml"), service("web")).unwrap();
    within(Duration::from_secs(2), "web gets an address", || lab.service_ips("web"));
    let get = |path: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    let (metrics, _) = within(Duration::from_secs(2), "metrics with the pool", || {
        get("/metrics").filter(|m| m.contains("metallb_allocator_addresses_in_use_total{pool=\"p\"} 1"))
    });
    for name in [
        "metallb_k8s_client_config_loaded_bool 1",
        "metallb_k8s_client_config_stale_bool 0",
        "metallb_allocator_addresses_total{pool=\"p\"} 8",
        "metallb_allocator_services_allocated_total{pool=\"p\"} 1",
        "metallb_k8s_client_updates_total",
    ] {
        assert!(metrics.contains(name), "missing {name}: {metrics}");
    }
    assert!(get("/healthz").unwrap().starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").unwrap().starts_with("HTTP/1.1 200"));
    // Plain and open on the dir: source, and the log says why.
    assert!(
        lab.log("node1").contains("the dir: source has no API server to check tokens with"),
        "{}",
        lab.log("node1")
    );
}

#[test]
fn sigterm_stops_the_process_promptly_and_cleanly() {
    let mut lab = Lab::new("sigterm");
    lab.start("node1", &[]);
    within(Duration::from_secs(5), "node1 leads", || lab.leader());
    lab.signal("node1", "TERM");
    let child = &mut lab.procs[0].1;
    let (status, took) = within(Duration::from_secs(2), "exit", || child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    eprintln!("stopped {took:?} after SIGTERM");
}

#[test]
fn bad_runtime_arguments_exit_2_with_a_clear_message() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_ferrolb")).args(args).output().unwrap();
    let out = run(&["run", "--node", "n", "--source", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected k8s or dir:PATH"));
    let out = run(&[
        "run",
        "--node",
        "n",
        "--source",
        "dir:/nonexistent/ferrolb",
        "--log-format",
        "text",
        "--port",
        "0",
        "--health-probe-port",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}
