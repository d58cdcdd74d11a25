//! Feeds arbitrary bytes to the BGP decoder and framer. Beyond "never panics", anything
//! that decodes must re-encode to bytes that decode to the same message, and the framer
//! must agree with the decoder on where a message ends.
#![no_main]

use ferrolb_bgp::{DecodeContext, EncodeContext, HEADER_LEN, MAX_MESSAGE_LEN, decode, next_frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(len)) = next_frame_len(data) {
        assert!((HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) && len <= data.len(), "frame of {len} octets");
    }
    for four_octet_as in [false, true] {
        let dctx = DecodeContext { four_octet_as };
        let ectx = EncodeContext { four_octet_as };
        if let Ok(message) = decode(data, &dctx) {
            assert_eq!(next_frame_len(data), Ok(Some(data.len())), "a decoded message is one whole frame");
            if let Ok(wire) = message.encode(&ectx) {
                assert_eq!(decode(&wire, &dctx), Ok(message));
            }
        }
    }
});
