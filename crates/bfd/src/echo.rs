//! The Echo function's packets (RFC 5880 §6.4, RFC 5881 §4), pure: the payload ferrolb puts
//! in its echo packets, and the whole Ethernet frame an echo travels in.
//!
//! An echo packet is a UDP datagram to port 3785 whose payload only its sender reads (RFC
//! 5880 §6.4: "the payload ... is a local matter"). As FRR's bfdd does for IPv4, ferrolb
//! addresses its echoes to its own address (source and destination both) and hands them,
//! in an Ethernet frame to the peer's MAC, straight to the link: the peer's kernel forwards
//! them back, so the peer's forwarding plane is what is tested, not its BFD daemon. They
//! come back with the TTL one lower ([`RETURNED_TTL`]), which tells them from the peer's own
//! echoes passing the other way.
//!
//! Every decoder here takes bytes from the network, so none of them panics: each rejection
//! is an [`EchoError`] with a stable [`EchoError::reason`] the driver counts.

use std::net::Ipv4Addr;

/// Destination (and source) port of echo packets (RFC 5881 §4).
pub const ECHO_PORT: u16 = 3785;
/// The TTL echoes are sent with: 255, as Control packets (RFC 5881 §5).
pub const SEND_TTL: u8 = 255;
/// The TTL of one of our echoes after the peer's forwarding plane sent it back: one hop.
pub const RETURNED_TTL: u8 = SEND_TTL - 1;

/// Identifies ferrolb's echo payload: "FLBE".
pub const MAGIC: [u8; 4] = *b"FLBE";
/// Version of the payload layout.
pub const PAYLOAD_VERSION: u8 = 1;
/// Length of [`EchoPayload`] on the wire.
pub const PAYLOAD_LEN: usize = 16;

const ETHERNET_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const IPV4_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const PROTOCOL_UDP: u8 = 17;
/// IP precedence "Internetwork Control" (RFC 791), as Control packets of routing protocols.
const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

/// The payload of one of ferrolb's echo packets:
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Magic ("FLBE")                         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Version    |    Length     |           Reserved            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Sequence Number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The discriminator (the session's `bfd.LocalDiscr`) demultiplexes a returned echo to its
/// session (RFC 5880 §6.4: the sender must be able to tell which session an echo belongs
/// to); the sequence number only helps reading captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EchoPayload {
    pub discriminator: u32,
    pub sequence: u32,
}

/// Why a frame on the echo socket is not one of our returned echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EchoError {
    #[error("{0} bytes is too short for an echo frame or its headers")]
    Truncated(usize),
    #[error("not an IPv4 UDP datagram to port 3785")]
    NotEcho,
    #[error("IPv4 fragment")]
    Fragment,
    #[error("IPv4 header checksum is wrong")]
    BadChecksum,
    #[error("the payload is not a ferrolb echo (another system's echo)")]
    NotOurs,
    #[error("ferrolb echo payload version {0} is not 1")]
    BadVersion(u8),
    #[error("echo payload length field {0} is not 16")]
    BadLength(u8),
    #[error("echo discriminator is zero")]
    ZeroDiscriminator,
}

impl EchoError {
    /// A stable label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Truncated(_) => "echo_truncated",
            Self::NotEcho => "echo_not_udp_3785",
            Self::Fragment => "echo_fragment",
            Self::BadChecksum => "echo_bad_checksum",
            Self::NotOurs => "echo_not_ours",
            Self::BadVersion(_) => "echo_bad_version",
            Self::BadLength(_) => "echo_bad_length",
            Self::ZeroDiscriminator => "echo_zero_discriminator",
        }
    }
}

impl EchoPayload {
    pub fn encode(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = PAYLOAD_VERSION;
        out[5] = PAYLOAD_LEN as u8;
        out[8..12].copy_from_slice(&self.discriminator.to_be_bytes());
        out[12..16].copy_from_slice(&self.sequence.to_be_bytes());
        out
    }

    /// Decodes a UDP payload; bytes after the 16 of the layout are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self, EchoError> {
        if buf.len() < MAGIC.len() || buf[..4] != MAGIC {
            return Err(EchoError::NotOurs);
        }
        let Some(fixed) = buf.first_chunk::<PAYLOAD_LEN>() else {
            return Err(EchoError::Truncated(buf.len()));
        };
        if fixed[4] != PAYLOAD_VERSION {
            return Err(EchoError::BadVersion(fixed[4]));
        }
        if usize::from(fixed[5]) != PAYLOAD_LEN {
            return Err(EchoError::BadLength(fixed[5]));
        }
        let discriminator = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        if discriminator == 0 {
            return Err(EchoError::ZeroDiscriminator);
        }
        Ok(Self { discriminator, sequence: u32::from_be_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]) })
    }
}

/// An IPv4 UDP datagram to port 3785 taken out of an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoDatagram<'a> {
    pub source: Ipv4Addr,
    pub destination: Ipv4Addr,
    pub ttl: u8,
    /// The UDP payload, cut to the UDP length.
    pub payload: &'a [u8],
}

impl<'a> EchoDatagram<'a> {
    /// Parses an Ethernet II frame carrying IPv4 and UDP to [`ECHO_PORT`] (the echo
    /// socket's filter lets only those through, but the kernel's word is not trusted).
    pub fn parse(frame: &'a [u8]) -> Result<Self, EchoError> {
        let ip = frame.get(ETHERNET_LEN..).ok_or(EchoError::Truncated(frame.len()))?;
        if u16::from_be_bytes([frame[12], frame[13]]) != ETHERTYPE_IPV4 {
            return Err(EchoError::NotEcho);
        }
        let Some(fixed) = ip.first_chunk::<IPV4_MIN_HEADER>() else {
            return Err(EchoError::Truncated(frame.len()));
        };
        let header_len = usize::from(fixed[0] & 0x0f) * 4;
        if fixed[0] >> 4 != 4 || header_len < IPV4_MIN_HEADER || fixed[9] != PROTOCOL_UDP {
            return Err(EchoError::NotEcho);
        }
        let total_len = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        if total_len < header_len + UDP_HEADER || total_len > ip.len() {
            return Err(EchoError::Truncated(frame.len()));
        }
        let fragment = u16::from_be_bytes([fixed[6], fixed[7]]);
        if fragment & 0x3fff != 0 {
            return Err(EchoError::Fragment);
        }
        if checksum(&ip[..header_len]) != 0 {
            return Err(EchoError::BadChecksum);
        }
        let udp = &ip[header_len..total_len];
        if u16::from_be_bytes([udp[2], udp[3]]) != ECHO_PORT {
            return Err(EchoError::NotEcho);
        }
        let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        if udp_len < UDP_HEADER || udp_len > udp.len() {
            return Err(EchoError::Truncated(frame.len()));
        }
        Ok(Self {
            source: Ipv4Addr::new(fixed[12], fixed[13], fixed[14], fixed[15]),
            destination: Ipv4Addr::new(fixed[16], fixed[17], fixed[18], fixed[19]),
            ttl: fixed[8],
            payload: &udp[UDP_HEADER..udp_len],
        })
    }
}

/// One of our echoes as an Ethernet frame: from `source_mac` to the peer's `peer_mac`,
/// IPv4 from and to `address` (ours) with TTL [`SEND_TTL`], UDP 3785 to 3785, checksums
/// filled in. `id` is the IPv4 identification.
pub fn echo_frame(
    source_mac: [u8; 6],
    peer_mac: [u8; 6],
    address: Ipv4Addr,
    id: u16,
    payload: &EchoPayload,
) -> Vec<u8> {
    let udp_len = UDP_HEADER + PAYLOAD_LEN;
    let total_len = IPV4_MIN_HEADER + udp_len;
    let mut frame = Vec::with_capacity(ETHERNET_LEN + total_len);
    frame.extend_from_slice(&peer_mac);
    frame.extend_from_slice(&source_mac);
    frame.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());

    let mut ip = [0u8; IPV4_MIN_HEADER];
    ip[0] = 0x45;
    ip[1] = TOS_INTERNETWORK_CONTROL;
    ip[2..4].copy_from_slice(&(total_len as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&id.to_be_bytes());
    ip[8] = SEND_TTL;
    ip[9] = PROTOCOL_UDP;
    ip[12..16].copy_from_slice(&address.octets());
    ip[16..20].copy_from_slice(&address.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&ip);

    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&ECHO_PORT.to_be_bytes());
    udp.extend_from_slice(&ECHO_PORT.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(&payload.encode());
    // The UDP checksum over the pseudo-header (RFC 768); zero is sent as all ones.
    let mut pseudo = Vec::with_capacity(12 + udp_len);
    pseudo.extend_from_slice(&address.octets());
    pseudo.extend_from_slice(&address.octets());
    pseudo.extend_from_slice(&[0, PROTOCOL_UDP]);
    pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
    pseudo.extend_from_slice(&udp);
    let sum = match checksum(&pseudo) {
        0 => 0xffff,
        sum => sum,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    frame.extend_from_slice(&udp);
    frame
}

/// The Internet checksum (RFC 1071): zero over a header whose checksum field is right.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 =
        bytes.chunks(2).map(|pair| u32::from(u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Ipv4Addr = Ipv4Addr::new(172, 30, 0, 11);

    fn frame() -> Vec<u8> {
        echo_frame(
            [2, 0, 0, 0, 0, 0x11],
            [2, 0, 0, 0, 0, 1],
            OURS,
            7,
            &EchoPayload { discriminator: 0x1234, sequence: 9 },
        )
    }

    #[test]
    fn an_echo_frame_parses_back_to_its_address_ttl_and_payload() {
        let frame = frame();
        let datagram = EchoDatagram::parse(&frame).unwrap();
        assert_eq!((datagram.source, datagram.destination, datagram.ttl), (OURS, OURS, SEND_TTL));
        assert_eq!(EchoPayload::decode(datagram.payload).unwrap(), EchoPayload { discriminator: 0x1234, sequence: 9 });
    }

    #[test]
    fn the_udp_checksum_verifies_over_the_pseudo_header() {
        let frame = frame();
        let udp = &frame[34..];
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&OURS.octets());
        pseudo.extend_from_slice(&OURS.octets());
        pseudo.extend_from_slice(&[0, 17, 0, udp.len() as u8]);
        pseudo.extend_from_slice(udp);
        assert_eq!(checksum(&pseudo), 0);
    }

    #[test]
    fn a_corrupted_ip_header_is_a_bad_checksum() {
        let mut frame = frame();
        frame[14 + 8] = 254;
        assert_eq!(EchoDatagram::parse(&frame), Err(EchoError::BadChecksum));
    }

    #[test]
    fn an_frr_echo_payload_is_not_ours() {
        // FRR's layout: version 1, length 24, reserved, discriminator, then timestamps.
        let mut frr = [0u8; 24];
        frr[0] = 1;
        frr[1] = 24;
        frr[4..8].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(EchoPayload::decode(&frr), Err(EchoError::NotOurs));
    }

    #[test]
    fn a_payload_cut_after_the_magic_is_truncated() {
        assert_eq!(EchoPayload::decode(b"FLBE\x01"), Err(EchoError::Truncated(5)));
    }

    #[test]
    fn every_prefix_of_a_frame_is_rejected_without_panicking() {
        let frame = frame();
        for len in 0..frame.len() {
            assert!(EchoDatagram::parse(&frame[..len]).is_err(), "prefix of {len} bytes");
        }
    }
}
