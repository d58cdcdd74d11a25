//! Invariants of the echo decoders (RFC 5880 §6.4) over random payloads and random or
//! mutated frames, beside their fuzz target `bfd_echo`: nothing panics, every rejection has
//! a reason label, and what we build parses back to what we put in.

use std::net::Ipv4Addr;

use ferrolb_bfd::echo::{SEND_TTL, echo_frame};
use ferrolb_bfd::{EchoDatagram, EchoPayload};
use proptest::prelude::*;

fn payload() -> impl Strategy<Value = EchoPayload> {
    (1u32.., any::<u32>()).prop_map(|(discriminator, sequence)| EchoPayload { discriminator, sequence })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_payload_survives_an_encode_decode_round_trip(payload in payload()) {
        prop_assert_eq!(EchoPayload::decode(&payload.encode()), Ok(payload));
    }

    #[test]
    fn every_frame_we_build_parses_back_to_its_address_ttl_and_payload(
        payload in payload(),
        address in any::<[u8; 4]>(),
        macs in any::<([u8; 6], [u8; 6])>(),
        id in any::<u16>(),
    ) {
        let address = Ipv4Addr::from(address);
        let frame = echo_frame(macs.0, macs.1, address, id, &payload);
        let datagram = EchoDatagram::parse(&frame).unwrap();
        prop_assert_eq!((datagram.source, datagram.destination, datagram.ttl), (address, address, SEND_TTL));
        prop_assert_eq!(EchoPayload::decode(datagram.payload), Ok(payload));
    }

    #[test]
    fn random_bytes_never_panic_and_rejections_have_a_reason(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        match EchoDatagram::parse(&bytes) {
            Ok(datagram) => prop_assert!(datagram.payload.len() + 42 <= bytes.len()),
            Err(error) => prop_assert!(error.reason().starts_with("echo_")),
        }
        if let Err(error) = EchoPayload::decode(&bytes) {
            prop_assert!(error.reason().starts_with("echo_"));
        }
    }

    #[test]
    fn mutated_or_cut_frames_never_panic(
        payload in payload(),
        mutations in proptest::collection::vec((0usize..58, any::<u8>()), 1..4),
        cut in 0usize..=58,
    ) {
        let mut frame = echo_frame([2; 6], [4; 6], Ipv4Addr::new(172, 30, 0, 11), 1, &payload);
        for (index, value) in mutations {
            frame[index] = value;
        }
        frame.truncate(cut);
        if let Ok(datagram) = EchoDatagram::parse(&frame) {
            let _ = EchoPayload::decode(datagram.payload);
        }
    }
}
