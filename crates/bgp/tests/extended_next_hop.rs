//! RFC 8950 Extended Next Hop Encoding, as BGP unnumbered needs it: the capability (code 5)
//! on the wire and in negotiation, IPv4 routes in MP_REACH_NLRI with a 16- or 32-octet IPv6
//! next hop and withdrawn in MP_UNREACH_NLRI, checked with our decoder, against hex written
//! from the RFC, and with zettabgp as an independent reader of the NLRI.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use common::*;
use ferrolb_bgp::{
    AdjRibOut, AfiSafi, AsPath, Capability, ExportPolicy, ExtendedNextHop, Message, MpNextHop, Negotiated, Open,
    Origin, PathAttributes, RouteAttrs, Update, UpdatePacker, decode,
};
use ferrolb_testkit::bgp::metallb_open;
use ferrolb_testkit::hex::hex as unhex;
use ipnet::IpNet;
use zettabgp::prelude::*;

fn ll(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn packer(next_hop: MpNextHop) -> UpdatePacker {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        ..PathAttributes::default()
    };
    UpdatePacker::new(attributes, Some(next_hop), ENC4).with_ipv4_extended_next_hop(next_hop)
}

fn prefixes(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|p| p.parse().unwrap()).collect()
}

fn one_update(wire: &[u8]) -> Update {
    match decode(wire, &FOUR).unwrap() {
        Message::Update(u) => u,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_capability_encodes_as_rfc_8950_section_3_lays_it_out_and_decodes_back() {
    let cap = Capability::ExtendedNextHop(vec![ExtendedNextHop::IPV4_UNICAST_OVER_IPV6]);
    let mut out = Vec::new();
    cap.encode(&mut out).unwrap();
    assert_eq!(out, unhex("05 06 0001 0001 0002"), "code 5, length 6, AFI 1 / SAFI 1 (two octets) / next-hop AFI 2");
    let open = Open::new(64512, 90, Ipv4Addr::new(10, 0, 0, 1), vec![cap.clone()]);
    let Message::Open(back) = decode(&encode(&Message::Open(open), &ENC4), &FOUR).unwrap() else { panic!() };
    assert_eq!(back.capabilities, [cap]);
    assert!(back.supports_extended_next_hop(ExtendedNextHop::IPV4_UNICAST_OVER_IPV6));
}

#[test]
fn a_capability_that_is_not_whole_six_octet_tuples_is_a_malformed_open() {
    for value in ["", "0001 0001 00", "0001 0001 0002 0002"] {
        let bytes = unhex(value);
        let caps = [vec![5, bytes.len() as u8], bytes].concat();
        let params = [vec![2, caps.len() as u8], caps].concat();
        let body = [unhex("04 fc00 005a 0a000001"), vec![params.len() as u8], params].concat();
        let mut wire = unhex(MARKER);
        wire.extend(((19 + body.len()) as u16).to_be_bytes());
        wire.push(1);
        wire.extend(body);
        assert!(decode(&wire, &FOUR).is_err(), "value {value:?} accepted");
    }
}

#[test]
fn zettabgp_reads_an_open_carrying_the_capability_with_the_others_intact() {
    let mut open = metallb_open(64512);
    open.capabilities.push(Capability::ExtendedNextHop(vec![ExtendedNextHop::IPV4_UNICAST_OVER_IPV6]));
    let wire = encode(&Message::Open(open), &ENC4);
    let params = BgpSessionParams::new(64512, 90, BgpTransportMode::IPv6, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    let (kind, len) = params.decode_message_head(&wire).unwrap();
    assert_eq!((kind, 19 + len), (BgpMessageType::Open, wire.len()));
    let mut z = BgpOpenMessage::new();
    z.decode_from(&params, &wire[19..]).expect("zettabgp decodes the OPEN");
    assert!(z.caps.contains(&BgpCapability::SafiIPv4u) && z.caps.contains(&BgpCapability::CapASN32(64512)));
}

#[test]
fn ipv4_routes_go_in_mp_reach_with_a_link_local_next_hop_alone_in_16_octets() {
    let next_hop = MpNextHop::V6 { global: ll("fe80::11"), link_local: None };
    let wire = packer(next_hop).announce(&prefixes(&["10.50.0.7/32", "10.50.0.0/24"])).unwrap();
    assert_eq!(wire.len(), 1);
    let hex_expected = unhex("800e 1e 0001 01 10 fe800000000000000000000000000011 00 18 0a3200 20 0a320007");
    assert!(
        wire[0].windows(hex_expected.len()).any(|w| w == hex_expected),
        "MP_REACH_NLRI as RFC 8950 §4: {:02x?}",
        wire[0]
    );
    let u = one_update(&wire[0]);
    assert!(u.nlri.is_empty() && u.attributes.next_hop.is_none(), "no IPv4 NLRI field, no NEXT_HOP");
    let reach = u.attributes.mp_reach.unwrap();
    assert_eq!((reach.family, reach.next_hop), (AfiSafi::IPV4_UNICAST, next_hop));
    assert_eq!(reach.nlri, prefixes(&["10.50.0.0/24", "10.50.0.7/32"]));
}

#[test]
fn ipv4_routes_go_with_the_global_and_link_local_next_hop_in_32_octets_and_zettabgp_reads_the_nlri() {
    let next_hop = MpNextHop::V6 { global: ll("fd00:31::11"), link_local: Some(ll("fe80::11")) };
    let p = packer(next_hop);
    let wire = p.announce(&prefixes(&["10.50.0.7/32", "203.0.113.0/24"])).unwrap();
    let u = one_update(&wire[0]);
    assert_eq!(u.attributes.mp_reach.as_ref().unwrap().next_hop, next_hop);
    let params = BgpSessionParams::new(64512, 90, BgpTransportMode::IPv6, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    let (_, len) = params.decode_message_head(&wire[0]).unwrap();
    let mut z = BgpUpdateMessage::new();
    z.decode_from(&params, &wire[0][19..19 + len]).expect("zettabgp decodes the UPDATE");
    let mp = z.get_mpupdates().expect("MP_REACH_NLRI");
    let BgpAddrs::IPV4U(nlri) = &mp.addrs else { panic!("IPv4 unicast NLRI expected: {:?}", mp.addrs) };
    let got: Vec<String> = nlri.iter().map(|a| format!("{}/{}", a.addr, a.prefixlen)).collect();
    assert_eq!(got, ["10.50.0.7/32", "203.0.113.0/24"], "the 32-octet next hop was skipped by its length");

    let withdraw = p.withdraw(&prefixes(&["10.50.0.7/32"])).unwrap();
    let u = one_update(&withdraw[0]);
    assert!(u.withdrawn.is_empty(), "not in the Withdrawn Routes field");
    let gone = u.attributes.mp_unreach.unwrap();
    assert_eq!((gone.family, gone.withdrawn), (AfiSafi::IPV4_UNICAST, prefixes(&["10.50.0.7/32"])));
    let mut z = BgpUpdateMessage::new();
    let (_, len) = params.decode_message_head(&withdraw[0]).unwrap();
    z.decode_from(&params, &withdraw[0][19..19 + len]).unwrap();
    let BgpAddrs::IPV4U(gone) = &z.get_mpwithdraws().expect("MP_UNREACH_NLRI").addrs else { panic!() };
    assert_eq!(gone.len(), 1);
}

fn negotiated(local: &str, extended_next_hop: bool) -> Negotiated {
    let local: SocketAddr = local.parse().unwrap();
    Negotiated {
        local,
        remote: "[fe80::2]:179".parse().unwrap(),
        local_asn: 64512,
        peer_asn: 64500,
        peer_id: Ipv4Addr::new(172, 30, 0, 2),
        internal: false,
        hold_time: Some(Duration::from_secs(90)),
        keepalive_interval: Some(Duration::from_secs(30)),
        four_octet_as: true,
        families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        route_refresh: true,
        graceful_restart: false,
        extended_next_hop,
        peer_open: Open::new(64500, 90, Ipv4Addr::new(172, 30, 0, 2), vec![]),
    }
}

#[test]
fn an_unnumbered_session_sends_both_families_with_the_interface_next_hop() {
    let table: std::collections::BTreeMap<IpNet, RouteAttrs> =
        [("10.50.0.7/32", RouteAttrs::default()), ("fd00:50::7/128", RouteAttrs::default())]
            .into_iter()
            .map(|(p, a)| (p.parse().unwrap(), a))
            .collect();
    let table_for = |policy: ExportPolicy| {
        let mut rib = AdjRibOut::new();
        rib.set_desired(table.clone());
        let updates: Vec<Update> = rib.session_up(policy).iter().map(|m| one_update(m)).collect();
        assert!(rib.held_back().is_empty(), "{:?}", rib.held_back());
        updates.into_iter().filter_map(|u| u.attributes.mp_reach).map(|r| (r.family, r.next_hop)).collect::<Vec<_>>()
    };
    let alone = MpNextHop::V6 { global: ll("fe80::11"), link_local: None };
    let policy = ExportPolicy::new(&negotiated("[fe80::11]:40000", true), None, None, None);
    assert_eq!(table_for(policy), [(AfiSafi::IPV4_UNICAST, alone), (AfiSafi::IPV6_UNICAST, alone)]);
    let both = MpNextHop::V6 { global: ll("fd00:31::11"), link_local: Some(ll("fe80::11")) };
    let policy = ExportPolicy::new(&negotiated("[fe80::11]:40000", true), None, Some(ll("fd00:31::11")), None);
    assert_eq!(table_for(policy), [(AfiSafi::IPV4_UNICAST, both), (AfiSafi::IPV6_UNICAST, both)]);
}

#[test]
fn without_the_peer_s_extended_next_hop_ipv4_routes_over_link_local_are_held_back_with_the_reason() {
    let mut rib = AdjRibOut::new();
    rib.set_desired([("10.50.0.7/32".parse().unwrap(), RouteAttrs::default())].into_iter().collect());
    let out = rib.session_up(ExportPolicy::new(&negotiated("[fe80::11]:40000", false), None, None, None));
    assert_eq!(out.len(), 2, "only the End-of-RIB markers");
    assert_eq!(rib.held_back().len(), 1);
    assert!(rib.held_back()[0].contains("no IPv4 next hop"), "{:?}", rib.held_back());
}
