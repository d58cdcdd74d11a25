//! Router Advertisements and Router Solicitations (RFC 4861 §4.1, §4.2) as BGP unnumbered uses
//! them: a router configured with `neighbor IFNAME interface` (FRR) sends RAs on the link, and
//! their source is its link-local address, the one the session dials; it learns ours from the
//! RAs we send back, with a router lifetime of 0 so that no host takes us for a default router
//! (RFC 4861 §6.2.3).
//!
//! These are ICMPv6 messages as a raw ICMPv6 socket reads and writes them: no IPv6 header.
//! The kernel computes and checks the checksum of such sockets (RFC 3542 §3.1), and gives the
//! source address and hop limit beside the bytes, so this codec sees neither.

use std::net::Ipv6Addr;
use std::time::Duration;

use crate::error::{DecodeError, take};
use crate::ethernet::MacAddr;

/// ICMPv6 type of a Router Solicitation (RFC 4861 §4.1).
pub const TYPE_ROUTER_SOLICITATION: u8 = 133;
/// ICMPv6 type of a Router Advertisement (RFC 4861 §4.2).
pub const TYPE_ROUTER_ADVERTISEMENT: u8 = 134;
/// ff02::2, where a Router Solicitation goes (RFC 4861 §6.3.7).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Type, code, checksum, hop limit, flags, router lifetime, reachable time, retrans timer.
const RA_FIXED_LEN: usize = 16;
/// Type, code, checksum, reserved.
const RS_FIXED_LEN: usize = 8;
const OPTION_SOURCE_LLA: u8 = 1;
const FLAG_MANAGED: u8 = 0x80;
const FLAG_OTHER: u8 = 0x40;

/// A Router Advertisement (RFC 4861 §4.2).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Cur Hop Limit |M|O|  Reserved |       Router Lifetime         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Reachable Time                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Retrans Timer                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options ...
/// ```
///
/// Only the source link-layer address option is kept; prefix, MTU and other options are
/// skipped (an unnumbered session needs the sender's address, which is beside the bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouterAdvert {
    pub cur_hop_limit: u8,
    pub managed: bool,
    pub other: bool,
    /// Seconds the sender may be used as a default router; 0: it is not one.
    pub router_lifetime: u16,
    pub reachable_time: u32,
    pub retrans_timer: u32,
    pub source_lla: Option<MacAddr>,
}

impl RouterAdvert {
    /// What the speaker advertises: not a default router (lifetime 0, RFC 4861 §6.2.3), no
    /// parameters for hosts (zeros mean "unspecified", §4.2), only its link-layer address.
    pub fn not_a_router(source_lla: Option<MacAddr>) -> Self {
        Self {
            cur_hop_limit: 0,
            managed: false,
            other: false,
            router_lifetime: 0,
            reachable_time: 0,
            retrans_timer: 0,
            source_lla,
        }
    }

    /// Decodes an ICMPv6 message (from the type octet on). Checks what RFC 4861 §6.1.2 asks of
    /// the message itself: type 134, code 0, at least 16 octets, no option of length 0; the
    /// hop limit (255) and the link-local source are the receiver's to check.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let fixed = take(buf, 0, RA_FIXED_LEN, "router advertisement")?;
        if fixed[0] != TYPE_ROUTER_ADVERTISEMENT {
            return Err(DecodeError::NotNeighborDiscovery(fixed[0]));
        }
        if fixed[1] != 0 {
            return Err(DecodeError::IcmpCode(fixed[1]));
        }
        let u32_at = |at: usize| u32::from_be_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
        Ok(Self {
            cur_hop_limit: fixed[4],
            managed: fixed[5] & FLAG_MANAGED != 0,
            other: fixed[5] & FLAG_OTHER != 0,
            router_lifetime: u16::from_be_bytes([fixed[6], fixed[7]]),
            reachable_time: u32_at(8),
            retrans_timer: u32_at(12),
            source_lla: source_lla(&buf[RA_FIXED_LEN..])?,
        })
    }

    /// The ICMPv6 message with a zero checksum, which the kernel fills in on a raw ICMPv6
    /// socket (RFC 3542 §3.1).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RA_FIXED_LEN + 8);
        out.extend_from_slice(&[TYPE_ROUTER_ADVERTISEMENT, 0, 0, 0, self.cur_hop_limit]);
        out.push(if self.managed { FLAG_MANAGED } else { 0 } | if self.other { FLAG_OTHER } else { 0 });
        out.extend_from_slice(&self.router_lifetime.to_be_bytes());
        out.extend_from_slice(&self.reachable_time.to_be_bytes());
        out.extend_from_slice(&self.retrans_timer.to_be_bytes());
        put_source_lla(&mut out, self.source_lla);
        out
    }
}

/// A Router Solicitation (RFC 4861 §4.1): sent once when the speaker starts on an
/// interface, so that the router answers with an RA at once instead of at its next
/// periodic one.
pub fn router_solicitation(source_lla: Option<MacAddr>) -> Vec<u8> {
    let mut out = vec![TYPE_ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0];
    debug_assert_eq!(out.len(), RS_FIXED_LEN);
    put_source_lla(&mut out, source_lla);
    out
}

fn put_source_lla(out: &mut Vec<u8>, lla: Option<MacAddr>) {
    if let Some(MacAddr(mac)) = lla {
        // Type, length in units of 8 octets, the 6-octet address (RFC 4861 §4.6.1).
        out.extend_from_slice(&[OPTION_SOURCE_LLA, 1]);
        out.extend_from_slice(&mac);
    }
}

/// Walks the options (RFC 4861 §4.6): each (type, length in 8-octet units, value); a zero
/// length is invalid and one running past the message too.
fn source_lla(mut options: &[u8]) -> Result<Option<MacAddr>, DecodeError> {
    let mut found = None;
    while !options.is_empty() {
        let head = take(options, 0, 2, "router advertisement option").map_err(|_| DecodeError::OptionTruncated)?;
        let len = usize::from(head[1]) * 8;
        if len == 0 {
            return Err(DecodeError::OptionLengthZero);
        }
        let option = options.get(..len).ok_or(DecodeError::OptionTruncated)?;
        if head[0] == OPTION_SOURCE_LLA && len >= 8 && found.is_none() {
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&option[2..8]);
            found = Some(MacAddr(mac));
        }
        options = &options[len..];
    }
    Ok(found)
}

/// How long a learnt neighbour is kept without being heard before another router on the
/// link may replace it: three of FRR's 10-second unnumbered RA intervals.
pub const NEIGHBOUR_HOLD: Duration = Duration::from_secs(30);

/// The neighbour of one unnumbered interface, learnt from the sources of the RAs heard
/// there. Pure: the caller gives the time (since any fixed start) with each RA.
///
/// The first router heard is kept while it keeps advertising; a different source replaces
/// it only when it has been silent for [`NEIGHBOUR_HOLD`], so two routers on a link that
/// should be point-to-point do not make the session flap between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkNeighbour {
    current: Option<(Ipv6Addr, Duration)>,
}

/// Why an RA's source was not taken as the neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// RFC 4861 §6.1.2: a router's RA comes from its link-local address.
    NotLinkLocal,
    /// Our own RA, looped back.
    Ours,
    /// RFC 4861 §6.1.2: hop limit other than 255 (it crossed a router).
    HopLimit,
    /// Another router is already the neighbour and still advertising.
    AnotherRouter,
}

impl LinkNeighbour {
    pub fn address(&self) -> Option<Ipv6Addr> {
        self.current.map(|(a, _)| a)
    }

    /// Takes an RA from `source` heard at `now` with `hop_limit` (when the socket tells it);
    /// `ours` are this interface's own addresses. Returns the new neighbour when it changed.
    pub fn heard(
        &mut self,
        source: Ipv6Addr,
        hop_limit: Option<u8>,
        ours: &[Ipv6Addr],
        now: Duration,
    ) -> Result<Option<Ipv6Addr>, Ignored> {
        if !source.is_unicast_link_local() {
            return Err(Ignored::NotLinkLocal);
        }
        if ours.contains(&source) {
            return Err(Ignored::Ours);
        }
        if hop_limit.is_some_and(|h| h != 255) {
            return Err(Ignored::HopLimit);
        }
        match self.current {
            Some((current, _)) if current == source => {
                self.current = Some((source, now));
                Ok(None)
            }
            Some((_, last)) if now.saturating_sub(last) < NEIGHBOUR_HOLD => Err(Ignored::AnotherRouter),
            _ => {
                self.current = Some((source, now));
                Ok(Some(source))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RA as FRR 8.4's zebra sends it on an unnumbered interface (ra-interval 10):
    /// hop limit 64, lifetime 1800 s, then the source link-layer address and an MTU option.
    const FRR_RA: [u8; 32] = [
        0x86, 0x00, 0x12, 0x34, 0x40, 0x00, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, //
        0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, //
        0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc,
    ];

    #[test]
    fn an_frr_router_advertisement_decodes_with_its_link_layer_address() {
        let ra = RouterAdvert::decode(&FRR_RA).unwrap();
        assert_eq!(ra.cur_hop_limit, 64);
        assert_eq!(ra.router_lifetime, 1800);
        assert!(!ra.managed && !ra.other);
        assert_eq!(ra.source_lla, Some(MacAddr([2, 0, 0, 0, 0, 2])));
    }

    #[test]
    fn our_advertisement_says_we_are_not_a_router_and_decodes_back() {
        let ours = RouterAdvert::not_a_router(Some(MacAddr([2, 0, 0, 0, 0, 0x11])));
        let bytes = ours.encode();
        assert_eq!(
            bytes,
            [134, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 0x11],
            "lifetime 0, checksum left to the kernel"
        );
        assert_eq!(RouterAdvert::decode(&bytes), Ok(ours));
    }

    #[test]
    fn a_solicitation_carries_our_link_layer_address() {
        assert_eq!(
            router_solicitation(Some(MacAddr([2, 0, 0, 0, 0, 0x11]))),
            [133, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 0x11]
        );
        assert_eq!(router_solicitation(None).len(), 8);
    }

    #[test]
    fn malformed_advertisements_are_refused_with_the_rfc_reason() {
        let mut zero_option = FRR_RA;
        zero_option[17] = 0;
        let mut long_option = FRR_RA;
        long_option[25] = 2;
        let mut code = FRR_RA;
        code[1] = 1;
        let table: [(&[u8], DecodeError); 5] = [
            (&FRR_RA[..15], DecodeError::Truncated { what: "router advertisement", needed: 16, got: 15 }),
            (&[135; 16], DecodeError::NotNeighborDiscovery(135)),
            (&code, DecodeError::IcmpCode(1)),
            (&zero_option, DecodeError::OptionLengthZero),
            (&long_option, DecodeError::OptionTruncated),
        ];
        for (bytes, want) in table {
            assert_eq!(RouterAdvert::decode(bytes), Err(want), "{bytes:02x?}");
        }
    }

    fn ll(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, last)
    }

    #[test]
    fn the_first_router_heard_is_the_neighbour_and_stays_while_it_advertises() {
        let mut n = LinkNeighbour::default();
        let ours = [ll(0x11)];
        let s = Duration::from_secs;
        assert_eq!(n.heard(ll(2), Some(255), &ours, s(0)), Ok(Some(ll(2))));
        assert_eq!(n.heard(ll(2), Some(255), &ours, s(10)), Ok(None), "heard again: no change");
        assert_eq!(n.heard(ll(3), Some(255), &ours, s(20)), Err(Ignored::AnotherRouter));
        assert_eq!(n.heard(ll(3), None, &ours, s(40)), Ok(Some(ll(3))), "the first went silent for 30 s");
        assert_eq!(n.address(), Some(ll(3)));
    }

    #[test]
    fn our_own_global_and_forwarded_advertisements_are_ignored() {
        let mut n = LinkNeighbour::default();
        let ours = [ll(0x11)];
        let global: Ipv6Addr = "fd00:30::2".parse().unwrap();
        let now = Duration::ZERO;
        assert_eq!(n.heard(ll(0x11), Some(255), &ours, now), Err(Ignored::Ours));
        assert_eq!(n.heard(global, Some(255), &ours, now), Err(Ignored::NotLinkLocal));
        assert_eq!(n.heard(ll(2), Some(64), &ours, now), Err(Ignored::HopLimit));
        assert_eq!(n.address(), None);
    }
}
