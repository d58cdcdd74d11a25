//! L2Advertisement and BGPAdvertisement rules (docs/compatibility.md §1.3, §1.4, §1.7, §1.11).

mod support;

use ferrolb_config::{Config, Scope};
use support::*;

fn labelled_pool(name: &str, label: &str, addresses: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}, labels: {{tier: {label}}}}}\nspec: {{addresses: [{addresses}]}}\n---\n"
    )
}

fn l2_names(c: &Config, pool: &str) -> Vec<String> {
    c.pool(pool).unwrap().l2_advertisements.iter().map(|a| a.name.clone()).collect()
}

fn bgp_names(c: &Config, pool: &str) -> Vec<String> {
    c.pool(pool).unwrap().bgp_advertisements.iter().map(|a| a.name.clone()).collect()
}

// ---- which pools an advertisement reaches -------------------------------------------------

#[test]
fn an_advertisement_naming_no_pools_applies_to_every_pool() {
    let c = accept(&(pool("a", &["10.0.0.0/24"]) + &pool("b", &["10.0.1.0/24"]) + &l2_ad("l2", "{}")));
    assert_eq!(l2_names(&c, "a"), ["l2"]);
    assert_eq!(l2_names(&c, "b"), ["l2"]);
}

#[test]
fn pools_are_reached_by_name_and_unknown_names_are_ignored() {
    let c = accept(
        &(pool("a", &["10.0.0.0/24"]) + &pool("b", &["10.0.1.0/24"]) + &bgp_ad("ad", "{ipAddressPools: [a, ghost]}")),
    );
    assert_eq!(bgp_names(&c, "a"), ["ad"]);
    assert!(bgp_names(&c, "b").is_empty());
}

#[test]
fn pools_are_reached_by_label_selector_and_a_selector_matching_nothing_reaches_nothing() {
    let yaml = labelled_pool("a", "gold", "10.0.0.0/24")
        + &labelled_pool("b", "silver", "10.0.1.0/24")
        + &l2_ad("gold", "{ipAddressPoolSelectors: [{matchLabels: {tier: gold}}]}")
        + &l2_ad(
            "expr",
            "{ipAddressPoolSelectors: [{matchExpressions: [{key: tier, operator: NotIn, values: [gold]}]}]}",
        )
        + &l2_ad("none", "{ipAddressPoolSelectors: [{matchLabels: {tier: bronze}}]}");
    let c = accept(&yaml);
    assert_eq!(l2_names(&c, "a"), ["gold"]);
    assert_eq!(l2_names(&c, "b"), ["expr"]);
}

#[test]
fn duplicate_pool_names_in_an_advertisement_are_rejected() {
    reject(
        &(pool("a", &["10.0.0.0/24"]) + &l2_ad("l2", "{ipAddressPools: [a, a]}")),
        "L2Advertisement/l2",
        &["spec.ipAddressPools[1]", "duplicate definition"],
    );
}

// ---- nodes ---------------------------------------------------------------------------------

#[test]
fn no_node_selectors_means_every_node() {
    let c = accept(&(pool("a", &["10.0.0.0/24"]) + &l2_ad("l2", "{}")));
    let nodes: Vec<&str> = c.pools[0].l2_advertisements[0].nodes.iter().map(String::as_str).collect();
    assert_eq!(nodes, ["node1", "node2"]);
}

#[test]
fn node_selectors_resolve_to_the_matching_nodes() {
    let c = accept(&(pool("a", &["10.0.0.0/24"]) + &bgp_ad("ad", "{nodeSelectors: [{matchLabels: {rack: b}}]}")));
    let nodes: Vec<&str> = c.pools[0].bgp_advertisements[0].nodes.iter().map(String::as_str).collect();
    assert_eq!(nodes, ["node2"]);
}

#[test]
fn duplicate_node_selectors_are_rejected() {
    reject(
        &(pool("a", &["10.0.0.0/24"])
            + &l2_ad("l2", "{nodeSelectors: [{matchLabels: {rack: a}}, {matchLabels: {rack: a}}]}")),
        "L2Advertisement/l2",
        &["spec.nodeSelectors[1]", "duplicate definition of nodeSelectors"],
    );
}

// ---- L2 specifics --------------------------------------------------------------------------

#[test]
fn l2_interfaces_restrict_announcement_and_empty_means_all() {
    let c =
        accept(&(pool("a", &["10.0.0.0/24"]) + &l2_ad("l2", "{interfaces: [eth1, eth0, eth1]}") + &l2_ad("all", "{}")));
    let ads = &c.pools[0].l2_advertisements;
    assert!(ads[0].all_interfaces);
    assert_eq!(ads[1].interfaces, ["eth0", "eth1"]);
    assert!(!ads[1].all_interfaces);
}

#[test]
fn preferred_node_selectors_score_only_eligible_nodes() {
    let c = accept(
        &(pool("a", &["10.0.0.0/24"])
            + &l2_ad(
                "l2",
                "{nodeSelectors: [{matchLabels: {rack: a}}], preferredNodeSelectors: [{weight: 50, preference: {matchExpressions: [{key: rack, operator: Exists}]}}]}",
            )),
    );
    let pref = &c.pools[0].l2_advertisements[0].preferred_nodes[0];
    assert_eq!(pref.weight, 50);
    assert_eq!(pref.nodes.iter().map(String::as_str).collect::<Vec<_>>(), ["node1"]);
}

#[test]
fn preference_weights_outside_1_to_100_are_rejected() {
    for weight in [0, 101, -3] {
        reject(
            &(pool("a", &["10.0.0.0/24"])
                + &l2_ad("l2", &format!("{{preferredNodeSelectors: [{{weight: {weight}, preference: {{}}}}]}}"))),
            "L2Advertisement/l2",
            &["spec.preferredNodeSelectors[0].weight", "1-100"],
        );
    }
}

#[test]
fn identical_l2_advertisements_reaching_a_pool_twice_are_attached_once() {
    let yaml = labelled_pool("a", "gold", "10.0.0.0/24")
        + &l2_ad("by-name", "{ipAddressPools: [a]}")
        + &l2_ad("by-label", "{ipAddressPoolSelectors: [{matchLabels: {tier: gold}}]}");
    assert_eq!(l2_names(&accept(&yaml), "a"), ["by-label"]);
}

#[test]
fn l2_advertisements_with_preferences_are_never_merged() {
    let yaml = pool("a", &["10.0.0.0/24"])
        + &l2_ad("one", "{preferredNodeSelectors: [{weight: 1, preference: {}}]}")
        + &l2_ad("two", "{preferredNodeSelectors: [{weight: 1, preference: {}}]}");
    assert_eq!(l2_names(&accept(&yaml), "a"), ["one", "two"]);
}

#[test]
fn l2_advertisements_are_kept_whole_in_a_speakers_scope() {
    let yaml = pool("a", &["10.0.0.0/24"]) + &l2_ad("rack-b", "{nodeSelectors: [{matchLabels: {rack: b}}]}");
    let c = parse_scoped(&yaml, Scope::Speaker { node: "node1".into() }).unwrap();
    assert_eq!(l2_names(&c, "a"), ["rack-b"]);
}

// ---- BGP specifics -------------------------------------------------------------------------

#[test]
fn aggregation_lengths_default_to_host_routes() {
    let c = accept(&(pool("a", &["10.0.0.0/24"]) + &bgp_ad("ad", "{}")));
    let ad = &c.pools[0].bgp_advertisements[0];
    assert_eq!((ad.aggregation_length, ad.aggregation_length_v6, ad.local_pref), (32, 128, 0));
}

#[test]
fn aggregation_lengths_out_of_range_are_rejected() {
    reject(
        &(pool("a", &["10.0.0.0/24"]) + &bgp_ad("ad", "{aggregationLength: 33}")),
        "BGPAdvertisement/ad",
        &["spec.aggregationLength", "invalid aggregation length 33"],
    );
    reject(
        &(pool("a", &["10.0.0.0/24"]) + &bgp_ad("ad", "{aggregationLength: 0}")),
        "BGPAdvertisement/ad",
        &["invalid aggregation length 0"],
    );
    reject(
        &(pool("a", &["10.0.0.0/24"]) + &bgp_ad("ad", "{aggregationLengthV6: 129}")),
        "BGPAdvertisement/ad",
        &["spec.aggregationLengthV6"],
    );
}

#[test]
fn an_aggregate_may_not_be_wider_than_any_cidr_of_the_pool() {
    reject(
        &(pool("p", &["10.20.30.0/24", "1.2.3.0/28"]) + &bgp_ad("ad", "{aggregationLength: 26}")),
        "BGPAdvertisement/ad",
        &["spec.aggregationLength", "invalid aggregation length 26", "/28", "1.2.3.0/28"],
    );
    accept(&(pool("p", &["10.20.30.0/24", "1.2.3.0/28"]) + &bgp_ad("ad", "{aggregationLength: 28}")));
}

#[test]
fn a_range_is_judged_by_its_widest_cidr_not_every_cidr() {
    accept(&(pool("p", &["3.3.3.2-3.3.3.254"]) + &bgp_ad("ad", "{aggregationLength: 26}")));
    reject(
        &(pool("p", &["3.3.3.2-3.3.3.254"]) + &bgp_ad("ad", "{aggregationLength: 24}")),
        "BGPAdvertisement/ad",
        &["/26"],
    );
}

#[test]
fn ipv6_entries_are_judged_by_the_ipv6_aggregation_length() {
    accept(&(pool("p", &["fd00::/64", "10.0.0.0/32"]) + &bgp_ad("ad", "{aggregationLengthV6: 64}")));
    reject(
        &(pool("p", &["fd00::/64"]) + &bgp_ad("ad", "{aggregationLengthV6: 48}")),
        "BGPAdvertisement/ad",
        &["spec.aggregationLengthV6", "invalid aggregation length 48"],
    );
}

#[test]
fn service_selectors_and_custom_aggregation_are_mutually_exclusive() {
    reject(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("ad", "{aggregationLength: 24, serviceSelectors: [{matchLabels: {app: web}}]}")),
        "BGPAdvertisement/ad",
        &["mutually exclusive"],
    );
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("ad", "{aggregationLength: 32, serviceSelectors: [{matchLabels: {app: web}}]}")),
    );
}

#[test]
fn peers_lists_reject_duplicates_and_keep_unknown_names() {
    let c = accept(&(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{peers: [ghost]}")));
    assert_eq!(c.pools[0].bgp_advertisements[0].peers, ["ghost"]);
    reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{peers: [r, r]}")),
        "BGPAdvertisement/ad",
        &["spec.peers[1]", "duplicate"],
    );
}

#[test]
fn bgp_advertisements_for_other_nodes_are_dropped_in_a_speakers_scope() {
    let yaml = pool("a", &["10.0.0.0/24"]) + &bgp_ad("rack-b", "{nodeSelectors: [{matchLabels: {rack: b}}]}");
    assert!(bgp_names(&parse_scoped(&yaml, Scope::Speaker { node: "node1".into() }).unwrap(), "a").is_empty());
    assert_eq!(bgp_names(&parse_scoped(&yaml, Scope::Speaker { node: "node2".into() }).unwrap(), "a"), ["rack-b"]);
}

// ---- communities ---------------------------------------------------------------------------

fn community_object(name: &str, aliases: &str) -> String {
    object("Community", name, &format!("{{communities: [{aliases}]}}"))
}

#[test]
fn communities_resolve_literals_large_values_and_aliases_sorted() {
    let yaml =
        community_object("c", "{name: no-advertise, value: '65535:65282'}, {name: big, value: 'large:64500:1:2'}")
            + &pool("p", &["10.0.0.0/24"])
            + &bgp_ad("ad", "{communities: [no-advertise, '64500:100', big, 'large:1:2:3']}");
    let c = accept(&yaml);
    let values: Vec<String> = c.pools[0].bgp_advertisements[0].communities.iter().map(ToString::to_string).collect();
    assert_eq!(values, ["large:1:2:3", "large:64500:1:2", "64500:100", "65535:65282"]);
}

#[test]
fn an_unknown_alias_is_a_transient_error_and_a_bad_literal_a_hard_one() {
    let unknown = reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{communities: [gold]}")),
        "BGPAdvertisement/ad",
        &["spec.communities[0]", "neither a Community alias"],
    );
    assert!(unknown.transient);
    let bad = reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{communities: ['70000:1']}")),
        "BGPAdvertisement/ad",
        &["16-bit"],
    );
    assert!(!bad.transient);
    reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{communities: ['huge:1:2:3']}")),
        "BGPAdvertisement/ad",
        &["invalid marker"],
    );
}

#[test]
fn duplicate_communities_in_an_advertisement_are_rejected() {
    reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("ad", "{communities: ['1:1', '1:1']}")),
        "BGPAdvertisement/ad",
        &["duplicate definition of spec.communities"],
    );
}

#[test]
fn community_aliases_are_global_across_community_objects() {
    reject(
        &(community_object("a", "{name: gold, value: '1:1'}") + &community_object("b", "{name: gold, value: '2:2'}")),
        "Community/b",
        &["duplicate definition of community \"gold\""],
    );
    accept(
        &(community_object("a", "{name: gold, value: '1:1'}") + &community_object("b", "{name: silver, value: '2:2'}")),
    );
}

#[test]
fn community_alias_values_must_be_communities() {
    reject(
        &community_object("a", "{name: gold, value: 'gold'}"),
        "Community/a",
        &["spec.communities[0].value", "invalid community value"],
    );
    reject(&community_object("a", "{name: gold, value: '1:2:3:4'}"), "Community/a", &["invalid marker"]);
    reject(&community_object("a", "{name: gold, value: 'large:1:2:99999999999'}"), "Community/a", &["32-bit"]);
}

// ---- LOCAL_PREF compatibility (docs/compatibility.md §1.11) ---------------------------------

#[test]
fn ipv4_only_pool_with_different_ipv4_aggregation_accepts_different_local_pref() {
    // MetalLB <= 0.13.11 rejected this because both ads kept the default IPv6 length 128.
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("a", "{aggregationLength: 32, localPref: 100}")
            + &bgp_ad("b", "{aggregationLength: 27}")),
    );
}

#[test]
fn same_aggregation_with_different_local_pref_on_the_same_nodes_and_peers_is_rejected() {
    reject(
        &(pool("p", &["10.0.0.0/24"]) + &bgp_ad("a", "{localPref: 100}") + &bgp_ad("b", "{localPref: 200}")),
        "BGPAdvertisement/b",
        &["spec.localPref", "invalid local preference 200", "\"a\"", "100"],
    );
}

#[test]
fn equal_local_prefs_are_always_compatible() {
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("a", "{localPref: 100}")
            + &bgp_ad("b", "{localPref: 100, communities: ['1:1']}")),
    );
}

#[test]
fn ipv6_only_pool_compares_only_ipv6_aggregation() {
    accept(
        &(pool("p", &["fd00::/64"])
            + &bgp_ad("a", "{aggregationLengthV6: 128, localPref: 100}")
            + &bgp_ad("b", "{aggregationLengthV6: 120}")),
    );
    reject(
        &(pool("p", &["fd00::/64"])
            + &bgp_ad("a", "{aggregationLength: 24, localPref: 100}")
            + &bgp_ad("b", "{aggregationLength: 32}")),
        "BGPAdvertisement/b",
        &["invalid local preference"],
    );
}

#[test]
fn dual_stack_pool_needs_both_aggregation_lengths_to_differ() {
    let dual = pool("p", &["10.0.0.0/24", "fd00::/64"]);
    reject(
        &(dual.clone()
            + &bgp_ad("a", "{aggregationLength: 32, localPref: 100}")
            + &bgp_ad("b", "{aggregationLength: 27}")),
        "BGPAdvertisement/b",
        &["invalid local preference"],
    );
    accept(
        &(dual
            + &bgp_ad("a", "{aggregationLength: 32, aggregationLengthV6: 128, localPref: 100}")
            + &bgp_ad("b", "{aggregationLength: 27, aggregationLengthV6: 120}")),
    );
}

#[test]
fn disjoint_peer_lists_make_local_prefs_compatible_but_overlapping_ones_do_not() {
    let base = pool("p", &["10.0.0.0/24"]);
    accept(
        &(base.clone() + &bgp_ad("a", "{localPref: 100, peers: [r1]}") + &bgp_ad("b", "{localPref: 200, peers: [r2]}")),
    );
    reject(
        &(base.clone()
            + &bgp_ad("a", "{localPref: 100, peers: [r1, r2]}")
            + &bgp_ad("b", "{localPref: 200, peers: [r2]}")),
        "BGPAdvertisement/b",
        &["invalid local preference"],
    );
    // An empty peer list means every peer: it overlaps with any list.
    reject(
        &(base + &bgp_ad("a", "{localPref: 100}") + &bgp_ad("b", "{localPref: 200, peers: [r2]}")),
        "BGPAdvertisement/b",
        &["invalid local preference"],
    );
}

#[test]
fn disjoint_node_sets_make_local_prefs_compatible() {
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("a", "{localPref: 100, nodeSelectors: [{matchLabels: {rack: a}}]}")
            + &bgp_ad("b", "{localPref: 200, nodeSelectors: [{matchLabels: {rack: b}}]}")),
    );
    reject(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("a", "{localPref: 100, nodeSelectors: [{matchLabels: {rack: a}}]}")
            + &bgp_ad("b", "{localPref: 200}")),
        "BGPAdvertisement/b",
        &["invalid local preference"],
    );
}

#[test]
fn without_node_objects_every_node_set_is_empty_and_so_disjoint() {
    let yaml = pool("p", &["10.0.0.0/24"]) + &bgp_ad("a", "{localPref: 100}") + &bgp_ad("b", "{localPref: 200}");
    assert!(parse_without_nodes(&yaml).is_ok());
}

#[test]
fn advertisements_with_service_selectors_take_no_part_in_the_local_pref_check() {
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &bgp_ad("a", "{localPref: 100}")
            + &bgp_ad("b", "{localPref: 200, serviceSelectors: [{matchLabels: {app: web}}]}")),
    );
}

#[test]
fn the_local_pref_check_is_per_pool() {
    accept(
        &(pool("p", &["10.0.0.0/24"])
            + &pool("q", &["10.0.1.0/24"])
            + &bgp_ad("a", "{localPref: 100, ipAddressPools: [p]}")
            + &bgp_ad("b", "{localPref: 200, ipAddressPools: [q]}")),
    );
}
