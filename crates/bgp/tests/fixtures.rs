//! Hex fixtures for every message type: bytes computed by hand from the RFC layouts, each
//! group commented. Each fixture is checked in both directions: our encoder produces
//! exactly these bytes and our decoder reads them back to the same value.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use ferrolb_bgp::fsm::{Fsm, FsmConfig, PeerAs};
use ferrolb_bgp::{
    AfiSafi, AsPath, Capability, CeaseSubcode, Community, ErrorCode, GracefulRestart, GracefulRestartFamily,
    LargeCommunity, Message, MpNextHop, MpReach, MpUnreach, Notification, Open, Origin, PathAttributes, RawAttribute,
    RouteRefresh, Update,
};
use ferrolb_testkit::bgp::metallb_open;

fn assert_fixture(message: &Message, wire: &[u8], ctx4: bool) {
    let (enc, dec) = if ctx4 { (ENC4, FOUR) } else { (ENC2, TWO) };
    assert_eq!(encode(message, &enc), wire, "encoding differs from the fixture");
    assert_eq!(&ferrolb_bgp::decode(wire, &dec).unwrap(), message, "decoding differs");
}

#[test]
fn open_like_metallb_sends_is_49_octets() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0031",                             // length 49
        "01",                               // type OPEN
        "04",                               // version 4
        "fc00",                             // my AS 64512
        "005a",                             // hold time 90
        "0a000001",                         // BGP id 10.0.0.1
        "14",                               // optional parameters length 20
        "0212",                             // parameter: capabilities, 18 octets
        "0104 0001 00 01",                  // multiprotocol ipv4 unicast
        "0104 0002 00 01",                  // multiprotocol ipv6 unicast
        "4104 0000fc00",                    // 4-octet AS 64512
    ));
    let open = metallb_open(64512);
    assert_eq!(wire.len(), 49);
    assert_fixture(&Message::Open(open), &wire, true);
}

#[test]
fn open_with_a_four_octet_asn_sends_as_trans_and_keeps_unknown_capabilities() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0031",                             // length 49
        "01",                               // type OPEN
        "04",                               // version 4
        "5ba0",                             // my AS = AS_TRANS 23456
        "00b4",                             // hold time 180
        "c0000201",                         // BGP id 192.0.2.1
        "14",                               // optional parameters length 20
        "0212",                             // parameter: capabilities, 18 octets
        "0200",                             // route refresh
        "4006 8078 0002 01 80",             // graceful restart: R, 120 s; ipv6 unicast F
        "4104 fa56ea00",                    // 4-octet AS 4200000000
        "4600",                             // enhanced route refresh (unknown to us)
    ));
    let open = Open::new(
        4_200_000_000,
        180,
        Ipv4Addr::new(192, 0, 2, 1),
        vec![
            Capability::RouteRefresh,
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: false,
                restart_time: 120,
                families: vec![GracefulRestartFamily { family: AfiSafi::IPV6_UNICAST, forwarding_state: true }],
            }),
            Capability::FourOctetAs(4_200_000_000),
            Capability::Unknown { code: 70, value: vec![] },
        ],
    );
    assert_eq!(open.my_as, 23456);
    assert_eq!(open.asn(), 4_200_000_000);
    assert_fixture(&Message::Open(open), &wire, true);
}

/// The OPEN our FSM sends with `graceful_restart: Some(120 s)`, right after this process
/// started: the R bit, restart time 120, and the F bit for both families (RFC 4724 §3).
#[test]
fn our_open_with_graceful_restart_after_a_restart() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "003f",                             // length 63
        "01",                               // type OPEN
        "04",                               // version 4
        "fc00",                             // my AS 64512
        "005a",                             // hold time 90
        "0a000001",                         // BGP id 10.0.0.1
        "22",                               // optional parameters length 34
        "0220",                             // parameter: capabilities, 32 octets
        "0104 0001 00 01",                  // multiprotocol ipv4 unicast
        "0104 0002 00 01",                  // multiprotocol ipv6 unicast
        "0200",                             // route refresh
        "400a",                             // graceful restart, 10 octets
        "8078",                             //   R bit, N clear, restart time 120 s
        "0001 01 80",                       //   ipv4 unicast, F bit (forwarding preserved)
        "0002 01 80",                       //   ipv6 unicast, F bit
        "4104 0000fc00",                    // 4-octet AS 64512
    ));
    let config = FsmConfig {
        graceful_restart: Some(Duration::from_secs(120)),
        ..FsmConfig::new(64512, PeerAs::Fixed(64500), Ipv4Addr::new(10, 0, 0, 1))
    };
    let open = Fsm::new(config).open_message();
    assert_fixture(&Message::Open(open), &wire, true);
}

#[test]
fn keepalive_is_a_bare_header() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0013",                             // length 19
        "04",                               // type KEEPALIVE
    ));
    assert_fixture(&Message::Keepalive, &wire, true);
}

#[test]
fn administrative_shutdown_carries_its_communication() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0019",                             // length 25
        "03",                               // type NOTIFICATION
        "06 02",                            // Cease / Administrative Shutdown
        "03 627965",                        // communication: 3 octets "bye"
    ));
    let n = Notification::administrative_shutdown("bye").unwrap();
    assert_eq!(n.shutdown_communication(), Some("bye"));
    assert_fixture(&Message::Notification(n), &wire, true);
}

#[test]
fn hold_timer_expired_notification_has_no_data() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0015",                             // length 21
        "03",                               // type NOTIFICATION
        "04 00",                            // Hold Timer Expired
    ));
    let n = Notification::new(ErrorCode::HoldTimerExpired(0), vec![]);
    assert_fixture(&Message::Notification(n), &wire, true);
}

#[test]
fn route_refresh_names_its_family() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0017",                             // length 23
        "05",                               // type ROUTE-REFRESH
        "0002 00 01",                       // AFI 2, reserved, SAFI 1
    ));
    let rr = RouteRefresh::new(AfiSafi::IPV6_UNICAST);
    assert_fixture(&Message::RouteRefresh(rr), &wire, true);
}

fn ipv4_attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
        local_pref: Some(100),
        communities: vec![Community::GRACEFUL_SHUTDOWN, Community::new(64512, 100)],
        large_communities: vec![LargeCommunity::new(64512, 1, 2)],
        ..PathAttributes::default()
    }
}

#[test]
fn ipv4_update_with_four_octet_path_and_communities() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff",    // marker
        "0055",                                // length 85
        "02",                                  // type UPDATE
        "0000",                                // withdrawn routes length 0
        "0035",                                // total path attribute length 53
        "40 01 01 00",                         // ORIGIN IGP
        "40 02 06 02 01 0000fc00",             // AS_PATH: AS_SEQUENCE of 1: 64512
        "40 03 04 0a000001",                   // NEXT_HOP 10.0.0.1
        "40 05 04 00000064",                   // LOCAL_PREF 100
        "c0 08 08 ffff0000 fc000064",          // COMMUNITIES GRACEFUL_SHUTDOWN, 64512:100
        "c0 20 0c 0000fc00 00000001 00000002", // LARGE_COMMUNITIES 64512:1:2
        "20 c6336407",                         // NLRI 198.51.100.7/32
        "18 cb0071",                           // NLRI 203.0.113.0/24
    ));
    let update = Update {
        attributes: ipv4_attributes(),
        nlri: vec!["198.51.100.7/32".parse().unwrap(), "203.0.113.0/24".parse().unwrap()],
        ..Update::default()
    };
    assert_fixture(&Message::Update(update), &wire, true);
}

#[test]
fn ipv4_update_with_two_octet_path_and_withdrawals() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0037",                             // length 55
        "02",                               // type UPDATE
        "0004",                             // withdrawn routes length 4
        "18 c00002",                        // withdrawn 192.0.2.0/24
        "001b",                             // total path attribute length 27
        "40 01 01 02",                      // ORIGIN INCOMPLETE
        "40 02 06 02 02 fde9 fdea",         // AS_PATH: AS_SEQUENCE of 2: 65001 65002
        "40 03 04 c0000201",                // NEXT_HOP 192.0.2.1
        "80 04 04 0000000a",                // MULTI_EXIT_DISC 10
        "00",                               // NLRI 0.0.0.0/0
    ));
    let update = Update {
        withdrawn: vec!["192.0.2.0/24".parse().unwrap()],
        attributes: PathAttributes {
            origin: Some(Origin::Incomplete),
            as_path: Some(AsPath::sequence([65001, 65002])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(10),
            ..PathAttributes::default()
        },
        nlri: vec!["0.0.0.0/0".parse().unwrap()],
    };
    assert_fixture(&Message::Update(update), &wire, false);
}

#[test]
fn ipv6_update_carries_global_and_link_local_next_hop_in_mp_reach() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0054",                             // length 84
        "02",                               // type UPDATE
        "0000",                             // withdrawn routes length 0
        "003d",                             // total path attribute length 61
        "40 01 01 00",                      // ORIGIN IGP
        "40 02 00",                         // AS_PATH empty (iBGP)
        "40 05 04 00000064",                // LOCAL_PREF 100
        "80 0e 2c",                         // MP_REACH_NLRI, 44 octets
        "0002 01",                          //   AFI 2, SAFI 1
        "20",                               //   next hop length 32
        "20010db8000000000000000000000001", //   global 2001:db8::1
        "fe800000000000000000000000000001", //   link-local fe80::1
        "00",                               //   reserved
        "30 20010db80001",                  //   NLRI 2001:db8:1::/48
    ));
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            mp_reach: Some(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::V6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec!["2001:db8:1::/48".parse().unwrap()],
            }),
            ..PathAttributes::default()
        },
        ..Update::default()
    };
    assert_fixture(&Message::Update(update), &wire, true);
}

#[test]
fn ipv6_withdrawal_uses_mp_unreach() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0029",                             // length 41
        "02",                               // type UPDATE
        "0000",                             // withdrawn routes length 0
        "0012",                             // total path attribute length 18
        "80 0f 0f",                         // MP_UNREACH_NLRI, 15 octets
        "0002 01",                          //   AFI 2, SAFI 1
        "30 20010db80001",                  //   2001:db8:1::/48
        "20 20010db8",                      //   2001:db8::/32
    ));
    let update = Update {
        attributes: PathAttributes {
            mp_unreach: Some(MpUnreach {
                family: AfiSafi::IPV6_UNICAST,
                withdrawn: vec!["2001:db8:1::/48".parse().unwrap(), "2001:db8::/32".parse().unwrap()],
            }),
            ..PathAttributes::default()
        },
        ..Update::default()
    };
    assert_fixture(&Message::Update(update), &wire, true);
}

#[test]
fn end_of_rib_markers_for_both_families() {
    let v4 = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0017",                             // length 23
        "02",                               // type UPDATE
        "0000 0000",                        // no withdrawals, no attributes, no NLRI
    ));
    let v6 = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "001d",                             // length 29
        "02",                               // type UPDATE
        "0000",                             // withdrawn routes length 0
        "0006",                             // total path attribute length 6
        "80 0f 03 0002 01",                 // MP_UNREACH_NLRI ipv6 unicast, nothing withdrawn
    ));
    for (family, wire) in [(AfiSafi::IPV4_UNICAST, v4), (AfiSafi::IPV6_UNICAST, v6)] {
        let eor = Update::end_of_rib(family);
        assert_eq!(eor.end_of_rib_family(), Some(family));
        assert_fixture(&Message::Update(eor), &wire, true);
    }
}

#[test]
fn four_octet_path_to_an_old_speaker_goes_as_trans_plus_as4_path() {
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence([4_200_000_000])),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            ..PathAttributes::default()
        },
        nlri: vec!["10.1.0.0/16".parse().unwrap()],
        ..Update::default()
    };
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "0035",                             // length 53
        "02",                               // type UPDATE
        "0000",                             // withdrawn routes length 0
        "001b",                             // total path attribute length 27
        "40 01 01 00",                      // ORIGIN IGP
        "40 02 04 02 01 5ba0",              // AS_PATH: AS_SEQUENCE of 1: AS_TRANS
        "40 03 04 0a000001",                // NEXT_HOP 10.0.0.1
        "c0 11 06 02 01 fa56ea00",          // AS4_PATH: AS_SEQUENCE of 1: 4200000000
        "10 0a01",                          // NLRI 10.1.0.0/16
    ));
    assert_eq!(encode(&Message::Update(update), &ENC2), wire);
}

#[test]
fn attribute_over_255_octets_uses_the_extended_length_flag() {
    let update = Update {
        attributes: PathAttributes {
            unknown: vec![RawAttribute { flags: 0xc0, type_code: 99, value: vec![7; 300] }],
            ..PathAttributes::default()
        },
        ..Update::default()
    };
    let wire = encode(&Message::Update(update.clone()), &ENC4);
    // header (19) + withdrawn length (2), then the attribute length field:
    assert_eq!(&wire[21..23], &[0x01, 0x30]); // 304 = 4-octet attribute header + 300
    assert_eq!(&wire[23..27], &[0xd0, 99, 0x01, 0x2c]); // O T E flags, type 99, length 300
    assert_eq!(ferrolb_bgp::decode(&wire, &FOUR).unwrap(), Message::Update(update));
}

#[test]
fn ipv4_next_hop_in_mp_reach_is_accepted() {
    let wire = hex(concat!(
        "ffffffffffffffffffffffffffffffff", // marker
        "002f",                             // length 47
        "02",                               // type UPDATE
        "0000",                             // withdrawn routes length 0
        "0018",                             // total path attribute length 24
        "40 01 01 00",                      // ORIGIN IGP
        "40 02 00",                         // AS_PATH empty
        "80 0e 0e",                         // MP_REACH_NLRI, 14 octets
        "0001 01 04 0a000001 00",           //   ipv4 unicast, next hop 10.0.0.1, reserved
        "18 0a0102",                        //   10.1.2.0/24
        "00",                               //   0.0.0.0/0
    ));
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            mp_reach: Some(MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop: MpNextHop::V4(Ipv4Addr::new(10, 0, 0, 1)),
                nlri: vec!["10.1.2.0/24".parse().unwrap(), "0.0.0.0/0".parse().unwrap()],
            }),
            ..PathAttributes::default()
        },
        ..Update::default()
    };
    assert_fixture(&Message::Update(update), &wire, true);
}

#[test]
fn cease_subcodes_keep_unknown_values() {
    let n = Notification::new(ErrorCode::from_octets(6, 42), vec![1, 2]);
    assert_eq!(n.error, ErrorCode::Cease(CeaseSubcode::Other(42)));
    let wire = encode(&Message::Notification(n.clone()), &ENC4);
    assert_eq!(&wire[19..], &[6, 42, 1, 2]);
    assert_eq!(n.shutdown_communication(), None);
}
