//! IPAddressPool rules (docs/compatibility.md §1.1, §1.2).

mod support;

use support::*;

#[test]
fn a_pool_accepts_cidrs_ranges_and_ipv6_in_spec_order() {
    let c = accept(&pool("p", &["10.0.0.0/24", "10.1.0.1-10.1.0.2", "fd00::/120"]));
    let cidrs: Vec<String> = c.pools[0].cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(cidrs, ["10.0.0.0/24", "10.1.0.1/32", "10.1.0.2/32", "fd00::/120"]);
}

#[test]
fn a_cidr_with_host_bits_is_accepted_as_its_network() {
    let c = accept(&pool("p", &["10.20.30.40/24"]));
    assert_eq!(c.pools[0].cidrs[0].to_string(), "10.20.30.0/24");
}

#[test]
fn a_pool_without_addresses_is_rejected() {
    reject(&object("IPAddressPool", "p", "{addresses: []}"), "IPAddressPool/p", &["spec.addresses", "no prefixes"]);
    reject(&object("IPAddressPool", "p", "{}"), "IPAddressPool/p", &["no prefixes"]);
}

#[test]
fn malformed_addresses_are_rejected_with_their_index() {
    reject(&pool("p", &["10.0.0.0/24", "10.0.0.300/32"]), "IPAddressPool/p", &["spec.addresses[1]", "invalid CIDR"]);
    reject(&pool("p", &["10.0.0.9-10.0.0.1"]), "IPAddressPool/p", &["start is after end"]);
    reject(&pool("p", &[" 10.0.0.0/8"]), "IPAddressPool/p", &["invalid CIDR"]);
}

#[test]
fn auto_assign_defaults_to_true_and_can_be_turned_off() {
    assert!(accept(&pool("p", &["10.0.0.0/24"])).pools[0].auto_assign);
    let c = accept(&object("IPAddressPool", "p", "{addresses: [10.0.0.0/24], autoAssign: false}"));
    assert!(!c.pools[0].auto_assign);
}

#[test]
fn avoid_buggy_ips_makes_dot_zero_and_dot_255_non_members() {
    let c = accept(&object("IPAddressPool", "p", "{addresses: [10.0.0.0/23], avoidBuggyIPs: true}"));
    let p = &c.pools[0];
    assert!(p.avoid_buggy_ips);
    assert!(!p.contains("10.0.0.255".parse().unwrap()));
    assert!(!p.contains("10.0.1.0".parse().unwrap()));
    assert!(p.contains("10.0.1.1".parse().unwrap()));
    let plain = accept(&pool("p", &["10.0.0.0/23"]));
    assert!(plain.pools[0].contains("10.0.0.255".parse().unwrap()));
}

#[test]
fn overlapping_cidrs_across_pools_are_rejected() {
    let err = reject(
        &(pool("a", &["10.0.0.0/24"]) + &pool("b", &["10.0.0.128/25"])),
        "IPAddressPool/b",
        &["10.0.0.128/25", "overlaps", "10.0.0.0/24", "\"a\""],
    );
    assert_eq!(err.field, "spec.addresses");
}

#[test]
fn overlapping_cidrs_within_one_pool_are_rejected() {
    reject(&pool("a", &["10.0.0.0/24", "10.0.0.10-10.0.0.20"]), "IPAddressPool/a", &["overlaps"]);
}

#[test]
fn identical_cidrs_count_as_overlapping() {
    reject(&(pool("a", &["fd00::/64"]) + &pool("b", &["fd00::/64"])), "IPAddressPool/b", &["overlaps"]);
}

#[test]
fn adjacent_cidrs_and_same_numbers_in_other_families_do_not_overlap() {
    accept(&(pool("a", &["10.0.0.0/25"]) + &pool("b", &["10.0.0.128/25", "::a00:0/120"])));
}

#[test]
fn a_wide_cidr_that_swallows_a_later_one_is_found_even_with_smaller_ones_between() {
    reject(
        &(pool("a", &["10.0.0.0/16"]) + &pool("b", &["10.0.1.0/24"]) + &pool("c", &["10.0.200.0/24"])),
        "IPAddressPool/b",
        &["overlaps with already defined CIDR 10.0.0.0/16"],
    );
}

#[test]
fn duplicate_pool_names_are_rejected() {
    reject(&(pool("a", &["10.0.0.0/24"]) + &pool("a", &["10.1.0.0/24"])), "IPAddressPool/a", &["duplicate definition"]);
}

#[test]
fn service_allocation_resolves_namespace_selectors_at_parse_time() {
    let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {team: a}}\n---\n\
                apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b, labels: {team: b}}\n---\n"
        .to_owned()
        + &object(
            "IPAddressPool",
            "p",
            "{addresses: [10.0.0.0/24], serviceAllocation: {priority: 5, namespaces: [web], namespaceSelectors: [{matchLabels: {team: a}}]}}",
        );
    let c = accept(&yaml);
    let sa = c.pools[0].service_allocation.as_ref().unwrap();
    assert_eq!(sa.priority, 5);
    assert_eq!(sa.namespaces.iter().map(String::as_str).collect::<Vec<_>>(), ["team-a", "web"]);
    assert!(sa.service_selectors.is_empty());
}

#[test]
fn service_allocation_with_only_a_priority_matches_every_service() {
    let c = accept(&object("IPAddressPool", "p", "{addresses: [10.0.0.0/24], serviceAllocation: {priority: 1}}"));
    let sa = c.pools[0].service_allocation.as_ref().unwrap();
    assert_eq!(sa.service_selectors.len(), 1);
    assert!(sa.service_selectors[0].is_everything());
}

#[test]
fn service_allocation_with_unmatched_namespace_selectors_matches_nothing_automatically() {
    let c = accept(&object(
        "IPAddressPool",
        "p",
        "{addresses: [10.0.0.0/24], serviceAllocation: {namespaceSelectors: [{matchLabels: {team: nobody}}]}}",
    ));
    let sa = c.pools[0].service_allocation.as_ref().unwrap();
    assert!(sa.namespaces.is_empty());
    assert!(sa.service_selectors.is_empty());
}

#[test]
fn service_allocation_rejects_duplicate_namespaces_and_selectors() {
    reject(
        &object("IPAddressPool", "p", "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [a, a]}}"),
        "IPAddressPool/p",
        &["spec.serviceAllocation.namespaces[1]", "duplicate definition"],
    );
    reject(
        &object(
            "IPAddressPool",
            "p",
            "{addresses: [10.0.0.0/24], serviceAllocation: {serviceSelectors: [{matchLabels: {a: b}}, {matchLabels: {a: b}}]}}",
        ),
        "IPAddressPool/p",
        &["spec.serviceAllocation.serviceSelectors[1]", "duplicate definition"],
    );
}

#[test]
fn invalid_label_selectors_are_rejected_where_they_are_written() {
    reject(
        &object(
            "IPAddressPool",
            "p",
            "{addresses: [10.0.0.0/24], serviceAllocation: {serviceSelectors: [{matchExpressions: [{key: app, operator: Like, values: [x]}]}]}}",
        ),
        "IPAddressPool/p",
        &["spec.serviceAllocation.serviceSelectors[0]", "not a valid label selector operator"],
    );
    reject(
        &object(
            "IPAddressPool",
            "p",
            "{addresses: [10.0.0.0/24], serviceAllocation: {namespaceSelectors: [{matchExpressions: [{key: app, operator: In}]}]}}",
        ),
        "IPAddressPool/p",
        &["requires at least one value"],
    );
}

#[test]
fn configuration_objects_outside_the_metallb_namespace_are_rejected() {
    let yaml = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: default}\nspec: {addresses: [10.0.0.0/24]}\n";
    reject(yaml, "IPAddressPool/p", &["metadata.namespace", "metallb-system"]);
    let ok = "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24]}\n";
    accept(ok);
}

#[test]
fn the_result_does_not_depend_on_input_order() {
    let a = pool("b", &["10.0.1.0/24"]) + &pool("a", &["10.0.0.0/24"]);
    let b = pool("a", &["10.0.0.0/24"]) + &pool("b", &["10.0.1.0/24"]);
    let (ca, cb) = (accept(&a), accept(&b));
    assert_eq!(serde_json::to_string(&ca).unwrap(), serde_json::to_string(&cb).unwrap());
    assert_eq!(ca.pools[0].name, "a");
}
