//! Feeds arbitrary bytes to the BFD Control packet decoder. Beyond "never panics", a
//! decoded packet must re-encode to the header it came from (with Length 24), and feeding
//! it to a session state machine must not panic either.
#![no_main]

use ferrolb_bfd::{ControlPacket, Fsm, FsmConfig, Input, Timer, Timers};
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = ControlPacket::decode(data) {
        let mut expected = [0u8; 24];
        expected.copy_from_slice(&data[..24]);
        expected[3] = 24;
        assert_eq!(packet.encode(), expected);
        let mut fsm = Fsm::new(FsmConfig {
            local_discriminator: 1,
            timers: Timers {
                desired_min_tx: Duration::from_millis(300),
                required_min_rx: Duration::from_millis(300),
                detect_multiplier: 3,
            },
            passive: data.len() % 2 == 0,
            jitter_seed: Some(7),
        });
        fsm.process(Input::Start);
        fsm.process(Input::Received(packet));
        fsm.process(Input::TimerExpired(Timer::Transmit));
        fsm.process(Input::TimerExpired(Timer::Detection));
    }
});
