//! IPv6 Neighbor Discovery (RFC 4861): the Neighbor Solicitation a host sends to resolve
//! a service address and the Neighbor Advertisement the speaker answers with, inside a
//! bare IPv6 header (RFC 8200 §3) and an ICMPv6 checksum (RFC 4443 §2.3).

use std::net::Ipv6Addr;

use crate::error::{DecodeError, take};
use crate::ethernet::{ETHERTYPE_IPV6, EthernetFrame, MacAddr, mac_at};

/// IPv6 next header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// RFC 4861 §7.1: Neighbor Discovery is link-local; 255 proves no router forwarded it.
pub const HOP_LIMIT: u8 = 255;
/// ICMPv6 type of a Neighbor Solicitation (RFC 4861 §4.3).
pub const TYPE_NEIGHBOR_SOLICITATION: u8 = 135;
/// ICMPv6 type of a Neighbor Advertisement (RFC 4861 §4.4).
pub const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Fixed IPv6 header length (RFC 8200 §3).
pub const IPV6_HEADER_LEN: usize = 40;
/// ICMPv6 header, the reserved/flags word and the 16-byte target.
const ND_FIXED_LEN: usize = 24;
/// RFC 4861 §4.6.1 option types.
const OPTION_SOURCE_LLA: u8 = 1;
const OPTION_TARGET_LLA: u8 = 2;

/// ff02::1, the destination of an unsolicited advertisement (RFC 4861 §7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// RFC 4291 §2.7.1: ff02::1:ff00:0/104 followed by the low 24 bits of `addr`; a host
/// resolving `addr` sends its solicitation there.
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, o[13], o[14], o[15]])
}

/// The Neighbor Discovery message after the ICMPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpMessage {
    /// RFC 4861 §4.3.
    ///
    /// ```text
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |     Type      |     Code      |          Checksum             |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                           Reserved                            |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                                                               |
    /// +                       Target Address                          +
    /// |                          (16 octets)                          |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |   Options ...
    /// ```
    ///
    /// Only the source link-layer address option is kept; others are skipped.
    Solicitation { target: Ipv6Addr, source_lla: Option<MacAddr> },
    /// RFC 4861 §4.4.
    ///
    /// ```text
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |     Type      |     Code      |          Checksum             |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |R|S|O|                     Reserved                            |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |                       Target Address (16 octets)              |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |   Options ...
    /// ```
    ///
    /// Only the target link-layer address option is kept.
    Advertisement { router: bool, solicited: bool, override_flag: bool, target: Ipv6Addr, target_lla: Option<MacAddr> },
}

/// A Neighbor Discovery packet with the IPv6 addresses that matter to it.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                Source Address (16 octets)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Destination Address (16 octets)                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdpPacket {
    pub source: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub message: NdpMessage,
}

impl NdpPacket {
    /// Decodes an IPv6 packet that must be a valid NS or NA (RFC 4861 §7.1.1, §7.1.2).
    /// Bytes past the declared payload length (Ethernet padding) are ignored.
    pub fn decode(packet: &[u8]) -> Result<Self, DecodeError> {
        let header = take(packet, 0, IPV6_HEADER_LEN, "IPv6 header")?;
        let version = header[0] >> 4;
        if version != 6 {
            return Err(DecodeError::IpVersion(version));
        }
        let declared = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let available = packet.len() - IPV6_HEADER_LEN;
        if declared > available {
            return Err(DecodeError::Ipv6PayloadLength { declared, available });
        }
        if header[6] != NEXT_HEADER_ICMPV6 {
            return Err(DecodeError::NotIcmpv6(header[6]));
        }
        let hop_limit = header[7];
        let source = ipv6_at(header, 8);
        let destination = ipv6_at(header, 24);
        let icmp = &packet[IPV6_HEADER_LEN..IPV6_HEADER_LEN + declared];

        let kind = take(icmp, 0, 4, "ICMPv6 header")?;
        let (icmp_type, code) = (kind[0], kind[1]);
        if icmp_type != TYPE_NEIGHBOR_SOLICITATION && icmp_type != TYPE_NEIGHBOR_ADVERTISEMENT {
            return Err(DecodeError::NotNeighborDiscovery(icmp_type));
        }
        if hop_limit != HOP_LIMIT {
            return Err(DecodeError::HopLimit(hop_limit));
        }
        if code != 0 {
            return Err(DecodeError::IcmpCode(code));
        }
        let fixed = take(icmp, 0, ND_FIXED_LEN, "Neighbor Discovery message")?;
        if icmpv6_checksum(source, destination, icmp) != 0 {
            return Err(DecodeError::Checksum);
        }
        if source.is_multicast() {
            return Err(DecodeError::MulticastSource);
        }
        let target = ipv6_at(fixed, 8);
        if target.is_multicast() {
            return Err(DecodeError::MulticastTarget);
        }
        let options = LinkLayerOptions::decode(&icmp[ND_FIXED_LEN..])?;

        let message = if icmp_type == TYPE_NEIGHBOR_SOLICITATION {
            if source.is_unspecified() && (options.source.is_some() || destination != solicited_node(target)) {
                return Err(DecodeError::InvalidDadProbe);
            }
            NdpMessage::Solicitation { target, source_lla: options.source }
        } else {
            let flags = fixed[4];
            let solicited = flags & 0x40 != 0;
            if solicited && destination.is_multicast() {
                return Err(DecodeError::SolicitedToMulticast);
            }
            NdpMessage::Advertisement {
                router: flags & 0x80 != 0,
                solicited,
                override_flag: flags & 0x20 != 0,
                target,
                target_lla: options.target,
            }
        };
        Ok(NdpPacket { source, destination, message })
    }

    /// Decodes a whole Ethernet frame that must carry an NS or NA.
    pub fn decode_frame(frame: &[u8]) -> Result<(EthernetFrame<'_>, Self), DecodeError> {
        let eth = EthernetFrame::decode(frame)?;
        if eth.ethertype != ETHERTYPE_IPV6 {
            return Err(DecodeError::ForeignEtherType(eth.ethertype));
        }
        Ok((eth, NdpPacket::decode(eth.payload)?))
    }

    /// The IPv6 packet: hop limit 255, traffic class and flow label 0, checksum filled in.
    pub fn encode(&self) -> Vec<u8> {
        let mut icmp = Vec::with_capacity(ND_FIXED_LEN + 8);
        let (icmp_type, flags, target, option) = match self.message {
            NdpMessage::Solicitation { target, source_lla } => {
                (TYPE_NEIGHBOR_SOLICITATION, 0, target, source_lla.map(|m| (OPTION_SOURCE_LLA, m)))
            }
            NdpMessage::Advertisement { router, solicited, override_flag, target, target_lla } => {
                let flags = u8::from(router) << 7 | u8::from(solicited) << 6 | u8::from(override_flag) << 5;
                (TYPE_NEIGHBOR_ADVERTISEMENT, flags, target, target_lla.map(|m| (OPTION_TARGET_LLA, m)))
            }
        };
        icmp.extend_from_slice(&[icmp_type, 0, 0, 0, flags, 0, 0, 0]);
        icmp.extend_from_slice(&target.octets());
        if let Some((option_type, mac)) = option {
            icmp.extend_from_slice(&[option_type, 1]);
            icmp.extend_from_slice(&mac.0);
        }
        let checksum = icmpv6_checksum(self.source, self.destination, &icmp);
        icmp[2..4].copy_from_slice(&checksum.to_be_bytes());

        let mut out = Vec::with_capacity(IPV6_HEADER_LEN + icmp.len());
        out.extend_from_slice(&[0x60, 0, 0, 0]);
        // The ICMP body is at most 32 bytes, far below u16::MAX.
        out.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        out.extend_from_slice(&[NEXT_HEADER_ICMPV6, HOP_LIMIT]);
        out.extend_from_slice(&self.source.octets());
        out.extend_from_slice(&self.destination.octets());
        out.extend_from_slice(&icmp);
        out
    }

    /// The packet in an Ethernet frame.
    pub fn encode_frame(&self, source: MacAddr, destination: MacAddr) -> Vec<u8> {
        EthernetFrame { destination, source, ethertype: ETHERTYPE_IPV6, payload: &self.encode() }.encode()
    }
}

/// The link-layer address options found in a message (RFC 4861 §4.6.1); the first of each
/// kind wins and every other option is skipped by its length.
struct LinkLayerOptions {
    source: Option<MacAddr>,
    target: Option<MacAddr>,
}

impl LinkLayerOptions {
    /// ```text
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |     Type      |    Length     |    Link-Layer Address ...     |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// ```
    /// Length counts units of 8 octets including type and length; zero is invalid (RFC 4861 §4.6).
    fn decode(mut rest: &[u8]) -> Result<Self, DecodeError> {
        let mut found = LinkLayerOptions { source: None, target: None };
        while !rest.is_empty() {
            let [option_type, units, ..] = *rest else {
                return Err(DecodeError::OptionTruncated);
            };
            if units == 0 {
                return Err(DecodeError::OptionLengthZero);
            }
            let len = usize::from(units) * 8;
            let option = rest.get(..len).ok_or(DecodeError::OptionTruncated)?;
            let slot = match option_type {
                OPTION_SOURCE_LLA => &mut found.source,
                OPTION_TARGET_LLA => &mut found.target,
                _ => {
                    rest = &rest[len..];
                    continue;
                }
            };
            if slot.is_none() {
                *slot = Some(MacAddr(mac_at(option, 2)));
            }
            rest = &rest[len..];
        }
        Ok(found)
    }
}

/// RFC 4443 §2.3: the ones' complement of the ones' complement sum over the RFC 8200 §8.1
/// pseudo-header (source, destination, upper-layer length, next header 58) and the ICMPv6
/// message. Over a message whose checksum field is filled in, the result is 0.
pub fn icmpv6_checksum(source: Ipv6Addr, destination: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |bytes: &[u8]| {
        for chunk in bytes.chunks(2) {
            let word = match *chunk {
                [hi, lo] => u16::from_be_bytes([hi, lo]),
                [hi] => u16::from_be_bytes([hi, 0]),
                _ => 0,
            };
            sum += u64::from(word);
        }
    };
    add(&source.octets());
    add(&destination.octets());
    add(&(icmp.len() as u32).to_be_bytes());
    add(&[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(icmp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sixteen octets at `at`; the caller has already bounds-checked `buf`.
fn ipv6_at(buf: &[u8], at: usize) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&buf[at..at + 16]);
    Ipv6Addr::from(octets)
}
