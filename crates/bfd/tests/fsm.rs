//! Session FSM transcripts (RFC 5880 §6.2, §6.8): an input sequence and the outputs
//! expected, in order. Jitter is off except in the tests about jitter.

use std::time::Duration;

use ferrolb_bfd::{ControlPacket, Diagnostic, Fsm, FsmConfig, Input, Output, State, Timer, Timers};

const LOCAL: u32 = 0x1111;
const REMOTE: u32 = 0x2222;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn timers(tx: u64, rx: u64, multiplier: u8) -> Timers {
    Timers { desired_min_tx: ms(tx), required_min_rx: ms(rx), detect_multiplier: multiplier }
}

fn fsm_with(timers: Timers, passive: bool) -> Fsm {
    Fsm::new(FsmConfig { local_discriminator: LOCAL, timers, passive, jitter_seed: None, echo: None })
}

/// 300 ms / 300 ms / 3, the BFDProfile defaults.
fn fsm() -> Fsm {
    fsm_with(timers(300, 300, 3), false)
}

fn started() -> Fsm {
    let mut fsm = fsm();
    fsm.process(Input::Start);
    fsm
}

/// A packet from the remote system.
fn remote(state: State, your: u32, tx: u64, rx: u64, multiplier: u8) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::None,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: multiplier,
        my_discriminator: REMOTE,
        your_discriminator: your,
        desired_min_tx: (tx * 1000) as u32,
        required_min_rx: (rx * 1000) as u32,
        required_min_echo_rx: 0,
    }
}

/// What we send: the given state, diagnostic, discriminator and intervals.
fn ours(state: State, diagnostic: Diagnostic, your: u32, tx: u64, rx: u64) -> ControlPacket {
    ControlPacket {
        diagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_multiplier: 3,
        my_discriminator: LOCAL,
        your_discriminator: your,
        desired_min_tx: (tx * 1000) as u32,
        required_min_rx: (rx * 1000) as u32,
        required_min_echo_rx: 0,
    }
}

fn polling(packet: ControlPacket) -> ControlPacket {
    ControlPacket { poll: true, ..packet }
}

fn final_(packet: ControlPacket) -> ControlPacket {
    ControlPacket { final_: true, ..packet }
}

/// Down -> Init -> Up with a peer at the same 300 ms settings that answers our Poll.
fn up() -> Fsm {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    fsm.process(Input::Received(remote(State::Up, LOCAL, 1000, 300, 3)));
    fsm.process(Input::Received(final_(remote(State::Up, LOCAL, 300, 300, 3))));
    assert_eq!(fsm.state(), State::Up);
    assert!(!fsm.polling());
    fsm
}

#[test]
fn a_new_session_is_admin_down_and_ignores_packets() {
    let mut fsm = fsm();
    assert_eq!(fsm.state(), State::AdminDown);
    assert_eq!(fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3))), vec![]);
    assert_eq!(fsm.state(), State::AdminDown);
}

#[test]
fn start_sends_down_at_the_one_second_slow_start_rate() {
    let mut fsm = fsm();
    assert_eq!(
        fsm.process(Input::Start),
        vec![
            Output::Send(ours(State::Down, Diagnostic::None, 0, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::Down);
}

#[test]
fn the_transmit_timer_sends_the_next_packet_and_rearms() {
    let mut fsm = started();
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::Transmit)),
        vec![
            Output::Send(ours(State::Down, Diagnostic::None, 0, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
}

#[test]
fn a_passive_session_sends_nothing_until_it_hears_the_peer() {
    let mut fsm = fsm_with(timers(300, 300, 3), true);
    assert_eq!(fsm.process(Input::Start), vec![]);
    assert_eq!(fsm.process(Input::TimerExpired(Timer::Transmit)), vec![]);
    assert_eq!(
        fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3))),
        vec![
            Output::ArmTimer(Timer::Detection, ms(3000)),
            Output::Send(ours(State::Init, Diagnostic::None, REMOTE, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
}

#[test]
fn down_hearing_down_goes_to_init_and_says_so_at_once() {
    let mut fsm = started();
    assert_eq!(
        fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3))),
        vec![
            Output::ArmTimer(Timer::Detection, ms(3000)),
            Output::Send(ours(State::Init, Diagnostic::None, REMOTE, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::Init);
    assert_eq!(fsm.remote_discriminator(), REMOTE);
}

#[test]
fn down_hearing_init_goes_up_and_polls_to_leave_slow_start() {
    let mut fsm = started();
    assert_eq!(
        fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 300, 3))),
        vec![
            Output::Up,
            Output::ArmTimer(Timer::Detection, ms(3000)),
            Output::Send(polling(ours(State::Up, Diagnostic::None, REMOTE, 300, 300))),
            Output::ArmTimer(Timer::Transmit, ms(300)),
        ]
    );
    assert_eq!(fsm.state(), State::Up);
    assert!(fsm.polling());
}

#[test]
fn init_hearing_up_goes_up() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    let outputs = fsm.process(Input::Received(remote(State::Up, LOCAL, 1000, 300, 3)));
    assert_eq!(outputs[0], Output::Up);
    assert_eq!(fsm.state(), State::Up);
}

#[test]
fn init_hearing_init_goes_up() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 300, 3)));
    assert_eq!(fsm.state(), State::Up);
}

#[test]
fn init_hearing_down_stays_in_init_without_resending() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    assert_eq!(
        fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3))),
        vec![Output::ArmTimer(Timer::Detection, ms(3000))]
    );
    assert_eq!(fsm.state(), State::Init);
}

#[test]
fn down_hearing_up_stays_down() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Up, LOCAL, 1000, 300, 3)));
    assert_eq!(fsm.state(), State::Down);
}

#[test]
fn the_final_ends_our_poll_and_the_negotiated_rate_applies() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 300, 3)));
    assert!(fsm.polling());
    assert_eq!(
        fsm.process(Input::Received(final_(remote(State::Up, LOCAL, 300, 300, 3)))),
        vec![Output::ArmTimer(Timer::Detection, ms(900))]
    );
    assert!(!fsm.polling());
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::Transmit)),
        vec![
            Output::Send(ours(State::Up, Diagnostic::None, REMOTE, 300, 300)),
            Output::ArmTimer(Timer::Transmit, ms(300)),
        ]
    );
}

#[test]
fn poll_retransmits_p_until_the_final_arrives() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 300, 3)));
    let outputs = fsm.process(Input::TimerExpired(Timer::Transmit));
    assert_eq!(outputs[0], Output::Send(polling(ours(State::Up, Diagnostic::None, REMOTE, 300, 300))));
}

#[test]
fn a_poll_from_the_peer_is_answered_with_a_final_at_once() {
    let mut fsm = up();
    let outputs = fsm.process(Input::Received(polling(remote(State::Up, LOCAL, 100, 100, 3))));
    assert_eq!(
        outputs,
        vec![
            Output::ArmTimer(Timer::Detection, ms(900)),
            Output::Send(final_(ours(State::Up, Diagnostic::None, REMOTE, 300, 300))),
        ]
    );
}

#[test]
fn up_hearing_down_goes_down_with_neighbor_signaled_session_down() {
    let mut fsm = up();
    assert_eq!(
        fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3))),
        vec![
            Output::Down(Diagnostic::NeighborSignaledSessionDown),
            Output::ArmTimer(Timer::Detection, ms(3000)),
            Output::Send(ours(State::Down, Diagnostic::NeighborSignaledSessionDown, REMOTE, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::Down);
    assert_eq!(fsm.diagnostic(), Diagnostic::NeighborSignaledSessionDown);
}

#[test]
fn up_hearing_admin_down_goes_down_with_neighbor_signaled_session_down() {
    let mut fsm = up();
    let outputs = fsm.process(Input::Received(remote(State::AdminDown, 0, 1000, 300, 3)));
    assert_eq!(outputs[0], Output::Down(Diagnostic::NeighborSignaledSessionDown));
    assert_eq!(fsm.state(), State::Down);
}

#[test]
fn init_hearing_admin_down_goes_down_without_a_down_event() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    let outputs = fsm.process(Input::Received(remote(State::AdminDown, 0, 1000, 300, 3)));
    assert!(!outputs.iter().any(|o| matches!(o, Output::Down(_))));
    assert_eq!(fsm.state(), State::Down);
    assert_eq!(fsm.diagnostic(), Diagnostic::NeighborSignaledSessionDown);
}

#[test]
fn detection_expiry_while_up_goes_down_and_forgets_the_remote_discriminator() {
    let mut fsm = up();
    assert_eq!(
        fsm.process(Input::TimerExpired(Timer::Detection)),
        vec![
            Output::Down(Diagnostic::ControlDetectionTimeExpired),
            Output::Send(ours(State::Down, Diagnostic::ControlDetectionTimeExpired, 0, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::Down);
    assert_eq!(fsm.remote_discriminator(), 0);
}

#[test]
fn detection_expiry_in_init_goes_down_without_a_down_event() {
    let mut fsm = started();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    let outputs = fsm.process(Input::TimerExpired(Timer::Detection));
    assert_eq!(outputs[0], Output::Send(ours(State::Down, Diagnostic::ControlDetectionTimeExpired, 0, 1000, 300)));
    assert_eq!(fsm.state(), State::Down);
}

#[test]
fn detection_expiry_in_passive_mode_stops_transmission() {
    let mut fsm = fsm_with(timers(300, 300, 3), true);
    fsm.process(Input::Start);
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    assert_eq!(fsm.process(Input::TimerExpired(Timer::Detection)), vec![Output::CancelTimer(Timer::Transmit)]);
}

#[test]
fn a_stale_detection_expiry_does_nothing() {
    let mut fsm = up();
    fsm.process(Input::TimerExpired(Timer::Detection));
    assert_eq!(fsm.process(Input::TimerExpired(Timer::Detection)), vec![]);
}

#[test]
fn stop_goes_admin_down_and_tells_the_peer() {
    let mut fsm = up();
    assert_eq!(
        fsm.process(Input::Stop),
        vec![
            Output::Down(Diagnostic::AdministrativelyDown),
            Output::CancelTimer(Timer::Detection),
            Output::Send(ours(State::AdminDown, Diagnostic::AdministrativelyDown, REMOTE, 1000, 300)),
            Output::ArmTimer(Timer::Transmit, ms(1000)),
        ]
    );
    assert_eq!(fsm.state(), State::AdminDown);
    assert_eq!(fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 300, 3))), vec![]);
}

#[test]
fn start_after_stop_begins_again_from_down() {
    let mut fsm = up();
    fsm.process(Input::Stop);
    let outputs = fsm.process(Input::Start);
    assert_eq!(fsm.state(), State::Down);
    assert_eq!(outputs[0], Output::Send(ours(State::Down, Diagnostic::None, REMOTE, 1000, 300)));
}

#[test]
fn the_transmit_interval_is_the_larger_of_our_desired_tx_and_their_required_rx() {
    let mut fsm = up();
    assert_eq!(fsm.transmit_interval(), ms(300));
    fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 500, 3)));
    assert_eq!(fsm.transmit_interval(), ms(500));
    let outputs = fsm.process(Input::TimerExpired(Timer::Transmit));
    assert_eq!(outputs[1], Output::ArmTimer(Timer::Transmit, ms(500)));
}

#[test]
fn the_detection_time_is_their_multiplier_times_the_larger_of_our_rx_and_their_tx() {
    let mut fsm = up();
    assert_eq!(fsm.detection_time(), ms(900));
    assert_eq!(
        fsm.process(Input::Received(remote(State::Up, LOCAL, 200, 300, 5))),
        vec![Output::ArmTimer(Timer::Detection, ms(1500))]
    );
    assert_eq!(
        fsm.process(Input::Received(remote(State::Up, LOCAL, 700, 300, 2))),
        vec![Output::ArmTimer(Timer::Detection, ms(1400))]
    );
}

#[test]
fn a_slower_desired_tx_while_up_waits_for_the_final_before_applying() {
    let mut fsm = up();
    let outputs = fsm.process(Input::SetTimers(timers(1000, 300, 3)));
    assert_eq!(outputs[0], Output::Send(polling(ours(State::Up, Diagnostic::None, REMOTE, 1000, 300))));
    assert_eq!(fsm.transmit_interval(), ms(300));
    fsm.process(Input::Received(final_(remote(State::Up, LOCAL, 300, 300, 3))));
    assert_eq!(fsm.transmit_interval(), ms(1000));
}

#[test]
fn a_faster_desired_tx_while_up_applies_at_once_and_still_polls() {
    let mut fsm = up();
    let outputs = fsm.process(Input::SetTimers(timers(100, 300, 3)));
    assert_eq!(
        outputs,
        vec![
            Output::Send(polling(ours(State::Up, Diagnostic::None, REMOTE, 100, 300))),
            Output::ArmTimer(Timer::Transmit, ms(300)),
        ]
    );
    fsm.process(Input::Received(remote(State::Up, LOCAL, 300, 100, 3)));
    assert_eq!(fsm.transmit_interval(), ms(100));
}

#[test]
fn a_lower_required_rx_while_up_keeps_the_old_detection_time_until_the_final() {
    let mut fsm = up();
    fsm.process(Input::SetTimers(timers(300, 100, 3)));
    let remote_fast = remote(State::Up, LOCAL, 100, 300, 3);
    assert_eq!(fsm.process(Input::Received(remote_fast)), vec![Output::ArmTimer(Timer::Detection, ms(900))]);
    assert_eq!(fsm.process(Input::Received(final_(remote_fast))), vec![Output::ArmTimer(Timer::Detection, ms(300))]);
}

#[test]
fn new_timers_while_down_apply_at_once_without_a_poll() {
    let mut fsm = started();
    let outputs = fsm.process(Input::SetTimers(timers(2000, 500, 3)));
    assert_eq!(outputs[0], Output::Send(ours(State::Down, Diagnostic::None, 0, 2000, 500)));
    assert_eq!(outputs[1], Output::ArmTimer(Timer::Transmit, ms(2000)));
    assert!(!fsm.polling());
}

#[test]
fn going_down_returns_to_the_slow_start_rate() {
    let mut fsm = up();
    fsm.process(Input::Received(remote(State::Down, 0, 1000, 300, 3)));
    assert_eq!(fsm.transmit_interval(), ms(1000));
    assert_eq!(fsm.packet().desired_min_tx, 1_000_000);
}

#[test]
fn a_configured_tx_above_one_second_is_kept_while_down() {
    let mut fsm = fsm_with(timers(2500, 300, 3), false);
    let outputs = fsm.process(Input::Start);
    assert_eq!(outputs[1], Output::ArmTimer(Timer::Transmit, ms(2500)));
}

#[test]
fn a_peer_asking_for_no_packets_stops_our_transmission() {
    let mut fsm = started();
    let outputs = fsm.process(Input::Received(remote(State::Down, 0, 1000, 0, 3)));
    assert_eq!(outputs, vec![Output::ArmTimer(Timer::Detection, ms(3000)), Output::CancelTimer(Timer::Transmit)]);
    assert_eq!(fsm.state(), State::Init);
}

#[test]
fn a_peer_in_demand_mode_stops_periodic_transmission_once_both_are_up() {
    let mut fsm = up();
    let demand = ControlPacket { demand: true, ..remote(State::Up, LOCAL, 300, 300, 3) };
    fsm.process(Input::Received(demand));
    assert_eq!(fsm.process(Input::TimerExpired(Timer::Transmit)), vec![]);
}

#[test]
fn jitter_reduces_the_interval_by_up_to_a_quarter_and_is_reproducible_from_the_seed() {
    let run = |seed| {
        let mut fsm = Fsm::new(FsmConfig {
            local_discriminator: LOCAL,
            timers: timers(300, 300, 3),
            passive: false,
            jitter_seed: Some(seed),
            echo: None,
        });
        fsm.process(Input::Start);
        (0..200)
            .map(|_| match fsm.process(Input::TimerExpired(Timer::Transmit))[1] {
                Output::ArmTimer(Timer::Transmit, after) => after,
                ref other => panic!("unexpected {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    let intervals = run(42);
    assert_eq!(intervals, run(42));
    assert_ne!(intervals, run(43));
    assert!(intervals.iter().all(|d| *d >= ms(750) && *d <= ms(1000)), "{intervals:?}");
    assert!(intervals.iter().any(|d| *d < ms(800)));
    assert!(intervals.iter().any(|d| *d > ms(950)));
}

#[test]
fn with_a_detect_multiplier_of_one_jitter_keeps_the_interval_at_most_90_percent() {
    let mut fsm = Fsm::new(FsmConfig {
        local_discriminator: LOCAL,
        timers: timers(300, 300, 1),
        passive: false,
        jitter_seed: Some(7),
        echo: None,
    });
    fsm.process(Input::Start);
    for _ in 0..200 {
        let Output::ArmTimer(Timer::Transmit, after) = fsm.process(Input::TimerExpired(Timer::Transmit))[1] else {
            panic!("no transmit timer");
        };
        assert!(after >= ms(750) && after <= ms(900), "{after:?}");
    }
}

#[test]
fn two_sessions_wired_back_to_back_come_up_and_settle_on_the_configured_rates() {
    let mut a = Fsm::new(FsmConfig {
        local_discriminator: 1,
        timers: timers(100, 100, 3),
        passive: false,
        jitter_seed: None,
        echo: None,
    });
    let mut b = Fsm::new(FsmConfig {
        local_discriminator: 2,
        timers: timers(100, 100, 3),
        passive: true,
        jitter_seed: None,
        echo: None,
    });
    let mut to_b: Vec<ControlPacket> = Vec::new();
    let mut to_a: Vec<ControlPacket> = Vec::new();
    let sent = |outputs: Vec<Output>, queue: &mut Vec<ControlPacket>| {
        queue.extend(outputs.into_iter().filter_map(|o| if let Output::Send(p) = o { Some(p) } else { None }));
    };
    sent(a.process(Input::Start), &mut to_b);
    sent(b.process(Input::Start), &mut to_a);
    for _ in 0..10 {
        for packet in std::mem::take(&mut to_b) {
            sent(b.process(Input::Received(packet)), &mut to_a);
        }
        for packet in std::mem::take(&mut to_a) {
            sent(a.process(Input::Received(packet)), &mut to_b);
        }
    }
    assert_eq!((a.state(), b.state()), (State::Up, State::Up));
    assert!(!a.polling() && !b.polling());
    assert_eq!((a.transmit_interval(), b.transmit_interval()), (ms(100), ms(100)));
    assert_eq!((a.detection_time(), b.detection_time()), (ms(300), ms(300)));
}

#[test]
fn a_peer_asking_for_a_faster_rate_after_we_go_up_is_sent_to_at_that_rate_at_once() {
    // FRR's bfdd asks for packets no faster than its slow start rate (1 s) until it is Up;
    // we go Up hearing its Init and arm the Transmit timer for a second.
    let mut fsm = fsm_with(timers(100, 100, 3), false);
    fsm.process(Input::Start);
    let outputs = fsm.process(Input::Received(remote(State::Init, LOCAL, 1000, 1000, 3)));
    assert_eq!(outputs.last(), Some(&Output::ArmTimer(Timer::Transmit, ms(1000))));
    // Its Up, polling to leave its slow start, asks for 100 ms: its detection time is now
    // 300 ms, so our next packet must not wait for the second to pass.
    assert_eq!(
        fsm.process(Input::Received(polling(remote(State::Up, LOCAL, 100, 100, 3)))),
        vec![
            Output::ArmTimer(Timer::Detection, ms(300)),
            Output::Send(final_(ours(State::Up, Diagnostic::None, REMOTE, 100, 100))),
            Output::ArmTimer(Timer::Transmit, ms(100)),
        ]
    );
    // The same rate again: the timer already runs at it.
    assert_eq!(
        fsm.process(Input::Received(remote(State::Up, LOCAL, 100, 100, 3))),
        vec![Output::ArmTimer(Timer::Detection, ms(300))]
    );
    // A slower rate asked for waits for the next transmission, as before.
    assert_eq!(
        fsm.process(Input::Received(remote(State::Up, LOCAL, 100, 500, 3))),
        vec![Output::ArmTimer(Timer::Detection, ms(300))]
    );
}
