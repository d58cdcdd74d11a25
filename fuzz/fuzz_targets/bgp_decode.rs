//! Feeds arbitrary bytes to the BGP decoder and framer. Beyond "never panics", anything
//! that decodes must re-encode to bytes that decode to the same message.
#![no_main]

use ferrolb_bgp::{DecodeContext, EncodeContext, decode, next_frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = next_frame_len(data);
    for four_octet_as in [false, true] {
        let dctx = DecodeContext { four_octet_as };
        let ectx = EncodeContext { four_octet_as };
        if let Ok(message) = decode(data, &dctx)
            && let Ok(wire) = message.encode(&ectx)
        {
            assert_eq!(decode(&wire, &dctx), Ok(message));
        }
    }
});
