//! The responder's answering rules (docs/compatibility.md §4.2), frame in, frame or silence out.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrolb_l2::ndp::ALL_NODES;
use ferrolb_l2::{
    ArpOperation, ArpPacket, Exclusion, InterfaceInfo, InterfaceSelection, MacAddr, Membership, MembershipChange,
    NdpMessage, NdpPacket, Responder, solicited_node,
};

const ROUTER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const ETH0_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x11]);
const ETH1_MAC: MacAddr = MacAddr([2, 0, 0, 0, 1, 0x11]);
const ROUTER4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 1);
const VIP4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 100);
const OTHER4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 101);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 1);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x100);
const ETH0_LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11);

fn interface(name: &str, index: u32, mac: MacAddr) -> InterfaceInfo {
    InterfaceInfo {
        name: name.to_string(),
        index,
        mac,
        up: true,
        broadcast: true,
        noarp: false,
        has_master: false,
        link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, index as u16 * 0x10 + 1)),
    }
}

fn responder() -> Responder {
    let mut r = Responder::new(Exclusion::metallb_default());
    let mut eth0 = interface("eth0", 2, ETH0_MAC);
    eth0.link_local = Some(ETH0_LL);
    r.set_interfaces(vec![eth0, interface("eth1", 3, ETH1_MAC), interface("docker0", 4, MacAddr([2, 0, 0, 0, 4, 4]))]);
    r
}

fn arp_request(target: Ipv4Addr, destination: MacAddr) -> Vec<u8> {
    ArpPacket {
        operation: ArpOperation::Request,
        sender_mac: ROUTER_MAC,
        sender_ip: ROUTER4,
        target_mac: MacAddr::ZERO,
        target_ip: target,
    }
    .encode_frame(ROUTER_MAC, destination)
}

fn solicitation(target: Ipv6Addr, source_lla: Option<MacAddr>) -> Vec<u8> {
    let group = solicited_node(target);
    NdpPacket { source: ROUTER6, destination: group, message: NdpMessage::Solicitation { target, source_lla } }
        .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(group))
}

#[test]
fn an_arp_request_for_an_announced_ip_gets_a_unicast_reply_with_the_interface_mac() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    let reply = r.handle("eth0", &arp_request(VIP4, MacAddr::BROADCAST)).expect("a reply");
    let (eth, arp) = ArpPacket::decode_frame(&reply).unwrap();
    assert_eq!((eth.destination, eth.source), (ROUTER_MAC, ETH0_MAC));
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!((arp.sender_mac, arp.sender_ip), (ETH0_MAC, VIP4));
    assert_eq!((arp.target_mac, arp.target_ip), (ROUTER_MAC, ROUTER4));

    let reply = r.handle("eth1", &arp_request(VIP4, ETH1_MAC)).expect("unicast to our MAC is answered");
    assert_eq!(ArpPacket::decode_frame(&reply).unwrap().1.sender_mac, ETH1_MAC);

    let counters = r.counters().per_ip[&IpAddr::from(VIP4)];
    assert_eq!((counters.requests_received, counters.responses_sent), (2, 2));
}

#[test]
fn ips_not_announced_are_never_answered() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    assert_eq!(r.handle("eth0", &arp_request(OTHER4, MacAddr::BROADCAST)), None);
    assert_eq!(r.counters().dropped["not_announced"], 1);
    assert!(!r.counters().per_ip.contains_key(&IpAddr::from(OTHER4)));
}

#[test]
fn arp_replies_and_requests_unicast_to_someone_else_are_ignored() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    assert_eq!(r.handle("eth0", &arp_request(VIP4, MacAddr([2, 9, 9, 9, 9, 9]))), None);
    let reply =
        ArpPacket::gratuitous(ArpOperation::Reply, ROUTER_MAC, VIP4).encode_frame(ROUTER_MAC, MacAddr::BROADCAST);
    assert_eq!(r.handle("eth0", &reply), None);
    assert_eq!(r.counters().dropped["ethernet_destination"], 1);
    assert_eq!(r.counters().dropped["arp_reply"], 1);
}

#[test]
fn excluded_and_unknown_interfaces_do_not_answer() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    assert_eq!(r.handle("docker0", &arp_request(VIP4, MacAddr::BROADCAST)), None);
    assert_eq!(r.handle("wlan9", &arp_request(VIP4, MacAddr::BROADCAST)), None);
    assert_eq!(r.counters().dropped["interface_not_eligible"], 2);
    assert_eq!(r.interfaces_answering(VIP4.into()), vec!["eth0", "eth1"]);
}

#[test]
fn an_advertisement_interface_list_restricts_where_the_ip_is_answered() {
    let mut r = responder();
    let announced = r.announce("default/web", VIP4.into(), InterfaceSelection::from_names(["eth1"]));
    assert_eq!(announced.interfaces, vec!["eth1"]);
    assert_eq!(r.handle("eth0", &arp_request(VIP4, MacAddr::BROADCAST)), None);
    assert!(r.handle("eth1", &arp_request(VIP4, MacAddr::BROADCAST)).is_some());
}

#[test]
fn an_announcement_on_missing_interfaces_reports_none_answering() {
    let mut r = responder();
    let announced = r.announce("default/web", VIP4.into(), InterfaceSelection::from_names(["bond0", "docker0"]));
    assert!(announced.interfaces.is_empty(), "MetalLB's announceFailed case");
}

#[test]
fn a_shared_ip_stays_answered_until_its_last_service_withdraws() {
    let mut r = responder();
    r.announce("default/a", VIP4.into(), InterfaceSelection::All);
    r.announce("default/b", VIP4.into(), InterfaceSelection::All);
    assert_eq!(r.announced().collect::<Vec<_>>(), vec![(IpAddr::from(VIP4), 2)]);
    r.withdraw("default/a", VIP4.into());
    assert!(r.handle("eth0", &arp_request(VIP4, MacAddr::BROADCAST)).is_some());
    r.withdraw("default/b", VIP4.into());
    assert!(!r.is_announced(VIP4.into()));
    assert_eq!(r.handle("eth0", &arp_request(VIP4, MacAddr::BROADCAST)), None);
}

#[test]
fn a_neighbor_solicitation_gets_a_solicited_advertisement_to_its_source() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let reply = r.handle("eth0", &solicitation(VIP6, Some(ROUTER_MAC))).expect("an advertisement");
    let (eth, na) = NdpPacket::decode_frame(&reply).unwrap();
    assert_eq!((eth.destination, eth.source), (ROUTER_MAC, ETH0_MAC));
    assert_eq!((na.source, na.destination), (VIP6, ROUTER6));
    assert_eq!(
        na.message,
        NdpMessage::Advertisement {
            router: false,
            solicited: true,
            override_flag: false,
            target: VIP6,
            target_lla: Some(ETH0_MAC),
        }
    );
    assert_eq!(r.counters().per_ip[&IpAddr::from(VIP6)].responses_sent, 1);
}

#[test]
fn a_unicast_solicitation_to_the_target_itself_is_answered_too() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let probe = NdpPacket {
        source: ROUTER6,
        destination: VIP6,
        message: NdpMessage::Solicitation { target: VIP6, source_lla: Some(ROUTER_MAC) },
    }
    .encode_frame(ROUTER_MAC, ETH0_MAC);
    assert!(r.handle("eth0", &probe).is_some());
}

#[test]
fn a_unicast_nud_probe_without_a_source_link_layer_address_is_answered_at_the_frame_source() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    // RFC 4861 §7.2.2: a router's reachability probe, unicast to the target, no SLLA option
    let probe = NdpPacket {
        source: ROUTER6,
        destination: VIP6,
        message: NdpMessage::Solicitation { target: VIP6, source_lla: None },
    }
    .encode_frame(ROUTER_MAC, ETH0_MAC);
    let reply = r.handle("eth0", &probe).expect("an advertisement");
    let (eth, na) = NdpPacket::decode_frame(&reply).unwrap();
    assert_eq!((eth.destination, eth.source), (ROUTER_MAC, ETH0_MAC));
    assert_eq!((na.source, na.destination), (VIP6, ROUTER6));
    assert!(matches!(na.message, NdpMessage::Advertisement { solicited: true, target_lla: Some(ETH0_MAC), .. }));
    // the same without the option, sent to the solicited-node group: answered the same way
    let multicast = solicitation(VIP6, None);
    let reply = r.handle("eth0", &multicast).expect("an advertisement");
    assert_eq!(NdpPacket::decode_frame(&reply).unwrap().0.destination, ROUTER_MAC);
    assert_eq!(r.counters().per_ip[&IpAddr::from(VIP6)].responses_sent, 2);
    assert!(r.counters().dropped.is_empty(), "{:?}", r.counters().dropped);
}

#[test]
fn a_duplicate_address_probe_is_answered_to_all_nodes_without_the_solicited_flag() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let group = solicited_node(VIP6);
    let dad = NdpPacket {
        source: Ipv6Addr::UNSPECIFIED,
        destination: group,
        message: NdpMessage::Solicitation { target: VIP6, source_lla: None },
    }
    .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(group));
    let reply = r.handle("eth0", &dad).expect("an advertisement");
    let (eth, na) = NdpPacket::decode_frame(&reply).unwrap();
    assert_eq!((eth.destination, eth.source), (MacAddr::ipv6_multicast(ALL_NODES), ETH0_MAC));
    assert_eq!((na.source, na.destination), (VIP6, ALL_NODES));
    assert!(matches!(na.message, NdpMessage::Advertisement { solicited: false, override_flag: false, .. }));
    // a probe for an address we do not announce stays unanswered
    let other: Ipv6Addr = "fd00:30::101".parse().unwrap();
    let dad_other = NdpPacket {
        source: Ipv6Addr::UNSPECIFIED,
        destination: solicited_node(other),
        message: NdpMessage::Solicitation { target: other, source_lla: None },
    }
    .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(solicited_node(other)));
    assert_eq!(r.handle("eth0", &dad_other), None);
    assert_eq!(r.counters().dropped["not_announced"], 1);
}

#[test]
fn what_rfc_4861_says_to_discard_stays_unanswered() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let group = solicited_node(VIP6);
    // DAD with a source link-layer address option, and DAD not to the solicited-node group
    // (§7.1.1), are invalid
    for (destination, source_lla) in [(group, Some(ROUTER_MAC)), (VIP6, None)] {
        let bad = NdpPacket {
            source: Ipv6Addr::UNSPECIFIED,
            destination,
            message: NdpMessage::Solicitation { target: VIP6, source_lla },
        }
        .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(group));
        assert_eq!(r.handle("eth0", &bad), None);
    }
    // a hop limit other than 255 means a router forwarded it (§7.1.1)
    let mut forwarded = solicitation(VIP6, None);
    forwarded[14 + 7] = 64;
    assert_eq!(r.handle("eth0", &forwarded), None);
    // a solicitation sent to some other host's address
    let elsewhere = NdpPacket {
        source: ROUTER6,
        destination: "fd00:30::99".parse().unwrap(),
        message: NdpMessage::Solicitation { target: VIP6, source_lla: None },
    }
    .encode_frame(ROUTER_MAC, ETH0_MAC);
    assert_eq!(r.handle("eth0", &elsewhere), None);
    assert_eq!(r.counters().dropped.values().sum::<u64>(), 4, "{:?}", r.counters().dropped);
    assert!(!r.counters().per_ip.contains_key(&IpAddr::from(VIP6)));
}

/// Found by the `ndp_decode` fuzz target: a solicitation claiming a multicast source was
/// answered with a solicited advertisement to that group, which RFC 4861 §7.1.2 forbids and
/// our own decoder refuses (RFC 4291 §2.7: multicast is never a source).
#[test]
fn a_solicitation_from_a_multicast_source_is_dropped_not_answered_to_the_group() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let group = solicited_node(VIP6);
    for source in [ALL_NODES, "ffff:ffff:ffff::".parse().unwrap()] {
        let spoofed = NdpPacket {
            source,
            destination: group,
            message: NdpMessage::Solicitation { target: VIP6, source_lla: None },
        }
        .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(group));
        assert_eq!(r.handle("eth0", &spoofed), None, "from {source}");
    }
    assert_eq!(r.counters().dropped["multicast_source"], 2);
    assert!(!r.counters().per_ip.contains_key(&IpAddr::from(VIP6)));
}

#[test]
fn solicitations_for_unannounced_targets_and_advertisements_are_ignored() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let other: Ipv6Addr = "fd00:30::101".parse().unwrap();
    assert_eq!(r.handle("eth0", &solicitation(other, Some(ROUTER_MAC))), None);
    let na = ferrolb_l2::responder::unsolicited_advertisement(VIP6, ROUTER_MAC)
        .encode_frame(ROUTER_MAC, MacAddr::ipv6_multicast(ALL_NODES));
    assert_eq!(r.handle("eth0", &na), None);
    assert_eq!(r.counters().dropped["not_announced"], 1);
    assert_eq!(r.counters().dropped["not_solicitation"], 1);
}

#[test]
fn malformed_frames_are_dropped_and_counted_by_reason() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let mut bad = solicitation(VIP6, Some(ROUTER_MAC));
    bad[21] = 64;
    assert_eq!(r.handle("eth0", &bad), None);
    assert_eq!(r.handle("eth0", &[0u8; 5]), None);
    let mut ipv4 = arp_request(VIP4, MacAddr::BROADCAST);
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(r.handle("eth0", &ipv4), None);
    let dropped = &r.counters().dropped;
    assert_eq!((dropped["hop_limit"], dropped["truncated"], dropped["foreign_ethertype"]), (1, 1, 1));
}

#[test]
fn solicited_node_groups_are_joined_at_the_first_announcement_and_left_at_the_last() {
    let mut r = responder();
    let group = MacAddr::ipv6_multicast(solicited_node(VIP6));
    let on = |interface: &str, index| Membership { interface: interface.to_string(), index, group };

    let first = r.announce("default/a", VIP6.into(), InterfaceSelection::All);
    assert_eq!(first.memberships, vec![MembershipChange::Join(on("eth0", 2)), MembershipChange::Join(on("eth1", 3))]);
    assert!(r.announce("default/b", VIP6.into(), InterfaceSelection::All).memberships.is_empty());
    assert!(r.withdraw("default/a", VIP6.into()).is_empty());
    assert_eq!(
        r.withdraw("default/b", VIP6.into()),
        vec![MembershipChange::Leave(on("eth0", 2)), MembershipChange::Leave(on("eth1", 3))]
    );
}

#[test]
fn ips_sharing_a_solicited_node_group_share_one_membership() {
    let mut r = responder();
    let twin: Ipv6Addr = "fd00:99::100".parse().unwrap();
    assert_eq!(solicited_node(twin), solicited_node(VIP6));
    let only_eth0 = || InterfaceSelection::from_names(["eth0"]);
    assert_eq!(r.announce("default/a", VIP6.into(), only_eth0()).memberships.len(), 1);
    assert!(r.announce("default/b", twin.into(), only_eth0()).memberships.is_empty());
    assert!(r.withdraw("default/a", VIP6.into()).is_empty());
    assert_eq!(r.withdraw("default/b", twin.into()).len(), 1);
}

#[test]
fn an_interface_rescan_moves_memberships_to_new_and_renumbered_interfaces() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::All);
    let group = MacAddr::ipv6_multicast(solicited_node(VIP6));
    let mut eth0 = interface("eth0", 2, ETH0_MAC);
    eth0.link_local = Some(ETH0_LL);
    let changes = r.set_interfaces(vec![eth0.clone(), interface("eth1", 7, ETH1_MAC)]);
    let m = |index| Membership { interface: "eth1".to_string(), index, group };
    assert_eq!(changes, vec![MembershipChange::Leave(m(3)), MembershipChange::Join(m(7))]);

    let mut down = interface("eth1", 7, ETH1_MAC);
    down.up = false;
    assert_eq!(r.set_interfaces(vec![eth0, down]), vec![MembershipChange::Leave(m(7))]);
    assert_eq!(r.handle("eth1", &solicitation(VIP6, Some(ROUTER_MAC))), None);
}

#[test]
fn a_gratuitous_burst_is_an_arp_request_and_reply_per_interface() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    let frames = r.gratuitous(VIP4.into());
    let seen: BTreeSet<(String, ArpOperation)> = frames
        .iter()
        .map(|(iface, frame)| {
            let (eth, arp) = ArpPacket::decode_frame(frame).unwrap();
            assert_eq!(eth.destination, MacAddr::BROADCAST);
            assert_eq!((arp.sender_ip, arp.target_ip, arp.target_mac), (VIP4, VIP4, MacAddr::BROADCAST));
            assert_eq!(arp.sender_mac, eth.source);
            (iface.clone(), arp.operation)
        })
        .collect();
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&("eth1".to_string(), ArpOperation::Reply)));
    assert_eq!(r.counters().per_ip[&IpAddr::from(VIP4)].gratuitous_sent, 4);
}

#[test]
fn a_gratuitous_burst_for_ipv6_is_an_unsolicited_override_advertisement_to_all_nodes() {
    let mut r = responder();
    r.announce("default/web", VIP6.into(), InterfaceSelection::from_names(["eth0"]));
    let frames = r.gratuitous(VIP6.into());
    assert_eq!(frames.len(), 1);
    let (eth, na) = NdpPacket::decode_frame(&frames[0].1).unwrap();
    assert_eq!(eth.destination, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    assert_eq!((na.source, na.destination), (VIP6, ALL_NODES));
    assert_eq!(
        na.message,
        NdpMessage::Advertisement {
            router: false,
            solicited: false,
            override_flag: true,
            target: VIP6,
            target_lla: Some(ETH0_MAC),
        }
    );
}

#[test]
fn a_withdrawn_ip_gets_no_gratuitous_burst() {
    let mut r = responder();
    r.announce("default/web", VIP4.into(), InterfaceSelection::All);
    r.withdraw("default/web", VIP4.into());
    assert!(r.gratuitous(VIP4.into()).is_empty());
}
