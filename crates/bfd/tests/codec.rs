//! Hex fixtures for the Control packet (RFC 5880 §4.1) and every reception check of
//! RFC 5880 §6.8.6.

use ferrolb_bfd::{ControlPacket, DecodeError, Diagnostic, State};
use ferrolb_testkit::hex;

/// What FRR's bfdd sends first: Down, 1 s slow-start TX, 300 ms RX, 50 ms echo.
const FRR_DOWN: &str = "20 40 03 18  00 00 00 01  00 00 00 00  00 0f 42 40  00 04 93 e0  00 00 c3 50";

fn frr_down() -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::None,
        state: State::Down,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: 1,
        your_discriminator: 0,
        desired_min_tx: 1_000_000,
        required_min_rx: 300_000,
        required_min_echo_rx: 50_000,
    }
}

#[test]
fn a_down_packet_decodes_field_by_field_and_re_encodes_to_the_same_bytes() {
    let bytes = hex(FRR_DOWN);
    let packet = ControlPacket::decode(&bytes).unwrap();
    assert_eq!(packet, frr_down());
    assert_eq!(packet.encode().to_vec(), bytes);
    assert_eq!(packet.desired_min_tx(), std::time::Duration::from_secs(1));
    assert_eq!(packet.required_min_rx(), std::time::Duration::from_millis(300));
}

#[test]
fn an_up_packet_with_poll_sets_state_bits_and_p() {
    let bytes = hex("20 e0 05 18  0a 0b 0c 0d  00 00 00 07  00 01 86 a0  00 01 86 a0  00 00 00 00");
    let packet = ControlPacket::decode(&bytes).unwrap();
    assert_eq!(packet.state, State::Up);
    assert!(packet.poll && !packet.final_);
    assert_eq!(packet.detect_multiplier, 5);
    assert_eq!(packet.my_discriminator, 0x0a0b_0c0d);
    assert_eq!(packet.your_discriminator, 7);
    assert_eq!(packet.desired_min_tx, 100_000);
    assert_eq!(packet.encode().to_vec(), bytes);
}

#[test]
fn a_final_in_init_with_control_plane_independence_and_demand_round_trips() {
    let bytes = hex("20 9a 03 18  00 00 00 02  00 00 00 09  00 0f 42 40  00 0f 42 40  00 00 00 00");
    let packet = ControlPacket::decode(&bytes).unwrap();
    assert_eq!(packet.state, State::Init);
    assert!(packet.final_ && packet.control_plane_independent && packet.demand && !packet.poll);
    assert_eq!(packet.encode().to_vec(), bytes);
}

#[test]
fn an_admin_down_packet_carries_its_diagnostic() {
    let bytes = hex("27 00 03 18  00 00 00 02  00 00 00 00  00 0f 42 40  00 0f 42 40  00 00 00 00");
    let packet = ControlPacket::decode(&bytes).unwrap();
    assert_eq!(packet.state, State::AdminDown);
    assert_eq!(packet.diagnostic, Diagnostic::AdministrativelyDown);
    assert_eq!(packet.encode().to_vec(), bytes);
}

#[test]
fn every_diagnostic_code_maps_to_itself_including_reserved_ones() {
    for code in 0..32 {
        assert_eq!(Diagnostic::from_code(code).code(), code);
    }
    assert_eq!(Diagnostic::from_code(1), Diagnostic::ControlDetectionTimeExpired);
    assert_eq!(Diagnostic::from_code(3), Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(Diagnostic::from_code(12), Diagnostic::Reserved(12));
}

#[test]
fn bytes_after_the_length_are_ignored() {
    let mut bytes = hex(FRR_DOWN);
    bytes.extend_from_slice(&[0xde, 0xad]);
    assert_eq!(ControlPacket::decode(&bytes).unwrap(), frr_down());
}

/// The fixture with one byte replaced.
fn with(index: usize, value: u8) -> Vec<u8> {
    let mut bytes = hex(FRR_DOWN);
    bytes[index] = value;
    bytes
}

fn rejected(bytes: &[u8]) -> (DecodeError, &'static str) {
    let error = ControlPacket::decode(bytes).unwrap_err();
    (error, error.reason())
}

#[test]
fn a_packet_shorter_than_24_bytes_is_truncated() {
    let bytes = hex(FRR_DOWN);
    assert_eq!(rejected(&bytes[..23]), (DecodeError::Truncated(23), "truncated"));
    assert_eq!(rejected(&[]), (DecodeError::Truncated(0), "truncated"));
}

#[test]
fn a_version_other_than_1_is_rejected() {
    assert_eq!(rejected(&with(0, 0x00)), (DecodeError::BadVersion(0), "bad_version"));
    assert_eq!(rejected(&with(0, 0x40)), (DecodeError::BadVersion(2), "bad_version"));
}

#[test]
fn a_length_below_24_is_rejected() {
    assert_eq!(rejected(&with(3, 23)), (DecodeError::LengthTooShort { length: 23, minimum: 24 }, "length_too_short"));
}

#[test]
fn a_length_beyond_the_payload_is_rejected() {
    assert_eq!(
        rejected(&with(3, 25)),
        (DecodeError::LengthExceedsPayload { length: 25, payload: 24 }, "length_exceeds_payload")
    );
}

#[test]
fn with_the_a_bit_the_length_must_cover_the_authentication_header() {
    assert_eq!(rejected(&with(1, 0x44)), (DecodeError::LengthTooShort { length: 24, minimum: 26 }, "length_too_short"));
}

#[test]
fn authentication_is_rejected_because_none_is_configured() {
    let mut bytes = with(1, 0x44);
    bytes[3] = 26;
    bytes.extend_from_slice(&[1, 2]);
    assert_eq!(rejected(&bytes), (DecodeError::AuthenticationNotConfigured, "authentication_not_configured"));
}

#[test]
fn a_zero_detect_multiplier_is_rejected() {
    assert_eq!(rejected(&with(2, 0)), (DecodeError::ZeroDetectMultiplier, "zero_detect_multiplier"));
}

#[test]
fn the_multipoint_bit_is_rejected() {
    assert_eq!(rejected(&with(1, 0x41)), (DecodeError::Multipoint, "multipoint"));
}

#[test]
fn a_zero_my_discriminator_is_rejected() {
    assert_eq!(rejected(&with(7, 0)), (DecodeError::ZeroMyDiscriminator, "zero_my_discriminator"));
}

#[test]
fn a_zero_your_discriminator_is_accepted_only_in_down_and_admin_down() {
    assert!(ControlPacket::decode(&with(1, 0x00)).is_ok());
    assert!(ControlPacket::decode(&with(1, 0x40)).is_ok());
    assert_eq!(rejected(&with(1, 0x80)), (DecodeError::ZeroYourDiscriminator(State::Init), "zero_your_discriminator"));
    assert_eq!(rejected(&with(1, 0xc0)), (DecodeError::ZeroYourDiscriminator(State::Up), "zero_your_discriminator"));
}

#[test]
fn errors_read_as_sentences() {
    assert_eq!(DecodeError::BadVersion(2).to_string(), "version 2 is not 1");
    assert_eq!(DecodeError::ZeroYourDiscriminator(State::Up).to_string(), "your discriminator is zero in state Up");
}
