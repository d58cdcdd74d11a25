//! `ferrolb why --source dir:` on a state directory as the controller and the speakers leave
//! it (the demo's manifests), run as `ferrolb` and as the kubectl plugin `kubectl-ferrolb`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn run(binary: &Path, args: &[&str]) -> Output {
    Command::new(binary).args(args).env_remove("METALLB_NAMESPACE").env("NO_COLOR", "1").output().expect("ferrolb runs")
}

fn ferrolb() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrolb"))
}

fn write(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
}

/// The demo's manifests, `dns` answered by node2 and `web` announced by node1 and node2;
/// node3's session to the router is down.
fn scenario(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-why-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["bgp.yaml", "l2.yaml", "nodes.yaml", "services.yaml"] {
        std::fs::copy(repo_root().join("examples/demo").join(file), dir.join(file)).unwrap();
    }
    let state = dir.join(".ferrolb");
    write(
        &state.join("services/default/web.json"),
        &json!({"ingress": [{"ip": "10.50.0.10"}, {"ip": "fd00:50::10"}], "pool": "bgp"}),
    );
    write(&state.join("services/default/dns.json"), &json!({"ingress": [{"ip": "172.30.0.100"}], "pool": "lan"}));
    write(
        &state.join("servicel2status/default/dns/node2.json"),
        &json!({"node": "node2", "serviceName": "dns", "serviceNamespace": "default", "interfaces": [{"name": "eth0"}]}),
    );
    for (node, peer) in [("node1", "router-ebgp-node1"), ("node2", "router-ibgp")] {
        write(
            &state.join(format!("servicebgpstatus/default/web/{node}.json")),
            &json!({"node": node, "serviceName": "web", "serviceNamespace": "default", "peers": [peer]}),
        );
    }
    write(&state.join("configurationstates/controller.json"), &json!({"result": "Valid"}));
    write(
        &state.join("speakers/node3.json"),
        &json!({"node": "node3", "layer2Claims": 0, "sessions": [{"peer": "router-ibgp", "address": "172.30.0.1:179",
                "state": "Active", "established": false, "since": "2026-12-05T10:00:00Z", "lastError": "connection refused"}]}),
    );
    beat(&dir);
    dir
}

/// Renews every node's heartbeat, as their speakers would.
fn beat(dir: &Path) {
    let beats = dir.join(".ferrolb/heartbeats");
    std::fs::create_dir_all(&beats).unwrap();
    for node in ["node1", "node2", "node3"] {
        std::fs::write(beats.join(node), "1-1").unwrap();
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_session_down_makes_the_service_partly_announced_and_exits_1() {
    let dir = scenario("session");
    let source = format!("dir:{}", dir.display());
    let out = run(&ferrolb(), &["why", "--source", &source, "default/web"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.starts_with("default/web: partly announced (10.50.0.10, fd00:50::10 from pool bgp)"), "{text}");
    assert!(text.contains("bgp node1: announces 10.50.0.10/32, fd00:50::10/128 to router-ebgp-node1"), "{text}");
    assert!(
        text.contains("bgp node3: would announce 10.50.0.10/32, fd00:50::10/128 to router-ibgp, but the session (172.30.0.1:179) is Active since 2026-12-05T10:00:00Z: connection refused"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colours off a terminal: {text:?}");
    beat(&dir);
    let coloured = stdout(&run(&ferrolb(), &["why", "--source", &source, "--color", "always", "default/web"]));
    assert!(coloured.contains("\x1b[33mpartly announced\x1b[0m"), "{coloured:?}");
    // dns alone is fully announced
    beat(&dir);
    let out = run(&ferrolb(), &["why", "--source", &source, "-n", "default", "dns"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("layer2 node2: elected; answers ARP/NDP on eth0"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("layer2 node1, node3: not the elected node (node2 is) (notOwner)"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_killed_node_shows_as_not_alive_and_the_answer_changes() {
    let dir = scenario("killed");
    let source = format!("dir:{}", dir.display());
    // node2 stops renewing its heartbeat: it is the elected node of dns
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(30);
    let file = std::fs::File::options().write(true).open(dir.join(".ferrolb/heartbeats/node2")).unwrap();
    file.set_modified(stale).unwrap();
    let out = run(&ferrolb(), &["why", "--source", &source, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dns = answer["services"].as_array().unwrap().iter().find(|s| s["name"] == "dns").unwrap();
    assert_eq!(dns["verdict"], "notAnnounced", "{dns}");
    let lines = dns["notAnnouncing"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["node"] == "node2" && l["text"] == "its speaker is not alive (its heartbeat is stale)"),
        "{dns}"
    );
    assert!(lines.iter().any(|l| l["planned"] == true && l["node"] != "node2"), "the election moved: {dns}");
    assert!(dns["problems"][0].as_str().unwrap().starts_with("claim without election: node2"), "{dns}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_kubectl_plugin_name_runs_why_and_all_is_one_line_each() {
    let dir = scenario("plugin");
    let plugin = dir.join("kubectl-ferrolb");
    std::os::unix::fs::symlink(ferrolb(), &plugin).unwrap();
    let source = format!("dir:{}", dir.display());
    let out = run(&plugin, &["why", "--source", &source, "--all"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("SERVICE") && lines[0].ends_with("DETAIL"), "{text}");
    assert!(
        lines[1].starts_with("default/dns") && lines[1].contains("announced") && lines[1].contains("by layer2 node2"),
        "{text}"
    );
    assert!(lines[2].starts_with("default/web") && lines[2].contains("partly announced"), "{text}");
    assert_eq!(lines[3], "2 Services: 1 announced, 1 partly, 0 not announced", "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_service_exits_1_and_a_missing_state_directory_exits_2_with_one_line() {
    let dir = scenario("missing");
    let source = format!("dir:{}", dir.display());
    let out = run(&ferrolb(), &["why", "--source", &source, "shop/nothing"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("shop/nothing: not announced (no address)\n  ! no such Service of type LoadBalancer"),
        "{}",
        stdout(&out)
    );
    std::fs::remove_dir_all(dir.join(".ferrolb")).unwrap();
    let out = run(&ferrolb(), &["why", "--source", &source]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("no state directory") && stderr.lines().count() == 1,
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
