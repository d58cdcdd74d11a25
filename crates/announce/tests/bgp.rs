//! BGP decisions and advertisement sets, rule by rule (docs/compatibility.md §4.3, §2.5, §1.11).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use ferrolb_announce::{BgpDecision, Liveness, Reason, RouteAttrs, Snapshot, bgp_tables};
use ferrolb_config::community::{Community, parse_literal};
use ipnet::IpNet;

fn skip(reason: Reason) -> Option<BgpDecision> {
    Some(BgpDecision::Skip(reason))
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn communities(texts: &[&str]) -> BTreeSet<Community> {
    texts.iter().map(|t| parse_literal(t).unwrap()).collect()
}

/// Two nodes, an iBGP and an eBGP peer on both, and `extra` objects.
fn world(extra: Vec<String>) -> World {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24", "2001:db8::/64"]),
        peer("ibgp", 64500, 64500, "192.0.2.1", ""),
        peer("ebgp", 64500, 64501, "192.0.2.2", ""),
    ];
    docs.extend(nodes(&["node1", "node2"]));
    docs.extend(extra);
    World::new(&docs)
}

fn routes(decision: Option<BgpDecision>) -> BTreeMap<String, BTreeMap<IpNet, RouteAttrs>> {
    match decision {
        // As B-trees, to index them by peer and prefix.
        Some(BgpDecision::Announce { routes }) => {
            routes.into_iter().map(|(peer, table)| (peer, table.into_iter().collect())).collect()
        }
        other => panic!("not announced: {other:?}"),
    }
}

#[test]
fn with_cluster_policy_every_node_of_the_advertisement_announces_to_every_peer() {
    let w = world(vec![bgpad("b", ""), service("web", &["10.0.0.1"], false, ""), slice("web", &[("node2", true)])]);
    let liveness = Liveness::Disabled;
    for node in ["node1", "node2"] {
        let r = routes(w.bgp(&w.cluster(&liveness), node, "web"));
        assert_eq!(r.keys().collect::<Vec<_>>(), ["ebgp", "ibgp"]);
        assert_eq!(r["ibgp"].keys().collect::<Vec<_>>(), [&net("10.0.0.1/32")]);
    }
}

#[test]
fn a_node_in_no_advertisement_of_the_pool_is_not_an_owner() {
    let w = world(vec![
        bgpad("b", "  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node1}}]"),
        service("web", &["10.0.0.1"], false, ""),
        slice("web", &[("node1", true)]),
    ]);
    assert_eq!(w.bgp(&w.cluster(&Liveness::Disabled), "node2", "web"), skip(Reason::NotOwner));
}

#[test]
fn a_node_whose_advertisements_do_not_select_the_service_has_no_matching_advertisement() {
    let w = world(vec![
        bgpad("b", "  serviceSelectors: [{matchLabels: {tier: back}}]"),
        service("web", &["10.0.0.1"], false, "  labels: {tier: front}"),
        slice("web", &[("node1", true)]),
    ]);
    assert_eq!(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"), skip(Reason::NoMatchingAdvertisement));
}

#[test]
fn advertisements_that_disagree_on_local_pref_for_a_service_conflict_at_announce_time() {
    let w = world(vec![
        bgpad("plain", "  localPref: 100"),
        bgpad("selective", "  localPref: 200\n  serviceSelectors: [{matchLabels: {tier: front}}]"),
        service("web", &["10.0.0.1"], false, "  labels: {tier: front}"),
        slice("web", &[("node1", true)]),
        service("other", &["10.0.0.2"], false, ""),
        slice("other", &[("node1", true)]),
    ]);
    let liveness = Liveness::Disabled;
    assert_eq!(w.bgp(&w.cluster(&liveness), "node1", "web"), skip(Reason::ConflictingAdvertisements));
    assert!(matches!(w.bgp(&w.cluster(&liveness), "node1", "other"), Some(BgpDecision::Announce { .. })));
}

#[test]
fn advertisements_on_disjoint_peers_do_not_conflict() {
    let w = world(vec![
        bgpad("to-ibgp", "  localPref: 100\n  peers: [ibgp]"),
        bgpad("to-ebgp", "  localPref: 200\n  peers: [ebgp]\n  serviceSelectors: [{matchLabels: {tier: front}}]"),
        service("web", &["10.0.0.1"], false, "  labels: {tier: front}"),
        slice("web", &[("node1", true)]),
    ]);
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"));
    assert_eq!(r["ibgp"][&net("10.0.0.1/32")].local_pref, 100);
    assert_eq!(r["ebgp"][&net("10.0.0.1/32")].local_pref, 0);
}

#[test]
fn a_node_with_network_unavailable_does_not_announce() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), bgpad("b", ""), node("sick", &[], true)];
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("sick", true)]));
    let w = World::new(&docs);
    assert_eq!(w.bgp(&w.cluster(&Liveness::Disabled), "sick", "web"), skip(Reason::NodeNetworkUnavailable));
}

#[test]
fn a_node_labelled_for_exclusion_does_not_announce_unless_told_to_ignore_the_label() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), bgpad("b", "")];
    docs.push(node("out", &[("node.kubernetes.io/exclude-from-external-load-balancers", "true")], false));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("out", true)]));
    let w = World::new(&docs);
    let liveness = Liveness::Disabled;
    assert_eq!(w.bgp(&w.cluster(&liveness), "out", "web"), skip(Reason::NodeLabeledExcludeBalancers));
    let mut cluster = w.cluster(&liveness);
    cluster.ignore_exclude_lb = true;
    assert!(matches!(w.bgp(&cluster, "out", "web"), Some(BgpDecision::Announce { .. })));
}

#[test]
fn with_cluster_policy_and_no_serving_endpoint_nobody_announces() {
    let w = world(vec![bgpad("b", ""), service("web", &["10.0.0.1"], false, ""), slice("web", &[("node1", false)])]);
    assert_eq!(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"), skip(Reason::NoEndpoints));
}

#[test]
fn with_local_policy_only_nodes_hosting_a_serving_endpoint_announce() {
    let w = world(vec![bgpad("b", ""), service("web", &["10.0.0.1"], true, ""), slice("web", &[("node1", true)])]);
    let liveness = Liveness::Disabled;
    assert!(matches!(w.bgp(&w.cluster(&liveness), "node1", "web"), Some(BgpDecision::Announce { .. })));
    assert_eq!(w.bgp(&w.cluster(&liveness), "node2", "web"), skip(Reason::NoLocalEndpoints));
}

#[test]
fn membership_does_not_matter_to_bgp() {
    let w = world(vec![bgpad("b", ""), service("web", &["10.0.0.1"], false, ""), slice("web", &[("node1", true)])]);
    let liveness = Liveness::Members(BTreeSet::new());
    assert!(matches!(w.bgp(&w.cluster(&liveness), "node2", "web"), Some(BgpDecision::Announce { .. })));
}

#[test]
fn prefixes_are_aggregated_and_carry_communities_and_local_pref_only_towards_ibgp() {
    let w = world(vec![
        bgpad(
            "agg",
            "  aggregationLength: 24\n  aggregationLengthV6: 64\n  localPref: 150\n  communities: [\"64500:1\", \"large:1:2:3\"]",
        ),
        service("web", &["10.0.0.7", "2001:db8::7"], false, ""),
        slice("web", &[("node1", true)]),
    ]);
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"));
    let ibgp = RouteAttrs { local_pref: 150, communities: communities(&["64500:1", "large:1:2:3"]) };
    let ebgp = RouteAttrs { local_pref: 0, ..ibgp.clone() };
    // both peers are reached over IPv4 and do not ask for both families: the IPv6 prefix
    // goes to neither
    let expect = |attrs: &RouteAttrs| BTreeMap::from([(net("10.0.0.0/24"), attrs.clone())]);
    assert_eq!(r["ibgp"], expect(&ibgp));
    assert_eq!(r["ebgp"], expect(&ebgp));
}

#[test]
fn an_unnumbered_peer_and_a_vrf_peer_get_their_routes_beside_a_plain_one() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        peer("tor", 64500, 64501, "192.0.2.1", ""),
        peer("red", 64500, 64501, "192.0.2.1", "  vrf: red"),
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: fabric, namespace: metallb-system}\nspec: {myASN: 64500, peerASN: 64501, interface: eth1}\n".to_owned(),
        bgpad("b", ""),
        service("web", &["10.0.0.7"], false, ""),
        slice("web", &[("node1", true)]),
    ];
    docs.extend(nodes(&["node1"]));
    let w = World::new(&docs);
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"));
    assert_eq!(r.keys().collect::<Vec<_>>(), ["fabric", "red", "tor"]);
}

#[test]
fn each_peer_gets_the_prefixes_of_its_own_family_unless_dual_stack_asks_for_both() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24", "2001:db8::/64"]),
        peer("v4", 64500, 64501, "192.0.2.1", ""),
        peer("v6", 64500, 64501, "2001:db8:ffff::1", ""),
        peer("both", 64500, 64501, "192.0.2.3", "  dualStackAddressFamily: true"),
        peer("v6both", 64500, 64501, "2001:db8:ffff::3", "  dualStackAddressFamily: true"),
        bgpad("b", ""),
        service("web", &["10.0.0.7", "2001:db8::7"], false, ""),
        slice("web", &[("node1", true)]),
        service("six", &["2001:db8::8"], false, ""),
        slice("six", &[("node1", true)]),
    ];
    docs.extend(nodes(&["node1"]));
    let w = World::new(&docs);
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"));
    let prefixes = |peer: &str| r[peer].keys().map(|p| p.to_string()).collect::<Vec<_>>();
    assert_eq!(prefixes("v4"), ["10.0.0.7/32"]);
    assert_eq!(prefixes("v6"), ["2001:db8::7/128"]);
    assert_eq!(prefixes("both"), ["10.0.0.7/32", "2001:db8::7/128"]);
    assert_eq!(prefixes("v6both"), ["10.0.0.7/32", "2001:db8::7/128"]);
    // an IPv6-only service is not for the IPv4 peer at all (nor listed for it in its status)
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "six"));
    assert_eq!(r.keys().collect::<Vec<_>>(), ["both", "v6", "v6both"]);
}

#[test]
fn an_advertisement_naming_peers_sends_only_to_those_of_this_node() {
    let w = world(vec![
        bgpad("b", "  peers: [ebgp, elsewhere]"),
        service("web", &["10.0.0.1"], false, ""),
        slice("web", &[("node1", true)]),
    ]);
    let r = routes(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"));
    assert_eq!(r.keys().collect::<Vec<_>>(), ["ebgp"]);
}

#[test]
fn a_peer_selecting_other_nodes_receives_nothing_from_this_one() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        peer("r1", 64500, 64501, "192.0.2.1", "  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node1}}]"),
        bgpad("b", ""),
    ];
    docs.extend(nodes(&["node1", "node2"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node1", true)]));
    let w = World::new(&docs);
    let liveness = Liveness::Disabled;
    assert_eq!(routes(w.bgp(&w.cluster(&liveness), "node1", "web")).len(), 1);
    assert!(routes(w.bgp(&w.cluster(&liveness), "node2", "web")).is_empty());
}

#[test]
fn one_prefix_from_several_services_keeps_the_first_services_local_pref_and_unions_communities() {
    let w = world(vec![
        bgpad(
            "for-one",
            "  localPref: 100\n  communities: [\"64500:1\"]\n  serviceSelectors: [{matchLabels: {app: one}}]",
        ),
        bgpad(
            "for-two",
            "  localPref: 200\n  communities: [\"64500:2\"]\n  serviceSelectors: [{matchLabels: {app: two}}]",
        ),
        service("two", &["10.0.0.1"], false, "  labels: {app: two}"),
        slice("two", &[("node1", true)]),
        service("one", &["10.0.0.1"], false, "  labels: {app: one}"),
        slice("one", &[("node1", true)]),
    ]);
    let cluster = w.cluster(&Liveness::Disabled);
    let tables = bgp_tables(&Snapshot::new(&cluster).decide("node1"));
    let expected = RouteAttrs { local_pref: 100, communities: communities(&["64500:1", "64500:2"]) };
    assert_eq!(tables["ibgp"], BTreeMap::from([(net("10.0.0.1/32"), expected)]));
    assert_eq!(tables["ebgp"][&net("10.0.0.1/32")].local_pref, 0);
}

#[test]
fn one_prefix_from_two_addresses_of_an_aggregate_is_announced_once() {
    let w = world(vec![
        bgpad("agg", "  aggregationLength: 24"),
        service("a", &["10.0.0.1"], false, ""),
        slice("a", &[("node1", true)]),
        service("b", &["10.0.0.2"], false, ""),
        slice("b", &[("node1", true)]),
    ]);
    let cluster = w.cluster(&Liveness::Disabled);
    let tables = bgp_tables(&Snapshot::new(&cluster).decide("node2"));
    assert_eq!(tables["ebgp"].keys().collect::<Vec<_>>(), [&net("10.0.0.0/24")]);
}

#[test]
fn a_pool_without_bgp_advertisements_has_no_bgp_decision() {
    let w = world(vec![l2ad("l2", ""), service("web", &["10.0.0.1"], false, ""), slice("web", &[("node1", true)])]);
    assert_eq!(w.bgp(&w.cluster(&Liveness::Disabled), "node1", "web"), None);
}
