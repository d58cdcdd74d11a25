//! Every decode error path, with the NOTIFICATION (code, subcode) and data RFC 4271 §6
//! prescribes and the RFC 7606 action.

mod common;

use std::net::Ipv4Addr;

use common::*;
use ferrolb_bgp::{Capability, DecodeError, Message, MessageError, Open, next_frame_len, notification};
use ipnet::IpNet;

fn decode(wire: &[u8]) -> Result<Message, DecodeError> {
    ferrolb_bgp::decode(wire, &FOUR)
}

/// A whole message with the right length field around `body`.
fn message(message_type: u8, body: &str) -> Vec<u8> {
    let body = hex(body);
    let mut wire = hex(MARKER);
    wire.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    wire.push(message_type);
    wire.extend_from_slice(&body);
    wire
}

fn update(withdrawn: &str, attributes: &str, nlri: &str) -> Vec<u8> {
    let (w, a) = (hex(withdrawn), hex(attributes));
    let body = format!("{:04x}{withdrawn}{:04x}{attributes}{nlri}", w.len(), a.len());
    message(2, &body)
}

fn session_reset(wire: &[u8]) -> MessageError {
    match decode(wire) {
        Err(DecodeError::SessionReset(e)) => e,
        other => panic!("expected a session reset, got {other:?}"),
    }
}

fn treat_as_withdraw(wire: &[u8]) -> (MessageError, Vec<IpNet>) {
    match decode(wire) {
        Err(DecodeError::TreatAsWithdraw { error, withdrawn }) => (error, withdrawn),
        other => panic!("expected treat-as-withdraw, got {other:?}"),
    }
}

const ORIGIN: &str = "40010100";
const AS_PATH: &str = "4002060201 0000fc00";
const NEXT_HOP: &str = "400304 0a000001";
const NLRI: &str = "18 0a0102"; // 10.1.2.0/24

// --- message header (code 1) ---

#[test]
fn a_bad_marker_is_connection_not_synchronized() {
    let mut wire = message(4, "");
    wire[3] = 0;
    assert_eq!(session_reset(&wire).code_subcode(), (1, 1));
}

#[test]
fn a_length_below_19_is_bad_message_length_with_the_length_as_data() {
    let mut wire = message(4, "");
    wire[17] = 18;
    let e = session_reset(&wire);
    assert_eq!(e.code_subcode(), (1, 2));
    assert_eq!(e.data(), vec![0, 18]);
}

#[test]
fn a_length_above_4096_is_bad_message_length() {
    let mut wire = message(4, "");
    wire[16..18].copy_from_slice(&4097u16.to_be_bytes());
    let e = session_reset(&wire);
    assert_eq!(e.code_subcode(), (1, 2));
    assert_eq!(e.data(), 4097u16.to_be_bytes().to_vec());
}

#[test]
fn a_length_that_disagrees_with_the_buffer_is_bad_message_length() {
    let mut wire = message(4, "");
    wire.push(0);
    assert_eq!(session_reset(&wire).code_subcode(), (1, 2));
    assert_eq!(session_reset(&wire[..10]).code_subcode(), (1, 2));
}

#[test]
fn a_keepalive_with_a_body_is_bad_message_length() {
    let e = session_reset(&message(4, "00"));
    assert_eq!(e.code_subcode(), (1, 2));
    assert_eq!(e.data(), vec![0, 20]);
}

#[test]
fn messages_shorter_than_their_type_minimum_are_bad_message_length() {
    for (t, body) in [(1, "04fc00005a0a0000"), (2, "0000"), (3, "06")] {
        assert_eq!(session_reset(&message(t, body)).code_subcode(), (1, 2), "type {t}");
    }
}

#[test]
fn an_unknown_type_is_bad_message_type_with_the_type_as_data() {
    let e = session_reset(&message(6, ""));
    assert_eq!(e.code_subcode(), (1, 3));
    assert_eq!(e.data(), vec![6]);
}

// --- OPEN (code 2) ---

fn open(version: &str, my_as: &str, hold: &str, id: &str, params: &str) -> Vec<u8> {
    let len = hex(params).len();
    message(1, &format!("{version}{my_as}{hold}{id}{len:02x}{params}"))
}

#[test]
fn version_3_is_unsupported_version_with_4_as_data() {
    let e = session_reset(&open("03", "fc00", "005a", "0a000001", ""));
    assert_eq!(e.code_subcode(), (2, 1));
    assert_eq!(e.data(), vec![0, 4]);
}

#[test]
fn as_zero_is_bad_peer_as() {
    let e = session_reset(&open("04", "0000", "005a", "0a000001", ""));
    assert_eq!(e.code_subcode(), (2, 2));
    let e = session_reset(&open("04", "5ba0", "005a", "0a000001", "0206 4104 00000000"));
    assert_eq!(e.code_subcode(), (2, 2));
}

#[test]
fn an_as_other_than_configured_is_bad_peer_as() {
    let Ok(Message::Open(o)) = decode(&open("04", "fc00", "005a", "0a000001", "")) else { panic!() };
    let local = Ipv4Addr::new(10, 0, 0, 2);
    assert_eq!(o.check_peer(Some(64512), local, 64513), Ok(()));
    assert_eq!(o.check_peer(None, local, 64513), Ok(()));
    let e = o.check_peer(Some(64999), local, 64513).unwrap_err();
    assert_eq!(e.code_subcode(), (2, 2));
}

#[test]
fn bgp_id_zero_or_equal_to_ours_on_ibgp_is_bad_bgp_identifier() {
    let e = session_reset(&open("04", "fc00", "005a", "00000000", ""));
    assert_eq!(e.code_subcode(), (2, 3));
    let o = Open::new(64512, 90, Ipv4Addr::new(10, 0, 0, 1), vec![]);
    let ours = Ipv4Addr::new(10, 0, 0, 1);
    assert_eq!(o.check_peer(None, ours, 64512).unwrap_err().code_subcode(), (2, 3));
    // RFC 6286 §2.2: only iBGP needs distinct identifiers.
    assert_eq!(o.check_peer(None, ours, 64513), Ok(()));
}

#[test]
fn a_non_capability_optional_parameter_is_unsupported_optional_parameter() {
    let e = session_reset(&open("04", "fc00", "005a", "0a000001", "0102 0000"));
    assert_eq!(e.code_subcode(), (2, 4));
}

#[test]
fn hold_time_1_or_2_is_unacceptable_but_0_and_3_are_fine() {
    for hold in ["0001", "0002"] {
        let e = session_reset(&open("04", "fc00", hold, "0a000001", ""));
        assert_eq!(e.code_subcode(), (2, 6));
    }
    for hold in ["0000", "0003"] {
        assert!(decode(&open("04", "fc00", hold, "0a000001", "")).is_ok());
    }
}

#[test]
fn a_missing_required_capability_is_unsupported_capability_listing_it() {
    let e = MessageError::unsupported_capability(&[Capability::FourOctetAs(4_200_000_000)]);
    assert_eq!(e.code_subcode(), (2, 7));
    assert_eq!(e.data(), hex("4104 fa56ea00"));
    let n = e.to_notification();
    let wire = encode(&Message::Notification(n.clone()), &ENC4);
    assert_eq!(&wire[19..], &hex("0207 4104 fa56ea00"));
}

#[test]
fn malformed_capabilities_and_parameter_lengths_are_open_errors() {
    for params in [
        "0205 0103 000100", // multiprotocol capability of 3 octets
        "0203 4101 00",     // 4-octet AS capability of 1 octet
        "0205 4003 000000", // graceful restart families not 4-aligned
        "0203 0201 00",     // route refresh with a value
        "0203 0105 00",     // capability runs past its parameter
        "0209 0104",        // parameter runs past the message
    ] {
        let e = session_reset(&open("04", "fc00", "005a", "0a000001", params));
        assert_eq!(e.code_subcode(), (2, 0), "{params}");
    }
}

#[test]
fn an_optional_parameters_length_that_disagrees_with_the_message_is_an_open_error() {
    let mut wire = open("04", "fc00", "005a", "0a000001", "0200");
    wire[28] = 5;
    assert_eq!(session_reset(&wire).code_subcode(), (2, 0));
}

// --- UPDATE (code 3) ---

#[test]
fn withdrawn_or_attribute_lengths_past_the_message_are_malformed_attribute_list() {
    let e = session_reset(&message(2, "0009 18 0a0102 0000"));
    assert_eq!(e.code_subcode(), (3, 1));
    let e = session_reset(&message(2, "0000 0009 40010100"));
    assert_eq!(e.code_subcode(), (3, 1));
}

#[test]
fn a_repeated_mp_reach_is_malformed_attribute_list() {
    let mp = "800e0d 0001 01 04 0a000001 00 18 0a0102";
    let e = session_reset(&update("", &format!("{ORIGIN}{AS_PATH}{mp}{mp}"), ""));
    assert_eq!(e.code_subcode(), (3, 1));
}

#[test]
fn a_repeated_ordinary_attribute_keeps_the_first() {
    let attrs = format!("{ORIGIN}40010102{AS_PATH}{NEXT_HOP}");
    let Ok(Message::Update(u)) = decode(&update("", &attrs, NLRI)) else { panic!() };
    assert_eq!(u.attributes.origin, Some(ferrolb_bgp::Origin::Igp));
}

#[test]
fn an_unknown_well_known_attribute_is_unrecognized_with_the_attribute_as_data() {
    let e = session_reset(&update("", &format!("{ORIGIN}{AS_PATH}{NEXT_HOP}4063 01 aa"), NLRI));
    assert_eq!(e.code_subcode(), (3, 2));
    assert_eq!(e.data(), hex("4063 01 aa"));
}

#[test]
fn missing_origin_as_path_or_next_hop_with_nlri_is_treated_as_withdraw() {
    for (attrs, missing) in
        [(format!("{AS_PATH}{NEXT_HOP}"), 1), (format!("{ORIGIN}{NEXT_HOP}"), 2), (format!("{ORIGIN}{AS_PATH}"), 3)]
    {
        let (e, withdrawn) = treat_as_withdraw(&update("", &attrs, NLRI));
        assert_eq!(e.code_subcode(), (3, 3));
        assert_eq!(e.data(), vec![missing]);
        assert_eq!(withdrawn, vec!["10.1.2.0/24".parse::<IpNet>().unwrap()]);
    }
}

#[test]
fn next_hop_is_not_required_when_only_mp_reach_announces() {
    let mp = "800e0d 0001 01 04 0a000001 00 18 0a0102";
    assert!(decode(&update("", &format!("{ORIGIN}{AS_PATH}{mp}"), "")).is_ok());
    let (e, _) = treat_as_withdraw(&update("", &format!("{AS_PATH}{mp}"), ""));
    assert_eq!(e.code_subcode(), (3, 3));
}

#[test]
fn wrong_flags_on_a_known_attribute_are_attribute_flags_error() {
    // ORIGIN sent as optional transitive.
    let attrs = format!("c0010100{AS_PATH}{NEXT_HOP}");
    let (e, _) = treat_as_withdraw(&update("", &attrs, NLRI));
    assert_eq!(e.code_subcode(), (3, 4));
    assert_eq!(e.data(), hex("c0010100"));
    // MED with the partial bit set.
    let attrs = format!("{ORIGIN}{AS_PATH}{NEXT_HOP}a00404 00000001");
    assert_eq!(treat_as_withdraw(&update("", &attrs, NLRI)).0.code_subcode(), (3, 4));
    // MP_REACH flagged transitive cannot be trusted to locate NLRI: session reset.
    let attrs = format!("{ORIGIN}{AS_PATH}c00e0d 0001 01 04 0a000001 00 18 0a0102");
    assert_eq!(session_reset(&update("", &attrs, "")).code_subcode(), (3, 4));
}

#[test]
fn a_wrong_fixed_length_is_attribute_length_error() {
    for attrs in [
        format!("40010200 00{AS_PATH}{NEXT_HOP}"),
        format!("{ORIGIN}{AS_PATH}400305 0a00000100"),
        format!("{ORIGIN}{AS_PATH}{NEXT_HOP}400503 000064"),
        format!("{ORIGIN}{AS_PATH}{NEXT_HOP}800402 0001"),
    ] {
        let (e, _) = treat_as_withdraw(&update("", &attrs, NLRI));
        assert_eq!(e.code_subcode(), (3, 5), "{attrs}");
    }
}

#[test]
fn an_attribute_running_past_the_field_is_attribute_length_error_and_resets() {
    let e = session_reset(&update("", &format!("{ORIGIN}{AS_PATH}400308 0a000001"), ""));
    assert_eq!(e.code_subcode(), (3, 5));
}

#[test]
fn a_truncated_attribute_header_is_malformed_attribute_list() {
    let e = session_reset(&update("", &format!("{ORIGIN}40"), ""));
    assert_eq!(e.code_subcode(), (3, 1));
}

#[test]
fn origin_3_is_invalid_origin() {
    let (e, _) = treat_as_withdraw(&update("", &format!("40010103{AS_PATH}{NEXT_HOP}"), NLRI));
    assert_eq!(e.code_subcode(), (3, 6));
    assert_eq!(e.data(), hex("40010103"));
}

#[test]
fn a_multicast_or_zero_next_hop_is_invalid_next_hop() {
    for nh in ["e0000001", "00000000", "ffffffff"] {
        let (e, _) = treat_as_withdraw(&update("", &format!("{ORIGIN}{AS_PATH}400304{nh}"), NLRI));
        assert_eq!(e.code_subcode(), (3, 8), "{nh}");
    }
    let mp = "800e1a 0002 01 10 ff020000000000000000000000000001 00 20 20010db8";
    let (e, withdrawn) = treat_as_withdraw(&update("", &format!("{ORIGIN}{AS_PATH}{mp}"), ""));
    assert_eq!(e.code_subcode(), (3, 8));
    assert_eq!(withdrawn, vec!["2001:db8::/32".parse::<IpNet>().unwrap()]);
}

#[test]
fn communities_not_a_multiple_of_their_size_are_optional_attribute_error() {
    for comm in ["c00803 000102", "c00800", "c0200d 00000001000000020000000300"] {
        let (e, _) = treat_as_withdraw(&update("", &format!("{ORIGIN}{AS_PATH}{NEXT_HOP}{comm}"), NLRI));
        assert_eq!(e.code_subcode(), (3, 9), "{comm}");
    }
}

#[test]
fn a_bad_mp_reach_next_hop_length_or_family_is_optional_attribute_error_and_resets() {
    for mp in [
        "800e0c 0002 01 03 0a0000 00 18 0a0102", // ipv6 with a 3-octet next hop
        "800e09 0019 46 04 0a000001 00",         // l2vpn evpn: never negotiated
        "800e02 0002",                           // truncated header
        "800e08 0002 01 04 0a000001",            // next hop runs past, no reserved octet
    ] {
        let e = session_reset(&update("", &format!("{ORIGIN}{AS_PATH}{mp}"), ""));
        assert_eq!(e.code_subcode(), (3, 9), "{mp}");
    }
    let e = session_reset(&update("", "800f02 0002", ""));
    assert_eq!(e.code_subcode(), (3, 9));
}

#[test]
fn a_prefix_longer_than_its_family_or_past_its_field_is_invalid_network_field() {
    for wire in [
        update("", &format!("{ORIGIN}{AS_PATH}{NEXT_HOP}"), "21 0a010203 00"),
        update("", &format!("{ORIGIN}{AS_PATH}{NEXT_HOP}"), "18 0a01"),
        update("20 0a01", "", ""),
        update("", "800f05 0002 01 81 20", ""),
        update("", "800f05 0002 01 40 20", ""),
    ] {
        assert_eq!(session_reset(&wire).code_subcode(), (3, 10));
    }
}

#[test]
fn a_bad_as_path_segment_is_malformed_as_path() {
    for path in [
        "400206 0501 0000fc00", // segment type 5
        "400206 0202 0000fc00", // two ASNs announced, one present
        "400202 0200",          // empty segment (RFC 7606 §7.2)
    ] {
        let (e, _) = treat_as_withdraw(&update("", &format!("{ORIGIN}{path}{NEXT_HOP}"), NLRI));
        assert_eq!(e.code_subcode(), (3, 11), "{path}");
    }
}

#[test]
fn treat_as_withdraw_lists_every_prefix_in_the_update() {
    let mp = "800f08 0002 01 20 20010db8";
    let attrs = format!("40010103{AS_PATH}{NEXT_HOP}{mp}");
    let (_, withdrawn) = treat_as_withdraw(&update("18 0a0900", &attrs, NLRI));
    let want: Vec<IpNet> = ["10.9.0.0/24", "2001:db8::/32", "10.1.2.0/24"].iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(withdrawn, want);
}

#[test]
fn a_session_reset_wins_over_an_earlier_treat_as_withdraw() {
    let attrs = format!("40010103{AS_PATH}{NEXT_HOP}4063 01 aa");
    assert_eq!(session_reset(&update("", &attrs, NLRI)).code_subcode(), (3, 2));
}

#[test]
fn a_bad_atomic_aggregate_is_discarded_and_the_update_kept() {
    let attrs = format!("{ORIGIN}{AS_PATH}{NEXT_HOP}400601 00");
    let Ok(Message::Update(u)) = decode(&update("", &attrs, NLRI)) else { panic!() };
    assert!(!u.attributes.atomic_aggregate);
}

#[test]
fn unknown_optional_non_transitive_attributes_are_dropped_and_transitive_kept() {
    let attrs = format!("{ORIGIN}{AS_PATH}{NEXT_HOP}8063 01 aa e064 01 bb");
    let Ok(Message::Update(u)) = decode(&update("", &attrs, NLRI)) else { panic!() };
    assert_eq!(u.attributes.unknown.len(), 1);
    assert_eq!(u.attributes.unknown[0].type_code, 0x64);
    assert_eq!(u.attributes.unknown[0].flags, 0xe0);
    assert_eq!(u.attributes.unknown[0].value, vec![0xbb]);
}

// --- ROUTE-REFRESH (code 7) ---

#[test]
fn a_route_refresh_of_the_wrong_length_is_invalid_message_length_with_the_message() {
    let wire = message(5, "0001 00 01 00");
    let e = session_reset(&wire);
    assert_eq!(e.code_subcode(), (7, 1));
    assert_eq!(e.data(), wire);
}

// --- NOTIFICATION round trip of errors ---

#[test]
fn every_error_becomes_a_notification_that_decodes_to_the_same_code() {
    let wire = update("", &format!("{ORIGIN}{AS_PATH}{NEXT_HOP}4063 01 aa"), NLRI);
    let e = session_reset(&wire);
    let sent = encode(&Message::Notification(e.to_notification()), &ENC4);
    let Ok(Message::Notification(n)) = decode(&sent) else { panic!() };
    assert_eq!(n.error, notification::ErrorCode::Update(notification::UpdateError::UnrecognizedWellKnownAttribute));
    assert_eq!(n.data, hex("4063 01 aa"));
}

#[test]
fn a_shutdown_communication_over_255_octets_is_refused() {
    assert!(ferrolb_bgp::Notification::administrative_shutdown(&"x".repeat(255)).is_ok());
    assert!(ferrolb_bgp::Notification::administrative_reset(&"x".repeat(256)).is_err());
}

#[test]
fn a_malformed_shutdown_communication_is_not_an_error() {
    let Ok(Message::Notification(n)) = decode(&message(3, "0602 09 6869")) else { panic!() };
    assert_eq!(n.shutdown_communication(), None);
    let Ok(Message::Notification(n)) = decode(&message(3, "0604 02 ff fe")) else { panic!() };
    assert_eq!(n.shutdown_communication(), None);
}

// --- framing ---

#[test]
fn framing_waits_for_a_whole_message_and_then_gives_its_length() {
    let mut stream = message(4, "");
    stream.extend(message(5, "0001 00 01"));
    assert_eq!(next_frame_len(&[]), Ok(None));
    assert_eq!(next_frame_len(&stream[..5]), Ok(None));
    assert_eq!(next_frame_len(&stream[..18]), Ok(None));
    assert_eq!(next_frame_len(&stream), Ok(Some(19)));
    assert_eq!(next_frame_len(&stream[19..30]), Ok(None));
    assert_eq!(next_frame_len(&stream[19..]), Ok(Some(23)));
}

#[test]
fn framing_reports_a_bad_marker_or_length_before_the_body_arrives() {
    assert_eq!(next_frame_len(&[0xff, 0xff, 0x00]), Err(MessageError::ConnectionNotSynchronized));
    let mut head = hex(MARKER);
    head.extend_from_slice(&[0x10, 0x01, 2]);
    assert_eq!(next_frame_len(&head), Err(MessageError::BadMessageLength { length: 4097 }));
}
