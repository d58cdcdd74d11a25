//! Feeds arbitrary bytes to the Neighbor Discovery decoder and to the responder. A decoded
//! packet must re-encode to a packet that decodes the same, and the responder must only
//! ever answer with a solicited advertisement for the address it announces.
#![no_main]

use std::net::IpAddr;

use ferrolb_l2::{Exclusion, InterfaceSelection, NdpMessage, NdpPacket, Responder};
use ferrolb_testkit::interfaces::eth0;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = NdpPacket::decode(data);
    if let Ok((eth, packet)) = NdpPacket::decode_frame(data) {
        let wire = packet.encode_frame(eth.source, eth.destination);
        assert_eq!(NdpPacket::decode_frame(&wire).map(|(_, p)| p), Ok(packet));
    }
    let mut responder = Responder::new(Exclusion::none());
    responder.set_interfaces(vec![eth0()]);
    let announced: IpAddr = "fd00:30::100".parse().unwrap();
    responder.announce("default/web", announced, InterfaceSelection::All);
    if let Some(reply) = responder.handle("eth0", data) {
        let (_, answer) = NdpPacket::decode_frame(&reply).expect("our reply decodes");
        match answer.message {
            NdpMessage::Advertisement { solicited: true, target, .. } => assert_eq!(IpAddr::V6(target), announced),
            other => panic!("unexpected reply {other:?}"),
        }
    }
});
