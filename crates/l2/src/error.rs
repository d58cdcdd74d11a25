//! Why a received frame was not decoded. The driver drops such frames and counts them by
//! [`DecodeError::reason`], so a hostile or merely foreign link cannot make the responder
//! answer, panic or allocate beyond the frame it was handed.

/// A frame that is not a well-formed ARP-for-IPv4-over-Ethernet or Neighbor Discovery
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the header or message being read.
    #[error("truncated {what}: {needed} bytes needed, {got} present")]
    Truncated { what: &'static str, needed: usize, got: usize },
    /// An EtherType other than ARP (0x0806) or IPv6 (0x86dd).
    #[error("foreign EtherType {0:#06x}")]
    ForeignEtherType(u16),

    /// RFC 826: hardware type other than Ethernet (1).
    #[error("ARP hardware type {0}, not Ethernet (1)")]
    ArpHardwareType(u16),
    /// RFC 826: protocol type other than IPv4 (0x0800).
    #[error("ARP protocol type {0:#06x}, not IPv4")]
    ArpProtocolType(u16),
    /// RFC 826: address lengths other than 6 (MAC) and 4 (IPv4).
    #[error("ARP address lengths {hardware}/{protocol}, not 6/4")]
    ArpAddressLength { hardware: u8, protocol: u8 },
    /// RFC 826 / RFC 5227: an operation other than request (1) or reply (2).
    #[error("ARP operation {0}")]
    ArpOperation(u16),

    /// RFC 8200 §3: the version field is not 6.
    #[error("IP version {0}, not 6")]
    IpVersion(u8),
    /// The IPv6 payload length points past the end of the frame.
    #[error("IPv6 payload length {declared} exceeds the {available} bytes present")]
    Ipv6PayloadLength { declared: usize, available: usize },
    /// Next header is not ICMPv6 (58); Neighbor Discovery never carries extension headers
    /// in practice and we do not walk them.
    #[error("IPv6 next header {0}, not ICMPv6")]
    NotIcmpv6(u8),
    /// RFC 4443 §2.3: the ICMPv6 checksum over the pseudo-header does not verify.
    #[error("bad ICMPv6 checksum")]
    Checksum,
    /// ICMPv6 type other than Neighbor Solicitation (135) or Advertisement (136).
    #[error("ICMPv6 type {0}, not Neighbor Discovery")]
    NotNeighborDiscovery(u8),
    /// RFC 4861 §7.1.1 / §7.1.2: hop limit other than 255 means the packet crossed a router.
    #[error("hop limit {0}, not 255")]
    HopLimit(u8),
    /// RFC 4861 §7.1.1 / §7.1.2: ICMP code other than 0.
    #[error("ICMPv6 code {0}, not 0")]
    IcmpCode(u8),
    /// RFC 4861 §4.6: an option whose length field is zero.
    #[error("Neighbor Discovery option of length 0")]
    OptionLengthZero,
    /// RFC 4861 §4.6: an option that runs past the end of the message.
    #[error("truncated Neighbor Discovery option")]
    OptionTruncated,
    /// RFC 4861 §7.1.1 / §7.1.2: the target address is multicast.
    #[error("multicast target address")]
    MulticastTarget,
    /// RFC 4291 §2.7: a multicast address is never the source of an IPv6 packet. Answering
    /// one would send a solicited advertisement to a multicast group. Found by the
    /// `ndp_decode` fuzz target.
    #[error("multicast source address")]
    MulticastSource,
    /// RFC 4861 §7.1.1: an NS from the unspecified address (DAD) carrying a source
    /// link-layer address option, or sent to a non-solicited-node destination.
    #[error("invalid duplicate address detection probe")]
    InvalidDadProbe,
    /// RFC 4861 §7.1.2: an NA to a multicast destination with the Solicited flag set.
    #[error("solicited advertisement sent to a multicast address")]
    SolicitedToMulticast,
}

impl DecodeError {
    /// A short stable label for the drop counter, one per variant.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::ForeignEtherType(_) => "foreign_ethertype",
            DecodeError::ArpHardwareType(_) => "arp_hardware_type",
            DecodeError::ArpProtocolType(_) => "arp_protocol_type",
            DecodeError::ArpAddressLength { .. } => "arp_address_length",
            DecodeError::ArpOperation(_) => "arp_operation",
            DecodeError::IpVersion(_) => "ip_version",
            DecodeError::Ipv6PayloadLength { .. } => "ipv6_payload_length",
            DecodeError::NotIcmpv6(_) => "not_icmpv6",
            DecodeError::Checksum => "icmpv6_checksum",
            DecodeError::NotNeighborDiscovery(_) => "not_neighbor_discovery",
            DecodeError::HopLimit(_) => "hop_limit",
            DecodeError::IcmpCode(_) => "icmpv6_code",
            DecodeError::OptionLengthZero => "option_length_zero",
            DecodeError::OptionTruncated => "option_truncated",
            DecodeError::MulticastTarget => "multicast_target",
            DecodeError::MulticastSource => "multicast_source",
            DecodeError::InvalidDadProbe => "invalid_dad_probe",
            DecodeError::SolicitedToMulticast => "solicited_to_multicast",
        }
    }
}

/// A bounds-checked slice of `len` bytes at `at`, or [`DecodeError::Truncated`].
pub(crate) fn take<'a>(buf: &'a [u8], at: usize, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let end = at.checked_add(len).ok_or(DecodeError::Truncated { what, needed: usize::MAX, got: buf.len() })?;
    buf.get(at..end).ok_or(DecodeError::Truncated { what, needed: end, got: buf.len() })
}
