//! Prefix encoding shared by the NLRI and Withdrawn Routes fields (RFC 4271 §4.3) and by
//! MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760 §5).
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet)        |
//! +---------------------------+
//! |   Prefix (variable)       |
//! +---------------------------+
//! ```
//!
//! The prefix holds just enough octets for `Length` bits; trailing bits are irrelevant and
//! are cleared on decode.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::MessageError;
use crate::wire::Reader;

/// Octets a prefix occupies on the wire.
pub fn encoded_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

pub(crate) fn encode(out: &mut Vec<u8>, prefix: &IpNet) {
    let len = prefix.prefix_len();
    let octets = usize::from(len).div_ceil(8);
    out.put_u8(len);
    match prefix.trunc() {
        IpNet::V4(p) => out.put_slice(&p.addr().octets()[..octets]),
        IpNet::V6(p) => out.put_slice(&p.addr().octets()[..octets]),
    }
}

pub(crate) fn encode_v4(out: &mut Vec<u8>, prefix: &Ipv4Net) {
    encode(out, &IpNet::V4(*prefix));
}

fn read_bits<const N: usize>(r: &mut Reader<'_>, max_bits: u8) -> Option<(u8, [u8; N])> {
    let len = r.u8()?;
    if len > max_bits {
        return None;
    }
    let bytes = r.take(usize::from(len).div_ceil(8))?;
    let mut addr = [0u8; N];
    addr[..bytes.len()].copy_from_slice(bytes);
    Some((len, addr))
}

/// Decodes a field of IPv4 prefixes; a prefix longer than 32 bits or running past the
/// field is an Invalid Network Field (RFC 4271 §6.3), which RFC 7606 §5.3 says resets the
/// session because the remaining NLRI can no longer be located.
pub(crate) fn decode_v4(buf: &[u8]) -> Result<Vec<Ipv4Net>, MessageError> {
    let mut r = Reader::new(buf);
    // Each prefix takes at least one octet, so this capacity is bounded by the input.
    let mut out = Vec::with_capacity(buf.len().min(1024));
    while !r.is_empty() {
        let (len, addr) = read_bits::<4>(&mut r, 32).ok_or(MessageError::InvalidNetworkField)?;
        let net = Ipv4Net::new(Ipv4Addr::from(addr), len).map_err(|_| MessageError::InvalidNetworkField)?;
        out.push(net.trunc());
    }
    Ok(out)
}

pub(crate) fn decode_v6(buf: &[u8]) -> Result<Vec<Ipv6Net>, MessageError> {
    let mut r = Reader::new(buf);
    let mut out = Vec::with_capacity(buf.len().min(1024));
    while !r.is_empty() {
        let (len, addr) = read_bits::<16>(&mut r, 128).ok_or(MessageError::InvalidNetworkField)?;
        let net = Ipv6Net::new(Ipv6Addr::from(addr), len).map_err(|_| MessageError::InvalidNetworkField)?;
        out.push(net.trunc());
    }
    Ok(out)
}
