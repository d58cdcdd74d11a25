//! UPDATE packing: many prefixes that share one attribute set go out in as few UPDATEs as
//! fit in 4096 octets, instead of MetalLB's one prefix per UPDATE
//! (docs/compatibility.md §4.4, §9.2). 100,000 IPv4 /32 take 124 messages (docs/design.md,
//! Performance targets: at most 200; GoBGP needs 124).
//!
//! IPv4 prefixes go in the NLRI / Withdrawn Routes fields (RFC 4271 §4.3), IPv6 in
//! MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760); the two families never share a message, so
//! a peer that mishandles mixed UPDATEs is never exposed to one. Each message is filled
//! until the next prefix would not fit; with prefixes of one length that is optimal.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::attributes::{MpNextHop, MpReach, MpUnreach, PathAttributes};
use crate::error::EncodeError;
use crate::nlri;
use crate::update::Update;
use crate::wire::{AfiSafi, HEADER_LEN, MAX_MESSAGE_LEN};
use crate::{EncodeContext, Message};

/// UPDATE body octets before the attributes: withdrawn length and total attribute length.
const UPDATE_FIXED: usize = 4;
/// MP_REACH_NLRI without NLRI or next hop: attribute header with extended length, AFI,
/// SAFI, next-hop length, reserved.
const MP_REACH_OVERHEAD: usize = 4 + 2 + 1 + 1 + 1;
/// MP_UNREACH_NLRI without NLRI: attribute header with extended length, AFI, SAFI.
const MP_UNREACH_OVERHEAD: usize = 4 + 2 + 1;

/// Packs announcements sharing one attribute set, and withdrawals, into encoded UPDATEs.
#[derive(Debug, Clone)]
pub struct UpdatePacker {
    attributes: PathAttributes,
    ipv6_next_hop: Option<MpNextHop>,
    /// IPv4 prefixes go in MP_REACH_NLRI / MP_UNREACH_NLRI (AFI 1) with this IPv6 next hop
    /// (RFC 8950 §4), instead of the NLRI field with NEXT_HOP.
    ipv4_extended_next_hop: Option<MpNextHop>,
    ctx: EncodeContext,
}

impl UpdatePacker {
    /// `attributes.next_hop` is the IPv4 next hop and `ipv6_next_hop` the one for IPv6
    /// prefixes; any MP_REACH_NLRI / MP_UNREACH_NLRI in `attributes` is ignored.
    pub fn new(attributes: PathAttributes, ipv6_next_hop: Option<MpNextHop>, ctx: EncodeContext) -> Self {
        let attributes = PathAttributes { mp_reach: None, mp_unreach: None, ..attributes };
        Self { attributes, ipv6_next_hop, ipv4_extended_next_hop: None, ctx }
    }

    /// IPv4 prefixes announced with the IPv6 `next_hop` in MP_REACH_NLRI, and withdrawn in
    /// MP_UNREACH_NLRI (RFC 8950 §4, with the Extended Next Hop Encoding negotiated).
    pub fn with_ipv4_extended_next_hop(mut self, next_hop: MpNextHop) -> Self {
        self.ipv4_extended_next_hop = Some(next_hop);
        self
    }

    /// Prefixes of one family in MP_REACH_NLRI with `next_hop`, as many per UPDATE as fit.
    fn announce_mp(
        &self,
        family: AfiSafi,
        next_hop: MpNextHop,
        prefixes: Vec<IpNet>,
        out: &mut Vec<Vec<u8>>,
    ) -> Result<(), EncodeError> {
        // NEXT_HOP is for the IPv4 NLRI field only (RFC 4760 §3).
        let attributes = PathAttributes { next_hop: None, ..self.attributes.clone() };
        let base = self.encoded_attributes_len(&attributes)? + MP_REACH_OVERHEAD + next_hop.encoded_len();
        let room = room(base)?;
        for chunk in chunks(&prefixes, room, nlri::encoded_len) {
            let mut attributes = attributes.clone();
            attributes.mp_reach = Some(MpReach { family, next_hop, nlri: chunk.to_vec() });
            let update = Update { attributes, ..Update::default() };
            out.push(Message::Update(update).encode(&self.ctx)?);
        }
        Ok(())
    }

    /// Prefixes of one family withdrawn in MP_UNREACH_NLRI.
    fn withdraw_mp(&self, family: AfiSafi, prefixes: Vec<IpNet>, out: &mut Vec<Vec<u8>>) -> Result<(), EncodeError> {
        for chunk in chunks(&prefixes, room(MP_UNREACH_OVERHEAD)?, nlri::encoded_len) {
            let update = Update {
                attributes: PathAttributes {
                    mp_unreach: Some(MpUnreach { family, withdrawn: chunk.to_vec() }),
                    ..PathAttributes::default()
                },
                ..Update::default()
            };
            out.push(Message::Update(update).encode(&self.ctx)?);
        }
        Ok(())
    }

    /// The UPDATEs announcing `prefixes` (deduplicated; IPv4 first, each family in
    /// ascending order) with this packer's attributes.
    pub fn announce(&self, prefixes: &[IpNet]) -> Result<Vec<Vec<u8>>, EncodeError> {
        let (v4, v6) = split_families(prefixes);
        let mut out = Vec::new();
        if let (false, Some(next_hop)) = (v4.is_empty(), self.ipv4_extended_next_hop) {
            self.announce_mp(AfiSafi::IPV4_UNICAST, next_hop, v4.iter().copied().map(IpNet::V4).collect(), &mut out)?;
        } else if !v4.is_empty() {
            if self.attributes.next_hop.is_none() {
                return Err(EncodeError::MissingNextHop { family: AfiSafi::IPV4_UNICAST });
            }
            let base = self.encoded_attributes_len(&self.attributes)?;
            let room = room(base)?;
            for chunk in chunks(&v4, room, |p| nlri::encoded_len(&IpNet::V4(*p))) {
                let update = Update { attributes: self.attributes.clone(), nlri: chunk.to_vec(), ..Update::default() };
                out.push(Message::Update(update).encode(&self.ctx)?);
            }
        }
        if !v6.is_empty() {
            let next_hop = match self.ipv6_next_hop {
                Some(nh @ MpNextHop::V6 { .. }) => nh,
                Some(MpNextHop::V4(_)) => {
                    return Err(EncodeError::NextHopFamilyMismatch { family: AfiSafi::IPV6_UNICAST });
                }
                None => {
                    return Err(EncodeError::MissingNextHop { family: AfiSafi::IPV6_UNICAST });
                }
            };
            self.announce_mp(AfiSafi::IPV6_UNICAST, next_hop, v6.iter().copied().map(IpNet::V6).collect(), &mut out)?;
        }
        Ok(out)
    }

    /// The UPDATEs withdrawing `prefixes` (deduplicated; IPv4 first).
    pub fn withdraw(&self, prefixes: &[IpNet]) -> Result<Vec<Vec<u8>>, EncodeError> {
        let (v4, v6) = split_families(prefixes);
        let mut out = Vec::new();
        if self.ipv4_extended_next_hop.is_some() {
            self.withdraw_mp(AfiSafi::IPV4_UNICAST, v4.iter().copied().map(IpNet::V4).collect(), &mut out)?;
        } else {
            for chunk in chunks(&v4, room(0)?, |p| nlri::encoded_len(&IpNet::V4(*p))) {
                let update = Update { withdrawn: chunk.to_vec(), ..Update::default() };
                out.push(Message::Update(update).encode(&self.ctx)?);
            }
        }
        self.withdraw_mp(AfiSafi::IPV6_UNICAST, v6.iter().copied().map(IpNet::V6).collect(), &mut out)?;
        Ok(out)
    }

    fn encoded_attributes_len(&self, attributes: &PathAttributes) -> Result<usize, EncodeError> {
        let mut buf = Vec::new();
        crate::attributes::encode(&mut buf, attributes, self.ctx.four_octet_as)?;
        Ok(buf.len())
    }
}

/// NLRI octets left in one UPDATE once `attributes` octets are spoken for.
fn room(attributes: usize) -> Result<usize, EncodeError> {
    let used = HEADER_LEN + UPDATE_FIXED + attributes;
    // The longest prefix (an IPv6 /128) takes 17 octets; demand room for at least one.
    match MAX_MESSAGE_LEN.checked_sub(used) {
        Some(room) if room >= 17 => Ok(room),
        _ => Err(EncodeError::AttributesTooLarge),
    }
}

fn split_families(prefixes: &[IpNet]) -> (Vec<Ipv4Net>, Vec<Ipv6Net>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for p in prefixes {
        match p.trunc() {
            IpNet::V4(p) => v4.push(p),
            IpNet::V6(p) => v6.push(p),
        }
    }
    v4.sort_unstable();
    v4.dedup();
    v6.sort_unstable();
    v6.dedup();
    (v4, v6)
}

/// Splits `items` into consecutive runs whose encoded sizes each fit in `room`.
fn chunks<T>(items: &[T], room: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, item) in items.iter().enumerate() {
        let s = size(item);
        if used + s > room {
            out.push(&items[start..i]);
            start = i;
            used = 0;
        }
        used += s;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}
