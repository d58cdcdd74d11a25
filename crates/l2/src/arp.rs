//! ARP for IPv4 over Ethernet (RFC 826), the only combination a MetalLB speaker answers.

use std::net::Ipv4Addr;

use crate::error::{DecodeError, take};
use crate::ethernet::{ETHERTYPE_ARP, EthernetFrame, MacAddr, mac_at};

/// Hardware type Ethernet (RFC 826, IANA "Hardware Types").
const HTYPE_ETHERNET: u16 = 1;
/// Protocol type IPv4, the EtherType of IP.
const PTYPE_IPV4: u16 = 0x0800;
/// Length of an ARP packet for IPv4 over Ethernet.
pub const PACKET_LEN: usize = 28;

/// The ARP opcode (RFC 826; RFC 5227 §3 for its use in announcements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ArpOperation {
    Request = 1,
    Reply = 2,
}

/// An ARP packet for IPv4 over Ethernet.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Hardware Type (1)         |    Protocol Type (0x0800)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HLEN (6)     |  PLEN (4)     |      Operation (1 or 2)       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Sender Hardware Address (6 octets)               |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |  Sender Protocol Address ...  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  ... (4 octets)               | Target Hardware Address ...   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                         ... (6 octets)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Target Protocol Address (4 octets)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpPacket {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// Decodes the ARP payload of an Ethernet frame; trailing padding is ignored.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let p = take(payload, 0, PACKET_LEN, "ARP packet")?;
        let htype = u16::from_be_bytes([p[0], p[1]]);
        if htype != HTYPE_ETHERNET {
            return Err(DecodeError::ArpHardwareType(htype));
        }
        let ptype = u16::from_be_bytes([p[2], p[3]]);
        if ptype != PTYPE_IPV4 {
            return Err(DecodeError::ArpProtocolType(ptype));
        }
        if p[4] != 6 || p[5] != 4 {
            return Err(DecodeError::ArpAddressLength { hardware: p[4], protocol: p[5] });
        }
        let operation = match u16::from_be_bytes([p[6], p[7]]) {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => return Err(DecodeError::ArpOperation(other)),
        };
        Ok(ArpPacket {
            operation,
            sender_mac: MacAddr(mac_at(p, 8)),
            sender_ip: Ipv4Addr::new(p[14], p[15], p[16], p[17]),
            target_mac: MacAddr(mac_at(p, 18)),
            target_ip: Ipv4Addr::new(p[24], p[25], p[26], p[27]),
        })
    }

    /// Decodes a whole Ethernet frame that must carry ARP.
    pub fn decode_frame(frame: &[u8]) -> Result<(EthernetFrame<'_>, Self), DecodeError> {
        let eth = EthernetFrame::decode(frame)?;
        if eth.ethertype != ETHERTYPE_ARP {
            return Err(DecodeError::ForeignEtherType(eth.ethertype));
        }
        Ok((eth, ArpPacket::decode(eth.payload)?))
    }

    /// The 28 bytes of the packet.
    pub fn encode(&self) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0..2].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        p[2..4].copy_from_slice(&PTYPE_IPV4.to_be_bytes());
        p[4] = 6;
        p[5] = 4;
        p[6..8].copy_from_slice(&(self.operation as u16).to_be_bytes());
        p[8..14].copy_from_slice(&self.sender_mac.0);
        p[14..18].copy_from_slice(&self.sender_ip.octets());
        p[18..24].copy_from_slice(&self.target_mac.0);
        p[24..28].copy_from_slice(&self.target_ip.octets());
        p
    }

    /// The packet in an Ethernet frame from `source` to `destination`.
    pub fn encode_frame(&self, source: MacAddr, destination: MacAddr) -> Vec<u8> {
        EthernetFrame { destination, source, ethertype: ETHERTYPE_ARP, payload: &self.encode() }.encode()
    }

    /// The answer to `self` (a request) for `our_mac`: RFC 826's "swap sender and target,
    /// put our address in the sender field", sent unicast back to the requester.
    pub fn reply(&self, our_mac: MacAddr) -> ArpPacket {
        ArpPacket {
            operation: ArpOperation::Reply,
            sender_mac: our_mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        }
    }

    /// A gratuitous ARP for `ip` (docs/compatibility.md §4.2: sender IP = target IP = VIP, target MAC =
    /// broadcast, in both request and reply form because hosts differ in which one they
    /// honour).
    pub fn gratuitous(operation: ArpOperation, our_mac: MacAddr, ip: Ipv4Addr) -> ArpPacket {
        ArpPacket { operation, sender_mac: our_mac, sender_ip: ip, target_mac: MacAddr::BROADCAST, target_ip: ip }
    }
}
