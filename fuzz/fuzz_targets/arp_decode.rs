//! Feeds arbitrary bytes to the ARP decoder and to the responder. Beyond "never panics",
//! a decoded packet must re-encode to the bytes it came from, and the responder must never
//! answer for an address it does not announce.
#![no_main]

use std::net::IpAddr;

use ferrolb_l2::{ArpPacket, Exclusion, InterfaceInfo, InterfaceSelection, Responder};
use ferrolb_testkit::interfaces::eth0;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((eth, packet)) = ArpPacket::decode_frame(data) {
        let wire = packet.encode_frame(eth.source, eth.destination);
        assert_eq!(wire[..], data[..wire.len()]);
    }
    let mut responder = Responder::new(Exclusion::none());
    responder.set_interfaces(vec![InterfaceInfo { link_local: None, ..eth0() }]);
    let announced: IpAddr = "172.30.0.100".parse().unwrap();
    responder.announce("default/web", announced, InterfaceSelection::All);
    if let Some(reply) = responder.handle("eth0", data) {
        let (_, answer) = ArpPacket::decode_frame(&reply).expect("our reply decodes");
        assert_eq!(IpAddr::V4(answer.sender_ip), announced);
    }
});
