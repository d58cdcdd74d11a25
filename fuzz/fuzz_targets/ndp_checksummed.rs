//! `ndp_decode` on frames whose ICMPv6 checksum is repaired before decoding
//! (`ferrolb_fuzz::l2::fix_ndp_checksum`): a mutation that keeps a frame valid but for the
//! checksum gets past it, to the option parser, the RFC 4861 §7.1 validity checks and the
//! responder's decisions.
#![no_main]

use ferrolb_fuzz::l2::{check_ndp, fix_ndp_checksum};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut frame = data.to_vec();
    fix_ndp_checksum(&mut frame);
    check_ndp(&frame);
});
