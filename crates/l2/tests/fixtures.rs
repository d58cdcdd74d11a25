//! Hex fixtures: frames as `tcpdump -xx` shows them on the lab link (router 02:00:00:00:00:01
//! at 172.30.0.1 / fd00:30::1, node 02:00:00:00:00:11 answering for 172.30.0.100 / fd00:30::100), decoded
//! field by field and re-encoded byte for byte. Checksums were computed independently.

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrolb_l2::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV6};
use ferrolb_l2::ndp::icmpv6_checksum;
use ferrolb_l2::{ArpOperation, ArpPacket, DecodeError, EthernetFrame, MacAddr, NdpMessage, NdpPacket, solicited_node};
use ferrolb_testkit::hex;

const ROUTER_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
const NODE_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x11]);
const VIP4: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 100);
const VIP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 0x100);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x30, 0, 0, 0, 0, 0, 1);

/// `arping -i eth0 172.30.0.100` from the router: who-has 172.30.0.100 tell 172.30.0.1,
/// padded to the 60-byte Ethernet minimum.
fn arp_request() -> Vec<u8> {
    hex("ff ff ff ff ff ff  02 00 00 00 00 01  08 06
         00 01  08 00  06  04  00 01
         02 00 00 00 00 01  ac 1e 00 01
         00 00 00 00 00 00  ac 1e 00 64
         00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00")
}

/// `ndisc6 fd00:30::100 eth0` from the router: NS to the solicited-node group
/// ff02::1:ff00:100 (33:33:ff:00:01:00) with a source link-layer address option.
fn neighbor_solicitation() -> Vec<u8> {
    hex("33 33 ff 00 01 00  02 00 00 00 00 01  86 dd
         60 00 00 00  00 20  3a  ff
         fd 00 00 30 00 00 00 00 00 00 00 00 00 00 00 01
         ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 01 00
         87  00  7b 3b  00 00 00 00
         fd 00 00 30 00 00 00 00 00 00 00 00 00 00 01 00
         01 01 02 00 00 00 00 01")
}

#[test]
fn an_arp_request_decodes_field_by_field() {
    let frame = arp_request();
    let (eth, arp) = ArpPacket::decode_frame(&frame).unwrap();
    assert_eq!(eth.destination, MacAddr::BROADCAST);
    assert_eq!(eth.source, ROUTER_MAC);
    assert_eq!(eth.ethertype, ETHERTYPE_ARP);
    assert_eq!(
        arp,
        ArpPacket {
            operation: ArpOperation::Request,
            sender_mac: ROUTER_MAC,
            sender_ip: Ipv4Addr::new(172, 30, 0, 1),
            target_mac: MacAddr::ZERO,
            target_ip: VIP4,
        }
    );
    assert_eq!(arp.encode_frame(ROUTER_MAC, MacAddr::BROADCAST), frame[..42]);
}

#[test]
fn the_arp_reply_swaps_sender_and_target_and_goes_back_unicast() {
    let (_, request) = ArpPacket::decode_frame(&arp_request()).unwrap();
    let reply = request.reply(NODE_MAC).encode_frame(NODE_MAC, request.sender_mac);
    assert_eq!(
        reply,
        hex("02 00 00 00 00 01  02 00 00 00 00 11  08 06
             00 01  08 00  06  04  00 02
             02 00 00 00 00 11  ac 1e 00 64
             02 00 00 00 00 01  ac 1e 00 01")
    );
}

#[test]
fn gratuitous_arp_has_sender_ip_equal_to_target_ip_and_broadcast_target_mac() {
    let request =
        ArpPacket::gratuitous(ArpOperation::Request, NODE_MAC, VIP4).encode_frame(NODE_MAC, MacAddr::BROADCAST);
    assert_eq!(
        request,
        hex("ff ff ff ff ff ff  02 00 00 00 00 11  08 06
             00 01  08 00  06  04  00 01
             02 00 00 00 00 11  ac 1e 00 64
             ff ff ff ff ff ff  ac 1e 00 64")
    );
    let reply = ArpPacket::gratuitous(ArpOperation::Reply, NODE_MAC, VIP4).encode_frame(NODE_MAC, MacAddr::BROADCAST);
    assert_eq!(reply[20..22], [0, 2]);
}

#[test]
fn a_neighbor_solicitation_decodes_with_its_source_link_layer_address() {
    let frame = neighbor_solicitation();
    let (eth, ns) = NdpPacket::decode_frame(&frame).unwrap();
    assert_eq!(eth.ethertype, ETHERTYPE_IPV6);
    assert_eq!(eth.destination, MacAddr::ipv6_multicast(solicited_node(VIP6)));
    assert_eq!(ns.source, ROUTER6);
    assert_eq!(ns.destination, "ff02::1:ff00:100".parse::<Ipv6Addr>().unwrap());
    assert_eq!(ns.message, NdpMessage::Solicitation { target: VIP6, source_lla: Some(ROUTER_MAC) });
    assert_eq!(ns.encode_frame(ROUTER_MAC, eth.destination), frame);
}

#[test]
fn the_solicited_advertisement_matches_the_reference_bytes() {
    let na = NdpPacket {
        source: VIP6,
        destination: ROUTER6,
        message: NdpMessage::Advertisement {
            router: false,
            solicited: true,
            override_flag: false,
            target: VIP6,
            target_lla: Some(NODE_MAC),
        },
    };
    let expected = hex("02 00 00 00 00 01  02 00 00 00 00 11  86 dd
         60 00 00 00  00 20  3a  ff
         fd 00 00 30 00 00 00 00 00 00 00 00 00 00 01 00
         fd 00 00 30 00 00 00 00 00 00 00 00 00 00 00 01
         88  00  39 ff  40 00 00 00
         fd 00 00 30 00 00 00 00 00 00 00 00 00 00 01 00
         02 01 02 00 00 00 00 11");
    assert_eq!(na.encode_frame(NODE_MAC, ROUTER_MAC), expected);
    assert_eq!(NdpPacket::decode_frame(&expected).unwrap().1, na);
}

#[test]
fn the_unsolicited_advertisement_goes_to_all_nodes_with_override_set() {
    let na = ferrolb_l2::responder::unsolicited_advertisement(VIP6, NODE_MAC);
    let frame = na.encode_frame(NODE_MAC, MacAddr::ipv6_multicast(ferrolb_l2::ndp::ALL_NODES));
    assert_eq!(
        frame,
        hex("33 33 00 00 00 01  02 00 00 00 00 11  86 dd
             60 00 00 00  00 20  3a  ff
             fd 00 00 30 00 00 00 00 00 00 00 00 00 00 01 00
             ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01
             88  00  58 2d  20 00 00 00
             fd 00 00 30 00 00 00 00 00 00 00 00 00 00 01 00
             02 01 02 00 00 00 00 11")
    );
}

#[test]
fn solicited_node_groups_follow_rfc_4291_and_map_to_33_33_ff() {
    assert_eq!(
        solicited_node("2001:db8::1:2345:6789".parse().unwrap()),
        "ff02::1:ff45:6789".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(MacAddr::ipv6_multicast(solicited_node(VIP6)).to_string(), "33:33:ff:00:01:00");
}

#[test]
fn a_valid_checksum_sums_to_zero_and_any_flipped_bit_breaks_it() {
    let frame = neighbor_solicitation();
    let icmp = &frame[54..];
    assert_eq!(icmpv6_checksum(ROUTER6, "ff02::1:ff00:100".parse().unwrap(), icmp), 0);
    let mut bad = frame.clone();
    bad[70] ^= 0x01;
    assert_eq!(NdpPacket::decode_frame(&bad), Err(DecodeError::Checksum));
}

#[test]
fn ndp_with_a_hop_limit_below_255_is_rejected() {
    let mut frame = neighbor_solicitation();
    frame[21] = 254;
    assert_eq!(NdpPacket::decode_frame(&frame), Err(DecodeError::HopLimit(254)));
}

#[test]
fn an_option_of_length_zero_is_rejected() {
    let mut frame = neighbor_solicitation();
    frame[79] = 0;
    assert_eq!(NdpPacket::decode_frame(&refit(frame)), Err(DecodeError::OptionLengthZero));
}

/// Rewrites the IPv6 payload length and the checksum after editing the ICMPv6 body.
fn refit(mut frame: Vec<u8>) -> Vec<u8> {
    let len = (frame.len() - 54) as u16;
    frame[18..20].copy_from_slice(&len.to_be_bytes());
    frame[56..58].copy_from_slice(&[0, 0]);
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[22..38]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&frame[38..54]).unwrap());
    let checksum = icmpv6_checksum(src, dst, &frame[54..]);
    frame[56..58].copy_from_slice(&checksum.to_be_bytes());
    frame
}

#[test]
fn an_option_running_past_the_message_is_truncated() {
    let mut frame = neighbor_solicitation();
    frame[79] = 2;
    assert_eq!(NdpPacket::decode_frame(&refit(frame)), Err(DecodeError::OptionTruncated));
    let mut frame = neighbor_solicitation();
    frame.truncate(frame.len() - 7);
    assert_eq!(NdpPacket::decode_frame(&refit(frame)), Err(DecodeError::OptionTruncated));
}

#[test]
fn unknown_options_are_skipped_and_a_solicitation_without_options_has_no_source_address() {
    let mut frame = neighbor_solicitation();
    frame.extend_from_slice(&hex("0e 01 00 00 00 00 00 00"));
    let (_, ns) = NdpPacket::decode_frame(&refit(frame)).unwrap();
    assert_eq!(ns.message, NdpMessage::Solicitation { target: VIP6, source_lla: Some(ROUTER_MAC) });

    let mut frame = neighbor_solicitation();
    frame.truncate(78);
    let (_, ns) = NdpPacket::decode_frame(&refit(frame)).unwrap();
    assert_eq!(ns.message, NdpMessage::Solicitation { target: VIP6, source_lla: None });
}

#[test]
fn a_dad_probe_with_a_source_link_layer_option_is_invalid() {
    let mut frame = neighbor_solicitation();
    frame[22..38].copy_from_slice(&Ipv6Addr::UNSPECIFIED.octets());
    assert_eq!(NdpPacket::decode_frame(&refit(frame)), Err(DecodeError::InvalidDadProbe));
}

#[test]
fn foreign_and_truncated_frames_get_typed_errors() {
    assert!(matches!(EthernetFrame::decode(&[0; 13]), Err(DecodeError::Truncated { .. })));
    let frame = arp_request();
    assert_eq!(NdpPacket::decode_frame(&frame), Err(DecodeError::ForeignEtherType(ETHERTYPE_ARP)));
    assert!(matches!(ArpPacket::decode_frame(&frame[..41]), Err(DecodeError::Truncated { .. })));

    let mut token_ring = frame.clone();
    token_ring[15] = 6;
    assert_eq!(ArpPacket::decode_frame(&token_ring), Err(DecodeError::ArpHardwareType(6)));
    let mut ipx = frame.clone();
    ipx[16..18].copy_from_slice(&[0x81, 0x37]);
    assert_eq!(ArpPacket::decode_frame(&ipx), Err(DecodeError::ArpProtocolType(0x8137)));
    let mut long_hw = frame.clone();
    long_hw[18] = 8;
    assert_eq!(ArpPacket::decode_frame(&long_hw), Err(DecodeError::ArpAddressLength { hardware: 8, protocol: 4 }));
    let mut rarp = frame.clone();
    rarp[21] = 3;
    assert_eq!(ArpPacket::decode_frame(&rarp), Err(DecodeError::ArpOperation(3)));

    let mut echo = neighbor_solicitation();
    echo[54] = 128;
    assert_eq!(NdpPacket::decode_frame(&echo), Err(DecodeError::NotNeighborDiscovery(128)));
    let mut udp = neighbor_solicitation();
    udp[20] = 17;
    assert_eq!(NdpPacket::decode_frame(&udp), Err(DecodeError::NotIcmpv6(17)));
    let mut v4 = neighbor_solicitation();
    v4[14] = 0x45;
    assert_eq!(NdpPacket::decode_frame(&v4), Err(DecodeError::IpVersion(4)));
    let mut long = neighbor_solicitation();
    long[19] = 0x40;
    assert!(matches!(NdpPacket::decode_frame(&long), Err(DecodeError::Ipv6PayloadLength { declared: 64, .. })));
    let mut code = neighbor_solicitation();
    code[55] = 1;
    assert_eq!(NdpPacket::decode_frame(&code), Err(DecodeError::IcmpCode(1)));
    let mut multicast_target = neighbor_solicitation();
    multicast_target[62] = 0xff;
    assert_eq!(NdpPacket::decode_frame(&refit(multicast_target)), Err(DecodeError::MulticastTarget));
    // found by the ndp_decode fuzz target: a multicast source (RFC 4291 §2.7)
    let mut multicast_source = neighbor_solicitation();
    multicast_source[22] = 0xff;
    assert_eq!(NdpPacket::decode_frame(&refit(multicast_source)), Err(DecodeError::MulticastSource));
}

#[test]
fn mac_addresses_parse_and_print_in_colon_form() {
    assert_eq!("02:00:00:00:00:11".parse::<MacAddr>().unwrap(), NODE_MAC);
    assert!("02:00:00:00:00".parse::<MacAddr>().is_err());
    assert!("02:00:00:00:00:11:22".parse::<MacAddr>().is_err());
    assert!("zz:00:00:00:00:11".parse::<MacAddr>().is_err());
    assert!(MacAddr::BROADCAST.is_multicast() && !NODE_MAC.is_multicast());
}
