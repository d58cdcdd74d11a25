//! UPDATE bodies (RFC 4271 §4.3) with the Withdrawn Routes and Total Path Attribute lengths
//! always consistent (input layout in `ferrolb_fuzz::bgp::update_body`), so the fuzzer works
//! on the path attributes (ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES,
//! LARGE_COMMUNITIES, MP_REACH_NLRI, MP_UNREACH_NLRI, AS4_PATH, unknown ones) and the NLRI.
//! What decodes re-encodes to an UPDATE that decodes the same; a treat-as-withdraw error
//! (RFC 7606) never lists a prefix the message does not carry.
#![no_main]

use ferrolb_bgp::{DecodeContext, DecodeError, EncodeContext, decode};
use ferrolb_fuzz::bgp::{frame, update_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (four_octet_as, body) = update_body(data);
    let wire = frame(2, &body);
    let dctx = DecodeContext { four_octet_as };
    match decode(&wire, &dctx) {
        Ok(message) => {
            if let Ok(again) = message.encode(&EncodeContext { four_octet_as }) {
                assert_eq!(decode(&again, &dctx), Ok(message));
            }
        }
        Err(DecodeError::TreatAsWithdraw { withdrawn, .. }) => {
            // Each prefix takes at least one octet of the body.
            assert!(withdrawn.len() <= body.len(), "{} prefixes from {} octets", withdrawn.len(), body.len());
        }
        Err(_) => {}
    }
});
