//! FSM transcripts (docs/design.md, Testing): an input sequence and the outputs each input must
//! produce, in order. Covers every transition of the outbound-only FSM (RFC 4271 §8).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferrolb_bgp::fsm::{DownReason, Fsm, FsmConfig, Input, Output, PeerAs, State, Timer, backoff};
use ferrolb_bgp::notification::{ErrorCode, FsmError, OpenError};
use ferrolb_bgp::{
    AfiSafi, Capability, CeaseSubcode, DecodeError, ExtendedNextHop, GracefulRestart, GracefulRestartFamily, Message,
    MessageError, Notification, Open, RouteRefresh, Update,
};
use ferrolb_testkit::bgp::graceful_restart;

const LOCAL_AS: u32 = 64512;
const PEER_AS: u32 = 64500;
const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn local() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn remote() -> SocketAddr {
    "127.0.0.2:179".parse().unwrap()
}

fn config() -> FsmConfig {
    FsmConfig::new(LOCAL_AS, PeerAs::Fixed(PEER_AS), ROUTER_ID)
}

fn both_families() -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::RouteRefresh,
    ]
}

fn peer_open(asn: u32, hold: u16, id: Ipv4Addr) -> Open {
    let mut caps = both_families();
    caps.push(Capability::FourOctetAs(asn));
    Open::new(asn, hold, id, caps)
}

fn notification(code: u8, subcode: u8) -> Notification {
    Notification::new(ErrorCode::from_octets(code, subcode), Vec::new())
}

fn sent_notification(out: &[Output]) -> Option<&Notification> {
    out.iter().find_map(|o| match o {
        Output::Send(Message::Notification(n)) => Some(n),
        _ => None,
    })
}

/// Idle -> Connect -> OpenSent.
fn open_sent(config: FsmConfig) -> Fsm {
    let mut fsm = Fsm::new(config);
    fsm.process(Input::Start);
    fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    assert_eq!(fsm.state(), State::OpenSent);
    fsm
}

/// ... -> OpenConfirm with a peer hold time of 30 s.
fn open_confirm() -> Fsm {
    let mut fsm = open_sent(config());
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert_eq!(fsm.state(), State::OpenConfirm);
    fsm
}

fn established() -> Fsm {
    let mut fsm = open_confirm();
    fsm.process(Input::Message(Message::Keepalive));
    assert_eq!(fsm.state(), State::Established);
    fsm
}

/// The outputs of every failure after connect: tell the peer (if `sent`), cancel the
/// timers that were running, close, report, retry after `retry`.
fn failure(sent: Option<Notification>, cancelled: &[Timer], reason: DownReason, retry: Duration) -> Vec<Output> {
    let mut out = Vec::new();
    out.extend(sent.map(|n| Output::Send(Message::Notification(n))));
    out.extend(cancelled.iter().map(|&t| Output::CancelTimer(t)));
    out.push(Output::CloseTcp);
    out.push(Output::Down { reason });
    out.push(Output::ArmTimer(Timer::ConnectRetry, retry));
    out
}

#[test]
fn start_dials_at_once_and_bounds_the_attempt_with_the_connect_time() {
    let mut fsm = Fsm::new(config());
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.process(Input::Start), [Output::Connect, Output::ArmTimer(Timer::ConnectRetry, secs(10))]);
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn start_is_ignored_once_the_session_is_running() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    assert_eq!(fsm.process(Input::Start), []);
    let mut fsm = established();
    assert_eq!(fsm.process(Input::Start), []);
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn a_configured_connect_time_bounds_the_attempt() {
    let mut fsm = Fsm::new(FsmConfig { connect_time: secs(3), ..config() });
    assert_eq!(fsm.process(Input::Start), [Output::Connect, Output::ArmTimer(Timer::ConnectRetry, secs(3))]);
}

#[test]
fn connecting_sends_our_open_and_arms_the_four_minute_open_sent_hold_timer() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    let open = Open::new(
        LOCAL_AS,
        90,
        ROUTER_ID,
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(LOCAL_AS),
        ],
    );
    assert_eq!(
        out,
        [
            Output::CancelTimer(Timer::ConnectRetry),
            Output::Send(Message::Open(open)),
            Output::ArmTimer(Timer::Hold, secs(240)),
        ]
    );
    assert_eq!(fsm.state(), State::OpenSent);
}

#[test]
fn a_four_octet_local_as_goes_out_as_as_trans_with_the_real_as_in_the_capability() {
    let fsm = Fsm::new(FsmConfig::new(4_200_000_000, PeerAs::External, ROUTER_ID));
    let open = fsm.open_message();
    assert_eq!(open.my_as, 23456);
    assert_eq!(open.four_octet_as(), Some(4_200_000_000));
}

#[test]
fn a_valid_open_is_answered_with_keepalive_and_the_smaller_hold_time_is_used() {
    let mut fsm = open_sent(config());
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert_eq!(
        out,
        [
            Output::Send(Message::Keepalive),
            Output::ArmTimer(Timer::Hold, secs(30)),
            Output::ArmTimer(Timer::Keepalive, secs(10)),
        ]
    );
    assert_eq!(fsm.state(), State::OpenConfirm);
    let n = fsm.negotiated().unwrap();
    assert_eq!(n.hold_time, Some(secs(30)));
    assert_eq!(n.peer_asn, PEER_AS);
    assert!(!n.internal);
}

#[test]
fn our_hold_time_wins_when_it_is_smaller() {
    let mut fsm = open_sent(FsmConfig { hold_time: secs(9), ..config() });
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 180, PEER_ID))));
    assert_eq!(out[1..], [Output::ArmTimer(Timer::Hold, secs(9)), Output::ArmTimer(Timer::Keepalive, secs(3))]);
}

#[test]
fn keepalive_in_open_confirm_establishes_the_session_and_reports_what_was_negotiated() {
    let mut fsm = open_confirm();
    let out = fsm.process(Input::Message(Message::Keepalive));
    let negotiated = fsm.negotiated().unwrap().clone();
    assert_eq!(out, [Output::ArmTimer(Timer::Hold, secs(30)), Output::Established { negotiated: negotiated.clone() }]);
    assert_eq!(negotiated.families, [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
    assert!(negotiated.four_octet_as);
    assert!(negotiated.route_refresh);
    assert_eq!(negotiated.local, local());
    assert_eq!(negotiated.remote, remote());
    assert!(fsm.decode_context().four_octet_as);
}

#[test]
fn hold_time_zero_runs_no_hold_timer_and_sends_no_keepalives() {
    let mut fsm = open_sent(config());
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 0, PEER_ID))));
    assert_eq!(out, [Output::Send(Message::Keepalive), Output::CancelTimer(Timer::Hold)]);
    let out = fsm.process(Input::Message(Message::Keepalive));
    assert!(matches!(out[..], [Output::Established { .. }]));
    assert_eq!(fsm.process(Input::Message(Message::Keepalive)), []);
}

#[test]
fn a_configured_keepalive_time_is_used_but_never_beyond_a_third_of_the_hold_time() {
    let mut fsm = open_sent(FsmConfig { keepalive_time: Some(secs(5)), ..config() });
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 90, PEER_ID))));
    assert_eq!(out[2], Output::ArmTimer(Timer::Keepalive, secs(5)));

    let mut fsm = open_sent(FsmConfig { keepalive_time: Some(secs(60)), ..config() });
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert_eq!(out[2], Output::ArmTimer(Timer::Keepalive, secs(10)));
}

#[test]
fn the_keepalive_timer_sends_a_keepalive_and_rearms() {
    let mut fsm = established();
    assert_eq!(
        fsm.process(Input::TimerFired(Timer::Keepalive)),
        [Output::Send(Message::Keepalive), Output::ArmTimer(Timer::Keepalive, secs(10))]
    );
    let mut fsm = open_confirm();
    assert_eq!(
        fsm.process(Input::TimerFired(Timer::Keepalive)),
        [Output::Send(Message::Keepalive), Output::ArmTimer(Timer::Keepalive, secs(10))]
    );
}

#[test]
fn keepalives_and_updates_from_the_peer_restart_the_inbound_hold_timer() {
    let mut fsm = established();
    assert_eq!(fsm.process(Input::Message(Message::Keepalive)), [Output::ArmTimer(Timer::Hold, secs(30))]);
    assert_eq!(
        fsm.process(Input::Message(Message::Update(Update::default()))),
        [Output::ArmTimer(Timer::Hold, secs(30))]
    );
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn a_silent_peer_gets_hold_timer_expired_and_the_session_goes_down() {
    let mut fsm = established();
    let out = fsm.process(Input::TimerFired(Timer::Hold));
    assert_eq!(out, failure(Some(notification(4, 0)), &[Timer::Keepalive], DownReason::HoldTimerExpired, secs(1)));
    assert_eq!(fsm.state(), State::Active);
    assert!(fsm.negotiated().is_none());
}

#[test]
fn a_peer_that_never_sends_its_open_is_dropped_when_the_open_sent_hold_timer_fires() {
    let mut fsm = open_sent(config());
    let out = fsm.process(Input::TimerFired(Timer::Hold));
    assert_eq!(out, failure(Some(notification(4, 0)), &[], DownReason::HoldTimerExpired, secs(1)));
}

#[test]
fn a_peer_that_never_answers_our_keepalive_is_dropped_in_open_confirm() {
    let mut fsm = open_confirm();
    let out = fsm.process(Input::TimerFired(Timer::Hold));
    assert_eq!(out, failure(Some(notification(4, 0)), &[Timer::Keepalive], DownReason::HoldTimerExpired, secs(1)));
}

/// Feeds `open` in OpenSent and returns the NOTIFICATION sent, checking the session went
/// down and will retry.
fn rejected(config: FsmConfig, open: Open) -> Notification {
    let mut fsm = open_sent(config);
    let out = fsm.process(Input::Message(Message::Open(open)));
    assert_eq!(fsm.state(), State::Active);
    assert!(matches!(
        out[out.len() - 3..],
        [Output::CloseTcp, Output::Down { .. }, Output::ArmTimer(Timer::ConnectRetry, _)]
    ));
    assert_eq!(out[1], Output::CancelTimer(Timer::Hold));
    sent_notification(&out).expect("a NOTIFICATION").clone()
}

#[test]
fn an_open_from_the_wrong_as_is_refused_with_bad_peer_as() {
    let n = rejected(config(), peer_open(64999, 90, PEER_ID));
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadPeerAs));
}

#[test]
fn dynamic_internal_refuses_another_as_and_accepts_ours() {
    let cfg = FsmConfig::new(LOCAL_AS, PeerAs::Internal, ROUTER_ID);
    assert_eq!(rejected(cfg.clone(), peer_open(PEER_AS, 90, PEER_ID)).error, ErrorCode::Open(OpenError::BadPeerAs));
    let mut fsm = open_sent(cfg);
    fsm.process(Input::Message(Message::Open(peer_open(LOCAL_AS, 90, PEER_ID))));
    assert_eq!(fsm.state(), State::OpenConfirm);
    assert!(fsm.negotiated().unwrap().internal);
}

#[test]
fn dynamic_external_refuses_our_own_as_and_accepts_another() {
    let cfg = FsmConfig::new(LOCAL_AS, PeerAs::External, ROUTER_ID);
    assert_eq!(rejected(cfg.clone(), peer_open(LOCAL_AS, 90, PEER_ID)).error, ErrorCode::Open(OpenError::BadPeerAs));
    let mut fsm = open_sent(cfg);
    fsm.process(Input::Message(Message::Open(peer_open(65001, 90, PEER_ID))));
    assert_eq!(fsm.state(), State::OpenConfirm);
    assert!(!fsm.negotiated().unwrap().internal);
}

#[test]
fn an_ibgp_peer_with_our_bgp_identifier_is_refused() {
    let cfg = FsmConfig::new(LOCAL_AS, PeerAs::Fixed(LOCAL_AS), ROUTER_ID);
    let n = rejected(cfg, peer_open(LOCAL_AS, 90, ROUTER_ID));
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadBgpIdentifier));
}

#[test]
fn an_ebgp_peer_may_share_our_bgp_identifier() {
    let mut fsm = open_sent(config());
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 90, ROUTER_ID))));
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn a_zero_bgp_identifier_is_refused() {
    let n = rejected(config(), peer_open(PEER_AS, 90, Ipv4Addr::UNSPECIFIED));
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadBgpIdentifier));
}

#[test]
fn a_hold_time_of_one_or_two_seconds_is_refused() {
    for hold in [1, 2] {
        let n = rejected(config(), peer_open(PEER_AS, hold, PEER_ID));
        assert_eq!(n.error, ErrorCode::Open(OpenError::UnacceptableHoldTime));
    }
    let mut fsm = open_sent(config());
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 3, PEER_ID))));
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn an_open_the_decoder_rejects_is_answered_with_its_notification() {
    let mut fsm = open_sent(config());
    let error = MessageError::UnsupportedVersion { version: 3 };
    let out = fsm.process(Input::DecodeError(DecodeError::SessionReset(error.clone())));
    let n = error.to_notification();
    assert_eq!(n.error, ErrorCode::Open(OpenError::UnsupportedVersionNumber));
    assert_eq!(n.data, [0, 4]);
    let reason = DownReason::NotificationSent { notification: n.clone(), detail: error.to_string() };
    assert_eq!(out, failure(Some(n), &[Timer::Hold], reason, secs(1)));
}

#[test]
fn a_peer_without_multiprotocol_capabilities_negotiates_ipv4_unicast_only() {
    let mut fsm = open_sent(config());
    fsm.process(Input::Message(Message::Open(Open::new(PEER_AS, 90, PEER_ID, vec![]))));
    let n = fsm.negotiated().unwrap();
    assert_eq!(n.families, [AfiSafi::IPV4_UNICAST]);
    assert!(!n.four_octet_as);
    assert!(!n.route_refresh);
}

#[test]
fn only_families_both_sides_offered_are_negotiated() {
    let mut fsm = open_sent(config());
    let open = Open::new(PEER_AS, 90, PEER_ID, vec![Capability::Multiprotocol(AfiSafi::IPV6_UNICAST)]);
    fsm.process(Input::Message(Message::Open(open)));
    assert_eq!(fsm.negotiated().unwrap().families, [AfiSafi::IPV6_UNICAST]);

    let mut fsm = open_sent(FsmConfig { families: vec![AfiSafi::IPV4_UNICAST], ..config() });
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 90, PEER_ID))));
    assert_eq!(fsm.negotiated().unwrap().families, [AfiSafi::IPV4_UNICAST]);
}

#[test]
fn a_notification_from_the_peer_takes_the_session_down_without_answering() {
    let cease = notification(6, 2);
    for (mut fsm, cancelled) in [
        (open_sent(config()), vec![Timer::Hold]),
        (open_confirm(), vec![Timer::Hold, Timer::Keepalive]),
        (established(), vec![Timer::Hold, Timer::Keepalive]),
    ] {
        let out = fsm.process(Input::Message(Message::Notification(cease.clone())));
        assert_eq!(out, failure(None, &cancelled, DownReason::NotificationReceived(cease.clone()), secs(1)));
        assert_eq!(fsm.state(), State::Active);
    }
}

#[test]
fn unexpected_messages_get_the_fsm_error_of_the_state_they_arrived_in() {
    let cases = [
        (open_sent(config()), Message::Keepalive, FsmError::UnexpectedMessageInOpenSent),
        (open_sent(config()), Message::Update(Update::default()), FsmError::UnexpectedMessageInOpenSent),
        (open_confirm(), Message::Open(peer_open(PEER_AS, 90, PEER_ID)), FsmError::UnexpectedMessageInOpenConfirm),
        (open_confirm(), Message::Update(Update::default()), FsmError::UnexpectedMessageInOpenConfirm),
        (established(), Message::Open(peer_open(PEER_AS, 90, PEER_ID)), FsmError::UnexpectedMessageInEstablished),
    ];
    for (mut fsm, message, subcode) in cases {
        let out = fsm.process(Input::Message(message));
        assert_eq!(sent_notification(&out).unwrap().error, ErrorCode::Fsm(subcode));
        assert_eq!(fsm.state(), State::Active);
    }
}

#[test]
fn a_malformed_message_in_established_is_answered_with_its_notification() {
    let mut fsm = established();
    let error = MessageError::MalformedAsPath;
    let out = fsm.process(Input::DecodeError(DecodeError::SessionReset(error.clone())));
    let n = error.to_notification();
    let reason = DownReason::NotificationSent { notification: n.clone(), detail: error.to_string() };
    assert_eq!(out, failure(Some(n), &[Timer::Hold, Timer::Keepalive], reason, secs(1)));
}

#[test]
fn a_treat_as_withdraw_update_keeps_the_session_and_counts_as_a_sign_of_life() {
    let mut fsm = established();
    let error = DecodeError::TreatAsWithdraw { error: MessageError::MalformedAsPath, withdrawn: vec![] };
    assert_eq!(fsm.process(Input::DecodeError(error)), [Output::ArmTimer(Timer::Hold, secs(30))]);
    assert_eq!(fsm.state(), State::Established);
}

#[test]
fn the_peer_closing_the_connection_takes_the_session_down_and_retries_after_a_second() {
    let mut fsm = established();
    let out = fsm.process(Input::TcpClosed);
    assert_eq!(out, failure(None, &[Timer::Hold, Timer::Keepalive], DownReason::ConnectionClosed, secs(1)));
}

#[test]
fn a_failed_connect_waits_in_active_and_the_retry_timer_dials_again() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TcpFailed { reason: "connection refused".into() });
    assert_eq!(
        out,
        [
            Output::CancelTimer(Timer::ConnectRetry),
            Output::CloseTcp,
            Output::Down { reason: DownReason::ConnectFailed("connection refused".into()) },
            Output::ArmTimer(Timer::ConnectRetry, secs(1)),
        ]
    );
    assert_eq!(fsm.state(), State::Active);
    assert_eq!(
        fsm.process(Input::TimerFired(Timer::ConnectRetry)),
        [Output::Connect, Output::ArmTimer(Timer::ConnectRetry, secs(10))]
    );
    assert_eq!(fsm.state(), State::Connect);
}

#[test]
fn a_connect_attempt_that_outlasts_the_connect_time_is_abandoned() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TimerFired(Timer::ConnectRetry));
    assert_eq!(
        out,
        [
            Output::CloseTcp,
            Output::Down { reason: DownReason::ConnectTimeout },
            Output::ArmTimer(Timer::ConnectRetry, secs(1))
        ]
    );
}

#[test]
fn the_backoff_doubles_from_one_second_up_to_two_minutes() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let mut waits = Vec::new();
    for _ in 0..10 {
        let out = fsm.process(Input::TcpFailed { reason: "refused".into() });
        let Some(Output::ArmTimer(Timer::ConnectRetry, wait)) = out.last() else { panic!("{out:?}") };
        waits.push(wait.as_secs());
        fsm.process(Input::TimerFired(Timer::ConnectRetry));
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 120, 120, 120]);
    assert_eq!(backoff(u32::MAX), secs(120));
}

#[test]
fn the_backoff_restarts_at_one_second_once_a_session_was_established() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    for _ in 0..3 {
        fsm.process(Input::TcpFailed { reason: "refused".into() });
        fsm.process(Input::TimerFired(Timer::ConnectRetry));
    }
    fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 90, PEER_ID))));
    fsm.process(Input::Message(Message::Keepalive));
    let out = fsm.process(Input::TcpClosed);
    assert_eq!(out.last(), Some(&Output::ArmTimer(Timer::ConnectRetry, secs(1))));
}

#[test]
fn a_rejected_open_does_not_reset_the_backoff() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let mut waits = Vec::new();
    for _ in 0..3 {
        fsm.process(Input::TcpConnected { local: local(), remote: remote() });
        let out = fsm.process(Input::Message(Message::Open(peer_open(64999, 90, PEER_ID))));
        let Some(Output::ArmTimer(Timer::ConnectRetry, wait)) = out.last() else { panic!("{out:?}") };
        waits.push(wait.as_secs());
        fsm.process(Input::TimerFired(Timer::ConnectRetry));
    }
    assert_eq!(waits, [1, 2, 4]);
}

#[test]
fn stop_in_established_sends_a_cease_with_the_shutdown_message_and_stays_idle() {
    let mut fsm = established();
    let out =
        fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: "node drained".into() });
    let cease = Notification::administrative_shutdown("node drained").unwrap();
    assert_eq!(
        out,
        [
            Output::Send(Message::Notification(cease.clone())),
            Output::CancelTimer(Timer::Hold),
            Output::CancelTimer(Timer::Keepalive),
            Output::CloseTcp,
            Output::Down { reason: DownReason::Stopped },
        ]
    );
    assert_eq!(cease.shutdown_communication(), Some("node drained"));
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.process(Input::TimerFired(Timer::ConnectRetry)), []);
    assert_eq!(fsm.process(Input::Start)[0], Output::Connect);
}

#[test]
fn stop_with_a_subcode_that_carries_no_message_sends_a_bare_cease() {
    let mut fsm = established();
    let out = fsm.process(Input::Stop { subcode: CeaseSubcode::PeerDeconfigured, message: "ignored".into() });
    assert_eq!(sent_notification(&out), Some(&notification(6, 3)));
}

#[test]
fn a_shutdown_message_longer_than_255_octets_is_cut_at_a_character_boundary() {
    let mut fsm = established();
    let long = "é".repeat(200);
    let out = fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: long });
    let text = sent_notification(&out).unwrap().shutdown_communication().unwrap();
    assert_eq!(text, "é".repeat(127));
}

#[test]
fn stop_before_the_open_exchange_closes_without_a_notification() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    assert_eq!(
        fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: String::new() }),
        [Output::CancelTimer(Timer::ConnectRetry), Output::CloseTcp, Output::Down { reason: DownReason::Stopped }]
    );
    fsm.process(Input::Start);
    fsm.process(Input::TcpFailed { reason: "refused".into() });
    assert_eq!(fsm.state(), State::Active);
    assert_eq!(
        fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: String::new() }),
        [Output::CancelTimer(Timer::ConnectRetry), Output::Down { reason: DownReason::Stopped }]
    );
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: String::new() }), []);
}

#[test]
fn stop_in_open_sent_sends_the_cease() {
    let mut fsm = open_sent(config());
    let out = fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: "bye".into() });
    assert_eq!(sent_notification(&out).unwrap().shutdown_communication(), Some("bye"));
    assert_eq!(fsm.state(), State::Idle);
}

#[test]
fn a_route_refresh_for_a_negotiated_family_asks_for_the_table_again() {
    let mut fsm = established();
    assert_eq!(
        fsm.process(Input::Message(Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV6_UNICAST)))),
        [Output::ArmTimer(Timer::Hold, secs(30)), Output::ResendRoutes(AfiSafi::IPV6_UNICAST)]
    );
    assert_eq!(
        fsm.process(Input::Message(Message::RouteRefresh(RouteRefresh::new(AfiSafi::new(1, 128))))),
        [Output::ArmTimer(Timer::Hold, secs(30))]
    );
}

#[test]
fn timers_that_fire_after_being_cancelled_are_ignored() {
    let mut fsm = established();
    fsm.process(Input::TcpClosed);
    assert_eq!(fsm.process(Input::TimerFired(Timer::Hold)), []);
    assert_eq!(fsm.process(Input::TimerFired(Timer::Keepalive)), []);
    assert_eq!(fsm.state(), State::Active);
    let mut fsm = Fsm::new(config());
    assert_eq!(fsm.process(Input::TimerFired(Timer::ConnectRetry)), []);
}

#[test]
fn events_without_a_connection_are_ignored() {
    let mut fsm = Fsm::new(config());
    assert_eq!(fsm.process(Input::TcpClosed), []);
    assert_eq!(fsm.process(Input::TcpFailed { reason: "x".into() }), []);
    assert_eq!(fsm.process(Input::Message(Message::Keepalive)), []);
    assert_eq!(fsm.process(Input::Message(Message::Notification(notification(6, 2)))), []);
    assert_eq!(fsm.state(), State::Idle);
    // A connection that completes after we gave up on it is closed at once.
    assert_eq!(fsm.process(Input::TcpConnected { local: local(), remote: remote() }), [Output::CloseTcp]);
}

#[test]
fn down_reasons_read_well_in_logs() {
    let n = Notification::administrative_shutdown("maintenance").unwrap();
    assert_eq!(
        DownReason::NotificationReceived(n).to_string(),
        "NOTIFICATION received: 6/2 Cease(AdministrativeShutdown): \"maintenance\""
    );
    assert_eq!(DownReason::HoldTimerExpired.to_string(), "hold timer expired");
}

// Graceful restart (RFC 4724).

fn gr_config() -> FsmConfig {
    FsmConfig { graceful_restart: Some(secs(120)), ..config() }
}

fn our_gr(restart_state: bool) -> Capability {
    Capability::GracefulRestart(graceful_restart(restart_state, false, 120, [true, true]))
}

/// The peer's OPEN with its own graceful restart capability (helper only: no families).
fn peer_open_with_gr() -> Open {
    let mut open = peer_open(PEER_AS, 30, PEER_ID);
    open.capabilities.push(Capability::GracefulRestart(GracefulRestart {
        restart_state: false,
        notification: false,
        restart_time: 90,
        families: vec![],
    }));
    open
}

fn established_with(config: FsmConfig, open: Open) -> Fsm {
    let mut fsm = open_sent(config);
    fsm.process(Input::Message(Message::Open(open)));
    fsm.process(Input::Message(Message::Keepalive));
    assert_eq!(fsm.state(), State::Established);
    fsm
}

fn sent_open(out: &[Output]) -> &Open {
    out.iter()
        .find_map(|o| match o {
            Output::Send(Message::Open(open)) => Some(open),
            _ => None,
        })
        .expect("an OPEN was sent")
}

#[test]
fn graceful_restart_is_not_offered_by_default() {
    assert_eq!(Fsm::new(config()).open_message().graceful_restart(), None);
}

#[test]
fn with_graceful_restart_our_open_carries_the_restart_time_the_r_bit_and_f_bit_per_family() {
    let mut fsm = Fsm::new(gr_config());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    let open = sent_open(&out);
    assert_eq!(
        open.capabilities,
        [
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            our_gr(true),
            Capability::FourOctetAs(LOCAL_AS),
        ]
    );
}

#[test]
fn the_restart_time_is_capped_at_the_twelve_bit_maximum() {
    let fsm = Fsm::new(FsmConfig { graceful_restart: Some(secs(100_000)), ..config() });
    assert_eq!(fsm.open_message().graceful_restart().unwrap().restart_time, 4095);
    let fsm = Fsm::new(FsmConfig { graceful_restart: Some(secs(4095)), ..config() });
    assert_eq!(fsm.open_message().graceful_restart().unwrap().restart_time, 4095);
}

#[test]
fn the_f_bits_follow_the_offered_families() {
    let fsm = Fsm::new(FsmConfig { families: vec![AfiSafi::IPV4_UNICAST], ..gr_config() });
    let gr = fsm.open_message().graceful_restart().unwrap().clone();
    assert_eq!(gr.families, [GracefulRestartFamily { family: AfiSafi::IPV4_UNICAST, forwarding_state: true }]);
}

#[test]
fn the_r_bit_stays_set_until_a_session_is_established_then_later_opens_clear_it() {
    let mut fsm = open_sent(gr_config());
    // The first attempt fails before Established: the peer may never have seen our OPEN.
    fsm.process(Input::TcpClosed);
    fsm.process(Input::TimerFired(Timer::ConnectRetry));
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    assert!(sent_open(&out).graceful_restart().unwrap().restart_state);
    fsm.process(Input::Message(Message::Open(peer_open_with_gr())));
    fsm.process(Input::Message(Message::Keepalive));
    assert_eq!(fsm.state(), State::Established);
    // A session flap is not a restart of the speaker.
    fsm.process(Input::TcpClosed);
    fsm.process(Input::TimerFired(Timer::ConnectRetry));
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    assert_eq!(sent_open(&out).capabilities[3], our_gr(false));
}

#[test]
fn graceful_restart_offered_and_accepted_is_negotiated() {
    let mut fsm = open_sent(gr_config());
    fsm.process(Input::Message(Message::Open(peer_open_with_gr())));
    assert!(fsm.negotiated().unwrap().graceful_restart);
    let out = fsm.process(Input::Message(Message::Keepalive));
    let Some(Output::Established { negotiated }) = out.last() else { panic!("expected Established, got {out:?}") };
    assert!(negotiated.graceful_restart);
    assert_eq!(negotiated.families, [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
}

#[test]
fn graceful_restart_needs_both_sides() {
    let fsm = established_with(gr_config(), peer_open(PEER_AS, 30, PEER_ID));
    assert!(!fsm.negotiated().unwrap().graceful_restart, "the peer did not offer it");
    let fsm = established_with(config(), peer_open_with_gr());
    assert!(!fsm.negotiated().unwrap().graceful_restart, "we did not offer it");
    assert!(!established().negotiated().unwrap().graceful_restart);
}

#[test]
fn a_graceful_stop_with_graceful_restart_negotiated_closes_without_a_notification() {
    let mut fsm = established_with(gr_config(), peer_open_with_gr());
    let out = fsm.process(Input::StopGraceful {
        subcode: CeaseSubcode::AdministrativeShutdown,
        message: "speaker restarting".into(),
    });
    assert_eq!(
        out,
        [
            Output::CancelTimer(Timer::Hold),
            Output::CancelTimer(Timer::Keepalive),
            Output::CloseTcp,
            Output::Down { reason: DownReason::StoppedGracefully },
        ]
    );
    assert_eq!(fsm.state(), State::Idle);
    assert_eq!(fsm.negotiated(), None);
    assert_eq!(fsm.process(Input::TimerFired(Timer::Keepalive)), []);
}

#[test]
fn a_graceful_stop_in_open_confirm_with_graceful_restart_negotiated_sends_nothing_either() {
    let mut fsm = open_sent(gr_config());
    fsm.process(Input::Message(Message::Open(peer_open_with_gr())));
    assert_eq!(fsm.state(), State::OpenConfirm);
    let out = fsm.process(Input::StopGraceful { subcode: CeaseSubcode::AdministrativeShutdown, message: "x".into() });
    assert_eq!(sent_notification(&out), None);
    assert_eq!(out.last(), Some(&Output::Down { reason: DownReason::StoppedGracefully }));
}

#[test]
fn a_graceful_stop_in_open_sent_with_graceful_restart_offered_sends_nothing() {
    // The peer's OPEN has not arrived; it may hold our routes as stale from before.
    let mut fsm = open_sent(gr_config());
    let out = fsm.process(Input::StopGraceful { subcode: CeaseSubcode::AdministrativeShutdown, message: "x".into() });
    assert_eq!(
        out,
        [Output::CancelTimer(Timer::Hold), Output::CloseTcp, Output::Down { reason: DownReason::StoppedGracefully }]
    );
}

#[test]
fn a_graceful_stop_without_graceful_restart_negotiated_sends_the_cease_like_stop() {
    let graceful = |mut fsm: Fsm| {
        let out = fsm.process(Input::StopGraceful {
            subcode: CeaseSubcode::AdministrativeShutdown,
            message: "node drained".into(),
        });
        assert_eq!(fsm.state(), State::Idle);
        out
    };
    let plain = |mut fsm: Fsm| {
        fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: "node drained".into() })
    };
    let cease = Notification::administrative_shutdown("node drained").unwrap();
    // The peer did not offer it.
    let fsm = established_with(gr_config(), peer_open(PEER_AS, 30, PEER_ID));
    let out = graceful(fsm.clone());
    assert_eq!(out, plain(fsm));
    assert_eq!(sent_notification(&out), Some(&cease));
    assert_eq!(out.last(), Some(&Output::Down { reason: DownReason::Stopped }));
    // We did not offer it.
    let fsm = established_with(config(), peer_open_with_gr());
    assert_eq!(graceful(fsm.clone()), plain(fsm));
    // Not configured, in OpenSent.
    let fsm = open_sent(config());
    let out = graceful(fsm.clone());
    assert_eq!(out, plain(fsm));
    assert_eq!(sent_notification(&out), Some(&cease));
    // No connection: nothing to send either way.
    let mut fsm = Fsm::new(gr_config());
    fsm.process(Input::Start);
    assert_eq!(
        graceful(fsm),
        [Output::CancelTimer(Timer::ConnectRetry), Output::CloseTcp, Output::Down { reason: DownReason::Stopped }]
    );
}

#[test]
fn a_plain_stop_with_graceful_restart_negotiated_still_sends_the_cease() {
    let mut fsm = established_with(gr_config(), peer_open_with_gr());
    let out = fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: "removed".into() });
    assert_eq!(sent_notification(&out), Some(&Notification::administrative_shutdown("removed").unwrap()));
    assert_eq!(out.last(), Some(&Output::Down { reason: DownReason::Stopped }));
    assert_eq!(fsm.state(), State::Idle);
}

#[test]
fn a_graceful_stop_reads_well_in_logs() {
    assert_eq!(DownReason::StoppedGracefully.to_string(), "stopped for a graceful restart (no NOTIFICATION sent)");
}

// ---- connections the peer opens (RFC 4271 §6.8) ------------------------------------------

fn inbound_local() -> SocketAddr {
    "127.0.0.1:179".parse().unwrap()
}

fn inbound_remote() -> SocketAddr {
    "127.0.0.2:50000".parse().unwrap()
}

fn accepted() -> Input {
    Input::TcpAccepted { local: inbound_local(), remote: inbound_remote() }
}

fn collision_cease() -> Notification {
    Notification::new(ErrorCode::Cease(CeaseSubcode::ConnectionCollisionResolution), Vec::new())
}

/// What opening on the peer's connection sends: the connection taken, our OPEN, the OPEN hold time.
fn open_on_inbound() -> Vec<Output> {
    vec![
        Output::AcceptInbound,
        Output::Send(Message::Open(Fsm::new(config()).open_message())),
        Output::ArmTimer(Timer::Hold, secs(240)),
    ]
}

#[test]
fn a_peer_connection_while_dialling_or_waiting_to_redial_becomes_the_session() {
    // dialling: the attempt is abandoned for the peer's connection
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let out = fsm.process(accepted());
    assert_eq!(out[0], Output::AcceptInbound);
    assert!(out.contains(&Output::CancelTimer(Timer::ConnectRetry)));
    assert!(out.iter().any(|o| matches!(o, Output::Send(Message::Open(_)))));
    assert_eq!(fsm.state(), State::OpenSent);
    // the dial that completes afterwards is not wanted
    assert_eq!(fsm.process(Input::TcpConnected { local: local(), remote: remote() }), [Output::CloseTcp]);
    // its OPEN and KEEPALIVE bring the session up on the peer's connection
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    fsm.process(Input::Message(Message::Keepalive));
    assert_eq!(fsm.state(), State::Established);

    // waiting out the backoff: taken at once
    let mut fsm = open_sent(config());
    fsm.process(Input::TcpClosed);
    assert_eq!(fsm.state(), State::Active);
    let out = fsm.process(accepted());
    let mut expected = open_on_inbound();
    expected.insert(1, Output::CancelTimer(Timer::ConnectRetry));
    assert_eq!(out, expected);
}

#[test]
fn stopped_sessions_and_established_ones_refuse_the_peers_connection() {
    let mut fsm = Fsm::new(config());
    assert_eq!(fsm.process(accepted()), [Output::RefuseInbound(None)], "Idle: not started");
    let mut fsm = established();
    assert_eq!(fsm.process(accepted()), [Output::RefuseInbound(Some(collision_cease()))]);
    assert_eq!(fsm.state(), State::Established, "the Established session is untouched");
}

#[test]
fn in_open_confirm_the_higher_bgp_identifier_decides_which_connection_stays() {
    // ours (10.0.0.1) is lower than the peer's (10.0.0.254): the peer's connection is kept
    let mut fsm = open_confirm();
    let out = fsm.process(accepted());
    assert_eq!(out[0], Output::Send(Message::Notification(collision_cease())), "CEASE on ours");
    assert!(out.contains(&Output::CloseTcp));
    assert!(out.contains(&Output::Down { reason: DownReason::CollisionResolved }));
    assert_eq!(out[out.len() - 3..], open_on_inbound()[..]);
    assert_eq!(fsm.state(), State::OpenSent);
    assert!(fsm.negotiated().is_none(), "negotiated again on the peer's connection");

    // ours higher: the peer's connection is refused, ours carries on
    let mut fsm = open_sent(FsmConfig { router_id: Ipv4Addr::new(10, 0, 0, 255), ..config() });
    fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert_eq!(fsm.process(accepted()), [Output::RefuseInbound(Some(collision_cease()))]);
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn in_open_sent_the_peers_connection_waits_for_the_open_on_ours() {
    // the peer's BGP Identifier is not known yet: held aside
    let mut fsm = open_sent(config());
    assert_eq!(fsm.process(accepted()), [Output::HoldInbound]);
    assert_eq!(fsm.state(), State::OpenSent);
    // its OPEN on ours: the peer's identifier is higher, so ours goes and the held one is taken
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert!(out.contains(&Output::Send(Message::Notification(collision_cease()))));
    assert!(out.contains(&Output::Down { reason: DownReason::CollisionResolved }));
    assert_eq!(out[out.len() - 3..], open_on_inbound()[..]);
    assert_eq!(fsm.state(), State::OpenSent);

    // ours higher: the held connection is refused once the OPEN arrives
    let mut fsm = open_sent(FsmConfig { router_id: Ipv4Addr::new(10, 0, 0, 255), ..config() });
    fsm.process(accepted());
    let out = fsm.process(Input::Message(Message::Open(peer_open(PEER_AS, 30, PEER_ID))));
    assert_eq!(out.last(), Some(&Output::RefuseInbound(Some(collision_cease()))));
    assert_eq!(fsm.state(), State::OpenConfirm);
}

#[test]
fn a_held_connection_is_taken_when_ours_fails_and_refused_when_the_session_stops() {
    let mut fsm = open_sent(config());
    fsm.process(accepted());
    let out = fsm.process(Input::TcpClosed);
    assert!(out.contains(&Output::CloseTcp));
    assert_eq!(out[out.len() - 3..], open_on_inbound()[..], "no backoff: the peer's connection is there");
    assert_eq!(fsm.state(), State::OpenSent);

    let mut fsm = open_sent(config());
    fsm.process(accepted());
    let out = fsm.process(Input::Stop { subcode: CeaseSubcode::AdministrativeShutdown, message: String::new() });
    let refused: Vec<&Output> = out.iter().filter(|o| matches!(o, Output::RefuseInbound(Some(_)))).collect();
    assert_eq!(refused.len(), 1, "{out:?}");
    assert_eq!(fsm.state(), State::Idle);
}

#[test]
fn a_second_connection_of_the_peer_replaces_its_first_while_it_opens() {
    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    fsm.process(accepted());
    let out = fsm.process(accepted());
    assert_eq!(out[0], Output::Send(Message::Notification(collision_cease())));
    assert_eq!(out[out.len() - 3..], open_on_inbound()[..]);
    // and while held, a second one replaces the held one
    let mut fsm = open_sent(config());
    fsm.process(accepted());
    assert_eq!(fsm.process(accepted()), [Output::RefuseInbound(Some(collision_cease())), Output::HoldInbound]);
}

#[test]
fn an_unnumbered_session_offers_ipv4_with_an_ipv6_next_hop_and_uses_it_only_when_the_peer_does_too() {
    let enhe = Capability::ExtendedNextHop(vec![ExtendedNextHop::IPV4_UNICAST_OVER_IPV6]);
    let unnumbered = FsmConfig { extended_next_hop: true, ..config() };
    let mut fsm = Fsm::new(unnumbered.clone());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    let Some(Output::Send(Message::Open(ours))) = out.iter().find(|o| matches!(o, Output::Send(Message::Open(_))))
    else {
        panic!("{out:?}")
    };
    assert!(ours.capabilities.contains(&enhe), "{:?}", ours.capabilities);

    let mut with = peer_open(PEER_AS, 90, PEER_ID);
    with.capabilities.push(enhe.clone());
    let table = [
        (unnumbered.clone(), with.clone(), true),
        (unnumbered.clone(), peer_open(PEER_AS, 90, PEER_ID), false),
        (config(), with, false),
    ];
    for (config, open, expected) in table {
        let offered = config.extended_next_hop;
        let mut fsm = open_sent(config);
        fsm.process(Input::Message(Message::Open(open)));
        assert_eq!(fsm.negotiated().unwrap().extended_next_hop, expected, "we offer: {offered}");
    }

    let mut fsm = Fsm::new(config());
    fsm.process(Input::Start);
    let out = fsm.process(Input::TcpConnected { local: local(), remote: remote() });
    let offers =
        out.iter().any(|o| matches!(o, Output::Send(Message::Open(open)) if open.capabilities.contains(&enhe)));
    assert!(!offers, "a numbered session does not offer it");
}
