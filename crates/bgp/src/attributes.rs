//! Path attributes (RFC 4271 §4.3 and §5) and their error handling (RFC 4271 §6.3 as
//! revised by RFC 7606).
//!
//! Every attribute is a (flags, type, length, value) triple:
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//!  Attr. Flags: O (optional) T (transitive) P (partial) E (extended length) 0 0 0 0
//!
//! +-+-+-+-+-+-+-+-+ or +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Length (1)   |    |          Length (2, E set)    |
//! +-+-+-+-+-+-+-+-+    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;
use ipnet::IpNet;

use crate::error::{EncodeError, MessageError};
use crate::nlri;
use crate::wire::{AS_TRANS, AfiSafi, Reader};

pub const FLAG_OPTIONAL: u8 = 0x80;
pub const FLAG_TRANSITIVE: u8 = 0x40;
pub const FLAG_PARTIAL: u8 = 0x20;
pub const FLAG_EXTENDED_LENGTH: u8 = 0x10;

pub const ORIGIN: u8 = 1;
pub const AS_PATH: u8 = 2;
pub const NEXT_HOP: u8 = 3;
pub const MULTI_EXIT_DISC: u8 = 4;
pub const LOCAL_PREF: u8 = 5;
pub const ATOMIC_AGGREGATE: u8 = 6;
pub const COMMUNITIES: u8 = 8;
pub const MP_REACH_NLRI: u8 = 14;
pub const MP_UNREACH_NLRI: u8 = 15;
pub const AS4_PATH: u8 = 17;
pub const LARGE_COMMUNITIES: u8 = 32;

const WELL_KNOWN: u8 = FLAG_TRANSITIVE;
const OPTIONAL_TRANSITIVE: u8 = FLAG_OPTIONAL | FLAG_TRANSITIVE;
const OPTIONAL_NON_TRANSITIVE: u8 = FLAG_OPTIONAL;

/// The attributes of one UPDATE. Absent attributes are `None` or empty; RFC 7606 §7.8 and
/// RFC 8092 §6 make an empty COMMUNITIES or LARGE_COMMUNITIES malformed, so "empty" and
/// "absent" are the same thing on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    /// IPv4 NEXT_HOP; IPv6 routes carry theirs in [`MpReach`].
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Optional transitive attributes we do not interpret, passed on as received
    /// (RFC 4271 §5). Unknown optional non-transitive ones are dropped on decode, as §5 asks.
    pub unknown: Vec<RawAttribute>,
}

/// ORIGIN (RFC 4271 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AS_PATH (RFC 4271 §4.3, §5.1.2): segments of (type, count, ASNs), each ASN 2 or 4 octets
/// depending on whether both sides announced 4-octet AS support (RFC 6793 §4.1).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | segment type  | segment length|  ASN, ASN, ... (2 or 4 octets each)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    pub asns: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentType {
    Set = 1,
    Sequence = 2,
    /// RFC 5065 §3.
    ConfedSequence = 3,
    /// RFC 5065 §3.
    ConfedSet = 4,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Set,
            2 => Self::Sequence,
            3 => Self::ConfedSequence,
            4 => Self::ConfedSet,
            _ => return None,
        })
    }
}

impl AsPath {
    /// One AS_SEQUENCE: what an eBGP speaker originating a route sends (RFC 4271 §5.1.2).
    /// An empty list gives the empty AS_PATH of an iBGP origination.
    pub fn sequence(asns: impl Into<Vec<u32>>) -> Self {
        let asns = asns.into();
        if asns.is_empty() {
            return Self::default();
        }
        Self { segments: vec![AsSegment { kind: SegmentType::Sequence, asns }] }
    }

    fn needs_four_octets(&self) -> bool {
        self.segments.iter().any(|s| s.asns.iter().any(|&a| a > u32::from(u16::MAX)))
    }

    fn encode_value(&self, out: &mut Vec<u8>, four_octet: bool, skip_confed: bool) {
        for seg in &self.segments {
            if skip_confed && matches!(seg.kind, SegmentType::ConfedSequence | SegmentType::ConfedSet) {
                continue;
            }
            // A segment holds at most 255 ASNs; longer ones continue in a segment of the
            // same type.
            for chunk in seg.asns.chunks(255) {
                out.put_u8(seg.kind as u8);
                out.put_u8(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.put_u32(asn);
                    } else {
                        out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
                    }
                }
            }
        }
    }

    fn decode_value(buf: &[u8], four_octet: bool) -> Option<Self> {
        let mut r = Reader::new(buf);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let kind = SegmentType::from_u8(r.u8()?)?;
            let count = usize::from(r.u8()?);
            // RFC 7606 §7.2: a zero-length segment is malformed.
            if count == 0 {
                return None;
            }
            let width = if four_octet { 4 } else { 2 };
            let mut v = Reader::new(r.take(count * width)?);
            let mut asns = Vec::with_capacity(count);
            for _ in 0..count {
                asns.push(if four_octet { v.u32()? } else { u32::from(v.u16()?) });
            }
            segments.push(AsSegment { kind, asns });
        }
        Some(Self { segments })
    }
}

/// A COMMUNITIES value (RFC 1997): high 16 bits an ASN, low 16 bits operator-defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// RFC 8326 §5: ask the receiver to lower the route's preference before we take it
    /// away, so traffic drains before a planned shutdown.
    pub const GRACEFUL_SHUTDOWN: Self = Self(0xffff_0000);
    /// RFC 7611.
    pub const ACCEPT_OWN: Self = Self(0xffff_0001);
    /// RFC 7999.
    pub const BLACKHOLE: Self = Self(0xffff_029a);
    /// RFC 1997.
    pub const NO_EXPORT: Self = Self(0xffff_ff01);
    /// RFC 1997.
    pub const NO_ADVERTISE: Self = Self(0xffff_ff02);
    /// RFC 1997.
    pub const NO_EXPORT_SUBCONFED: Self = Self(0xffff_ff03);
    /// RFC 3765.
    pub const NOPEER: Self = Self(0xffff_ff04);

    pub const fn new(asn: u16, value: u16) -> Self {
        Self(((asn as u32) << 16) | value as u32)
    }
}

/// A LARGE_COMMUNITIES value (RFC 8092 §3): three 4-octet fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

impl LargeCommunity {
    pub const fn new(global_admin: u32, local_data_1: u32, local_data_2: u32) -> Self {
        Self { global_admin, local_data_1, local_data_2 }
    }
}

/// MP_REACH_NLRI (RFC 4760 §3), for IPv4 and IPv6 unicast.
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Length of Next Hop Network Address (1 octet)            |
/// +---------------------------------------------------------+
/// | Network Address of Next Hop (variable)                  |
/// +---------------------------------------------------------+
/// | Reserved (1 octet)                                      |
/// +---------------------------------------------------------+
/// | Network Layer Reachability Information (variable)       |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    pub family: AfiSafi,
    pub next_hop: MpNextHop,
    pub nlri: Vec<IpNet>,
}

/// The MP_REACH_NLRI next hop: 4 octets for IPv4; for IPv6 16 octets (global) or 32
/// (global then link-local, RFC 2545 §3). An IPv6 next hop may go with IPv4 NLRI where the
/// Extended Next Hop Encoding was negotiated (RFC 8950 §3); on an unnumbered session with no
/// global address, `global` holds the link-local address alone (16 octets), as FRR sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MpNextHop {
    V4(Ipv4Addr),
    V6 { global: Ipv6Addr, link_local: Option<Ipv6Addr> },
}

impl MpNextHop {
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::V4(_) => 4,
            Self::V6 { link_local: None, .. } => 16,
            Self::V6 { link_local: Some(_), .. } => 32,
        }
    }
}

/// MP_UNREACH_NLRI (RFC 4760 §4).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Withdrawn Routes (variable)                             |
/// +---------------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: AfiSafi,
    pub withdrawn: Vec<IpNet>,
}

/// An attribute kept verbatim. `flags` holds the O, T and P bits; the extended-length bit
/// is recomputed on encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

/// Result of decoding the attribute field: the attributes, and the first error that
/// RFC 7606 handles as treat-as-withdraw (the session stays up).
pub(crate) struct Decoded {
    pub attributes: PathAttributes,
    pub withdraw_error: Option<MessageError>,
}

fn family_prefixes(family: AfiSafi, buf: &[u8]) -> Result<Vec<IpNet>, MessageError> {
    Ok(match family {
        AfiSafi::IPV4_UNICAST => nlri::decode_v4(buf)?.into_iter().map(IpNet::V4).collect(),
        _ => nlri::decode_v6(buf)?.into_iter().map(IpNet::V6).collect(),
    })
}

fn is_unicast_v4(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast() || a.is_broadcast())
}

fn is_unicast_v6(a: Ipv6Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast())
}

fn decode_mp_reach(value: &[u8], raw: &[u8]) -> Result<(MpReach, bool), MessageError> {
    let bad = || MessageError::OptionalAttributeError { type_code: MP_REACH_NLRI, attribute: raw.to_vec() };
    let mut r = Reader::new(value);
    let (Some(afi), Some(safi), Some(nh_len)) = (r.u16(), r.u8(), r.u8()) else {
        return Err(bad());
    };
    let family = AfiSafi::new(afi, safi);
    let nh = r.take(usize::from(nh_len)).ok_or_else(bad)?;
    let mut nhr = Reader::new(nh);
    let next_hop = match (family, nh.len()) {
        (AfiSafi::IPV4_UNICAST, 4) => MpNextHop::V4(Ipv4Addr::from(nhr.array::<4>().ok_or_else(bad)?)),
        // RFC 8950 §3: IPv4 unicast NLRI may carry an IPv6 next hop of 16 or 32 octets.
        (AfiSafi::IPV6_UNICAST | AfiSafi::IPV4_UNICAST, 16 | 32) => MpNextHop::V6 {
            global: Ipv6Addr::from(nhr.array::<16>().ok_or_else(bad)?),
            link_local: nhr.array::<16>().map(Ipv6Addr::from),
        },
        // RFC 7606 §7.11: a next-hop length inconsistent with the family, or a family we
        // never negotiate, leaves no safe reading of the NLRI.
        _ => return Err(bad()),
    };
    r.u8().ok_or_else(bad)?; // reserved
    let nlri = family_prefixes(family, r.rest())?;
    let valid_next_hop = match next_hop {
        MpNextHop::V4(a) => is_unicast_v4(a),
        MpNextHop::V6 { global, .. } => is_unicast_v6(global),
    };
    Ok((MpReach { family, next_hop, nlri }, valid_next_hop))
}

fn decode_mp_unreach(value: &[u8], raw: &[u8]) -> Result<MpUnreach, MessageError> {
    let mut r = Reader::new(value);
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err(MessageError::OptionalAttributeError { type_code: MP_UNREACH_NLRI, attribute: raw.to_vec() });
    };
    let family = AfiSafi::new(afi, safi);
    if family != AfiSafi::IPV4_UNICAST && family != AfiSafi::IPV6_UNICAST {
        return Err(MessageError::OptionalAttributeError { type_code: MP_UNREACH_NLRI, attribute: raw.to_vec() });
    }
    Ok(MpUnreach { family, withdrawn: family_prefixes(family, r.rest())? })
}

/// The O and T bits (and whether P may be set) RFC 4271 §5 fixes for each known type.
fn expected_flags(type_code: u8) -> Option<(u8, bool)> {
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => (WELL_KNOWN, false),
        MULTI_EXIT_DISC | MP_REACH_NLRI | MP_UNREACH_NLRI => (OPTIONAL_NON_TRANSITIVE, false),
        COMMUNITIES | LARGE_COMMUNITIES => (OPTIONAL_TRANSITIVE, true),
        _ => return None,
    })
}

pub(crate) fn decode(buf: &[u8], four_octet_as: bool) -> Result<Decoded, MessageError> {
    let mut attrs = PathAttributes::default();
    let mut withdraw_error: Option<MessageError> = None;
    let mut seen = [false; 256];
    let mut r = Reader::new(buf);

    while !r.is_empty() {
        let start = buf.len() - r.remaining();
        let (Some(flags), Some(type_code)) = (r.u8(), r.u8()) else {
            return Err(MessageError::MalformedAttributeList { reason: "truncated attribute header" });
        };
        let len = if flags & FLAG_EXTENDED_LENGTH != 0 { r.u16().map(usize::from) } else { r.u8().map(usize::from) };
        // An attribute running past the field hides where the next one (possibly
        // MP_REACH_NLRI) starts, so treat-as-withdraw cannot be applied safely.
        let Some(value) = len.and_then(|len| r.take(len)) else {
            return Err(MessageError::AttributeLengthError { type_code, attribute: buf[start..].to_vec() });
        };
        let raw = &buf[start..buf.len() - r.remaining()];
        let mut soft = |e: MessageError| {
            withdraw_error.get_or_insert(e);
        };

        if seen[usize::from(type_code)] {
            // RFC 7606 §3 g: a repeated MP attribute is fatal; any other repeat is dropped.
            if matches!(type_code, MP_REACH_NLRI | MP_UNREACH_NLRI) {
                return Err(MessageError::MalformedAttributeList {
                    reason: "MP_REACH_NLRI or MP_UNREACH_NLRI appears twice",
                });
            }
            continue;
        }
        seen[usize::from(type_code)] = true;

        if let Some((want, partial_ok)) = expected_flags(type_code) {
            let bad_partial = !partial_ok && flags & FLAG_PARTIAL != 0;
            if flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE) != want || bad_partial {
                let e = MessageError::AttributeFlagsError { type_code, attribute: raw.to_vec() };
                match type_code {
                    MP_REACH_NLRI | MP_UNREACH_NLRI => return Err(e),
                    // RFC 7606 §7.6: attribute discard.
                    ATOMIC_AGGREGATE => {}
                    _ => soft(e),
                }
                continue;
            }
        }

        let length_error = || MessageError::AttributeLengthError { type_code, attribute: raw.to_vec() };
        let mut v = Reader::new(value);
        match type_code {
            ORIGIN => match value {
                [0] => attrs.origin = Some(Origin::Igp),
                [1] => attrs.origin = Some(Origin::Egp),
                [2] => attrs.origin = Some(Origin::Incomplete),
                [_] => soft(MessageError::InvalidOrigin { attribute: raw.to_vec() }),
                _ => soft(length_error()),
            },
            AS_PATH => match AsPath::decode_value(value, four_octet_as) {
                Some(p) => attrs.as_path = Some(p),
                None => soft(MessageError::MalformedAsPath),
            },
            NEXT_HOP => match v.array::<4>() {
                Some(a) if value.len() == 4 => {
                    let a = Ipv4Addr::from(a);
                    if is_unicast_v4(a) {
                        attrs.next_hop = Some(a);
                    } else {
                        soft(MessageError::InvalidNextHop { attribute: raw.to_vec() });
                    }
                }
                _ => soft(length_error()),
            },
            MULTI_EXIT_DISC | LOCAL_PREF => match v.u32() {
                Some(n) if value.len() == 4 => {
                    if type_code == LOCAL_PREF {
                        attrs.local_pref = Some(n);
                    } else {
                        attrs.med = Some(n);
                    }
                }
                _ => soft(length_error()),
            },
            // RFC 7606 §7.6: a bad length discards the attribute only.
            ATOMIC_AGGREGATE => attrs.atomic_aggregate = value.is_empty(),
            COMMUNITIES => {
                if value.is_empty() || !value.len().is_multiple_of(4) {
                    soft(MessageError::OptionalAttributeError { type_code, attribute: raw.to_vec() });
                } else {
                    attrs.communities = value
                        .chunks_exact(4)
                        .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                        .collect();
                }
            }
            LARGE_COMMUNITIES => {
                if value.is_empty() || !value.len().is_multiple_of(12) {
                    soft(MessageError::OptionalAttributeError { type_code, attribute: raw.to_vec() });
                } else {
                    attrs.large_communities = value
                        .chunks_exact(12)
                        .map(|c| {
                            let n = |i: usize| u32::from_be_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                            LargeCommunity::new(n(0), n(4), n(8))
                        })
                        .collect();
                }
            }
            MP_REACH_NLRI => {
                let (reach, valid_next_hop) = decode_mp_reach(value, raw)?;
                if !valid_next_hop {
                    soft(MessageError::InvalidNextHop { attribute: raw.to_vec() });
                }
                attrs.mp_reach = Some(reach);
            }
            MP_UNREACH_NLRI => attrs.mp_unreach = Some(decode_mp_unreach(value, raw)?),
            _ if flags & FLAG_OPTIONAL == 0 => {
                return Err(MessageError::UnrecognizedWellKnownAttribute { type_code, attribute: raw.to_vec() });
            }
            _ if flags & FLAG_TRANSITIVE != 0 => attrs.unknown.push(RawAttribute {
                flags: flags & (FLAG_OPTIONAL | FLAG_TRANSITIVE | FLAG_PARTIAL),
                type_code,
                value: value.to_vec(),
            }),
            // RFC 4271 §5: unrecognized optional non-transitive attributes are ignored.
            _ => {}
        }
    }
    // Kept in type order, as they are encoded, so a decode of our own output is stable.
    attrs.unknown.sort_by_key(|a| a.type_code);
    Ok(Decoded { attributes: attrs, withdraw_error })
}

/// Appends one attribute, choosing the 1- or 2-octet length (RFC 4271 §4.3: extended
/// length only when the value exceeds 255 octets).
fn put_attr(
    out: &mut Vec<u8>,
    flags: u8,
    type_code: u8,
    value: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let flags = flags & !FLAG_EXTENDED_LENGTH & 0xf0;
    let flags_at = out.len();
    out.put_u8(flags);
    out.put_u8(type_code);
    let len_at = out.len();
    out.put_u8(0);
    value(out)?;
    let len = out.len() - len_at - 1;
    if len <= 255 {
        out[len_at] = len as u8;
    } else if len <= usize::from(u16::MAX) {
        out[flags_at] |= FLAG_EXTENDED_LENGTH;
        out.insert(len_at, 0);
        out[len_at..len_at + 2].copy_from_slice(&(len as u16).to_be_bytes());
    } else {
        return Err(EncodeError::AttributeTooLong { type_code, length: len });
    }
    Ok(())
}

fn check_family(prefixes: &[IpNet], family: AfiSafi) -> Result<(), EncodeError> {
    let v4 = match family {
        AfiSafi::IPV4_UNICAST => true,
        AfiSafi::IPV6_UNICAST => false,
        _ => return Err(EncodeError::NextHopFamilyMismatch { family }),
    };
    match prefixes.iter().find(|p| matches!(p, IpNet::V4(_)) != v4) {
        Some(&prefix) => Err(EncodeError::PrefixFamilyMismatch { prefix, family }),
        None => Ok(()),
    }
}

pub(crate) fn encode_mp_reach(out: &mut Vec<u8>, reach: &MpReach) -> Result<(), EncodeError> {
    check_family(&reach.nlri, reach.family)?;
    match (reach.family, reach.next_hop) {
        (AfiSafi::IPV4_UNICAST, _) | (AfiSafi::IPV6_UNICAST, MpNextHop::V6 { .. }) => {}
        (family, _) => return Err(EncodeError::NextHopFamilyMismatch { family }),
    }
    put_attr(out, OPTIONAL_NON_TRANSITIVE, MP_REACH_NLRI, |out| {
        out.put_u16(reach.family.afi);
        out.put_u8(reach.family.safi);
        out.put_u8(reach.next_hop.encoded_len() as u8);
        match reach.next_hop {
            MpNextHop::V4(a) => out.put_slice(&a.octets()),
            MpNextHop::V6 { global, link_local } => {
                out.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.put_slice(&ll.octets());
                }
            }
        }
        out.put_u8(0);
        for p in &reach.nlri {
            nlri::encode(out, p);
        }
        Ok(())
    })
}

pub(crate) fn encode_mp_unreach(out: &mut Vec<u8>, unreach: &MpUnreach) -> Result<(), EncodeError> {
    check_family(&unreach.withdrawn, unreach.family)?;
    put_attr(out, OPTIONAL_NON_TRANSITIVE, MP_UNREACH_NLRI, |out| {
        out.put_u16(unreach.family.afi);
        out.put_u8(unreach.family.safi);
        for p in &unreach.withdrawn {
            nlri::encode(out, p);
        }
        Ok(())
    })
}

/// Appends the attributes in ascending type order (RFC 4271 §5: "SHOULD"), interleaving
/// the verbatim ones. A 4-octet ASN sent to a peer without 4-octet support goes out as
/// AS_TRANS in AS_PATH plus the real path in AS4_PATH (RFC 6793 §4.2.2).
pub(crate) fn encode(out: &mut Vec<u8>, attrs: &PathAttributes, four_octet_as: bool) -> Result<(), EncodeError> {
    let mut unknown: Vec<&RawAttribute> = attrs.unknown.iter().collect();
    unknown.sort_by_key(|a| a.type_code);
    let mut unknown = unknown.into_iter().peekable();
    let mut flush_below = |out: &mut Vec<u8>, type_code: u8| -> Result<(), EncodeError> {
        while let Some(a) = unknown.next_if(|a| a.type_code < type_code) {
            put_attr(out, a.flags, a.type_code, |out| {
                out.put_slice(&a.value);
                Ok(())
            })?;
        }
        Ok(())
    };

    if let Some(origin) = attrs.origin {
        flush_below(out, ORIGIN)?;
        put_attr(out, WELL_KNOWN, ORIGIN, |out| {
            out.put_u8(origin as u8);
            Ok(())
        })?;
    }
    let mut as4_path = None;
    if let Some(path) = &attrs.as_path {
        flush_below(out, AS_PATH)?;
        put_attr(out, WELL_KNOWN, AS_PATH, |out| {
            path.encode_value(out, four_octet_as, false);
            Ok(())
        })?;
        let has_own_as4 = attrs.unknown.iter().any(|a| a.type_code == AS4_PATH);
        if !four_octet_as && path.needs_four_octets() && !has_own_as4 {
            as4_path = Some(path);
        }
    }
    if let Some(nh) = attrs.next_hop {
        flush_below(out, NEXT_HOP)?;
        put_attr(out, WELL_KNOWN, NEXT_HOP, |out| {
            out.put_slice(&nh.octets());
            Ok(())
        })?;
    }
    if let Some(med) = attrs.med {
        flush_below(out, MULTI_EXIT_DISC)?;
        put_attr(out, OPTIONAL_NON_TRANSITIVE, MULTI_EXIT_DISC, |out| {
            out.put_u32(med);
            Ok(())
        })?;
    }
    if let Some(lp) = attrs.local_pref {
        flush_below(out, LOCAL_PREF)?;
        put_attr(out, WELL_KNOWN, LOCAL_PREF, |out| {
            out.put_u32(lp);
            Ok(())
        })?;
    }
    if attrs.atomic_aggregate {
        flush_below(out, ATOMIC_AGGREGATE)?;
        put_attr(out, WELL_KNOWN, ATOMIC_AGGREGATE, |_| Ok(()))?;
    }
    if !attrs.communities.is_empty() {
        flush_below(out, COMMUNITIES)?;
        put_attr(out, OPTIONAL_TRANSITIVE, COMMUNITIES, |out| {
            for c in &attrs.communities {
                out.put_u32(c.0);
            }
            Ok(())
        })?;
    }
    if let Some(reach) = &attrs.mp_reach {
        flush_below(out, MP_REACH_NLRI)?;
        encode_mp_reach(out, reach)?;
    }
    if let Some(unreach) = &attrs.mp_unreach {
        flush_below(out, MP_UNREACH_NLRI)?;
        encode_mp_unreach(out, unreach)?;
    }
    if let Some(path) = as4_path {
        flush_below(out, AS4_PATH)?;
        put_attr(out, OPTIONAL_TRANSITIVE, AS4_PATH, |out| {
            path.encode_value(out, true, true);
            Ok(())
        })?;
    }
    if !attrs.large_communities.is_empty() {
        flush_below(out, LARGE_COMMUNITIES)?;
        put_attr(out, OPTIONAL_TRANSITIVE, LARGE_COMMUNITIES, |out| {
            for c in &attrs.large_communities {
                out.put_u32(c.global_admin);
                out.put_u32(c.local_data_1);
                out.put_u32(c.local_data_2);
            }
            Ok(())
        })?;
    }
    flush_below(out, u8::MAX)?;
    // `flush_below(255)` leaves a type-255 attribute; emit it last.
    for a in unknown {
        put_attr(out, a.flags, a.type_code, |out| {
            out.put_slice(&a.value);
            Ok(())
        })?;
    }
    Ok(())
}
