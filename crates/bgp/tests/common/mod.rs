//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ferrolb_bgp::{DecodeContext, EncodeContext, Message};

pub const FOUR: DecodeContext = DecodeContext { four_octet_as: true };
pub const TWO: DecodeContext = DecodeContext { four_octet_as: false };
pub const ENC4: EncodeContext = EncodeContext { four_octet_as: true };
pub const ENC2: EncodeContext = EncodeContext { four_octet_as: false };

/// Parses hex digits, ignoring whitespace, so fixtures can be laid out by field.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

pub fn encode(m: &Message, ctx: &EncodeContext) -> Vec<u8> {
    m.encode(ctx).expect("encodes")
}

pub const MARKER: &str = "ffffffffffffffffffffffffffffffff";
