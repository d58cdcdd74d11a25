//! The checks every service passes before either protocol decides (docs/compatibility.md
//! §4.1, §2.1), and the plan built from all nodes' decisions (docs/design.md, The command-line
//! contract).

mod common;

use common::*;
use ferrolb_announce::{Liveness, Reason, ServiceDecision, Snapshot, plan_announcements};

fn withdrawn(world: &World, service: &str) -> Option<Reason> {
    let liveness = Liveness::Disabled;
    let cluster = world.cluster(&liveness);
    match &Snapshot::new(&cluster).decide("node-a").services[&key(service)] {
        ServiceDecision::Withdraw(reason) => Some(*reason),
        ServiceDecision::Evaluated { .. } => None,
    }
}

fn base(extra: Vec<String>) -> World {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), pool("q", &["10.1.0.0/24"]), l2ad("all", "")];
    docs.extend(nodes(&["node-a"]));
    docs.extend(extra);
    World::new(&docs)
}

#[test]
fn a_service_that_is_not_a_load_balancer_is_withdrawn() {
    let text = service("web", &["10.0.0.1"], false, "").replace("type: LoadBalancer", "type: ClusterIP");
    assert_eq!(withdrawn(&base(vec![text]), "web"), Some(Reason::NotLoadBalancer));
}

#[test]
fn a_service_without_an_ingress_ip_has_no_ip_allocated() {
    assert_eq!(withdrawn(&base(vec![service("web", &[], false, "")]), "web"), Some(Reason::NoIpAllocated));
}

#[test]
fn a_service_with_an_unparsable_ingress_ip_has_an_invalid_ip() {
    assert_eq!(withdrawn(&base(vec![service("web", &["10.0.0.x"], false, "")]), "web"), Some(Reason::InvalidIp));
}

#[test]
fn a_service_whose_ip_is_in_no_pool_is_not_allowed() {
    assert_eq!(withdrawn(&base(vec![service("web", &["10.9.0.1"], false, "")]), "web"), Some(Reason::IpNotAllowed));
}

#[test]
fn a_service_whose_ips_span_two_pools_is_not_allowed() {
    let svc = service("web", &["10.0.0.1", "10.1.0.1"], false, "");
    assert_eq!(withdrawn(&base(vec![svc]), "web"), Some(Reason::IpNotAllowed));
}

#[test]
fn a_service_with_valid_ips_is_evaluated_by_each_protocol() {
    assert_eq!(withdrawn(&base(vec![service("web", &["10.0.0.1"], false, "")]), "web"), None);
}

#[test]
fn services_of_another_load_balancer_class_are_ignored_entirely() {
    let text = service("web", &["10.0.0.1"], false, "")
        .replace("type: LoadBalancer", "type: LoadBalancer\n  loadBalancerClass: other");
    let world = base(vec![text]);
    let liveness = Liveness::Disabled;
    let cluster = world.cluster(&liveness);
    assert!(Snapshot::new(&cluster).decide("node-a").services.is_empty());
    let mut ours = world.cluster(&liveness);
    ours.lb_class = Some("other");
    assert_eq!(Snapshot::new(&ours).decide("node-a").services.len(), 1);
}

#[test]
fn the_plan_lists_announcements_and_skips_for_every_node_bgp_first() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        l2ad("l2", ""),
        bgpad("b", "  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node-a}}]"),
        peer("router", 64500, 64501, "192.0.2.1", ""),
    ];
    docs.extend(nodes(&["node-a", "node-b", "node-c"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    let liveness = Liveness::Disabled;
    let plan = plan_announcements(&world.cluster(&liveness));
    let json = serde_json::to_value(&plan).unwrap();
    let expected = serde_json::json!({"default/web": {
        "announcements": [
            {"node": "node-a", "protocol": "bgp", "peer": "router", "prefix": "10.0.0.1/32", "localPref": 0, "communities": []},
            {"node": "node-b", "protocol": "layer2", "interfaces": []}
        ],
        "skipped": [
            {"node": "node-a", "protocol": "layer2", "reason": "notOwner"},
            {"node": "node-b", "protocol": "bgp", "reason": "notOwner"},
            {"node": "node-c", "protocol": "bgp", "reason": "notOwner"},
            {"node": "node-c", "protocol": "layer2", "reason": "notOwner"}
        ]
    }});
    assert_eq!(json, expected);
}

/// What the plan skips for Service web, announced by BGP from node-a, with these BGPPeers.
fn bgp_skipped(peers: &[&str]) -> serde_json::Value {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), bgpad("b", "")];
    docs.extend(peers.iter().map(|p| (*p).to_owned()));
    docs.extend(nodes(&["node-a"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    let liveness = Liveness::Disabled;
    let json = serde_json::to_value(plan_announcements(&world.cluster(&liveness))).unwrap();
    json["default/web"]["skipped"].clone()
}

#[test]
fn the_plan_reports_a_node_that_would_announce_to_no_peer() {
    assert_eq!(bgp_skipped(&[]), serde_json::json!([{"node": "node-a", "protocol": "bgp", "reason": "noPeers"}]));
}

#[test]
fn a_node_whose_only_peer_is_unnumbered_is_not_skipped_the_speaker_serves_it() {
    let unnumbered = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: fabric, namespace: metallb-system}\nspec: {myASN: 64512, peerASN: 64500, interface: eth1}\n";
    assert_eq!(bgp_skipped(&[unnumbered]), serde_json::json!([]), "BGP unnumbered is served: no peersNotServed");
}

#[test]
fn the_plan_gives_the_common_reason_once_and_skips_services_without_addresses() {
    let world = base(vec![service("outside", &["10.9.0.1"], false, ""), service("pending", &[], false, "")]);
    let liveness = Liveness::Disabled;
    let json = serde_json::to_value(plan_announcements(&world.cluster(&liveness))).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"default/outside": {"announcements": [], "skipped": [], "reason": "ipNotAllowed"}})
    );
}
