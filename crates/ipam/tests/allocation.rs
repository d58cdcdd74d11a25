//! Table tests from docs/compatibility.md §2 and §3, one rule each.

mod common;

use common::{allocator, config, events, ips, lb, pool};
use ferrolb_ipam::{Allocator, EventType, PoolCounters};

fn reasons(outcome: &ferrolb_ipam::Outcome) -> Vec<String> {
    outcome.events.iter().map(|e| e.reason.clone()).collect()
}

// within a pool (docs/compatibility.md §3.2)

#[test]
fn the_network_address_is_handed_out_first_as_metallb_does() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/a").build());
    assert_eq!(ips(&out), ["10.0.0.0"]);
    assert_eq!(out.pool.as_deref(), Some("p"));
    assert!(out.changed);
    assert_eq!(events(&out), [("IPAllocated".to_owned(), r#"Assigned IP ["10.0.0.0"]"#.to_owned())]);
    assert_eq!(out.events[0].type_, EventType::Normal);
}

#[test]
fn the_broadcast_address_is_allocatable_too() {
    let mut a = allocator(&pool("p", &["10.0.0.254/31"], ""));
    a.reconcile(lb("default/a").build());
    assert_eq!(ips(&a.reconcile(lb("default/b").build())), ["10.0.0.255"]);
}

#[test]
fn cidrs_are_used_in_configuration_order_not_address_order() {
    let mut a = allocator(&pool("p", &["10.0.1.0/31", "10.0.0.0/24"], ""));
    let got: Vec<_> = ["a", "b", "c"].iter().map(|n| ips(&a.reconcile(lb(&format!("default/{n}")).build()))).collect();
    assert_eq!(got, [["10.0.1.0"], ["10.0.1.1"], ["10.0.0.0"]]);
}

#[test]
fn a_range_is_allocated_from_its_first_address() {
    let mut a = allocator(&pool("p", &["10.0.0.10-10.0.0.20"], ""));
    assert_eq!(ips(&a.reconcile(lb("default/a").build())), ["10.0.0.10"]);
}

#[test]
fn a_released_address_is_the_next_one_handed_out() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    for n in ["a", "b", "c"] {
        a.reconcile(lb(&format!("default/{n}")).build());
    }
    assert!(a.release_service("default", "b"));
    assert_eq!(ips(&a.reconcile(lb("default/d").build())), ["10.0.0.1"]);
}

#[test]
fn an_exhausted_pool_fails_with_no_available_ips() {
    let mut a = allocator(&pool("p", &["10.0.0.7/32"], ""));
    a.reconcile(lb("default/a").build());
    let out = a.reconcile(lb("default/b").build());
    assert!(out.ips.is_empty());
    assert_eq!(out.error.as_deref(), Some(r#"Failed to allocate IP for "default/b": no available IPs"#));
    assert_eq!(reasons(&out), ["AllocationFailed"]);
    assert_eq!(out.events[0].type_, EventType::Warning);
}

#[test]
fn an_ipv6_pool_of_two_to_the_64_addresses_allocates_without_walking_it() {
    let mut a = allocator(&pool("p", &["2001:db8::/64"], ""));
    assert_eq!(ips(&a.reconcile(lb("default/a").v6().build())), ["2001:db8::"]);
    assert_eq!(ips(&a.reconcile(lb("default/b").v6().build())), ["2001:db8::1"]);
    let c = a.counters("p").unwrap();
    assert_eq!((c.assigned_ipv6, c.available_ipv6), (2, i64::MAX - 2));
}

// requested addresses (docs/compatibility.md §2.2)

#[test]
fn spec_load_balancer_ip_is_assigned_even_from_a_pool_without_auto_assign() {
    let mut a = allocator(&pool("manual", &["10.0.0.0/24"], "  autoAssign: false"));
    let out = a.reconcile(lb("default/a").spec_ip("10.0.0.42").build());
    assert_eq!(ips(&out), ["10.0.0.42"]);
    assert_eq!(out.pool.as_deref(), Some("manual"));
}

#[test]
fn the_load_balancer_ips_annotation_requests_one_address_per_family_in_request_order() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24", "fd00::/120"], ""));
    let svc = lb("default/a").dual("RequireDualStack", "IPv4").requested("fd00::5, 10.0.0.5");
    assert_eq!(ips(&a.reconcile(svc.build())), ["fd00::5", "10.0.0.5"]);
}

#[test]
fn requesting_through_both_the_spec_and_the_annotation_fails() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/a").spec_ip("10.0.0.1").requested("10.0.0.2").build());
    assert_eq!(
        out.error.as_deref(),
        Some(
            r#"Failed to allocate IP for "default/a": service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"#
        )
    );
}

#[test]
fn a_requested_address_of_the_wrong_family_fails() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24", "fd00::/120"], ""));
    let out = a.reconcile(lb("default/a").spec_ip("fd00::1").build());
    assert_eq!(
        out.error.as_deref(),
        Some(
            r#"Failed to allocate IP for "default/a": requested loadBalancer IP(s) ["fd00::1"] does not match the ipFamily of the service"#
        )
    );
}

#[test]
fn a_requested_address_outside_every_pool_is_not_allowed_in_config() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/a").spec_ip("192.0.2.1").build());
    assert_eq!(
        out.error.as_deref(),
        Some(r#"Failed to allocate IP for "default/a": ["192.0.2.1"] is not allowed in config"#)
    );
}

#[test]
fn a_requested_address_outside_the_annotated_pool_fails_and_is_released() {
    let yaml = pool("a", &["10.0.0.0/24"], "") + &pool("b", &["10.0.1.0/24"], "");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("default/s").spec_ip("10.0.0.1").in_pool("b").build());
    assert_eq!(
        out.error.as_deref(),
        Some(
            r#"Failed to allocate IP for "default/s": requested loadBalancer IP(s) ["10.0.0.1"] is not compatible with requested address pool b"#
        )
    );
    assert_eq!(ips(&a.reconcile(lb("default/t").spec_ip("10.0.0.1").build())), ["10.0.0.1"]);
}

#[test]
fn an_unparsable_requested_address_fails_allocation() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/a").requested("10.0.0.1,banana").build());
    assert_eq!(
        out.error.as_deref(),
        Some(r#"Failed to allocate IP for "default/a": invalid metallb.io/loadBalancerIPs: "10.0.0.1,banana""#)
    );
}

#[test]
fn an_invalid_request_on_a_service_with_an_address_keeps_it_and_warns() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svc = lb("default/a").ingress(&["10.0.0.3"]).annotate("metallb.io/ip-allocated-from-pool", "p");
    let out = a.reconcile(svc.spec_ip("nope").build());
    assert_eq!(reasons(&out), ["LoadBalancerFailed"]);
    assert_eq!(out.error.as_deref(), Some(r#"invalid requested loadbalancer IPs: invalid spec.loadBalancerIP "nope""#));
    assert_eq!(ips(&out), ["10.0.0.3"]);
    assert!(!out.changed);
}

#[test]
fn changing_the_requested_address_moves_the_service() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svc = lb("default/a").ingress(&["10.0.0.3"]).spec_ip("10.0.0.9");
    let out = a.reconcile(svc.build());
    assert_eq!(ips(&out), ["10.0.0.9"]);
    assert_eq!(reasons(&out), ["IPAllocated"]);
}

// pool annotation (docs/compatibility.md §2.2)

#[test]
fn the_pool_annotation_allocates_from_that_pool_even_without_auto_assign() {
    let yaml = pool("auto", &["10.0.0.0/24"], "") + &pool("manual", &["10.0.9.0/24"], "  autoAssign: false");
    let mut a = allocator(&yaml);
    assert_eq!(ips(&a.reconcile(lb("default/a").build())), ["10.0.0.0"]);
    let out = a.reconcile(lb("default/b").in_pool("manual").build());
    assert_eq!((ips(&out), out.pool.as_deref()), (vec!["10.0.9.0".to_owned()], Some("manual")));
}

#[test]
fn a_pool_without_auto_assign_is_never_chosen_automatically() {
    let mut a = allocator(&pool("manual", &["10.0.0.0/24"], "  autoAssign: false"));
    let out = a.reconcile(lb("default/a").build());
    assert_eq!(out.error.as_deref(), Some(r#"Failed to allocate IP for "default/a": no available IPs"#));
}

#[test]
fn an_unknown_pool_annotation_fails() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/a").in_pool("nope").build());
    assert_eq!(out.error.as_deref(), Some(r#"Failed to allocate IP for "default/a": unknown pool "nope""#));
}

#[test]
fn changing_the_pool_annotation_moves_the_service_to_that_pool() {
    let yaml = pool("a", &["10.0.0.0/24"], "") + &pool("b", &["10.0.1.0/24"], "");
    let mut a = allocator(&yaml);
    let svc = lb("default/s").ingress(&["10.0.0.0"]).annotate("metallb.io/ip-allocated-from-pool", "a");
    let out = a.reconcile(svc.in_pool("b").build());
    assert_eq!((ips(&out), out.pool.as_deref()), (vec!["10.0.1.0".to_owned()], Some("b")));
}

#[test]
fn deprecated_annotations_are_honoured_and_warned_about() {
    let yaml = pool("a", &["10.0.0.0/24"], "") + &pool("b", &["10.0.1.0/24"], "");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("default/s").annotate("metallb.universe.tf/address-pool", "b").build());
    assert_eq!(ips(&out), ["10.0.1.0"]);
    assert_eq!(
        events(&out)[1],
        (
            "deprecatedAnnotation".to_owned(),
            "Service uses deprecated annotation metallb.universe.tf/address-pool".to_owned()
        )
    );
    assert_eq!(out.events[1].type_, EventType::Warning);
}

#[test]
fn the_stable_annotation_wins_over_the_deprecated_one() {
    let yaml = pool("a", &["10.0.0.0/24"], "") + &pool("b", &["10.0.1.0/24"], "");
    let mut a = allocator(&yaml);
    let svc = lb("default/s").annotate("metallb.universe.tf/address-pool", "b").in_pool("a");
    assert_eq!(a.reconcile(svc.build()).pool.as_deref(), Some("a"));
}

#[test]
fn an_unchanged_service_with_deprecated_annotations_emits_nothing() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svc = lb("default/s").annotate("metallb.universe.tf/allow-shared-ip", "k");
    let first = a.reconcile(svc.build());
    let again = a.reconcile(svc.with_outcome(&first).build());
    assert!(!again.changed);
    assert!(again.events.is_empty());
}

// sharing (docs/compatibility.md §3.3)

#[test]
fn services_with_the_same_sharing_key_and_disjoint_ports_share_an_address() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let first = a.reconcile(lb("default/a").shared("k").ports(&[("TCP", 80)]).build());
    let second = a.reconcile(lb("default/b").shared("k").ports(&[("TCP", 443)]).build());
    assert_eq!(ips(&first), ips(&second));
    assert_eq!(a.counters("p").unwrap().assigned_ipv4, 1);
}

#[test]
fn the_same_port_number_over_tcp_and_udp_can_share() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let tcp = a.reconcile(lb("default/dns-tcp").shared("dns").ports(&[("TCP", 53)]).build());
    let udp = a.reconcile(lb("default/dns-udp").shared("dns").ports(&[("UDP", 53)]).build());
    assert_eq!(ips(&tcp), ips(&udp));
}

#[test]
fn automatic_allocation_shares_the_lowest_compatible_address_before_a_free_higher_one() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    a.reconcile(lb("default/x").build());
    a.reconcile(lb("default/a").shared("k").build());
    a.reconcile(lb("default/y").build());
    a.release_service("default", "x");
    let out = a.reconcile(lb("default/b").shared("k").ports(&[("TCP", 443)]).build());
    assert_eq!(ips(&out), ["10.0.0.0"], "the freed lower address wins");
    let out = a.reconcile(lb("default/c").shared("k").ports(&[("TCP", 8080)]).build());
    assert_eq!(ips(&out), ["10.0.0.0"], "the lowest shareable address wins over the free 10.0.0.3");
}

#[test]
fn incompatible_services_get_different_addresses_automatically() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let cases = [
        lb("default/a").shared("k"),
        lb("default/b").shared("k"),
        lb("default/c").shared("other").ports(&[("TCP", 1)]),
        lb("default/d").ports(&[("TCP", 2)]),
        lb("default/e").shared("k").local(&[("app", "e")]).ports(&[("TCP", 3)]),
    ];
    let got: Vec<_> = cases.iter().map(|s| ips(&a.reconcile(s.build()))[0].clone()).collect();
    assert_eq!(got, ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
}

#[test]
fn requesting_a_held_address_reports_each_sharing_rule_in_metallb_words() {
    let prefix = r#"Failed to allocate IP for "default/b": can't change sharing key for "default/b", address also in use by default/a: "#;
    let cases = [
        (
            lb("default/a"),
            lb("default/b").shared("k").ports(&[("TCP", 443)]),
            "existing service does not allow sharing",
        ),
        (lb("default/a").shared("k"), lb("default/b").ports(&[("TCP", 443)]), "new service does not allow sharing"),
        (
            lb("default/a").shared("k"),
            lb("default/b").shared("j").ports(&[("TCP", 443)]),
            r#"sharing key "j" does not match existing sharing key "k""#,
        ),
        (
            lb("default/a").shared("k").local(&[("app", "a")]),
            lb("default/b").shared("k").local(&[("app", "b")]).ports(&[("TCP", 443)]),
            r#"backend key "app=b" does not match existing sharing key "app=a""#,
        ),
    ];
    for (holder, requester, why) in cases {
        let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
        a.reconcile(holder.spec_ip("10.0.0.1").build());
        let out = a.reconcile(requester.spec_ip("10.0.0.1").build());
        assert_eq!(out.error.unwrap(), format!("{prefix}{why}"));
    }
}

#[test]
fn requesting_a_shared_address_with_a_port_in_use_fails() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    a.reconcile(lb("default/a").shared("k").spec_ip("10.0.0.1").build());
    let out = a.reconcile(lb("default/b").shared("k").spec_ip("10.0.0.1").build());
    assert_eq!(
        out.error.as_deref(),
        Some(r#"Failed to allocate IP for "default/b": port TCP/80 is already in use on "10.0.0.1""#)
    );
}

#[test]
fn local_services_share_only_with_identical_pod_selectors() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let one = a.reconcile(lb("default/a").shared("k").local(&[("app", "x"), ("tier", "web")]).build());
    let two =
        a.reconcile(lb("default/b").shared("k").local(&[("tier", "web"), ("app", "x")]).ports(&[("TCP", 81)]).build());
    assert_eq!(ips(&one), ips(&two));
}

#[test]
fn the_only_user_of_an_address_may_change_its_sharing_key_in_place() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let first = a.reconcile(lb("default/a").shared("k").build());
    let again = a.reconcile(lb("default/a").shared("new").with_outcome(&first).build());
    assert_eq!(ips(&again), ips(&first));
    assert!(again.error.is_none());
}

#[test]
fn a_sharing_user_cannot_change_its_key_and_is_moved() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let first = a.reconcile(lb("default/a").shared("k").build());
    a.reconcile(lb("default/b").shared("k").ports(&[("TCP", 443)]).build());
    let out = a.reconcile(lb("default/a").shared("new").with_outcome(&first).build());
    assert_eq!(reasons(&out), ["ClearAssignment", "IPAllocated"]);
    assert!(out.events[0].message.starts_with(
        r#"current IP for "default/a" not allowed by config, will attempt for new IP assignment: can't change sharing key for "default/a", address also in use by default/b"#
    ));
    assert_eq!(ips(&out), ["10.0.0.1"]);
}

// families (docs/compatibility.md §2.3)

#[test]
fn a_single_stack_ipv6_service_gets_an_ipv6_address_from_a_dual_pool() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24", "fd00::/120"], ""));
    assert_eq!(ips(&a.reconcile(lb("default/a").v6().build())), ["fd00::"]);
}

#[test]
fn require_dual_stack_takes_both_families_from_one_pool_in_v4_v6_order() {
    let yaml = pool("a-v4", &["10.0.0.0/24"], "")
        + &pool("b-v6", &["fd00::/120"], "")
        + &pool("c-dual", &["fd01::/120", "10.0.1.0/24"], "");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("default/s").dual("RequireDualStack", "IPv6").build());
    assert_eq!((ips(&out), out.pool.as_deref()), (vec!["10.0.1.0".to_owned(), "fd01::".to_owned()], Some("c-dual")));
}

#[test]
fn require_dual_stack_without_a_dual_pool_fails() {
    let mut a = allocator(&(pool("a", &["10.0.0.0/24"], "") + &pool("b", &["fd00::/120"], "")));
    let out = a.reconcile(lb("default/s").dual("RequireDualStack", "IPv4").build());
    assert_eq!(out.error.as_deref(), Some(r#"Failed to allocate IP for "default/s": no available IPs"#));
}

#[test]
fn require_dual_stack_with_a_single_cluster_ip_is_cleared_with_a_warning() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24", "fd00::/120"], ""));
    let out = a.reconcile(lb("default/s").policy("RequireDualStack").ingress(&["10.0.0.1"]).build());
    assert_eq!(reasons(&out), ["not enough clusterips"]);
    assert!(out.ips.is_empty() && out.changed);
}

#[test]
fn prefer_dual_stack_falls_back_to_the_first_pool_of_the_primary_family() {
    let yaml = pool("a-v4", &["10.0.0.0/24"], "") + &pool("b-v6", &["fd00::/120"], "");
    let mut a = allocator(&yaml);
    let v6_first = a.reconcile(lb("default/s").dual("PreferDualStack", "IPv6").build());
    assert_eq!((ips(&v6_first), v6_first.pool.as_deref()), (vec!["fd00::".to_owned()], Some("b-v6")));
    let v4_first = a.reconcile(lb("default/t").dual("PreferDualStack", "IPv4").build());
    assert_eq!(ips(&v4_first), ["10.0.0.0"]);
}

#[test]
fn prefer_dual_stack_prefers_a_pool_with_both_families() {
    let yaml = pool("a-v4", &["10.0.0.0/24"], "") + &pool("b-dual", &["10.0.1.0/24", "fd00::/120"], "");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("default/s").dual("PreferDualStack", "IPv4").build());
    assert_eq!(ips(&out), ["10.0.1.0", "fd00::"]);
}

#[test]
fn prefer_dual_stack_tops_up_the_missing_family_from_the_same_pool_later() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svc = lb("default/s").dual("PreferDualStack", "IPv4");
    let first = a.reconcile(svc.build());
    assert_eq!(ips(&first), ["10.0.0.0"]);
    let svc = svc.with_outcome(&first);
    let again = a.reconcile(svc.build());
    assert_eq!(
        events(&again),
        [(
            "AdditionalAssignFailed".to_owned(),
            "cannot assign additional IP in PreferDualStack: no available IPs in pool p for ipv6 IPFamily".to_owned()
        )]
    );
    assert_eq!(again.events[0].type_, EventType::Normal);
    a.set_pools(&config(&pool("p", &["10.0.0.0/24", "fd00::/120"], "")));
    let topped = a.reconcile(svc.build());
    assert_eq!(ips(&topped), ["10.0.0.0", "fd00::"]);
    assert_eq!(events(&topped), [("IPAllocated".to_owned(), r#"Assigned additional IP "fd00::""#.to_owned())]);
}

#[test]
fn addresses_of_the_wrong_family_are_cleared_and_reallocated() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24", "fd00::/120"], ""));
    let out = a.reconcile(lb("default/s").v6().ingress(&["10.0.0.5"]).build());
    assert_eq!(ips(&out), ["fd00::"]);
}

#[test]
fn a_single_family_on_a_prefer_dual_stack_service_is_tolerated() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/s").dual("PreferDualStack", "IPv4").ingress(&["10.0.0.5"]).build());
    assert_eq!(ips(&out), ["10.0.0.5"]);
}

#[test]
fn unparsable_ingress_is_warned_about_and_replaced() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/s").ingress(&["garbage"]).build());
    assert_eq!(reasons(&out), ["nolbIPsIPFamily", "IPAllocated"]);
    assert_eq!(ips(&out), ["10.0.0.0"]);
}

#[test]
fn a_service_without_cluster_ips_is_cleared_and_not_allocated() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/s").no_cluster_ip().ingress(&["10.0.0.5"]).build());
    assert!(out.ips.is_empty() && out.changed && out.error.is_some());
}

// pool selection (docs/compatibility.md §3.2)

#[test]
fn pinned_pools_go_by_priority_then_name_before_generic_pools() {
    let yaml = pool("a-generic", &["10.0.0.0/24"], "")
        + &pool("b-unset", &["10.0.1.0/24"], "  serviceAllocation:\n    namespaces: [prod]")
        + &pool("c-two", &["10.0.2.0/24"], "  serviceAllocation:\n    priority: 2\n    namespaces: [prod]")
        + &pool("d-one", &["10.0.3.0/31"], "  serviceAllocation:\n    priority: 1\n    namespaces: [prod]")
        + &pool("e-one", &["10.0.4.0/24"], "  serviceAllocation:\n    priority: 1\n    namespaces: [prod]");
    let mut a = allocator(&yaml);
    let pools: Vec<_> =
        (0..4).map(|i| a.reconcile(lb(&format!("prod/s{i}")).build()).pool.unwrap_or_default()).collect();
    assert_eq!(pools, ["d-one", "d-one", "e-one", "e-one"]);
    assert_eq!(a.reconcile(lb("dev/s").build()).pool.as_deref(), Some("a-generic"));
}

#[test]
fn priority_zero_comes_after_every_positive_priority() {
    let yaml = pool("a", &["10.0.0.0/24"], "  serviceAllocation:\n    namespaces: [prod]")
        + &pool("b", &["10.0.1.0/24"], "  serviceAllocation:\n    priority: 50\n    namespaces: [prod]");
    let mut a = allocator(&yaml);
    assert_eq!(a.reconcile(lb("prod/s").build()).pool.as_deref(), Some("b"));
}

#[test]
fn namespace_selectors_are_resolved_against_namespace_labels() {
    let namespaces = "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels:\n    team: a\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n";
    let yaml = pool("generic", &["10.0.0.0/24"], "")
        + &pool(
            "team",
            &["10.0.9.0/24"],
            "  serviceAllocation:\n    namespaceSelectors:\n      - matchLabels:\n          team: a",
        )
        + namespaces;
    let mut a = allocator(&yaml);
    assert_eq!(a.reconcile(lb("team-a/s").build()).pool.as_deref(), Some("team"));
    assert_eq!(a.reconcile(lb("team-b/s").build()).pool.as_deref(), Some("generic"));
}

#[test]
fn service_selectors_pin_matching_services_only() {
    let yaml = pool("generic", &["10.0.0.0/24"], "")
        + &pool(
            "web",
            &["10.0.9.0/24"],
            "  serviceAllocation:\n    serviceSelectors:\n      - matchLabels:\n          tier: web",
        );
    let mut a = allocator(&yaml);
    assert_eq!(a.reconcile(lb("default/w").label("tier", "web").build()).pool.as_deref(), Some("web"));
    assert_eq!(a.reconcile(lb("default/d").label("tier", "db").build()).pool.as_deref(), Some("generic"));
}

#[test]
fn pools_with_service_allocation_are_never_used_by_the_generic_fallback() {
    let yaml = pool("prod-only", &["10.0.9.0/24"], "  serviceAllocation:\n    namespaces: [prod]");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("dev/s").build());
    assert_eq!(out.error.as_deref(), Some(r#"Failed to allocate IP for "dev/s": no available IPs"#));
}

#[test]
fn an_exhausted_pinned_pool_falls_back_to_generic_pools_in_name_order() {
    let yaml = pool("z-generic", &["10.0.2.0/24"], "")
        + &pool("m-generic", &["10.0.1.0/24"], "")
        + &pool("pinned", &["10.0.9.0/32"], "  serviceAllocation:\n    namespaces: [prod]");
    let mut a = allocator(&yaml);
    let pools: Vec<_> = (0..2).map(|i| a.reconcile(lb(&format!("prod/s{i}")).build()).pool.unwrap()).collect();
    assert_eq!(pools, ["pinned", "m-generic"]);
}

#[test]
fn a_requested_address_in_an_incompatible_pool_is_refused() {
    let yaml = pool("prod-only", &["10.0.9.0/24"], "  serviceAllocation:\n    namespaces: [prod]");
    let mut a = allocator(&yaml);
    let out = a.reconcile(lb("dev/s").spec_ip("10.0.9.9").build());
    assert_eq!(
        out.error.as_deref(),
        Some(r#"Failed to allocate IP for "dev/s": pool prod-only not compatible for ip assignment"#)
    );
}

#[test]
fn a_pool_whose_namespace_selector_matches_nothing_still_accepts_explicit_requests() {
    let yaml = pool(
        "orphan",
        &["10.0.9.0/24"],
        "  serviceAllocation:\n    namespaceSelectors:\n      - matchLabels:\n          nobody: here",
    );
    let mut a = allocator(&yaml);
    assert!(a.reconcile(lb("dev/auto").build()).error.is_some());
    assert_eq!(ips(&a.reconcile(lb("dev/s").spec_ip("10.0.9.9").build())), ["10.0.9.9"]);
}

// avoidBuggyIPs (docs/compatibility.md §1.2)

#[test]
fn avoid_buggy_ips_skips_dot_zero_and_dot_255() {
    let mut a = allocator(&pool("p", &["10.0.0.254/31", "10.0.1.0/30"], "  avoidBuggyIPs: true"));
    let got: Vec<_> = (0..2).map(|i| ips(&a.reconcile(lb(&format!("default/s{i}")).build()))).collect();
    assert_eq!(got, [["10.0.0.254"], ["10.0.1.1"]]);
}

#[test]
fn a_buggy_address_is_not_a_member_of_an_avoiding_pool() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], "  avoidBuggyIPs: true"));
    let out = a.reconcile(lb("default/s").spec_ip("10.0.0.255").build());
    assert_eq!(
        out.error.as_deref(),
        Some(r#"Failed to allocate IP for "default/s": ["10.0.0.255"] is not allowed in config"#)
    );
}

#[test]
fn turning_avoid_buggy_ips_on_drops_an_existing_buggy_allocation() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svc = lb("default/s");
    let first = a.reconcile(svc.build());
    assert_eq!(ips(&first), ["10.0.0.0"]);
    let released = a.set_pools(&config(&pool("p", &["10.0.0.0/24"], "  avoidBuggyIPs: true")));
    assert_eq!(released, ["default/s"]);
    let out = a.reconcile(svc.with_outcome(&first).build());
    assert_eq!(reasons(&out), ["ClearAssignment", "IPAllocated"]);
    assert_eq!(ips(&out), ["10.0.0.1"]);
}

// configuration changes and restarts (docs/compatibility.md §3.4)

#[test]
fn removing_a_pool_moves_its_services_to_another_pool() {
    let both = pool("old", &["10.0.0.0/24"], "") + &pool("new", &["10.0.1.0/24"], "");
    let mut a = allocator(&both);
    let svc = lb("default/s").in_pool("old");
    let first = a.reconcile(svc.build());
    let svc = lb("default/s").with_outcome(&first);
    assert_eq!(a.set_pools(&config(&pool("new", &["10.0.1.0/24"], ""))), ["default/s"]);
    let out = a.reconcile(svc.build());
    assert_eq!((ips(&out), out.pool.as_deref()), (vec!["10.0.1.0".to_owned()], Some("new")));
    assert!(a.counters("old").is_none());
}

#[test]
fn renaming_a_pool_keeps_the_address_under_the_new_name() {
    let mut a = allocator(&pool("old", &["10.0.0.0/24"], ""));
    let first = a.reconcile(lb("default/s").build());
    assert!(a.set_pools(&config(&pool("renamed", &["10.0.0.0/24"], ""))).is_empty());
    let out = a.reconcile(lb("default/s").with_outcome(&first).build());
    assert_eq!((ips(&out), out.pool.as_deref()), (vec!["10.0.0.0".to_owned()], Some("renamed")));
    assert!(out.changed && out.events.is_empty());
}

#[test]
fn shrinking_a_pool_releases_only_the_addresses_outside_it() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    for i in 0..3 {
        a.reconcile(lb(&format!("default/s{i}")).build());
    }
    let released = a.set_pools(&config(&pool("p", &["10.0.0.0/31"], "")));
    assert_eq!(released, ["default/s2"]);
    assert_eq!(a.counters("p").unwrap().assigned_ipv4, 2);
}

#[test]
fn a_restart_recovers_every_address_from_status_before_allocating_new_ones() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let svcs = vec![
        lb("default/new").build().clone(),
        lb("default/old").ingress(&["10.0.0.0"]).build().clone(),
        lb("default/older").ingress(&["10.0.0.1"]).build().clone(),
    ];
    let outcomes = a.reconcile_all(&svcs);
    assert_eq!(ips(&outcomes[0]), ["10.0.0.2"]);
    assert_eq!(ips(&outcomes[1]), ["10.0.0.0"]);
    assert_eq!(ips(&outcomes[2]), ["10.0.0.1"]);
}

// classes and types (docs/compatibility.md §2.1)

#[test]
fn services_of_another_load_balancer_class_are_left_alone() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let out = a.reconcile(lb("default/s").class("other").ingress(&["192.0.2.1"]).build());
    assert!(!out.handled && !out.changed && out.events.is_empty());
    assert_eq!(a.allocated_services(), 0);
}

#[test]
fn with_a_class_set_only_services_of_that_class_are_handled() {
    let mut a = Allocator::new(Some("ferrolb".into()));
    a.set_pools(&config(&pool("p", &["10.0.0.0/24"], "")));
    assert!(!a.reconcile(lb("default/plain").build()).handled);
    assert_eq!(ips(&a.reconcile(lb("default/ours").class("ferrolb").build())), ["10.0.0.0"]);
}

#[test]
fn changing_the_type_away_from_load_balancer_releases_the_address() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    let first = a.reconcile(lb("default/s").build());
    let out = a.reconcile(lb("default/s").with_outcome(&first).kind("ClusterIP").build());
    assert!(out.ips.is_empty() && out.pool.is_none() && out.changed);
    assert!(out.reprocess_all, "a freed address may let a waiting service in");
    assert_eq!(ips(&a.reconcile(lb("default/t").build())), ["10.0.0.0"]);
}

#[test]
fn deleting_a_service_with_an_address_asks_for_a_full_reprocess() {
    let mut a = allocator(&pool("p", &["10.0.0.0/24"], ""));
    a.reconcile(lb("default/s").build());
    assert!(a.release_service("default", "s"));
    assert!(!a.release_service("default", "s"));
}

#[test]
fn without_any_pool_services_are_cleared() {
    let mut a = Allocator::new(None);
    a.set_pools(&ferrolb_config::Config::default());
    let out = a.reconcile(lb("default/s").ingress(&["10.0.0.1"]).build());
    assert!(out.ips.is_empty() && out.error.is_some());
}

// status and metrics (docs/compatibility.md §1.2, §7)

#[test]
fn counters_count_distinct_addresses_and_buggy_capacity() {
    let mut a = allocator(&pool("p", &["10.0.0.0/23", "10.0.2.0/30", "fd00::/120"], "  avoidBuggyIPs: true"));
    a.reconcile(lb("default/a").shared("k").build());
    a.reconcile(lb("default/b").shared("k").ports(&[("TCP", 443)]).build());
    a.reconcile(lb("default/c").v6().build());
    assert_eq!(
        a.counters("p").unwrap(),
        PoolCounters { assigned_ipv4: 1, assigned_ipv6: 1, available_ipv4: 508 + 3 - 1, available_ipv6: 255 }
    );
    let m = a.metrics("p").unwrap();
    assert_eq!((m.addresses_total, m.ipv4_addresses_total, m.ipv6_addresses_total), (767, 511, 256));
    assert_eq!((m.addresses_in_use_total, m.ipv4_addresses_in_use_total, m.ipv6_addresses_in_use_total), (2, 1, 1));
    assert_eq!(m.services_allocated_total, 3, "services, not addresses: a and b share one");
    assert!(a.release_service("default", "a"));
    let m = a.metrics("p").unwrap();
    assert_eq!((m.services_allocated_total, m.addresses_in_use_total), (2, 2), "b still holds the shared address");
}

#[test]
fn services_are_counted_in_the_pool_they_hold_an_address_of_even_after_a_reconfiguration() {
    let two = pool("p", &["10.0.0.0/30"], "") + &pool("q", &["10.0.1.0/30"], "");
    let mut a = allocator(&two);
    a.reconcile(lb("default/x").ingress(&["10.0.1.1"]).build());
    a.reconcile(lb("default/y").build());
    let count = |a: &Allocator, name: &str| a.metrics(name).unwrap().services_allocated_total;
    assert_eq!((count(&a, "p"), count(&a, "q")), (1, 1));
    a.set_pools(&config(&two));
    assert_eq!((count(&a, "p"), count(&a, "q")), (1, 1), "kept across set_pools");
}

#[test]
fn a_huge_ipv6_cidr_counts_as_max_int64() {
    let a = allocator(&pool("p", &["10.0.0.0/24", "2001:db8::/62"], ""));
    let m = a.metrics("p").unwrap();
    assert_eq!((m.addresses_total, m.ipv4_addresses_total, m.ipv6_addresses_total), (i64::MAX, 256, i64::MAX));
}
