//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ferrolb_bgp::{DecodeContext, EncodeContext, Message};

pub const FOUR: DecodeContext = DecodeContext { four_octet_as: true };
pub const TWO: DecodeContext = DecodeContext { four_octet_as: false };
pub const ENC4: EncodeContext = EncodeContext { four_octet_as: true };
pub const ENC2: EncodeContext = EncodeContext { four_octet_as: false };

/// Parses hex digits, ignoring whitespace, so fixtures can be laid out by field.
#[allow(unused_imports)] // Not every test binary that shares this module decodes fixtures.
pub use ferrolb_testkit::hex;

pub fn encode(m: &Message, ctx: &EncodeContext) -> Vec<u8> {
    m.encode(ctx).expect("encodes")
}

pub const MARKER: &str = "ffffffffffffffffffffffffffffffff";
