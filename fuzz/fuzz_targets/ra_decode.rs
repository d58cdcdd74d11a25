//! Feeds arbitrary ICMPv6 messages to the Router Advertisement decoder that BGP unnumbered
//! learns its neighbour with. A decoded advertisement must re-encode to one that decodes the
//! same, and only a link-local source that is not ours may become the neighbour.
#![no_main]

use ferrolb_fuzz::l2::check_router_advert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check_router_advert(data));
