//! Property tests, the stable-toolchain companion of the fuzz targets (docs/design.md, Testing): any
//! valid packet survives encode → decode, and no input, random or a mutated valid frame,
//! makes a decoder or the responder panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ferrolb_l2::{
    ArpOperation, ArpPacket, Exclusion, InterfaceSelection, MacAddr, NdpMessage, NdpPacket, Responder, RouterAdvert,
};
use proptest::prelude::*;

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_map(MacAddr)
}

fn unicast_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from).prop_filter("unicast", |a| !a.is_multicast() && !a.is_unspecified())
}

fn arp() -> impl Strategy<Value = ArpPacket> {
    (prop_oneof![Just(ArpOperation::Request), Just(ArpOperation::Reply)], mac(), any::<u32>(), mac(), any::<u32>())
        .prop_map(|(operation, sender_mac, sender_ip, target_mac, target_ip)| ArpPacket {
            operation,
            sender_mac,
            sender_ip: Ipv4Addr::from(sender_ip),
            target_mac,
            target_ip: Ipv4Addr::from(target_ip),
        })
}

fn ndp() -> impl Strategy<Value = NdpPacket> {
    let solicitation =
        (unicast_v6(), unicast_v6(), proptest::option::of(mac())).prop_map(|(source, target, lla)| NdpPacket {
            source,
            destination: ferrolb_l2::solicited_node(target),
            message: NdpMessage::Solicitation { target, source_lla: lla },
        });
    let advertisement = (unicast_v6(), unicast_v6(), unicast_v6(), any::<[bool; 3]>(), proptest::option::of(mac()))
        .prop_map(|(source, destination, target, [router, solicited, override_flag], lla)| NdpPacket {
            source,
            destination,
            message: NdpMessage::Advertisement { router, solicited, override_flag, target, target_lla: lla },
        });
    prop_oneof![solicitation, advertisement]
}

/// A responder with one eligible interface answering for a handful of addresses, so random
/// frames reach every branch of `handle`.
fn responder() -> Responder {
    let mut r = Responder::new(Exclusion::metallb_default());
    r.set_interfaces(vec![ferrolb_testkit::interfaces::eth0()]);
    for ip in ["172.30.0.100", "fd00:30::100", "0.0.0.0", "::1"] {
        r.announce("default/web", ip.parse::<IpAddr>().unwrap(), InterfaceSelection::All);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn every_arp_packet_round_trips(packet in arp(), src in mac(), dst in mac()) {
        let frame = packet.encode_frame(src, dst);
        let (eth, decoded) = ArpPacket::decode_frame(&frame).unwrap();
        prop_assert_eq!((eth.source, eth.destination, decoded), (src, dst, packet));
    }

    #[test]
    fn every_ndp_packet_round_trips_with_a_valid_checksum(packet in ndp(), src in mac(), dst in mac()) {
        let frame = packet.encode_frame(src, dst);
        let (_, decoded) = NdpPacket::decode_frame(&frame).unwrap();
        prop_assert_eq!(decoded, packet);
    }

    #[test]
    fn random_bytes_never_panic_a_decoder_or_the_responder(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = ArpPacket::decode_frame(&bytes);
        let _ = NdpPacket::decode_frame(&bytes);
        let _ = NdpPacket::decode(&bytes);
        let _ = responder().handle("eth0", &bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic_and_never_answer_for_unannounced_ips(
        arp_packet in arp(),
        ndp_packet in ndp(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let mut r = responder();
        for mut frame in [
            arp_packet.encode_frame(MacAddr([2, 0, 0, 0, 0, 1]), MacAddr::BROADCAST),
            ndp_packet.encode_frame(MacAddr([2, 0, 0, 0, 0, 1]), MacAddr([0x33, 0x33, 0xff, 0, 1, 0])),
        ] {
            for (at, value) in &edits {
                let i = at.index(frame.len());
                frame[i] = *value;
            }
            let mut truncated = frame[..cut.index(frame.len() + 1)].to_vec();
            frame.extend_from_slice(&extra);
            for input in [&frame, &truncated] {
                let _ = ArpPacket::decode_frame(input);
                let _ = NdpPacket::decode_frame(input);
                if let Some(reply) = r.handle("eth0", input) {
                    let answered = match ArpPacket::decode_frame(&reply) {
                        Ok((_, arp)) => IpAddr::V4(arp.sender_ip),
                        Err(_) => match NdpPacket::decode_frame(&reply).unwrap().1.message {
                            NdpMessage::Advertisement { target, .. } => IpAddr::V6(target),
                            other => panic!("unexpected reply {other:?}"),
                        },
                    };
                    prop_assert!(r.is_announced(answered), "answered for {answered}");
                }
            }
            truncated.clear();
        }
    }
}

fn router_advert() -> impl Strategy<Value = RouterAdvert> {
    (any::<u8>(), any::<[bool; 2]>(), any::<u16>(), any::<u32>(), any::<u32>(), proptest::option::of(mac())).prop_map(
        |(cur_hop_limit, [managed, other], router_lifetime, reachable_time, retrans_timer, source_lla)| RouterAdvert {
            cur_hop_limit,
            managed,
            other,
            router_lifetime,
            reachable_time,
            retrans_timer,
            source_lla,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn every_router_advertisement_round_trips(ra in router_advert()) {
        prop_assert_eq!(RouterAdvert::decode(&ra.encode()), Ok(ra));
    }

    #[test]
    fn random_bytes_never_panic_the_router_advertisement_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(ra) = RouterAdvert::decode(&bytes) {
            // Whatever decodes re-encodes to something that decodes the same.
            prop_assert_eq!(RouterAdvert::decode(&ra.encode()), Ok(ra));
        }
    }

    #[test]
    fn mutated_router_advertisements_never_panic_the_decoder(
        ra in router_advert(),
        extra in proptest::collection::vec(any::<u8>(), 0..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = ra.encode();
        bytes.extend(extra);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = RouterAdvert::decode(&bytes);
    }
}
