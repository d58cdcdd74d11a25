//! Structured UPDATEs: the input drives a generator of valid UPDATE values (withdrawn and
//! announced IPv4 prefixes, ORIGIN, AS_PATH of every segment type, NEXT_HOP, MED,
//! LOCAL_PREF, ATOMIC_AGGREGATE, COMMUNITIES, LARGE_COMMUNITIES, MP_REACH_NLRI and
//! MP_UNREACH_NLRI for both families, unknown transitive attributes), and each one that fits
//! a 4096-octet message must decode back to exactly itself, with 2- and 4-octet ASNs. The
//! coverage-guided companion of the encode/decode property in crates/bgp/tests.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrolb_bgp::{
    AfiSafi, AsPath, AsSegment, Community, DecodeContext, EncodeContext, LargeCommunity, Message, MpNextHop, MpReach,
    MpUnreach, Origin, PathAttributes, RawAttribute, SegmentType, Update, decode,
};
use ferrolb_testkit::bgp::with_mandatory_attributes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Type codes the decoder interprets; anything else may be an unknown attribute.
const KNOWN: [u8; 10] = [1, 2, 3, 4, 5, 6, 8, 14, 15, 32];

fn v4(u: &mut Unstructured<'_>) -> Result<Ipv4Net> {
    let addr = Ipv4Addr::from(u.arbitrary::<u32>()?);
    Ok(Ipv4Net::new(addr, u.int_in_range(0..=32)?).expect("length <= 32").trunc())
}

fn v6(u: &mut Unstructured<'_>) -> Result<Ipv6Net> {
    let addr = Ipv6Addr::from(u.arbitrary::<u128>()?);
    Ok(Ipv6Net::new(addr, u.int_in_range(0..=128)?).expect("length <= 128").trunc())
}

fn list<T>(
    u: &mut Unstructured<'_>,
    max: usize,
    mut f: impl FnMut(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| f(u)).collect()
}

fn unicast_v4(u: &mut Unstructured<'_>) -> Result<Ipv4Addr> {
    let a = Ipv4Addr::from(u.arbitrary::<u32>()?);
    Ok(if a.is_unspecified() || a.is_multicast() || a.is_broadcast() { Ipv4Addr::new(192, 0, 2, 1) } else { a })
}

fn unicast_v6(u: &mut Unstructured<'_>) -> Result<Ipv6Addr> {
    let a = Ipv6Addr::from(u.arbitrary::<u128>()?);
    Ok(if a.is_unspecified() || a.is_multicast() { Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1) } else { a })
}

fn as_path(u: &mut Unstructured<'_>, four_octet: bool) -> Result<AsPath> {
    let kinds = [SegmentType::Set, SegmentType::Sequence, SegmentType::ConfedSequence, SegmentType::ConfedSet];
    let segments = list(u, 4, |u| {
        let kind = *u.choose(&kinds)?;
        let n = u.int_in_range(1..=255)?;
        let asns = (0..n)
            .map(|_| if four_octet { u.arbitrary::<u32>() } else { u.arbitrary::<u16>().map(u32::from) })
            .collect::<Result<_>>()?;
        Ok(AsSegment { kind, asns })
    })?;
    Ok(AsPath { segments })
}

fn mp_reach(u: &mut Unstructured<'_>) -> Result<Option<MpReach>> {
    Ok(match u.int_in_range(0..=2)? {
        0 => None,
        1 => Some(MpReach {
            family: AfiSafi::IPV6_UNICAST,
            next_hop: MpNextHop::V6 {
                global: unicast_v6(u)?,
                link_local: if u.arbitrary()? { Some(Ipv6Addr::from(u.arbitrary::<u128>()?)) } else { None },
            },
            nlri: list(u, 30, |u| v6(u).map(IpNet::V6))?,
        }),
        _ => Some(MpReach {
            family: AfiSafi::IPV4_UNICAST,
            next_hop: MpNextHop::V4(unicast_v4(u)?),
            nlri: list(u, 30, |u| v4(u).map(IpNet::V4))?,
        }),
    })
}

fn mp_unreach(u: &mut Unstructured<'_>) -> Result<Option<MpUnreach>> {
    Ok(match u.int_in_range(0..=2)? {
        0 => None,
        1 => Some(MpUnreach { family: AfiSafi::IPV6_UNICAST, withdrawn: list(u, 30, |u| v6(u).map(IpNet::V6))? }),
        _ => Some(MpUnreach { family: AfiSafi::IPV4_UNICAST, withdrawn: list(u, 30, |u| v4(u).map(IpNet::V4))? }),
    })
}

/// Up to three optional transitive attributes of types the decoder does not interpret, one
/// of each type, in type order (as the decoder keeps them).
fn unknown(u: &mut Unstructured<'_>) -> Result<Vec<RawAttribute>> {
    let mut unknown = list(u, 3, |u| {
        let mut type_code = u.arbitrary::<u8>()?;
        if KNOWN.contains(&type_code) || type_code == 0 {
            type_code = 200;
        }
        let flags = *u.choose(&[0xc0u8, 0xe0])?;
        Ok(RawAttribute { flags, type_code, value: list(u, 300, |u| u.arbitrary())? })
    })?;
    unknown.sort_by_key(|a| a.type_code);
    unknown.dedup_by_key(|a| a.type_code);
    Ok(unknown)
}

fn update(u: &mut Unstructured<'_>, four_octet: bool) -> Result<Update> {
    let withdrawn = list(u, 40, v4)?;
    let nlri = list(u, 40, v4)?;
    // Fields are evaluated in the order written, so the input is read in this order.
    let attributes = PathAttributes {
        origin: if u.arbitrary()? { Some(*u.choose(&[Origin::Igp, Origin::Egp, Origin::Incomplete])?) } else { None },
        as_path: if u.arbitrary()? { Some(as_path(u, four_octet)?) } else { None },
        next_hop: if u.arbitrary()? { Some(unicast_v4(u)?) } else { None },
        med: u.arbitrary()?,
        local_pref: u.arbitrary()?,
        atomic_aggregate: u.arbitrary()?,
        communities: list(u, 20, |u| u.arbitrary().map(Community))?,
        large_communities: list(u, 10, |u| Ok(LargeCommunity::new(u.arbitrary()?, u.arbitrary()?, u.arbitrary()?)))?,
        mp_reach: mp_reach(u)?,
        mp_unreach: mp_unreach(u)?,
        unknown: unknown(u)?,
    };
    // Without ORIGIN, AS_PATH and NEXT_HOP an announcement is rightly treat-as-withdraw.
    Ok(with_mandatory_attributes(Update { withdrawn, attributes, nlri }))
}

fuzz_target!(|data: &[u8]| {
    for four_octet_as in [false, true] {
        let mut u = Unstructured::new(data);
        let Ok(update) = update(&mut u, four_octet_as) else { return };
        let message = Message::Update(update);
        // Too big for one message: the packer splits such tables, the encoder refuses them.
        let Ok(wire) = message.encode(&EncodeContext { four_octet_as }) else { continue };
        assert_eq!(decode(&wire, &DecodeContext { four_octet_as }), Ok(message));
    }
});
