//! Feeds arbitrary bytes to the BFD Control packet decoder (RFC 5880 §6.8.6). Beyond "never
//! panics": a decoded packet re-encodes to the header it came from (with Length 24) and
//! decodes again to the same packet, and feeding it to a session state machine in each
//! state must not panic either.
#![no_main]

use std::time::Duration;

use ferrolb_bfd::{ControlPacket, Fsm, FsmConfig, Input, Timer, Timers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = ControlPacket::decode(data) else { return };
    let mut expected = [0u8; 24];
    expected.copy_from_slice(&data[..24]);
    expected[3] = 24;
    let wire = packet.encode();
    assert_eq!(wire, expected);
    assert_eq!(ControlPacket::decode(&wire), Ok(packet));
    let _ = (packet.desired_min_tx(), packet.required_min_rx());
    for passive in [false, true] {
        let mut fsm = Fsm::new(FsmConfig {
            local_discriminator: 1,
            timers: Timers {
                desired_min_tx: Duration::from_millis(300),
                required_min_rx: Duration::from_millis(300),
                detect_multiplier: 3,
            },
            passive,
            jitter_seed: Some(7),
            echo: Some(Duration::from_millis(50)),
        });
        fsm.process(Input::Start);
        // Twice: the first packet may move the session to Init or Up, the second is then
        // handled in that state.
        fsm.process(Input::Received(packet));
        fsm.process(Input::Received(packet));
        fsm.process(Input::TimerExpired(Timer::Transmit));
        fsm.process(Input::TimerExpired(Timer::Detection));
        fsm.process(Input::Received(packet));
        fsm.process(Input::TimerExpired(Timer::EchoTransmit));
        fsm.process(Input::EchoReturned);
        fsm.process(Input::TimerExpired(Timer::EchoDetection));
    }
});
