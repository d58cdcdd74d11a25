//! Feeds arbitrary bytes to the BFD echo decoders (RFC 5880 §6.4): as a whole Ethernet frame
//! from the echo socket and as a UDP payload. Beyond "never panics": an accepted payload
//! re-encodes to its first 16 bytes (the reserved octets zero), and a frame rebuilt around
//! it parses back to the same payload and address.
#![no_main]

use ferrolb_bfd::echo::{EchoDatagram, EchoPayload, SEND_TTL, echo_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(datagram) = EchoDatagram::parse(data) {
        assert!(datagram.payload.len() <= data.len());
        let _ = EchoPayload::decode(datagram.payload);
    }
    let Ok(payload) = EchoPayload::decode(data) else { return };
    let wire = payload.encode();
    let mut expected = [0u8; 16];
    expected.copy_from_slice(&data[..16]);
    expected[6] = 0;
    expected[7] = 0;
    assert_eq!(wire, expected);
    let address = std::net::Ipv4Addr::new(172, 30, 0, 11);
    let frame = echo_frame([2; 6], [4; 6], address, 1, &payload);
    let datagram = EchoDatagram::parse(&frame).expect("our own frame parses");
    assert_eq!((datagram.source, datagram.destination, datagram.ttl), (address, address, SEND_TTL));
    assert_eq!(EchoPayload::decode(datagram.payload), Ok(payload));
});
