//! Codec invariants over random packets and random or mutated bytes (docs/design.md, Testing:
//! every decoder gets a stable-toolchain property test next to its fuzz target).

use ferrolb_bfd::{ControlPacket, Diagnostic, State};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = State> {
    prop_oneof![Just(State::AdminDown), Just(State::Down), Just(State::Init), Just(State::Up)]
}

/// Packets that pass the RFC 5880 §6.8.6 checks.
fn valid_packet() -> impl Strategy<Value = ControlPacket> {
    (
        (0u8..32, state(), any::<[bool; 4]>(), 1u8..=255, 1u32..),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
    )
        .prop_map(|((diag, state, flags, detect_multiplier, mine), (yours, tx, rx, echo))| ControlPacket {
            diagnostic: Diagnostic::from_code(diag),
            state,
            poll: flags[0],
            final_: flags[1],
            control_plane_independent: flags[2],
            demand: flags[3],
            detect_multiplier,
            my_discriminator: mine,
            your_discriminator: if matches!(state, State::Down | State::AdminDown) { yours } else { yours.max(1) },
            desired_min_tx: tx,
            required_min_rx: rx,
            required_min_echo_rx: echo,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_valid_packet_survives_an_encode_decode_round_trip(packet in valid_packet()) {
        prop_assert_eq!(ControlPacket::decode(&packet.encode()), Ok(packet));
    }

    #[test]
    fn random_bytes_never_panic_and_what_decodes_re_encodes_to_its_header(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        if let Ok(packet) = ControlPacket::decode(&bytes) {
            let mut expected = bytes[..24].to_vec();
            expected[3] = 24;
            prop_assert_eq!(packet.encode().to_vec(), expected);
        }
    }

    #[test]
    fn mutated_valid_packets_never_panic_and_errors_have_a_reason(
        packet in valid_packet(),
        mutations in proptest::collection::vec((0usize..24, any::<u8>()), 1..4),
        cut in 0usize..=26,
    ) {
        let mut bytes = packet.encode().to_vec();
        for (index, value) in mutations {
            bytes[index] = value;
        }
        bytes.truncate(cut);
        if let Err(error) = ControlPacket::decode(&bytes) {
            prop_assert!(!error.reason().is_empty());
        }
    }
}
