//! The driver against real neighbours: a router and a node namespace joined by a veth pair
//! (both ends named `eth0`, since MetalLB's default exclusions cover `veth*`), the announcer
//! running in a thread that entered the node namespace, and Habets' `arping` and `ndisc6`
//! probing from the router namespace (tests/lab/README.md, Layer 2 probes). Every packet stays inside
//! the two namespaces this test creates and deletes.
//!
//! Needs root, `ip`, `arping` and `ndisc6` (installed if missing only under CI=true): it is
//! in `needs_root`, which the test command leaves out, counted as skipped, for other users.
#![cfg(all(target_os = "linux", feature = "driver"))]

use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ferrolb_l2::{InterfaceSelection, L2Announcer, L2Config};
use nix::sched::{CloneFlags, setns};

const ROUTER_MAC: &str = "02:00:00:00:00:01";
const NODE_MAC: &str = "02:00:00:00:00:11";
const STALE_MAC: &str = "02:00:00:00:00:99";
const OWNER: &str = "default/web";

/// The two namespaces; dropping it deletes them (and the veth pair with them), pass or fail.
struct Lab {
    router: String,
    node: String,
}

impl Lab {
    fn up() -> Lab {
        let pid = std::process::id();
        let lab = Lab { router: format!("fl2-r-{pid}"), node: format!("fl2-n-{pid}") };
        for ns in [&lab.router, &lab.node] {
            must(&["ip", "netns", "add", ns]);
            must(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0"]);
            must(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let (r, n) = (lab.router.as_str(), lab.node.as_str());
        must(
            &["ip", "-n", r, "link", "add", "eth0", "address", ROUTER_MAC, "type", "veth"]
                .into_iter()
                .chain(["peer", "name", "eth0", "netns", n, "address", NODE_MAC])
                .collect::<Vec<_>>(),
        );
        must(&["ip", "-n", r, "addr", "add", "172.30.0.1/24", "dev", "eth0"]);
        must(&["ip", "-n", r, "addr", "add", "fd00:30::1/64", "dev", "eth0", "nodad"]);
        must(&["ip", "-n", n, "addr", "add", "172.30.0.11/24", "dev", "eth0"]);
        must(&["ip", "-n", n, "addr", "add", "fd00:30::11/64", "dev", "eth0", "nodad"]);
        must(&["ip", "-n", r, "link", "set", "eth0", "up"]);
        must(&["ip", "-n", n, "link", "set", "eth0", "up"]);
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.router, &self.node] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a probe in a namespace and returns (success, stdout + stderr), printing both.
fn probe(ns: &str, args: &[&str]) -> (bool, String) {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    let out = run(&full);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("$ {}  (exit {})\n{}", args.join(" "), out.status.code().unwrap_or(-1), text.trim_end());
    (out.status.success(), text.to_lowercase())
}

fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]).any(|dir| dir.join(tool).is_file())
}

/// Ok when `ip`, `arping` and `ndisc6` exist, installing the last two under CI=true.
fn tools() -> Result<(), String> {
    let missing = || ["ip", "arping", "ndisc6"].into_iter().filter(|t| !on_path(t)).collect::<Vec<_>>();
    if missing().is_empty() {
        return Ok(());
    }
    if std::env::var("CI").as_deref() != Ok("true") {
        return Err(format!("missing {:?} (apt-get install arping ndisc6)", missing()));
    }
    let install = || run(&["apt-get", "install", "-y", "-qq", "arping", "ndisc6"]).status.success();
    if !install() {
        run(&["apt-get", "update", "-qq"]);
        install();
    }
    if missing().is_empty() { Ok(()) } else { Err(format!("could not install {:?}", missing())) }
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// Root only: left out (and counted as skipped) when the test command does not run as root.
mod needs_root {
    use super::*;

    #[test]
    fn the_announcer_answers_arp_and_ndp_for_announced_ips_only_inside_a_namespace() {
        ferrolb_testkit::netns::require_root();
        if let Err(reason) = tools() {
            panic!("the namespace test needs its tools: {reason}");
        }
        let lab = Lab::up();
        let (r, n) = (lab.router.as_str(), lab.node.as_str());
        wait_for("the node's link-local address", Duration::from_secs(3), || {
            let out = must(&["ip", "-n", n, "-6", "addr", "show", "dev", "eth0", "scope", "link"]);
            out.contains("fe80") && !out.contains("tentative")
        });
        // Stale entries pointing elsewhere: a gratuitous ARP / unsolicited NA must move them
        // (Linux only updates existing entries from unsolicited traffic; tests/lab/README.md, Gotchas).
        must(&["ip", "-n", r, "neigh", "add", "172.30.0.100", "lladdr", STALE_MAC, "dev", "eth0", "nud", "stale"]);
        must(&[
            "ip",
            "-n",
            r,
            "-6",
            "neigh",
            "add",
            "fd00:30::100",
            "lladdr",
            STALE_MAC,
            "dev",
            "eth0",
            "nud",
            "stale",
        ]);

        let node_ns = Path::new("/run/netns").join(n);
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let speaker = std::thread::spawn(move || {
            let netns = File::open(&node_ns).expect("open the node namespace");
            setns(&netns, CloneFlags::CLONE_NEWNET).expect("setns into the node namespace");
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let started = L2Announcer::start(L2Config::default()).await.map_err(|e| e.to_string());
                let ok = started.is_ok();
                handle_tx.send(started).unwrap();
                if ok {
                    let _ = stop_rx.await;
                }
            });
        });
        let announcer = handle_rx.recv().unwrap().expect("the announcer starts in the node namespace");
        let client = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let vip4: IpAddr = "172.30.0.100".parse().unwrap();
        let vip6: IpAddr = "fd00:30::100".parse().unwrap();

        let interfaces = client.block_on(announcer.interfaces()).unwrap();
        println!("node interfaces: {interfaces:?}");
        for vip in [vip4, vip6] {
            let answering = client.block_on(announcer.announce(OWNER, vip, InterfaceSelection::All)).unwrap();
            assert_eq!(answering, vec!["eth0"], "lo is excluded, eth0 answers for {vip}");
        }

        let took = wait_for("the gratuitous ARP to move the router's entry", Duration::from_secs(5), || {
            must(&["ip", "-n", r, "neigh", "show", "172.30.0.100", "dev", "eth0"]).contains(NODE_MAC)
        });
        println!("gratuitous ARP moved the router's 172.30.0.100 entry to {NODE_MAC} after {took:?}");
        let took = wait_for("the unsolicited NA to move the router's entry", Duration::from_secs(5), || {
            must(&["ip", "-n", r, "-6", "neigh", "show", "fd00:30::100", "dev", "eth0"]).contains(NODE_MAC)
        });
        println!("unsolicited NA moved the router's fd00:30::100 entry to {NODE_MAC} after {took:?}");

        let (ok, out) = probe(r, &["arping", "-i", "eth0", "-c", "2", "-W", "0.2", "172.30.0.100"]);
        assert!(ok && out.contains(NODE_MAC), "arping resolves the VIP to the node");
        let (ok, out) = probe(r, &["ndisc6", "-1", "-r", "2", "fd00:30::100", "eth0"]);
        assert!(ok && out.contains(NODE_MAC), "ndisc6 resolves the VIP to the node");
        let (ok, out) = probe(r, &["arping", "-i", "eth0", "-c", "2", "-W", "0.2", "172.30.0.101"]);
        assert!(!ok && !out.contains(NODE_MAC), "an IP nobody announces gets no ARP answer");
        let (ok, out) = probe(r, &["ndisc6", "-1", "-r", "2", "-w", "300", "fd00:30::101", "eth0"]);
        assert!(!ok && !out.contains(NODE_MAC), "an IP nobody announces gets no NDP answer");

        let counters = client.block_on(announcer.counters()).unwrap();
        println!("counters: {counters:?}");
        let v4 = counters.per_ip[&vip4];
        let v6 = counters.per_ip[&vip6];
        assert!(v4.requests_received >= 2 && v4.responses_sent == v4.requests_received);
        assert!(v6.requests_received >= 1 && v6.responses_sent == v6.requests_received);
        assert!(v4.gratuitous_sent >= 2 && v6.gratuitous_sent >= 1, "at least the takeover burst for each");
        assert!(counters.dropped.get("not_announced").copied().unwrap_or(0) >= 2);

        for vip in [vip4, vip6] {
            client.block_on(announcer.withdraw(OWNER, vip)).unwrap();
        }
        let (ok, _) = probe(r, &["arping", "-i", "eth0", "-c", "2", "-W", "0.2", "172.30.0.100"]);
        assert!(!ok, "a withdrawn IP is no longer answered over ARP");
        let (ok, _) = probe(r, &["ndisc6", "-1", "-r", "2", "-w", "300", "fd00:30::100", "eth0"]);
        assert!(!ok, "a withdrawn IP is no longer answered over NDP");

        client.block_on(announcer.shutdown()).unwrap();
        drop(stop_tx);
        speaker.join().unwrap();
        drop(lab);
    }
}
