//! Layer 2 decisions, rule by rule (docs/compatibility.md §4.2, §2.5, §5).

mod common;

use std::collections::BTreeSet;

use common::*;
use ferrolb_announce::{Interfaces, L2Decision, Liveness, Reason, l2_owner};

fn skip(reason: Reason) -> Option<L2Decision> {
    Some(L2Decision::Skip(reason))
}

fn three_nodes(extra: Vec<String>) -> World {
    let mut docs = vec![pool("p", &["10.0.0.0/24", "2001:db8::/64"]), l2ad("all", "")];
    docs.extend(nodes(&["node-a", "node-b", "node-c"]));
    docs.extend(extra);
    World::new(&docs)
}

fn winners(world: &World, liveness: &Liveness, service: &str) -> Vec<String> {
    world
        .l2(&world.cluster(liveness), service)
        .into_iter()
        .filter(|(_, d)| matches!(d, Some(L2Decision::Announce { .. })))
        .map(|(n, _)| n)
        .collect()
}

#[test]
fn the_node_with_the_lowest_hash_wins_and_the_others_are_not_owners() {
    let world = three_nodes(vec![service("web", &["10.0.0.1"], false, ""), slice("web", &[("node-a", true)])]);
    let liveness = Liveness::Disabled;
    assert_eq!(
        world.l2(&world.cluster(&liveness), "web"),
        vec![
            ("node-a".to_owned(), skip(Reason::NotOwner)),
            ("node-b".to_owned(), Some(announce_all())),
            ("node-c".to_owned(), skip(Reason::NotOwner)),
        ]
    );
    let svc = &world.resources.services[0];
    assert_eq!(l2_owner(&world.cluster(&liveness), svc).as_deref(), Some("node-b"));
}

#[test]
fn a_service_without_a_serving_endpoint_is_owned_by_nobody() {
    let world = three_nodes(vec![service("web", &["10.0.0.1"], false, ""), slice("web", &[("node-a", false)])]);
    let liveness = Liveness::Disabled;
    for (_, decision) in world.l2(&world.cluster(&liveness), "web") {
        assert_eq!(decision, skip(Reason::NotOwner));
    }
    assert_eq!(l2_owner(&world.cluster(&liveness), &world.resources.services[0]), None);
}

#[test]
fn local_traffic_policy_elects_among_nodes_with_a_serving_endpoint_only() {
    let world = three_nodes(vec![
        service("web", &["10.0.0.1"], true, ""),
        slice("web", &[("node-a", true), ("node-b", false), ("node-c", true)]),
    ]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-a"]);
}

#[test]
fn cluster_traffic_policy_elects_among_all_nodes_wherever_the_endpoint_is() {
    let world = three_nodes(vec![service("web", &["10.0.0.1"], false, ""), slice("web", &[("node-c", true)])]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-b"]);
}

#[test]
fn a_node_with_network_unavailable_never_wins() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), l2ad("all", "")];
    docs.extend(nodes(&["node-a", "node-c"]));
    docs.push(node("node-b", &[], true));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-a"]);
}

#[test]
fn a_node_labelled_exclude_from_external_load_balancers_never_wins_unless_told_to_ignore_it() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), l2ad("all", "")];
    docs.extend(nodes(&["node-a", "node-c"]));
    docs.push(node("node-b", &[("node.kubernetes.io/exclude-from-external-load-balancers", "")], false));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    let liveness = Liveness::Disabled;
    assert_eq!(winners(&world, &liveness, "web"), ["node-a"]);
    let mut cluster = world.cluster(&liveness);
    cluster.ignore_exclude_lb = true;
    assert_eq!(l2_owner(&cluster, &world.resources.services[0]).as_deref(), Some("node-b"));
}

#[test]
fn nodes_outside_every_advertisement_have_no_matching_advertisement() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        l2ad("ac", "  nodeSelectors: [{matchExpressions: [{key: zone, operator: In, values: [z1]}]}]"),
    ];
    docs.push(node("node-a", &[("zone", "z1")], false));
    docs.push(node("node-b", &[("zone", "z2")], false));
    docs.push(node("node-c", &[("zone", "z1")], false));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-b", true)]));
    let world = World::new(&docs);
    assert_eq!(
        world.l2(&world.cluster(&Liveness::Disabled), "web"),
        vec![
            ("node-a".to_owned(), Some(announce_all())),
            ("node-b".to_owned(), skip(Reason::NoMatchingAdvertisement)),
            ("node-c".to_owned(), skip(Reason::NotOwner)),
        ]
    );
}

#[test]
fn candidates_come_from_every_matching_advertisement_not_only_the_deciding_nodes() {
    let docs = vec![
        pool("p", &["10.0.0.0/24"]),
        l2ad("only-a", "  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node-a}}]"),
        l2ad("only-b", "  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node-b}}]"),
    ];
    let mut docs = docs;
    docs.extend(nodes(&["node-a", "node-b"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    assert_eq!(
        world.l2(&world.cluster(&Liveness::Disabled), "web"),
        vec![("node-a".to_owned(), skip(Reason::NotOwner)), ("node-b".to_owned(), Some(announce_all()))]
    );
}

#[test]
fn a_shared_ip_service_is_not_announced_when_an_advertisement_with_service_selectors_applies() {
    let world = three_nodes(vec![
        l2ad("selective", "  serviceSelectors: [{matchLabels: {tier: front}}]"),
        service("web", &["10.0.0.1"], false, "  labels: {tier: front}\n  annotations: {metallb.io/allow-shared-ip: k}"),
        slice("web", &[("node-a", true)]),
    ]);
    for (_, decision) in world.l2(&world.cluster(&Liveness::Disabled), "web") {
        assert_eq!(decision, skip(Reason::SharedIpWithServiceSelector));
    }
}

#[test]
fn a_shared_ip_service_is_announced_when_the_selective_advertisement_does_not_select_it() {
    let world = three_nodes(vec![
        l2ad("selective", "  serviceSelectors: [{matchLabels: {tier: back}}]"),
        service("web", &["10.0.0.1"], false, "  annotations: {metallb.io/allow-shared-ip: \"\"}"),
        slice("web", &[("node-a", true)]),
    ]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-b"]);
}

#[test]
fn an_advertisement_whose_service_selectors_do_not_match_does_not_carry_the_service() {
    let mut docs =
        vec![pool("p", &["10.0.0.0/24"]), l2ad("selective", "  serviceSelectors: [{matchLabels: {tier: back}}]")];
    docs.extend(nodes(&["node-a", "node-b"]));
    docs.push(service("web", &["10.0.0.1"], false, "  labels: {tier: front}"));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    for (_, decision) in world.l2(&world.cluster(&Liveness::Disabled), "web") {
        assert_eq!(decision, skip(Reason::NoMatchingAdvertisement));
    }
}

#[test]
fn preference_weights_are_summed_across_advertisements() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        l2ad(
            "one",
            "  preferredNodeSelectors:\n  - {weight: 15, preference: {matchLabels: {kubernetes.io/hostname: node-a}}}\n\
             \x20 - {weight: 10, preference: {matchLabels: {kubernetes.io/hostname: node-c}}}",
        ),
        l2ad(
            "two",
            "  preferredNodeSelectors:\n  - {weight: 10, preference: {matchLabels: {kubernetes.io/hostname: node-c}}}",
        ),
    ];
    docs.extend(nodes(&["node-a", "node-b", "node-c"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-c"]);
}

#[test]
fn a_preference_outranks_the_hash() {
    let world = three_nodes(vec![
        l2ad(
            "pref",
            "  preferredNodeSelectors:\n  - {weight: 1, preference: {matchLabels: {kubernetes.io/hostname: node-c}}}",
        ),
        service("web", &["10.0.0.1"], false, ""),
        slice("web", &[("node-a", true)]),
    ]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-c"]);
}

#[test]
fn the_winner_answers_on_the_union_of_the_interfaces_of_its_advertisements() {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        l2ad("eth0", "  interfaces: [eth0]"),
        l2ad("eth1", "  interfaces: [eth1, eth2]"),
        l2ad("elsewhere", "  interfaces: [bond0]\n  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node-x}}]"),
    ];
    docs.extend(nodes(&["node-a", "node-x"]));
    docs.push(service("web", &["10.0.0.1"], true, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    let decisions = world.l2(&world.cluster(&Liveness::Disabled), "web");
    let expected = Interfaces::Only(BTreeSet::from(["eth0".to_owned(), "eth1".to_owned(), "eth2".to_owned()]));
    assert_eq!(decisions[0].1, Some(L2Decision::Announce { interfaces: expected }));
}

#[test]
fn any_advertisement_without_interfaces_means_every_interface() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), l2ad("eth0", "  interfaces: [eth0]"), l2ad("all", "")];
    docs.extend(nodes(&["node-a"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    assert_eq!(world.l2(&world.cluster(&Liveness::Disabled), "web")[0].1, Some(announce_all()));
}

#[test]
fn with_membership_disabled_every_node_object_is_a_candidate() {
    let world = three_nodes(vec![service("web", &["10.0.0.2"], false, ""), slice("web", &[("node-a", true)])]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-b"]);
}

#[test]
fn with_membership_enabled_and_no_live_member_nobody_announces() {
    let world = three_nodes(vec![service("web", &["10.0.0.2"], false, ""), slice("web", &[("node-a", true)])]);
    let liveness = Liveness::Members(BTreeSet::new());
    assert!(winners(&world, &liveness, "web").is_empty());
    for (_, decision) in world.l2(&world.cluster(&liveness), "web") {
        assert_eq!(decision, skip(Reason::NotOwner));
    }
}

#[test]
fn with_membership_enabled_only_live_members_are_candidates() {
    let world = three_nodes(vec![service("web", &["10.0.0.2"], false, ""), slice("web", &[("node-a", true)])]);
    let members = |names: &[&str]| Liveness::Members(names.iter().map(|n| (*n).to_owned()).collect());
    assert_eq!(winners(&world, &members(&["node-a", "node-c"]), "web"), ["node-c"]);
    assert_eq!(winners(&world, &members(&["node-a"]), "web"), ["node-a"]);
}

#[test]
fn a_live_member_without_a_node_object_never_wins() {
    let world = three_nodes(vec![service("web", &["10.0.0.1"], false, ""), slice("web", &[("node-a", true)])]);
    let liveness = Liveness::Members(["ghost".to_owned(), "node-c".to_owned()].into());
    assert_eq!(winners(&world, &liveness, "web"), ["node-c"]);
}

#[test]
fn a_dual_stack_service_is_announced_by_one_node_for_both_addresses_hashed_on_the_first() {
    let world = three_nodes(vec![
        service("web", &["10.0.0.1", "2001:db8::1"], false, ""),
        slice("web", &[("node-a", true)]),
        service("web6", &["2001:db8::1", "10.0.0.1"], false, ""),
        slice("web6", &[("node-a", true)]),
    ]);
    assert_eq!(winners(&world, &Liveness::Disabled, "web"), ["node-b"]);
    let expected =
        ferrolb_announce::election::rank([("node-a", 0), ("node-b", 0), ("node-c", 0)], "2001:db8::1".parse().unwrap())
            [0];
    assert_eq!(winners(&world, &Liveness::Disabled, "web6"), [expected]);
}

#[test]
fn a_pool_without_l2_advertisements_has_no_layer2_decision() {
    let mut docs = vec![pool("p", &["10.0.0.0/24"]), bgpad("b", "")];
    docs.extend(nodes(&["node-a"]));
    docs.push(service("web", &["10.0.0.1"], false, ""));
    docs.push(slice("web", &[("node-a", true)]));
    let world = World::new(&docs);
    assert_eq!(world.l2(&world.cluster(&Liveness::Disabled), "web")[0].1, None);
}
