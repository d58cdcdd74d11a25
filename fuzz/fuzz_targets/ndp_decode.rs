//! Feeds arbitrary bytes to the Neighbor Discovery decoder and to the responder. A decoded
//! packet must re-encode to a packet that decodes the same, and the responder must only
//! ever answer with a solicited advertisement for the address it announces. The ICMPv6
//! checksum is checked as received; `ndp_checksummed` repairs it first to get deeper.
#![no_main]

use ferrolb_fuzz::l2::check_ndp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check_ndp(data));
