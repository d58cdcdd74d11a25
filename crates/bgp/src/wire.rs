//! Byte-level helpers shared by every message: a bounds-checked reader, the fixed sizes of
//! RFC 4271 §4, and the address-family identifiers of RFC 4760.

use std::fmt;

/// Octets in the fixed header (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// Largest message a speaker without RFC 8654 extended messages may send (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The all-ones marker (RFC 4271 §4.1; authentication in the marker is obsolete).
pub const MARKER: [u8; 16] = [0xff; 16];
/// The 2-octet stand-in for a 4-octet ASN (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// A cursor that never reads past its slice: every read returns `None` instead of panicking,
/// so each caller maps a short buffer to the NOTIFICATION the RFC asks for.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }
}

/// An (AFI, SAFI) pair (RFC 4760 §3 and the IANA registries). Kept as raw numbers so a
/// family we do not speak survives a decode/encode round trip in capabilities and
/// ROUTE-REFRESH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AfiSafi {
    pub afi: u16,
    pub safi: u8,
}

impl AfiSafi {
    pub const IPV4_UNICAST: Self = Self { afi: 1, safi: 1 };
    pub const IPV6_UNICAST: Self = Self { afi: 2, safi: 1 };

    pub const fn new(afi: u16, safi: u8) -> Self {
        Self { afi, safi }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Self::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Self { afi, safi } => write!(f, "afi {afi}/safi {safi}"),
        }
    }
}
