//! OPEN bodies (RFC 4271 §4.2) with the Optional Parameters Length always matching, so the
//! fuzzer works on the capabilities (RFC 5492): multiprotocol, route refresh, graceful
//! restart, 4-octet AS and unknown ones. A decoded OPEN re-encodes to an OPEN that decodes
//! the same, and the checks a session applies to it (peer AS, BGP Identifier) never panic.
#![no_main]

use std::net::Ipv4Addr;

use ferrolb_bgp::{AfiSafi, DecodeContext, EncodeContext, Message, decode};
use ferrolb_fuzz::bgp::{frame, open_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let wire = frame(1, &open_body(data));
    let ctx = DecodeContext::default();
    let Ok(message) = decode(&wire, &ctx) else { return };
    let Message::Open(open) = &message else { panic!("an OPEN frame decoded as {message:?}") };
    let _ = open.check_peer(Some(64500), Ipv4Addr::new(10, 0, 0, 1), 64512);
    let _ = open.check_peer(None, open.bgp_id, open.asn());
    let _ = (open.supports_family(AfiSafi::IPV6_UNICAST), open.graceful_restart(), open.four_octet_as());
    // Capabilities too long for one parameter (or one capability over 255 octets) do not
    // encode; everything else must come back unchanged.
    if let Ok(again) = message.encode(&EncodeContext::default()) {
        assert_eq!(decode(&again, &ctx), Ok(message));
    }
});
