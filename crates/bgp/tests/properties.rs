//! Property tests: every valid message survives encode → decode unchanged, and no input,
//! random or a mutated valid message, makes the decoder panic (docs/design.md, Testing:
//! the stable-toolchain companion of the fuzz target).

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use ferrolb_bgp::{
    AfiSafi, AsPath, AsSegment, Capability, Community, DecodeContext, EncodeContext, ErrorCode, ExtendedNextHop,
    GracefulRestart, GracefulRestartFamily, LargeCommunity, Message, MpNextHop, MpReach, MpUnreach, Notification, Open,
    Origin, PathAttributes, RawAttribute, RouteRefresh, SegmentType, Update, next_frame_len,
};
use ferrolb_testkit::bgp::with_mandatory_attributes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

fn v4_prefix() -> impl Strategy<Value = Ipv4Net> {
    (any::<u32>(), 0..=32u8).prop_map(|(a, l)| Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
}

fn v6_prefix() -> impl Strategy<Value = Ipv6Net> {
    (any::<u128>(), 0..=128u8).prop_map(|(a, l)| Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
}

fn unicast_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("unicast", |a| !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()))
}

fn unicast_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from).prop_filter("unicast", |a| !(a.is_unspecified() || a.is_multicast()))
}

fn asn(four_octet: bool) -> BoxedStrategy<u32> {
    if four_octet { any::<u32>().boxed() } else { (0..=u32::from(u16::MAX)).boxed() }
}

fn as_path(four_octet: bool) -> impl Strategy<Value = AsPath> {
    let kind = prop_oneof![
        Just(SegmentType::Set),
        Just(SegmentType::Sequence),
        Just(SegmentType::ConfedSequence),
        Just(SegmentType::ConfedSet),
    ];
    let segment =
        (kind, prop::collection::vec(asn(four_octet), 1..8)).prop_map(|(kind, asns)| AsSegment { kind, asns });
    prop::collection::vec(segment, 0..4).prop_map(|segments| AsPath { segments })
}

fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    // Types we do not interpret; AS4_PATH (17) is left out because the encoder may
    // synthesize it.
    let type_code = (18u8..=255).prop_filter("not LARGE_COMMUNITIES", |t| *t != 32);
    let attr = (type_code, prop_oneof![Just(0xc0u8), Just(0xe0u8)], prop::collection::vec(any::<u8>(), 0..300));
    prop::collection::btree_map(any::<u8>(), attr, 0..3).prop_map(|m| {
        let mut v: Vec<RawAttribute> =
            m.into_values().map(|(type_code, flags, value)| RawAttribute { flags, type_code, value }).collect();
        v.sort_by_key(|a| a.type_code);
        v.dedup_by_key(|a| a.type_code);
        v
    })
}

fn mp_reach() -> impl Strategy<Value = MpReach> {
    prop_oneof![
        (
            unicast_v6(),
            proptest::option::of(any::<u128>().prop_map(Ipv6Addr::from)),
            prop::collection::vec(v6_prefix().prop_map(IpNet::V6), 0..30),
        )
            .prop_map(|(global, link_local, nlri)| MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::V6 { global, link_local },
                nlri,
            }),
        (unicast_v4(), prop::collection::vec(v4_prefix().prop_map(IpNet::V4), 0..30)).prop_map(|(nh, nlri)| MpReach {
            family: AfiSafi::IPV4_UNICAST,
            next_hop: MpNextHop::V4(nh),
            nlri,
        }),
    ]
}

fn mp_unreach() -> impl Strategy<Value = MpUnreach> {
    prop_oneof![
        prop::collection::vec(v6_prefix().prop_map(IpNet::V6), 0..30)
            .prop_map(|withdrawn| { MpUnreach { family: AfiSafi::IPV6_UNICAST, withdrawn } }),
        prop::collection::vec(v4_prefix().prop_map(IpNet::V4), 0..30)
            .prop_map(|withdrawn| { MpUnreach { family: AfiSafi::IPV4_UNICAST, withdrawn } }),
    ]
}

fn update(four_octet: bool) -> impl Strategy<Value = Update> {
    let origin = proptest::option::of(prop_oneof![Just(Origin::Igp), Just(Origin::Egp), Just(Origin::Incomplete)]);
    let attrs = (
        (
            origin,
            proptest::option::of(as_path(four_octet)),
            proptest::option::of(unicast_v4()),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        ),
        (
            prop::collection::vec(any::<u32>().prop_map(Community), 0..10),
            prop::collection::vec(any::<(u32, u32, u32)>().prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)), 0..5),
            proptest::option::of(mp_reach()),
            proptest::option::of(mp_unreach()),
            unknown_attributes(),
        ),
    );
    (prop::collection::vec(v4_prefix(), 0..50), attrs, prop::collection::vec(v4_prefix(), 0..50)).prop_map(
        |(withdrawn, ((origin, as_path, next_hop, med, local_pref, atomic_aggregate), rest), nlri)| {
            let (communities, large_communities, mp_reach, mp_unreach, unknown) = rest;
            let attributes = PathAttributes {
                origin,
                as_path,
                next_hop,
                med,
                local_pref,
                atomic_aggregate,
                communities,
                large_communities,
                mp_reach,
                mp_unreach,
                unknown,
            };
            with_mandatory_attributes(Update { withdrawn, attributes, nlri })
        },
    )
}

fn capability() -> impl Strategy<Value = Capability> {
    let family = any::<(u16, u8)>().prop_map(|(afi, safi)| AfiSafi::new(afi, safi));
    let gr_family = (family.clone(), any::<bool>())
        .prop_map(|(family, forwarding_state)| GracefulRestartFamily { family, forwarding_state });
    prop_oneof![
        family.prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        (any::<bool>(), any::<bool>(), 0u16..4096, prop::collection::vec(gr_family, 0..4)).prop_map(
            |(restart_state, notification, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestart { restart_state, notification, restart_time, families })
            }
        ),
        (1..=u32::MAX).prop_map(Capability::FourOctetAs),
        prop::collection::vec(
            any::<(u16, u16, u16)>().prop_map(|(nlri_afi, nlri_safi, next_hop_afi)| ExtendedNextHop {
                nlri_afi,
                nlri_safi,
                next_hop_afi
            }),
            1..4
        )
        .prop_map(Capability::ExtendedNextHop),
        (
            any::<u8>().prop_filter("unknown code", |c| ![1, 2, 5, 64, 65].contains(c)),
            prop::collection::vec(any::<u8>(), 0..20)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (1..=u16::MAX, prop_oneof![Just(0u16), 3..=u16::MAX], 1..=u32::MAX, prop::collection::vec(capability(), 0..6))
        .prop_map(|(my_as, hold_time, id, capabilities)| Open {
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            capabilities,
        })
}

fn message(four_octet: bool) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(four_octet).prop_map(Message::Update),
        (any::<u8>(), any::<u8>(), prop::collection::vec(any::<u8>(), 0..100))
            .prop_map(|(c, s, data)| { Message::Notification(Notification::new(ErrorCode::from_octets(c, s), data)) }),
        Just(Message::Keepalive),
        any::<(u16, u8, u8)>().prop_map(|(afi, subtype, safi)| {
            Message::RouteRefresh(RouteRefresh { family: AfiSafi::new(afi, safi), subtype })
        }),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(wire: &mut Vec<u8>, m: &Mutation, fix_length: bool) {
    if wire.is_empty() {
        return;
    }
    let n = wire.len();
    match *m {
        Mutation::Flip(i, x) => wire[i % n] ^= x,
        Mutation::Insert(i, b) => wire.insert(i % (n + 1), b),
        Mutation::Remove(i) => {
            wire.remove(i % n);
        }
        Mutation::Truncate(i) => wire.truncate(i % n),
    }
    // Keeping the header consistent lets mutations reach the body parsers.
    if fix_length && wire.len() >= 19 {
        let len = wire.len() as u16;
        wire[..16].fill(0xff);
        wire[16..18].copy_from_slice(&len.to_be_bytes());
    }
}

/// Decoding anything must not panic; whatever decodes must re-encode to something that
/// decodes the same way.
fn check_decoder_on(wire: &[u8]) {
    let _ = next_frame_len(wire);
    for four_octet_as in [false, true] {
        let dctx = DecodeContext { four_octet_as };
        let ectx = EncodeContext { four_octet_as };
        if let Ok(m) = ferrolb_bgp::decode(wire, &dctx)
            && let Ok(again) = m.encode(&ectx)
        {
            assert_eq!(ferrolb_bgp::decode(&again, &dctx), Ok(m));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_valid_message_round_trips_with_four_octet_as(m in message(true)) {
        let wire = m.encode(&ENC4).unwrap();
        prop_assert!(wire.len() <= 4096);
        prop_assert_eq!(next_frame_len(&wire), Ok(Some(wire.len())));
        prop_assert_eq!(ferrolb_bgp::decode(&wire, &FOUR), Ok(m));
    }

    #[test]
    fn every_valid_message_round_trips_with_two_octet_as(m in message(false)) {
        let wire = m.encode(&ENC2).unwrap();
        prop_assert_eq!(ferrolb_bgp::decode(&wire, &TWO), Ok(m));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_valid_messages_never_panic_the_decoder(
        m in message(true),
        mutations in prop::collection::vec(mutation(), 1..4),
        fix_length in any::<bool>(),
    ) {
        let mut wire = m.encode(&ENC4).unwrap();
        for mutation in &mutations {
            apply(&mut wire, mutation, fix_length);
        }
        check_decoder_on(&wire);
    }

    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_decoder_on(&bytes);
    }

    #[test]
    fn random_bodies_behind_a_valid_header_never_panic_the_decoder(
        message_type in 1u8..=5,
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut wire = vec![0xff; 16];
        wire.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        wire.push(message_type);
        wire.extend_from_slice(&body);
        check_decoder_on(&wire);
    }
}
