//! One BGP message of any type with a correct header: the first input octet picks the type
//! (0-7, so the unknown types 0, 6 and 7 are tried too), the rest is the body, and marker
//! and length are always right, so every mutation lands in a body decoder (OPEN, UPDATE,
//! NOTIFICATION, KEEPALIVE, ROUTE-REFRESH). What decodes re-encodes to the same message;
//! NOTIFICATION data is inspected for a shutdown communication (RFC 9003).
#![no_main]

use ferrolb_bgp::{DecodeContext, EncodeContext, Message, decode};
use ferrolb_fuzz::bgp::frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let wire = frame(selector % 8, body);
    for four_octet_as in [false, true] {
        let dctx = DecodeContext { four_octet_as };
        let Ok(message) = decode(&wire, &dctx) else { continue };
        match &message {
            Message::Notification(n) => {
                let _ = n.shutdown_communication();
            }
            Message::Open(open) => {
                let _ = (open.asn(), open.graceful_restart(), open.supports_route_refresh());
            }
            Message::Update(update) => {
                let _ = (update.end_of_rib_family(), update.announced().count(), update.withdrawals().count());
            }
            Message::Keepalive | Message::RouteRefresh(_) => {}
        }
        if let Ok(again) = message.encode(&EncodeContext { four_octet_as }) {
            assert_eq!(decode(&again, &dctx), Ok(message));
        }
    }
});
