//! Feeds arbitrary bytes to the ARP decoder and to the responder. Beyond "never panics",
//! a decoded packet must re-encode to the bytes it came from, and the responder must never
//! answer for an address it does not announce.
#![no_main]

use std::net::IpAddr;

use ferrolb_fuzz::l2::{ANNOUNCED_V4, responder};
use ferrolb_l2::{ArpOperation, ArpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((eth, packet)) = ArpPacket::decode_frame(data) {
        let wire = packet.encode_frame(eth.source, eth.destination);
        assert_eq!(wire[..], data[..wire.len()]);
    }
    // Without an IPv6 link-local address, as on a node that has none: ARP must not care.
    for link_local in [false, true] {
        let mut responder = responder(link_local);
        if let Some(reply) = responder.handle("eth0", data) {
            let (_, answer) = ArpPacket::decode_frame(&reply).expect("our reply decodes");
            assert_eq!(answer.operation, ArpOperation::Reply);
            assert_eq!(IpAddr::V4(answer.sender_ip), IpAddr::V4(ANNOUNCED_V4));
        }
    }
});
