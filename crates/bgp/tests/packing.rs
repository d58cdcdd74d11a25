//! UPDATE packing (docs/design.md, Performance targets: 100,000 IPv4 /32 with equal attributes
//! in at most 200 UPDATEs; GoBGP needs 124).

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use ferrolb_bgp::{
    AsPath, Community, EncodeError, LargeCommunity, Message, MpNextHop, Origin, PathAttributes, Update, UpdatePacker,
};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

fn attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        next_hop: Some(Ipv4Addr::new(10, 255, 0, 1)),
        communities: vec![Community::new(64512, 100)],
        ..PathAttributes::default()
    }
}

fn v6_next_hop() -> MpNextHop {
    MpNextHop::V6 { global: "2001:db8::1".parse().unwrap(), link_local: Some("fe80::1".parse().unwrap()) }
}

fn host_routes_v4(n: u32) -> Vec<IpNet> {
    (0..n).map(|i| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap())).collect()
}

fn host_routes_v6(n: u128) -> Vec<IpNet> {
    let base = u128::from("2001:db8:100::".parse::<Ipv6Addr>().unwrap());
    (0..n).map(|i| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(base + i), 128).unwrap())).collect()
}

/// Decodes every message and returns what they announce and withdraw, checking each is
/// within the size limit and carries the packer's attributes.
fn unpack(messages: &[Vec<u8>]) -> (BTreeSet<IpNet>, BTreeSet<IpNet>, Vec<Update>) {
    let mut announced = BTreeSet::new();
    let mut withdrawn = BTreeSet::new();
    let mut updates = Vec::new();
    for wire in messages {
        assert!(wire.len() <= 4096, "message of {} octets", wire.len());
        let Ok(Message::Update(u)) = ferrolb_bgp::decode(wire, &FOUR) else { panic!("not a valid UPDATE") };
        announced.extend(u.announced());
        withdrawn.extend(u.withdrawals());
        updates.push(u);
    }
    (announced, withdrawn, updates)
}

#[test]
fn one_hundred_thousand_host_routes_fit_in_at_most_200_updates() {
    let prefixes = host_routes_v4(100_000);
    let messages = UpdatePacker::new(attributes(), None, ENC4).announce(&prefixes).unwrap();
    assert!(messages.len() <= 200, "{} messages", messages.len());
    // 4096 - 19 header - 4 lengths - 29 attributes = 4044 octets = 808 /32 per message.
    assert_eq!(messages.len(), 100_000_usize.div_ceil(808));
    let (announced, withdrawn, updates) = unpack(&messages);
    assert_eq!(announced, prefixes.iter().copied().collect());
    assert!(withdrawn.is_empty());
    for u in updates {
        assert_eq!(u.attributes, attributes(), "every message carries the same attributes");
    }
}

#[test]
fn one_hundred_thousand_withdrawals_fit_in_at_most_200_updates() {
    let prefixes = host_routes_v4(100_000);
    let messages = UpdatePacker::new(attributes(), None, ENC4).withdraw(&prefixes).unwrap();
    // 4096 - 23 = 4073 octets = 814 /32 per message.
    assert_eq!(messages.len(), 100_000_usize.div_ceil(814));
    let (announced, withdrawn, _) = unpack(&messages);
    assert!(announced.is_empty());
    assert_eq!(withdrawn, prefixes.iter().copied().collect());
}

#[test]
fn ipv6_routes_pack_into_mp_reach_without_an_ipv4_next_hop() {
    let prefixes = host_routes_v6(10_000);
    let packer = UpdatePacker::new(attributes(), Some(v6_next_hop()), ENC4);
    let messages = packer.announce(&prefixes).unwrap();
    // 4096 - 23 - 25 other attributes - 4 MP header - 37 MP fixed = 4007 octets: 235 /128.
    assert_eq!(messages.len(), 10_000_usize.div_ceil(235));
    let (announced, _, updates) = unpack(&messages);
    assert_eq!(announced, prefixes.iter().copied().collect());
    for u in updates {
        assert_eq!(u.attributes.next_hop, None);
        assert_eq!(u.attributes.mp_reach.unwrap().next_hop, v6_next_hop());
    }

    let messages = packer.withdraw(&prefixes).unwrap();
    let (_, withdrawn, _) = unpack(&messages);
    assert_eq!(withdrawn, prefixes.iter().copied().collect());
}

#[test]
fn mixed_families_go_in_separate_updates_and_duplicates_once() {
    let mut prefixes = host_routes_v4(3);
    prefixes.extend(host_routes_v6(3));
    prefixes.extend(host_routes_v4(3));
    let messages = UpdatePacker::new(attributes(), Some(v6_next_hop()), ENC4).announce(&prefixes).unwrap();
    assert_eq!(messages.len(), 2);
    let (announced, _, updates) = unpack(&messages);
    assert_eq!(announced.len(), 6);
    assert_eq!(updates[0].nlri.len(), 3);
    assert_eq!(updates[1].attributes.mp_reach.as_ref().unwrap().nlri.len(), 3);
}

#[test]
fn prefixes_of_mixed_lengths_all_arrive() {
    let prefixes: Vec<IpNet> = (0..20_000u32)
        .map(|i| {
            let len = (i % 33) as u8;
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(i.wrapping_mul(2_654_435_761)), len).unwrap())
        })
        .collect();
    let messages = UpdatePacker::new(attributes(), None, ENC2).announce(&prefixes).unwrap();
    let mut announced = BTreeSet::new();
    for (i, wire) in messages.iter().enumerate() {
        assert!(wire.len() <= 4096);
        let Ok(Message::Update(u)) = ferrolb_bgp::decode(wire, &TWO) else { panic!() };
        announced.extend(u.announced());
        if i + 1 < messages.len() {
            assert!(wire.len() > 4096 - 5, "a full message is filled to within one prefix");
        }
    }
    let want: BTreeSet<IpNet> = prefixes.iter().map(IpNet::trunc).collect();
    assert_eq!(announced, want);
}

#[test]
fn graceful_shutdown_is_just_another_community_in_the_set() {
    let mut attrs = attributes();
    attrs.communities.push(Community::GRACEFUL_SHUTDOWN);
    attrs.large_communities.push(LargeCommunity::new(64512, 1, 1));
    let messages = UpdatePacker::new(attrs.clone(), None, ENC4).announce(&host_routes_v4(1000)).unwrap();
    let (_, _, updates) = unpack(&messages);
    assert!(updates.iter().all(|u| { u.attributes.communities.contains(&Community::GRACEFUL_SHUTDOWN) }));
}

#[test]
fn announcing_without_a_next_hop_for_the_family_is_refused() {
    let mut attrs = attributes();
    attrs.next_hop = None;
    let packer = UpdatePacker::new(attrs, None, ENC4);
    assert!(matches!(packer.announce(&host_routes_v4(1)), Err(EncodeError::MissingNextHop { .. })));
    assert!(matches!(packer.announce(&host_routes_v6(1)), Err(EncodeError::MissingNextHop { .. })));
    assert_eq!(packer.announce(&[]).unwrap().len(), 0);
}

#[test]
fn attributes_too_large_for_any_nlri_are_refused() {
    let mut attrs = attributes();
    attrs.communities = (0..1100).map(Community).collect();
    let packer = UpdatePacker::new(attrs, None, ENC4);
    assert_eq!(packer.announce(&host_routes_v4(1)), Err(EncodeError::AttributesTooLarge));
}
