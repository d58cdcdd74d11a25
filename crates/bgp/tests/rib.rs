//! The Adj-RIB-Out: what each session sends for a desired table, checked by decoding the
//! UPDATEs into a simulated peer RIB.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ferrolb_bgp::{
    AdjRibOut, AfiSafi, AsPath, Community, DecodeContext, ExportPolicy, HeldBack, HoldCause, InterfaceNextHops,
    LargeCommunity, Message, MpNextHop, Negotiated, Open, PathAttributes, RouteAttrs, Update,
};
use ipnet::IpNet;
use proptest::prelude::*;

const LOCAL_AS: u32 = 64512;

fn negotiated(local: &str, internal: bool, four_octet_as: bool, families: &[AfiSafi]) -> Negotiated {
    let local: SocketAddr = local.parse().unwrap();
    let remote = SocketAddr::new(local.ip(), 179);
    let peer_asn = if internal { LOCAL_AS } else { 64500 };
    Negotiated {
        local,
        remote,
        local_asn: LOCAL_AS,
        peer_asn,
        peer_id: Ipv4Addr::new(10, 0, 0, 254),
        internal,
        hold_time: Some(Duration::from_secs(90)),
        keepalive_interval: Some(Duration::from_secs(30)),
        four_octet_as,
        families: families.to_vec(),
        route_refresh: true,
        graceful_restart: false,
        extended_next_hop: false,
        peer_open: Open::new(peer_asn, 90, Ipv4Addr::new(10, 0, 0, 254), vec![]),
    }
}

const BOTH: &[AfiSafi] = &[AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];

/// eBGP over IPv4 from 172.30.0.11 with a configured IPv6 next hop.
fn ebgp_v4() -> ExportPolicy {
    ExportPolicy::new(
        &negotiated("172.30.0.11:40000", false, true, BOTH),
        None,
        Some("fd00:30::11".parse().unwrap()),
        None,
    )
}

fn ibgp_v4() -> ExportPolicy {
    ExportPolicy::new(&negotiated("172.30.0.12:40000", true, true, BOTH), None, None, None)
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn table(entries: &[(&str, RouteAttrs)]) -> BTreeMap<IpNet, RouteAttrs> {
    entries.iter().map(|(p, a)| (net(p), a.clone())).collect()
}

fn plain() -> RouteAttrs {
    RouteAttrs::default()
}

fn decode_all(messages: &[Vec<u8>], four_octet_as: bool) -> Vec<Update> {
    messages
        .iter()
        .map(|m| {
            assert!(m.len() <= 4096);
            match ferrolb_bgp::decode(m, &DecodeContext { four_octet_as }) {
                Ok(Message::Update(u)) => u,
                other => panic!("not an UPDATE: {other:?}"),
            }
        })
        .collect()
}

/// The peer's view: prefix -> attributes of the UPDATE that last announced it.
#[derive(Debug, Default)]
struct PeerRib {
    routes: BTreeMap<IpNet, PathAttributes>,
    end_of_rib: Vec<AfiSafi>,
}

impl PeerRib {
    fn apply(&mut self, messages: &[Vec<u8>], four_octet_as: bool) {
        for u in decode_all(messages, four_octet_as) {
            if let Some(f) = u.end_of_rib_family() {
                self.end_of_rib.push(f);
                continue;
            }
            for p in u.withdrawals() {
                assert!(self.routes.remove(&p).is_some(), "withdrawal of {p}, which the peer does not hold");
            }
            let attrs = PathAttributes { mp_reach: None, mp_unreach: None, ..u.attributes.clone() };
            for p in u.announced() {
                self.routes.insert(p, attrs.clone());
            }
        }
    }
}

#[test]
fn the_full_table_goes_out_on_establishment_followed_by_end_of_rib_per_family() {
    let mut rib = AdjRibOut::new();
    assert!(rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())])).is_empty());
    assert_eq!(rib.pending(), 2);
    let messages = rib.session_up(ebgp_v4());
    let updates = decode_all(&messages, true);
    assert_eq!(updates.len(), 4);
    assert_eq!(updates[0].announced().collect::<Vec<_>>(), [net("10.0.0.1/32")]);
    assert_eq!(updates[1].announced().collect::<Vec<_>>(), [net("fd00:1::1/128")]);
    assert_eq!(updates[2].end_of_rib_family(), Some(AfiSafi::IPV4_UNICAST));
    assert_eq!(updates[3].end_of_rib_family(), Some(AfiSafi::IPV6_UNICAST));
    assert_eq!((rib.announced(), rib.pending()), (2, 0));
}

#[test]
fn an_empty_table_still_sends_end_of_rib() {
    let mut rib = AdjRibOut::new();
    assert!(rib.set_desired(BTreeMap::new()).is_empty(), "down: nothing to send");
    let updates = decode_all(&rib.session_up(ebgp_v4()), true);
    assert_eq!(updates, [Update::end_of_rib(AfiSafi::IPV4_UNICAST), Update::end_of_rib(AfiSafi::IPV6_UNICAST)]);
}

/// A session may come up before its owner has computed the table (a speaker restarting
/// with graceful restart): End-of-RIB then would make the router flush the routes it kept
/// for us, so it waits for the table and follows it.
#[test]
fn end_of_rib_waits_for_the_first_table() {
    let mut rib = AdjRibOut::new();
    assert!(rib.session_up(ebgp_v4()).is_empty(), "no table yet: nothing, not even End-of-RIB");
    let updates = decode_all(&rib.set_desired(table(&[("10.0.0.1/32", plain())])), true);
    assert_eq!(updates.len(), 3, "{updates:?}");
    assert_eq!(updates[0].end_of_rib_family(), None, "the route first");
    assert_eq!(updates[1].end_of_rib_family(), Some(AfiSafi::IPV4_UNICAST));
    assert_eq!(updates[2].end_of_rib_family(), Some(AfiSafi::IPV6_UNICAST));
    // Owed once per session: later tables are plain updates.
    let later = decode_all(&rib.set_desired(table(&[("10.0.0.2/32", plain())])), true);
    assert!(later.iter().all(|u| u.end_of_rib_family().is_none()), "{later:?}");
    // A new session owes it again, and the table is known now: it goes out at once.
    rib.session_down();
    let again = decode_all(&rib.session_up(ebgp_v4()), true);
    assert_eq!(again.iter().filter(|u| u.end_of_rib_family().is_some()).count(), 2);
}

#[test]
fn a_change_sends_only_the_difference() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("10.0.0.2/32", plain())]));
    rib.session_up(ebgp_v4());

    let added = decode_all(
        &rib.set_desired(table(&[("10.0.0.1/32", plain()), ("10.0.0.2/32", plain()), ("10.0.0.3/32", plain())])),
        true,
    );
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].announced().collect::<Vec<_>>(), [net("10.0.0.3/32")]);
    assert_eq!(added[0].withdrawals().count(), 0);

    let removed = decode_all(&rib.set_desired(table(&[("10.0.0.3/32", plain())])), true);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].withdrawals().collect::<Vec<_>>(), [net("10.0.0.1/32"), net("10.0.0.2/32")]);
    assert_eq!(removed[0].announced().count(), 0);

    assert!(rib.set_desired(table(&[("10.0.0.3/32", plain())])).is_empty(), "no change, nothing sent");
}

#[test]
fn a_changed_attribute_reannounces_that_prefix_only() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("10.0.0.2/32", plain())]));
    rib.session_up(ebgp_v4());
    let tagged = RouteAttrs { communities: vec![0xfde8_0064], ..plain() };
    let updates = decode_all(&rib.set_desired(table(&[("10.0.0.1/32", plain()), ("10.0.0.2/32", tagged)])), true);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].announced().collect::<Vec<_>>(), [net("10.0.0.2/32")]);
    assert_eq!(updates[0].attributes.communities, [Community(0xfde8_0064)]);
}

#[test]
fn prefixes_with_equal_attributes_share_updates() {
    let mut rib = AdjRibOut::new();
    let a = RouteAttrs { communities: vec![1], ..plain() };
    let b = RouteAttrs { communities: vec![2], ..plain() };
    let mut desired = BTreeMap::new();
    for i in 0..500u32 {
        let p = IpNet::new(Ipv4Addr::from(0x0a00_0000 + i).into(), 32).unwrap();
        desired.insert(p, if i % 2 == 0 { a.clone() } else { b.clone() });
    }
    rib.set_desired(desired);
    let updates = decode_all(&rib.session_up(ebgp_v4()), true);
    // One UPDATE per attribute set, then End-of-RIB for both families.
    assert_eq!(updates.len(), 4);
    assert_eq!(updates[0].announced().count(), 250);
}

#[test]
fn ebgp_routes_carry_our_as_and_no_local_pref() {
    let mut rib = AdjRibOut::new();
    let attrs = RouteAttrs { local_pref: 200, communities: vec![0xfde8_0064], large_communities: vec![(1, 2, 3)] };
    rib.set_desired(table(&[("10.0.0.1/32", attrs)]));
    let u = &decode_all(&rib.session_up(ebgp_v4()), true)[0];
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([LOCAL_AS])));
    assert_eq!(u.attributes.local_pref, None);
    assert_eq!(u.attributes.next_hop, Some(Ipv4Addr::new(172, 30, 0, 11)));
    assert_eq!(u.attributes.origin, Some(ferrolb_bgp::Origin::Igp));
    assert_eq!(u.attributes.communities, [Community(0xfde8_0064)]);
    assert_eq!(u.attributes.large_communities, [LargeCommunity::new(1, 2, 3)]);
}

#[test]
fn ibgp_routes_carry_an_empty_as_path_and_local_pref_defaulting_to_100() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", RouteAttrs { local_pref: 200, ..plain() }), ("10.0.0.2/32", plain())]));
    let updates = decode_all(&rib.session_up(ibgp_v4()), true);
    assert_eq!(updates[0].attributes.as_path, Some(AsPath::default()));
    let lp: BTreeMap<IpNet, Option<u32>> =
        updates[..2].iter().flat_map(|u| u.announced().map(|p| (p, u.attributes.local_pref))).collect();
    assert_eq!(lp[&net("10.0.0.1/32")], Some(200));
    assert_eq!(lp[&net("10.0.0.2/32")], Some(100));
}

#[test]
fn a_four_octet_as_towards_a_two_octet_peer_goes_as_as_trans_plus_as4_path() {
    let mut n = negotiated("172.30.0.11:40000", false, false, BOTH);
    n.local_asn = 4_200_000_000;
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain())]));
    let u = &decode_all(&rib.session_up(ExportPolicy::new(&n, None, None, None)), false)[0];
    assert_eq!(u.attributes.as_path, Some(AsPath::sequence([23456])));
    let as4 = u.attributes.unknown.iter().find(|a| a.type_code == 17).expect("AS4_PATH");
    assert_eq!(as4.value, [2, 1, 0xfa, 0x56, 0xea, 0x00]);
}

#[test]
fn ipv6_routes_over_an_ipv4_session_without_a_configured_next_hop_are_held_back_with_a_reason() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    let updates = decode_all(&rib.session_up(ibgp_v4()), true);
    assert!(updates.iter().all(|u| u.attributes.mp_reach.is_none()), "no IPv6 route without a real next hop");
    assert_eq!((rib.announced(), rib.pending()), (1, 1));
    assert_eq!(
        rib.held_back(),
        [
            "1 ipv6-unicast prefixes not sent: no global IPv6 next hop: the session runs over IPv4, no IPv6 next hop is configured and its interface has no global IPv6 address"
        ]
    );
    let held = [HeldBack { family: AfiSafi::IPV6_UNICAST, cause: HoldCause::NoNextHop, prefixes: 1 }];
    assert_eq!(rib.held_back_families(), held);
    // more of that family desired: counted; none left: nothing held back
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain()), ("fd00:1::2/128", plain())]));
    assert_eq!(rib.held_back_families()[0].prefixes, 2);
    rib.set_desired(table(&[("10.0.0.1/32", plain())]));
    assert_eq!(rib.held_back_families(), []);
    // while the session is down nothing is known of what it will hold back
    rib.set_desired(table(&[("fd00:1::1/128", plain())]));
    rib.session_down();
    assert_eq!(rib.held_back_families(), []);
}

#[test]
fn ipv6_routes_over_an_ipv4_session_use_the_configured_global_next_hop() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("fd00:1::1/128", plain())]));
    let updates = decode_all(&rib.session_up(ebgp_v4()), true);
    let reach = updates[0].attributes.mp_reach.as_ref().unwrap();
    assert_eq!(reach.next_hop, MpNextHop::V6 { global: "fd00:30::11".parse().unwrap(), link_local: None });
    assert_eq!(updates[0].attributes.next_hop, None);
}

#[test]
fn an_ipv4_mapped_next_hop_is_never_used() {
    let policy = ExportPolicy::new(
        &negotiated("172.30.0.11:40000", false, true, BOTH),
        None,
        Some("::ffff:172.30.0.11".parse().unwrap()),
        None,
    );
    assert_eq!(policy.ipv6_next_hop, None);
    assert!(policy.held_back(AfiSafi::IPV6_UNICAST).is_some());
}

#[test]
fn over_an_ipv6_session_the_local_address_is_the_ipv6_next_hop_plus_the_link_local_one() {
    let ll: Ipv6Addr = "fe80::11".parse().unwrap();
    let n = negotiated("[fd00:30::11]:40000", false, true, BOTH);
    let policy = ExportPolicy::new(&n, Some(Ipv4Addr::new(172, 30, 0, 11)), None, Some(ll));
    assert_eq!(
        policy.ipv6_next_hop,
        Some(MpNextHop::V6 { global: "fd00:30::11".parse().unwrap(), link_local: Some(ll) })
    );
    assert_eq!(policy.ipv4_next_hop, Some(Ipv4Addr::new(172, 30, 0, 11)));

    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    let updates = decode_all(&rib.session_up(policy), true);
    assert_eq!(updates[0].attributes.next_hop, Some(Ipv4Addr::new(172, 30, 0, 11)));
    assert_eq!(updates[1].attributes.mp_reach.as_ref().unwrap().next_hop.encoded_len(), 32);
}

#[test]
fn ipv4_routes_over_an_ipv6_session_without_a_configured_next_hop_are_held_back() {
    let policy = ExportPolicy::new(&negotiated("[fd00:30::11]:40000", false, true, BOTH), None, None, None);
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    rib.session_up(policy);
    assert_eq!((rib.announced(), rib.pending()), (1, 1));
    assert_eq!(rib.held_back().len(), 1);
}

#[test]
fn a_link_local_session_address_is_the_link_local_next_hop_alone_or_after_a_global_one() {
    let n = negotiated("[fe80::11]:40000", false, true, BOTH);
    assert_eq!(
        ExportPolicy::new(&n, None, None, None).ipv6_next_hop,
        Some(MpNextHop::V6 { global: "fe80::11".parse().unwrap(), link_local: None }),
        "no global address: the link-local alone, 16 octets, as FRR sends it on an unnumbered link"
    );
    let global: Ipv6Addr = "fd00:30::11".parse().unwrap();
    assert_eq!(
        ExportPolicy::new(&n, None, Some(global), None).ipv6_next_hop,
        Some(MpNextHop::V6 { global, link_local: Some("fe80::11".parse().unwrap()) })
    );
}

#[test]
fn only_negotiated_families_are_sent() {
    let policy = ExportPolicy::new(
        &negotiated("172.30.0.11:40000", false, true, &[AfiSafi::IPV4_UNICAST]),
        None,
        Some("fd00::1".parse().unwrap()),
        None,
    );
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    let updates = decode_all(&rib.session_up(policy), true);
    assert_eq!(updates.len(), 2, "one announcement, End-of-RIB for IPv4 only");
    assert_eq!(updates[1].end_of_rib_family(), Some(AfiSafi::IPV4_UNICAST));
    assert_eq!(rib.held_back(), ["1 ipv6-unicast prefixes not sent: IPv6 unicast was not negotiated with the peer"]);
}

#[test]
fn a_route_refresh_resends_the_family_and_nothing_else() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    rib.session_up(ebgp_v4());
    let updates = decode_all(&rib.refresh(AfiSafi::IPV6_UNICAST), true);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].announced().collect::<Vec<_>>(), [net("fd00:1::1/128")]);
}

#[test]
fn a_session_going_down_leaves_everything_pending_and_the_next_one_gets_the_full_table() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain())]));
    rib.session_up(ebgp_v4());
    rib.session_down();
    assert_eq!((rib.announced(), rib.pending()), (0, 1));
    assert!(rib.set_desired(table(&[("10.0.0.1/32", plain()), ("10.0.0.2/32", plain())])).is_empty());
    let updates = decode_all(&rib.session_up(ebgp_v4()), true);
    assert_eq!(updates[0].announced().count(), 2);
}

#[test]
fn host_bits_are_cleared_from_desired_prefixes() {
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.77/24", plain())]));
    let updates = decode_all(&rib.session_up(ebgp_v4()), true);
    assert_eq!(updates[0].announced().collect::<Vec<_>>(), [net("10.0.0.0/24")]);
}

fn arb_attrs() -> impl Strategy<Value = RouteAttrs> {
    (
        prop_oneof![Just(0u32), Just(100), Just(200)],
        prop::collection::vec(prop_oneof![Just(1u32), Just(2), Just(0xfde8_0064)], 0..3),
        prop::collection::vec(prop_oneof![Just((1u32, 2u32, 3u32)), Just((4, 5, 6))], 0..2),
    )
        .prop_map(|(local_pref, communities, large_communities)| RouteAttrs {
            local_pref,
            communities,
            large_communities,
        })
}

fn arb_prefix() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (0u32..64, prop_oneof![Just(32u8), Just(24), Just(30)]).prop_map(|(i, len)| IpNet::new(
            Ipv4Addr::from(0x0a00_0000 + (i << 8)).into(),
            len
        )
        .unwrap()
        .trunc()),
        (0u128..32, prop_oneof![Just(128u8), Just(64)]).prop_map(|(i, len)| IpNet::new(
            Ipv6Addr::from((0xfd00u128 << 112) + (i << 64)).into(),
            len
        )
        .unwrap()
        .trunc()),
    ]
}

fn arb_table() -> impl Strategy<Value = BTreeMap<IpNet, RouteAttrs>> {
    prop::collection::btree_map(arb_prefix(), arb_attrs(), 0..40)
}

/// What the peer should hold for `desired` on a session with `policy`.
fn expected(policy: &ExportPolicy, desired: &BTreeMap<IpNet, RouteAttrs>) -> BTreeMap<IpNet, PathAttributes> {
    desired
        .iter()
        .map(|(p, a)| {
            let mut attrs = policy.path_attributes(a);
            if matches!(p, IpNet::V6(_)) {
                attrs.next_hop = None;
            }
            (*p, attrs)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever sequence of tables the speaker sets, with sessions dropping and coming
    /// back in between, the peer ends up holding exactly the last one with the right
    /// attributes.
    #[test]
    fn the_peer_ends_up_holding_exactly_the_last_desired_table(
        steps in prop::collection::vec((arb_table(), prop::bool::weighted(0.15)), 1..8),
        internal in any::<bool>(),
        four_octet_as in any::<bool>(),
    ) {
        let policy = ExportPolicy::new(
            &negotiated("172.30.0.11:40000", internal, four_octet_as, BOTH),
            None,
            Some("fd00:30::11".parse().unwrap()),
            None,
        );
        let mut rib = AdjRibOut::new();
        let mut peer = PeerRib::default();
        peer.apply(&rib.session_up(policy.clone()), four_octet_as);
        // No table yet: no End-of-RIB either (it follows the first table).
        prop_assert!(peer.end_of_rib.is_empty());
        for (desired, reconnect) in &steps {
            if *reconnect {
                rib.session_down();
                peer = PeerRib::default();
                peer.apply(&rib.set_desired(desired.clone()), four_octet_as);
                peer.apply(&rib.session_up(policy.clone()), four_octet_as);
            } else {
                peer.apply(&rib.set_desired(desired.clone()), four_octet_as);
            }
            prop_assert_eq!(&peer.routes, &expected(&policy, desired));
            prop_assert_eq!(&peer.end_of_rib, &[AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST], "once per session");
            prop_assert_eq!(rib.announced(), desired.len());
            prop_assert_eq!(rib.pending(), 0);
        }
    }
}

/// RFC 4724 §4.1, restarting speaker: after a restart (a fresh Adj-RIB-Out) and after a
/// session flap, with graceful restart negotiated, the peer gets the whole table and only
/// then one End-of-RIB per negotiated family, so it can drop whatever stale routes of ours
/// it kept and were not re-sent.
#[test]
fn with_graceful_restart_negotiated_end_of_rib_follows_the_full_table_for_each_family() {
    let v4: Vec<String> = (0..1500).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect();
    let v6: Vec<String> = (0..600).map(|i| format!("fd00:{i:x}::/64")).collect();
    let desired: BTreeMap<IpNet, RouteAttrs> = v4.iter().chain(&v6).map(|p| (net(p), plain())).collect();
    let families: [&[AfiSafi]; 3] = [BOTH, &[AfiSafi::IPV4_UNICAST], &[AfiSafi::IPV6_UNICAST]];
    for families in families {
        let mut n = negotiated("172.30.0.11:40000", false, true, families);
        n.graceful_restart = true;
        let policy = ExportPolicy::new(&n, None, Some("fd00:30::11".parse().unwrap()), None);
        let mut rib = AdjRibOut::new();
        rib.set_desired(desired.clone());
        for round in ["after the restart", "after a session flap"] {
            let updates = decode_all(&rib.session_up(policy.clone()), true);
            let first_eor = updates.iter().position(|u| u.end_of_rib_family().is_some()).unwrap();
            let (table, markers) = updates.split_at(first_eor);
            let markers: Vec<_> = markers.iter().map(|u| u.end_of_rib_family()).collect();
            let want: Vec<_> = families.iter().map(|&f| Some(f)).collect();
            assert_eq!(markers, want, "{families:?} {round}: one End-of-RIB per family, after the table");
            let announced: usize = table.iter().map(|u| u.announced().count()).sum();
            let expected = families.iter().map(|&f| if f == AfiSafi::IPV4_UNICAST { 1500 } else { 600 }).sum();
            assert_eq!(announced, expected, "{families:?} {round}: the whole table first");
            assert!(table.len() >= 2 * families.len(), "several UPDATEs per family before its marker");
            rib.session_down();
        }
    }
}

#[test]
fn an_interface_offers_its_first_ipv4_its_first_global_ipv6_and_its_link_local_address_as_next_hops() {
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let table: [(&[&str], InterfaceNextHops); 4] = [
        (&[], InterfaceNextHops::default()),
        (
            &["172.30.0.11", "fe80::11", "fd00:30::11", "2001:db8::11", "172.30.0.99"],
            InterfaceNextHops {
                ipv4: Some(Ipv4Addr::new(172, 30, 0, 11)),
                ipv6_global: Some("fd00:30::11".parse().unwrap()),
                ipv6_link_local: Some("fe80::11".parse().unwrap()),
            },
        ),
        // loopback: nothing a router could forward to
        (&["127.0.0.1", "::1"], InterfaceNextHops::default()),
        // an IPv4-mapped or multicast address is never a global next hop
        (
            &["::ffff:172.30.0.11", "ff02::1", "fe80::1"],
            InterfaceNextHops { ipv6_link_local: Some("fe80::1".parse().unwrap()), ..InterfaceNextHops::default() },
        ),
    ];
    for (addresses, expected) in table {
        let addresses: Vec<IpAddr> = addresses.iter().map(|a| ip(a)).collect();
        assert_eq!(InterfaceNextHops::from_addresses(&addresses), expected, "{addresses:?}");
    }
}

#[test]
fn a_session_that_negotiated_only_ipv4_holds_ipv6_routes_back_whatever_next_hop_it_has() {
    let n = negotiated("172.30.0.11:40000", false, true, &[AfiSafi::IPV4_UNICAST]);
    let policy = ExportPolicy::new(&n, None, Some("fd00:30::11".parse().unwrap()), None);
    let mut rib = AdjRibOut::new();
    rib.set_desired(table(&[("10.0.0.1/32", plain()), ("fd00:1::1/128", plain())]));
    let updates = decode_all(&rib.session_up(policy), true);
    assert!(updates.iter().all(|u| u.attributes.mp_reach.is_none()));
    assert_eq!(rib.held_back(), ["1 ipv6-unicast prefixes not sent: IPv6 unicast was not negotiated with the peer"]);
}
