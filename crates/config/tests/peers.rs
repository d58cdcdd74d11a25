//! BGPPeer, BFDProfile and scope rules (docs/compatibility.md §1.5, §1.6, §1.13).

mod support;

use std::time::Duration;

use ferrolb_config::{PeerAsn, Scope};
use support::*;

const BASE: &str = "myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1";

fn ebgp(extra: &str) -> String {
    if extra.is_empty() { peer("r", &format!("{{{BASE}}}")) } else { peer("r", &format!("{{{BASE}, {extra}}}")) }
}

#[test]
fn a_minimal_peer_gets_the_defaults() {
    let c = accept(&ebgp(""));
    let p = &c.peers[0];
    assert_eq!(p.port, 179);
    assert_eq!(p.peer_asn, PeerAsn::Fixed(64500));
    assert_eq!((p.hold_time, p.keepalive_time), (None, None));
    assert_eq!(p.nodes.len(), 2);
    assert!(!p.is_ibgp());
}

#[test]
fn the_local_asn_is_required() {
    reject(&peer("r", "{peerASN: 64500, peerAddress: 172.30.0.1}"), "BGPPeer/r", &["spec.myASN", "missing local ASN"]);
}

#[test]
fn exactly_one_of_peer_asn_and_dynamic_asn_is_required() {
    reject(&peer("r", "{myASN: 1, peerAddress: 172.30.0.1}"), "BGPPeer/r", &["missing peer ASN and dynamicASN"]);
    reject(&ebgp("dynamicASN: external"), "BGPPeer/r", &["both peerASN and dynamicASN"]);
    reject(
        &peer("r", "{myASN: 1, dynamicASN: sideways, peerAddress: 172.30.0.1}"),
        "BGPPeer/r",
        &["invalid dynamicASN"],
    );
    let c = accept(&peer("r", "{myASN: 1, dynamicASN: internal, peerAddress: 172.30.0.1}"));
    assert_eq!(c.peers[0].peer_asn, PeerAsn::DynamicInternal);
    assert!(c.peers[0].is_ibgp());
}

#[test]
fn local_asn_replaces_my_asn_towards_the_peer() {
    let c = accept(&peer("r", "{myASN: 64512, localASN: 64500, peerASN: 64500, peerAddress: 172.30.0.1}"));
    assert_eq!(c.peers[0].local_asn, Some(64500));
    assert!(c.peers[0].is_ibgp());
}

#[test]
fn exactly_one_of_peer_address_and_interface_is_required() {
    reject(&peer("r", "{myASN: 1, peerASN: 2}"), "BGPPeer/r", &["no peerAddress or interface"]);
    reject(&ebgp("interface: eth0"), "BGPPeer/r", &["both peerAddress and interface"]);
    let c = accept(&peer("r", "{myASN: 1, peerASN: 2, interface: eth0}"));
    assert_eq!((c.peers[0].address, c.peers[0].interface.as_deref()), (None, Some("eth0")));
    assert_eq!(c.peers[0].target(), "interface eth0");
}

#[test]
fn an_unnumbered_peer_carries_both_families_as_mode_frr_configures_it() {
    let c = accept(&peer("r", "{myASN: 1, peerASN: 2, interface: eth0}"));
    assert!(c.peers[0].carries("10.0.0.1".parse().unwrap()) && c.peers[0].carries("fd00::1".parse().unwrap()));
}

#[test]
fn a_session_carries_its_own_family_unless_dual_stack_is_set() {
    let v4 = accept(&ebgp("")).peers.remove(0);
    assert!(v4.carries("10.0.0.1".parse().unwrap()));
    assert!(!v4.carries("fd00::1".parse().unwrap()));
    let v6 = accept(&peer("r", "{myASN: 1, peerASN: 2, peerAddress: 'fd00:30::1'}")).peers.remove(0);
    assert!(!v6.carries("10.0.0.1".parse().unwrap()));
    let both = accept(&ebgp("dualStackAddressFamily: true")).peers.remove(0);
    assert!(both.carries("10.0.0.1".parse().unwrap()) && both.carries("fd00::1".parse().unwrap()));
}

#[test]
fn addresses_must_parse_and_share_a_family() {
    reject(&peer("r", "{myASN: 1, peerASN: 2, peerAddress: router.local}"), "BGPPeer/r", &["invalid BGPPeer address"]);
    reject(&ebgp("sourceAddress: nowhere"), "BGPPeer/r", &["spec.sourceAddress", "invalid source IP"]);
    reject(&ebgp("sourceAddress: 'fd00::1'"), "BGPPeer/r", &["different address families"]);
    let c = accept(&peer("r", "{myASN: 1, peerASN: 2, peerAddress: 'fd00:30::1', sourceAddress: 'fd00:30::11'}"));
    assert_eq!(c.peers[0].source_address, Some("fd00:30::11".parse().unwrap()));
}

#[test]
fn the_peer_port_must_be_in_range() {
    assert_eq!(accept(&ebgp("peerPort: 1179")).peers[0].port, 1179);
    reject(&ebgp("peerPort: 0"), "BGPPeer/r", &["spec.peerPort", "1-16384"]);
    reject(&ebgp("peerPort: 16385"), "BGPPeer/r", &["spec.peerPort"]);
}

#[test]
fn a_hold_time_alone_implies_a_keepalive_of_a_third() {
    let p = &accept(&ebgp("holdTime: 90s")).peers[0];
    assert_eq!((p.hold_time, p.keepalive_time), (Some(Duration::from_secs(90)), Some(Duration::from_secs(30))));
}

#[test]
fn a_keepalive_alone_implies_a_hold_time_of_three_times() {
    let p = &accept(&ebgp("keepaliveTime: 10s")).peers[0];
    assert_eq!((p.hold_time, p.keepalive_time), (Some(Duration::from_secs(30)), Some(Duration::from_secs(10))));
}

#[test]
fn zero_timers_disable_keepalives() {
    let p = &accept(&ebgp("holdTime: 0s, keepaliveTime: 0s")).peers[0];
    assert_eq!(p.hold_time, Some(Duration::ZERO));
}

#[test]
fn hold_times_under_three_seconds_are_rejected_after_truncation() {
    reject(&ebgp("holdTime: 2s"), "BGPPeer/r", &["spec.holdTime", "must be 0 or >=3s"]);
    reject(&ebgp("holdTime: 2.9s"), "BGPPeer/r", &["must be 0 or >=3s"]);
    assert_eq!(accept(&ebgp("holdTime: 3.7s")).peers[0].hold_time, Some(Duration::from_secs(3)));
}

#[test]
fn hold_times_beyond_the_open_message_field_are_rejected() {
    reject(&ebgp("holdTime: 20h"), "BGPPeer/r", &["at most 65535s"]);
}

#[test]
fn a_keepalive_longer_than_the_hold_time_is_rejected() {
    reject(
        &ebgp("holdTime: 9s, keepaliveTime: 10s"),
        "BGPPeer/r",
        &["spec.keepaliveTime", "must be lower than holdTime"],
    );
}

#[test]
fn malformed_durations_are_rejected() {
    reject(&ebgp("holdTime: ninety"), "BGPPeer/r", &["spec.holdTime", "invalid duration"]);
}

#[test]
fn connect_time_must_be_whole_seconds_in_range() {
    assert_eq!(accept(&ebgp("connectTime: 5s")).peers[0].connect_time, Some(Duration::from_secs(5)));
    reject(&ebgp("connectTime: 1500ms"), "BGPPeer/r", &["spec.connectTime", "whole seconds"]);
    reject(&ebgp("connectTime: 0s"), "BGPPeer/r", &["spec.connectTime"]);
}

#[test]
fn the_router_id_must_be_an_ipv4_address() {
    assert_eq!(accept(&ebgp("routerID: 10.0.0.1")).peers[0].router_id, Some("10.0.0.1".parse().unwrap()));
    reject(&ebgp("routerID: banana"), "BGPPeer/r", &["spec.routerID", "invalid router ID"]);
    reject(&ebgp("routerID: 'fd00::1'"), "BGPPeer/r", &["32 bits"]);
    reject(&ebgp("routerID: 0.0.0.0"), "BGPPeer/r", &["non-zero"]);
}

#[test]
fn ebgp_multihop_is_rejected_for_ibgp_peers() {
    reject(
        &peer("r", "{myASN: 64500, peerASN: 64500, peerAddress: 172.30.0.1, ebgpMultiHop: true}"),
        "BGPPeer/r",
        &["ibgp peer"],
    );
    assert!(accept(&ebgp("ebgpMultiHop: true")).peers[0].ebgp_multi_hop);
}

// ---- passwords -----------------------------------------------------------------------------

fn secret(name: &str, type_: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: metallb-system}}\ntype: {type_}\n{data}\n---\n"
    )
}

#[test]
fn a_plain_password_is_used_and_never_printed() {
    let c = accept(&ebgp("password: s3cret"));
    assert_eq!(c.peers[0].password.as_deref(), Some("s3cret"));
    let json = serde_json::to_string(&c).unwrap();
    assert!(!json.contains("s3cret") && json.contains("\"passwordSet\":true"), "{json}");
}

#[test]
fn a_password_secret_is_resolved_from_data_or_string_data() {
    let from_data = secret("bgp", "kubernetes.io/basic-auth", "data: {password: bWV0YWxsYi1tZDU=}")
        + &ebgp("passwordSecret: {name: bgp}");
    assert_eq!(accept(&from_data).peers[0].password.as_deref(), Some("metallb-md5"));
    let from_string = secret("bgp", "kubernetes.io/basic-auth", "stringData: {password: plain}")
        + &ebgp("passwordSecret: {name: bgp, namespace: metallb-system}");
    assert_eq!(accept(&from_string).peers[0].password.as_deref(), Some("plain"));
}

#[test]
fn password_and_password_secret_are_mutually_exclusive() {
    reject(&ebgp("password: a, passwordSecret: {name: bgp}"), "BGPPeer/r", &["both password and passwordSecret"]);
}

#[test]
fn a_missing_secret_is_a_transient_error() {
    let err = reject(&ebgp("passwordSecret: {name: bgp}"), "BGPPeer/r", &["secret ref not found"]);
    assert!(err.transient);
}

#[test]
fn a_secret_of_the_wrong_type_or_without_a_password_is_rejected() {
    reject(
        &(secret("bgp", "Opaque", "data: {password: YQ==}") + &ebgp("passwordSecret: {name: bgp}")),
        "BGPPeer/r",
        &["secret type mismatch"],
    );
    reject(
        &(secret("bgp", "kubernetes.io/basic-auth", "data: {username: YQ==}") + &ebgp("passwordSecret: {name: bgp}")),
        "BGPPeer/r",
        &["password not specified"],
    );
    reject(
        &(secret("bgp", "kubernetes.io/basic-auth", "data: {password: '***'}") + &ebgp("passwordSecret: {name: bgp}")),
        "BGPPeer/r",
        &["not valid base64"],
    );
}

#[test]
fn secrets_are_read_from_the_metallb_namespace_only() {
    reject(&ebgp("passwordSecret: {name: bgp, namespace: default}"), "BGPPeer/r", &["namespace only"]);
}

#[test]
fn passwords_longer_than_a_tcp_md5_key_are_rejected() {
    reject(&ebgp(&format!("password: {}", "x".repeat(81))), "BGPPeer/r", &["at most 80"]);
}

// ---- FRR-mode fields -------------------------------------------------------------------------

#[test]
fn a_vrf_is_accepted_and_named_with_the_peer() {
    let c = accept(&ebgp("vrf: red"));
    assert_eq!(c.peers[0].vrf.as_deref(), Some("red"));
    assert_eq!(c.peers[0].target(), "172.30.0.1 in VRF red");
}

#[test]
fn the_same_address_is_allowed_once_per_vrf() {
    let two = peer("a", &format!("{{{BASE}, vrf: red}}")) + &peer("b", &format!("{{{BASE}, vrf: blue}}"));
    assert_eq!(accept(&two).peers.len(), 2);
    let plain_and_red = peer("a", &format!("{{{BASE}}}")) + &peer("b", &format!("{{{BASE}, vrf: red}}"));
    assert_eq!(accept(&plain_and_red).peers.len(), 2);
    let twice_red = peer("a", &format!("{{{BASE}, vrf: red}}")) + &peer("b", &format!("{{{BASE}, vrf: red}}"));
    reject(&twice_red, "BGPPeer/b", &["peer 172.30.0.1 in VRF red port 179 is already configured by BGPPeer \"a\""]);
}

#[test]
fn one_unnumbered_session_per_interface() {
    let twice =
        peer("a", "{myASN: 1, peerASN: 2, interface: eth1}") + &peer("b", "{myASN: 1, peerASN: 3, interface: eth1}");
    reject(&twice, "BGPPeer/b", &["spec.interface", "peer interface eth1 port 179 is already configured"]);
    let two =
        peer("a", "{myASN: 1, peerASN: 2, interface: eth1}") + &peer("b", "{myASN: 1, peerASN: 3, interface: eth2}");
    assert_eq!(accept(&two).peers.len(), 2);
}

#[test]
fn graceful_restart_is_carried_to_the_peer() {
    assert!(accept(&ebgp("enableGracefulRestart: true")).peers[0].graceful_restart);
    assert!(!accept(&ebgp("")).peers[0].graceful_restart);
}

#[test]
fn disable_mp_is_accepted_with_a_deprecation_warning() {
    let c = accept(&ebgp("disableMP: true"));
    assert!(c.warnings.iter().any(|w| w.contains("BGPPeer/r: spec.disableMP is deprecated")), "{:?}", c.warnings);
}

// ---- BFD profiles --------------------------------------------------------------------------

#[test]
fn a_bfd_profile_gets_protocol_defaults() {
    let c = accept(&object("BFDProfile", "fast", "{receiveInterval: 100}"));
    let p = &c.bfd_profiles[0];
    assert_eq!((p.receive_interval, p.transmit_interval, p.detect_multiplier, p.minimum_ttl), (100, 300, 3, 254));
}

#[test]
fn bfd_profile_values_out_of_range_are_rejected() {
    for (field, value, range) in [
        ("receiveInterval", 9, "10-60000"),
        ("transmitInterval", 60001, "10-60000"),
        ("detectMultiplier", 1, "2-255"),
        ("echoInterval", 5, "10-60000"),
        ("minimumTtl", 255, "1-254"),
    ] {
        reject(
            &object("BFDProfile", "p", &format!("{{{field}: {value}}}")),
            "BFDProfile/p",
            &[&format!("spec.{field}"), range],
        );
    }
}

#[test]
fn bfd_echo_mode_is_accepted() {
    let c = accept(&object("BFDProfile", "p", "{echoMode: true, echoInterval: 20}"));
    assert!(c.bfd_profiles[0].echo_mode);
    assert_eq!(c.bfd_profiles[0].echo_interval, 20);
}

#[test]
fn a_pool_with_ipv6_may_not_be_advertised_to_a_peer_with_bfd_echo() {
    let echo = object("BFDProfile", "echo", "{echoMode: true}") + &ebgp("bfdProfile: echo");
    let dual = pool("p", &["10.0.0.0/24", "fd00:50::/64"]);
    reject(
        &(echo.clone() + &dual + &bgp_ad("all", "{ipAddressPools: [p]}")),
        "BGPAdvertisement/all",
        &["pool p has bgpadvertisement all which references peer r which has bfd echo enabled, which is not possible"],
    );
    reject(
        &(echo.clone() + &dual + &bgp_ad("named", "{ipAddressPools: [p], peers: [r]}")),
        "BGPAdvertisement/named",
        &["peer r"],
    );
    // to other peers only, or an IPv4-only pool: fine
    let other = peer("other", "{myASN: 64512, peerASN: 64501, peerAddress: 172.30.0.2}");
    accept(&(echo.clone() + &other + &dual + &bgp_ad("elsewhere", "{ipAddressPools: [p], peers: [other]}")));
    accept(&(echo + &pool("p", &["10.0.0.0/24"]) + &bgp_ad("all", "{ipAddressPools: [p]}")));
}

#[test]
fn a_peer_must_reference_an_existing_bfd_profile() {
    reject(&ebgp("bfdProfile: ghost"), "BGPPeer/r", &["referencing non existing bfd profile ghost"]);
    let c = accept(&(object("BFDProfile", "fast", "{}") + &ebgp("bfdProfile: fast")));
    assert_eq!(c.peers[0].bfd_profile.as_deref(), Some("fast"));
}

// ---- sessions, scopes ----------------------------------------------------------------------

#[test]
fn two_peers_for_the_same_session_on_one_node_are_rejected() {
    let yaml = ebgp("") + &peer("s", &format!("{{{BASE}, nodeSelectors: [{{matchLabels: {{rack: a}}}}]}}"));
    reject(&yaml, "BGPPeer/s", &["already configured by BGPPeer \"r\"", "node1"]);
}

#[test]
fn the_same_router_may_be_peered_from_disjoint_nodes_or_another_port() {
    accept(
        &(peer("r", &format!("{{{BASE}, nodeSelectors: [{{matchLabels: {{rack: a}}}}]}}"))
            + &peer("s", &format!("{{{BASE}, nodeSelectors: [{{matchLabels: {{rack: b}}}}]}}"))
            + &peer("t", &format!("{{{BASE}, peerPort: 1179}}"))),
    );
}

#[test]
fn without_node_objects_only_selectors_that_surely_meet_collide() {
    let rack =
        |name: &str, r: &str| peer(name, &format!("{{{BASE}, nodeSelectors: [{{matchLabels: {{rack: {r}}}}}]}}"));
    // the same gateway address in every rack: the nodes cannot be compared, so it is accepted
    let per_rack = rack("r", "a") + &rack("s", "b");
    let c = parse_without_nodes(&per_rack).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.peers.len(), 2);
    // one of them on every node, or the same selector twice: they meet wherever it matches
    for (yaml, on) in
        [(ebgp("") + &rack("s", "a"), "the same nodes"), (rack("r", "a") + &rack("s", "a"), "the same nodes")]
    {
        let err = parse_without_nodes(&yaml).unwrap_err().to_string();
        assert!(
            err.starts_with("BGPPeer/s: ") && err.contains("already configured by BGPPeer \"r\"") && err.contains(on),
            "{err}"
        );
    }
    // with the Node objects the rule is node by node: racks a and b do not meet
    accept(&per_rack);
}

#[test]
fn v1beta1_peers_are_validated_like_v1beta2() {
    let yaml = "apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: old}\nspec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1, nodeSelectors: [{matchLabels: {rack: a}}]}\n";
    let c = accept(yaml);
    assert_eq!(c.peers[0].nodes.iter().map(String::as_str).collect::<Vec<_>>(), ["node1"]);
    assert_eq!(c.peers[0].hold_time, None);
}

#[test]
fn the_controller_scope_ignores_peers_and_advertisements() {
    let yaml = pool("p", &["10.0.0.0/24"]) + &peer("bad", "{myASN: 0}") + &bgp_ad("ad", "{aggregationLength: 99}");
    let c = parse_scoped(&yaml, Scope::Controller).unwrap();
    assert!(c.peers.is_empty());
    assert!(c.pools[0].bgp_advertisements.is_empty());
    assert!(parse(&yaml).is_err());
}

#[test]
fn a_speaker_ignores_peers_that_target_other_nodes() {
    let yaml = ebgp("")
        + &peer("bad", "{myASN: 0, peerASN: 1, peerAddress: 172.30.0.9, nodeSelectors: [{matchLabels: {rack: b}}]}");
    let c = parse_scoped(&yaml, Scope::Speaker { node: "node1".into() }).unwrap();
    assert_eq!(c.peers.len(), 1);
    assert!(parse_scoped(&yaml, Scope::Speaker { node: "node2".into() }).is_err());
}
