//! Our encoder's output read by an independent implementation, zettabgp, so a mistake
//! shared by our encoder and decoder cannot hide behind a passing round trip.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use common::*;
use ferrolb_bgp::{
    AfiSafi, AsPath, Capability, Community, LargeCommunity, Message, MpNextHop, Notification, Origin, PathAttributes,
    RouteRefresh, Update, UpdatePacker,
};
use ferrolb_testkit::bgp::{graceful_restart, metallb_open};
use ipnet::IpNet;
use zettabgp::prelude::*;

fn session(four_octet: bool) -> BgpSessionParams {
    let mut p = BgpSessionParams::new(64512, 90, BgpTransportMode::IPv4, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    p.has_as32bit = four_octet;
    // Guessing ADD-PATH from the NLRI bytes would misread plain prefixes.
    p.fuzzy_pathid = false;
    p
}

/// zettabgp's reading of the header, and the body it delimits.
fn zetta_split(wire: &[u8]) -> (BgpMessageType, &[u8]) {
    let params = session(true);
    let (kind, body_len) = params.decode_message_head(wire).expect("zettabgp reads header");
    assert_eq!(19 + body_len, wire.len());
    (kind, &wire[19..])
}

fn zetta_update(wire: &[u8]) -> BgpUpdateMessage {
    let (kind, body) = zetta_split(wire);
    assert_eq!(kind, BgpMessageType::Update);
    let mut u = BgpUpdateMessage::new();
    u.decode_from(&session(true), body).expect("zettabgp decodes UPDATE");
    u
}

#[test]
fn zettabgp_reads_our_open_with_every_capability() {
    let mut open = metallb_open(4_200_000_000);
    open.capabilities.extend([
        Capability::RouteRefresh,
        Capability::GracefulRestart(graceful_restart(true, false, 120, [true, false])),
    ]);
    let wire = encode(&Message::Open(open), &ENC4);
    let (kind, body) = zetta_split(&wire);
    assert_eq!(kind, BgpMessageType::Open);
    let mut z = BgpOpenMessage::new();
    z.decode_from(&session(true), body).expect("zettabgp decodes OPEN");
    assert_eq!(z.as_num, 23456, "AS_TRANS in My AS");
    assert_eq!(z.hold_time, 90);
    assert_eq!(z.router_id, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(
        z.caps,
        vec![
            BgpCapability::SafiIPv4u,
            BgpCapability::SafiIPv6u,
            BgpCapability::CapASN32(4_200_000_000),
            BgpCapability::CapRR,
            BgpCapability::CapGR {
                restart_time: 120,
                restart_state: true,
                afis: vec![
                    BgpCapGR { afi: 1, safi: 1, forwarding_state: true },
                    BgpCapGR { afi: 2, safi: 1, forwarding_state: false },
                ],
            },
        ]
    );
}

#[test]
fn zettabgp_reads_our_ipv4_update_with_communities_and_a_four_octet_path() {
    let nlri = ["198.51.100.7/32", "203.0.113.0/24", "10.0.0.0/8"];
    let update = Update {
        withdrawn: vec!["192.0.2.0/25".parse().unwrap()],
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([4_200_000_000, 64512])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            local_pref: Some(150),
            communities: vec![Community::GRACEFUL_SHUTDOWN, Community::new(64512, 7)],
            large_communities: vec![LargeCommunity::new(4_200_000_000, 1, 2), LargeCommunity::new(64512, 3, 4)],
            ..PathAttributes::default()
        },
        nlri: nlri.iter().map(|p| p.parse().unwrap()).collect(),
    };
    let z = zetta_update(&encode(&Message::Update(update), &ENC4));

    assert_eq!(z.get_attr_origin().unwrap().value, BgpAttrOrigin::Igp);
    assert_eq!(
        z.get_attr_aspath().unwrap().value,
        vec![BgpASitem::Seq(BgpASseq { value: vec![BgpAS::new(4_200_000_000), BgpAS::new(64512)] })]
    );
    assert_eq!(z.get_attr_nexthop().unwrap().value, std::net::IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let local_pref = z.attrs.iter().find_map(|a| match a {
        BgpAttrItem::LocalPref(lp) => Some(lp.value),
        _ => None,
    });
    assert_eq!(local_pref, Some(150));
    let communities: BTreeSet<u32> = z.get_attr_communitylist().unwrap().value.iter().map(|c| c.value).collect();
    assert_eq!(communities, BTreeSet::from([0xffff_0000, (64512 << 16) | 7]));
    let large: BTreeSet<(u32, u32, u32)> =
        z.get_attr_largecommunitylist().unwrap().value.iter().map(|c| (c.ga, c.ldp1, c.ldp2)).collect();
    assert_eq!(large, BTreeSet::from([(4_200_000_000, 1, 2), (64512, 3, 4)]));
    let BgpAddrs::IPV4U(updates) = &z.updates else { panic!("expected IPv4 unicast NLRI, got {:?}", z.updates) };
    let got: Vec<String> = updates.iter().map(|a| format!("{}/{}", a.addr, a.prefixlen)).collect();
    assert_eq!(got, nlri);
    let BgpAddrs::IPV4U(withdraws) = &z.withdraws else { panic!("expected IPv4 withdrawals") };
    assert_eq!(withdraws.len(), 1);
    assert_eq!((withdraws[0].addr, withdraws[0].prefixlen), (Ipv4Addr::new(192, 0, 2, 0), 25));
}

#[test]
fn zettabgp_reads_our_two_octet_path() {
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Incomplete),
            as_path: Some(AsPath::sequence([65001, 65002])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            ..PathAttributes::default()
        },
        nlri: vec!["10.1.0.0/16".parse().unwrap()],
        ..Update::default()
    };
    let wire = encode(&Message::Update(update), &ENC2);
    let (_, body) = zetta_split(&wire);
    let mut z = BgpUpdateMessage::new();
    z.decode_from(&session(false), body).unwrap();
    assert_eq!(
        z.get_attr_aspath().unwrap().value,
        vec![BgpASitem::Seq(BgpASseq { value: vec![BgpAS::new(65001), BgpAS::new(65002)] })]
    );
}

#[test]
fn zettabgp_reads_our_ipv6_mp_reach_and_mp_unreach() {
    let prefixes: Vec<IpNet> = ["2001:db8:1::/48", "2001:db8:2::1/128"].iter().map(|p| p.parse().unwrap()).collect();
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        ..PathAttributes::default()
    };
    let packer = UpdatePacker::new(
        attributes,
        Some(MpNextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: None }),
        ENC4,
    );
    let announce = packer.announce(&prefixes).unwrap();
    assert_eq!(announce.len(), 1);
    let z = zetta_update(&announce[0]);
    let mp = z.get_mpupdates().expect("MP_REACH_NLRI");
    assert_eq!(mp.nexthop, BgpAddr::V6("2001:db8::1".parse().unwrap()));
    let BgpAddrs::IPV6U(nlri) = &mp.addrs else { panic!("expected IPv6 unicast, got {:?}", mp.addrs) };
    let got: Vec<String> = nlri.iter().map(|a| format!("{}/{}", a.addr, a.prefixlen)).collect();
    assert_eq!(got, ["2001:db8:1::/48", "2001:db8:2::1/128"]);
    assert!(z.get_attr_nexthop().is_none(), "no IPv4 NEXT_HOP for IPv6 routes");

    let withdraw = packer.withdraw(&prefixes).unwrap();
    let z = zetta_update(&withdraw[0]);
    let BgpAddrs::IPV6U(gone) = &z.get_mpwithdraws().expect("MP_UNREACH_NLRI").addrs else {
        panic!("expected IPv6 unicast withdrawals")
    };
    assert_eq!(gone.len(), 2);
}

#[test]
fn zettabgp_reads_a_full_packed_update() {
    let prefixes: Vec<IpNet> =
        (0..1000u32).map(|i| IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap())).collect();
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        next_hop: Some(Ipv4Addr::new(10, 255, 0, 1)),
        ..PathAttributes::default()
    };
    let packed = UpdatePacker::new(attributes, None, ENC4).announce(&prefixes).unwrap();
    let mut total = 0;
    for wire in &packed {
        let z = zetta_update(wire);
        let BgpAddrs::IPV4U(nlri) = &z.updates else { panic!() };
        total += nlri.len();
    }
    assert_eq!(total, 1000);
}

#[test]
fn zettabgp_reads_our_notification_keepalive_and_route_refresh() {
    let n = Notification::administrative_shutdown("maintenance").unwrap();
    let wire = encode(&Message::Notification(n), &ENC4);
    let (kind, body) = zetta_split(&wire);
    assert_eq!(kind, BgpMessageType::Notification);
    let mut z = BgpNotificationMessage::new();
    z.decode_from(&session(true), body).unwrap();
    assert_eq!((z.error_code, z.error_subcode), (6, 2));
    // zettabgp keeps only the first two data octets: length 11, then 'm'.
    assert_eq!(z.data, (11 << 8) | u16::from(b'm'));

    let wire = encode(&Message::Keepalive, &ENC4);
    assert_eq!(zetta_split(&wire), (BgpMessageType::Keepalive, &[][..]));

    let wire = encode(&Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV6_UNICAST)), &ENC4);
    let (kind, body) = zetta_split(&wire);
    assert_eq!(kind, BgpMessageType::Routerefresh);
    let mut z = BgpRouterefreshMessage::new();
    z.decode_from(&session(true), body).unwrap();
    assert_eq!((z.afi, z.safi, z.subtype), (2, 1, 0));
}
