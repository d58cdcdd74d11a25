//! Echo function transcripts (RFC 5880 §6.4, §6.8.9): when echo starts and stops, how fast
//! it runs, how the loss of echoes takes the session down, and how the control packets slow
//! while it runs. No sockets, no clocks: timers are outputs. Jitter is off.

use std::time::Duration;

use ferrolb_bfd::{ControlPacket, Diagnostic, Fsm, FsmConfig, Input, Output, State, Timer, Timers};

const LOCAL: u32 = 0x1111;
const REMOTE: u32 = 0x2222;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 300 ms / 300 ms / 3 and the given echo interval (BFDProfile `echoInterval`).
fn fsm(echo: Option<u64>) -> Fsm {
    Fsm::new(FsmConfig {
        local_discriminator: LOCAL,
        timers: Timers { desired_min_tx: ms(300), required_min_rx: ms(300), detect_multiplier: 3 },
        passive: false,
        jitter_seed: None,
        echo: echo.map(ms),
    })
}

/// A packet from the peer advertising `echo_rx` ms as its Required Min Echo RX Interval.
fn remote(state: State, your: u32, tx: u64, echo_rx: u64) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::None,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: REMOTE,
        your_discriminator: your,
        desired_min_tx: (tx * 1000) as u32,
        required_min_rx: 300_000,
        required_min_echo_rx: (echo_rx * 1000) as u32,
    }
}

/// What we send: the given state, diagnostic and desired min TX, with our echo RX of 50 ms.
fn ours(state: State, diagnostic: Diagnostic, tx: u64, poll: bool) -> ControlPacket {
    ControlPacket {
        diagnostic,
        state,
        poll,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: LOCAL,
        your_discriminator: REMOTE,
        desired_min_tx: (tx * 1000) as u32,
        required_min_rx: 300_000,
        required_min_echo_rx: 50_000,
    }
}

fn final_(packet: ControlPacket) -> ControlPacket {
    ControlPacket { final_: true, ..packet }
}

/// Up with a peer that takes no echoes (Required Min Echo RX zero), Poll answered.
fn up_without_peer_echo(echo: Option<u64>) -> Fsm {
    let mut fsm = fsm(echo);
    fsm.process(Input::Start);
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 0)));
    fsm.process(Input::Received(remote(State::Up, LOCAL, 1000, 0)));
    fsm.process(Input::Received(final_(remote(State::Up, LOCAL, 300, 0))));
    assert_eq!(fsm.state(), State::Up);
    assert!(!fsm.polling());
    fsm
}

/// Up with echo running at 50 ms, the slowdown to 1 s acknowledged by the peer's Final.
fn echoing() -> Fsm {
    let mut fsm = up_without_peer_echo(Some(50));
    fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 50)));
    fsm.process(Input::Received(final_(remote(State::Up, LOCAL, 300, 50))));
    assert_eq!(fsm.echo_interval(), Some(ms(50)));
    assert!(!fsm.polling());
    fsm
}

fn echo_outputs(outputs: &[Output]) -> Vec<&Output> {
    outputs
        .iter()
        .filter(|o| {
            matches!(
                o,
                Output::SendEcho
                    | Output::ArmTimer(Timer::EchoTransmit | Timer::EchoDetection, _)
                    | Output::CancelTimer(Timer::EchoTransmit | Timer::EchoDetection)
            )
        })
        .collect()
}

#[test]
fn a_session_with_echo_mode_advertises_its_echo_interval_as_required_min_echo_rx() {
    assert_eq!(fsm(Some(50)).packet().required_min_echo_rx, 50_000);
    assert_eq!(fsm(None).packet().required_min_echo_rx, 0);
}

#[test]
fn echo_does_not_start_while_the_peer_advertises_a_zero_required_min_echo_rx() {
    let mut fsm = up_without_peer_echo(Some(50));
    let outputs = fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 0)));
    assert_eq!(echo_outputs(&outputs), Vec::<&Output>::new());
    assert_eq!(fsm.echo_interval(), None);
    assert_eq!(fsm.process(Input::TimerExpired(Timer::EchoTransmit)), vec![]);
}

#[test]
fn echo_does_not_start_before_the_session_is_up() {
    let mut fsm = fsm(Some(50));
    fsm.process(Input::Start);
    let outputs = fsm.process(Input::Received(remote(State::Down, 0, 1000, 50)));
    assert_eq!(fsm.state(), State::Init);
    assert_eq!(echo_outputs(&outputs), Vec::<&Output>::new());
}

#[test]
fn a_session_without_echo_mode_never_sends_echoes_even_when_the_peer_takes_them() {
    let mut fsm = up_without_peer_echo(None);
    let outputs = fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 50)));
    assert_eq!(echo_outputs(&outputs), Vec::<&Output>::new());
    assert_eq!(fsm.echo_interval(), None);
}

#[test]
fn echo_starts_when_the_peer_advertises_a_non_zero_required_min_echo_rx_and_polls_to_slow_control() {
    let mut fsm = up_without_peer_echo(Some(50));
    assert_eq!(
        fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 50))),
        vec![
            Output::ArmTimer(Timer::Detection, ms(900)),
            Output::SendEcho,
            Output::ArmTimer(Timer::EchoTransmit, ms(50)),
            Output::ArmTimer(Timer::EchoDetection, ms(150)),
            // RFC 5880 §6.8.9: DesiredMinTxInterval of at least one second while echo runs,
            // told with a Poll; the increase waits for the Final (§6.8.3).
            Output::Send(ours(State::Up, Diagnostic::None, 1000, true)),
            Output::ArmTimer(Timer::Transmit, ms(300)),
        ]
    );
    assert_eq!(fsm.echo_interval(), Some(ms(50)));
    assert_eq!(fsm.echo_detection_time(), Some(ms(150)));
}

#[test]
fn control_packets_slow_to_one_second_once_the_peer_answers_the_poll() {
    let mut fsm = echoing();
    assert_eq!(fsm.transmit_interval(), ms(1000));
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::Transmit)),
        vec![Output::Send(ours(State::Up, Diagnostic::None, 1000, false)), Output::ArmTimer(Timer::Transmit, ms(1000))]
    );
}

#[test]
fn the_echo_interval_is_the_larger_of_ours_and_the_peers_required_min_echo_rx() {
    let mut fsm = up_without_peer_echo(Some(50));
    let outputs = fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 200)));
    assert_eq!(
        echo_outputs(&outputs),
        vec![
            &Output::SendEcho,
            &Output::ArmTimer(Timer::EchoTransmit, ms(200)),
            &Output::ArmTimer(Timer::EchoDetection, ms(600))
        ]
    );
}

#[test]
fn each_echo_transmit_expiry_sends_one_echo_and_rearms() {
    let mut fsm = echoing();
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::EchoTransmit)),
        vec![Output::SendEcho, Output::ArmTimer(Timer::EchoTransmit, ms(50))]
    );
}

#[test]
fn a_returned_echo_pushes_the_echo_detection_deadline_back() {
    let mut fsm = echoing();
    assert_eq!(fsm.process(Input::EchoReturned), vec![Output::ArmTimer(Timer::EchoDetection, ms(150))]);
    assert_eq!(fsm.state(), State::Up);
}

#[test]
fn losing_the_echoes_brings_the_session_down_with_echo_function_failed() {
    let mut fsm = echoing();
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::EchoDetection)),
        vec![
            Output::CancelTimer(Timer::EchoTransmit),
            Output::CancelTimer(Timer::EchoDetection),
            Output::Down(Diagnostic::EchoFunctionFailed),
            Output::Send(ControlPacket {
                required_min_echo_rx: 50_000,
                ..ours(State::Down, Diagnostic::EchoFunctionFailed, 1000, false)
            }),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::Down);
    assert_eq!(fsm.diagnostic(), Diagnostic::EchoFunctionFailed);
    assert_eq!(fsm.diagnostic().code(), 2);
    assert_eq!(fsm.echo_interval(), None);
}

#[test]
fn echo_stops_when_the_session_goes_down_and_its_late_timers_and_echoes_do_nothing() {
    let mut fsm = echoing();
    let outputs = fsm.process(Input::Received(remote(State::Down, LOCAL, 1000, 50)));
    assert_eq!(
        echo_outputs(&outputs),
        vec![&Output::CancelTimer(Timer::EchoTransmit), &Output::CancelTimer(Timer::EchoDetection)]
    );
    assert!(outputs.contains(&Output::Down(Diagnostic::NeighborSignaledSessionDown)));
    assert_eq!(fsm.echo_interval(), None);
    assert_eq!(fsm.process(Input::TimerExpired(Timer::EchoTransmit)), vec![]);
    assert_eq!(fsm.process(Input::TimerExpired(Timer::EchoDetection)), vec![]);
    assert_eq!(fsm.process(Input::EchoReturned), vec![]);
    assert_eq!(fsm.diagnostic(), Diagnostic::NeighborSignaledSessionDown);
}

#[test]
fn echo_stops_when_the_control_detection_time_expires() {
    let mut fsm = echoing();
    let outputs = fsm.process(Input::TimerExpired(Timer::Detection));
    assert_eq!(
        echo_outputs(&outputs),
        vec![&Output::CancelTimer(Timer::EchoTransmit), &Output::CancelTimer(Timer::EchoDetection)]
    );
    assert_eq!(fsm.diagnostic(), Diagnostic::ControlDetectionTimeExpired);
}

#[test]
fn echo_stops_at_admin_down() {
    let mut fsm = echoing();
    let outputs = fsm.process(Input::Stop);
    assert_eq!(
        echo_outputs(&outputs),
        vec![&Output::CancelTimer(Timer::EchoTransmit), &Output::CancelTimer(Timer::EchoDetection)]
    );
    assert_eq!(fsm.state(), State::AdminDown);
}

#[test]
fn echo_stops_and_control_speeds_up_at_once_when_the_peer_stops_taking_echoes() {
    let mut fsm = echoing();
    let outputs = fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 0)));
    assert_eq!(
        echo_outputs(&outputs),
        vec![&Output::CancelTimer(Timer::EchoTransmit), &Output::CancelTimer(Timer::EchoDetection)]
    );
    // A decrease of DesiredMinTxInterval applies at once, still told with a Poll.
    assert!(outputs.contains(&Output::Send(ours(State::Up, Diagnostic::None, 300, true))));
    assert!(outputs.contains(&Output::ArmTimer(Timer::Transmit, ms(300))));
    assert_eq!(fsm.echo_interval(), None);
    assert_eq!(fsm.transmit_interval(), ms(300));
}

#[test]
fn echo_comes_back_after_the_session_recovers() {
    let mut fsm = echoing();
    fsm.process(Input::TimerExpired(Timer::EchoDetection));
    fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 50)));
    assert_eq!(fsm.state(), State::Up);
    assert_eq!(fsm.echo_interval(), Some(ms(50)));
}
