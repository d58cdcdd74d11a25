//! The byte stream a peer sends over one session, handled as the session driver handles it:
//! framed by `next_frame_len`, each frame decoded with the FSM's negotiated context and fed
//! to the FSM (RFC 4271 §8), which has dialled and sent its OPEN. The seeds open a session
//! (the peer's OPEN, KEEPALIVE) and go on with UPDATEs, ROUTE-REFRESH and NOTIFICATION, so
//! mutations reach every state. Beyond "never panics": each frame is 19-4096 octets, and
//! every message the FSM asks to send can be encoded (a NOTIFICATION that cannot be sent is
//! one the peer never sees).
#![no_main]

use std::net::Ipv4Addr;
use std::time::Duration;

use ferrolb_bgp::fsm::{Fsm, FsmConfig, Input, Output, PeerAs, State, Timer};
use ferrolb_bgp::{DecodeError, HEADER_LEN, MAX_MESSAGE_LEN, decode, next_frame_len};
use libfuzzer_sys::fuzz_target;

fn feed(fsm: &mut Fsm, input: Input) -> bool {
    let mut down = false;
    for output in fsm.process(input) {
        match output {
            Output::Send(message) => {
                if let Err(e) = message.encode(&fsm.encode_context()) {
                    panic!("the FSM asked to send a message that cannot be encoded ({e}): {message:?}");
                }
            }
            Output::Down { .. } | Output::CloseTcp => down = true,
            _ => {}
        }
    }
    down
}

fuzz_target!(|data: &[u8]| {
    let mut config = FsmConfig::new(64512, PeerAs::Fixed(64500), Ipv4Addr::new(10, 0, 0, 1));
    config.graceful_restart = Some(Duration::from_secs(120));
    let mut fsm = Fsm::new(config);
    feed(&mut fsm, Input::Start);
    let local = "10.0.0.1:40000".parse().unwrap();
    let remote = "10.0.0.254:179".parse().unwrap();
    feed(&mut fsm, Input::TcpConnected { local, remote });
    let mut rest = data;
    loop {
        let input = match next_frame_len(rest) {
            Ok(None) => break,
            Ok(Some(len)) => {
                assert!((HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) && len <= rest.len());
                let (frame, tail) = rest.split_at(len);
                rest = tail;
                match decode(frame, &fsm.decode_context()) {
                    Ok(message) => Input::Message(message),
                    Err(e) => Input::DecodeError(e),
                }
            }
            Err(e) => Input::DecodeError(DecodeError::SessionReset(e)),
        };
        if feed(&mut fsm, input) {
            return;
        }
    }
    if fsm.state() == State::Established {
        for timer in [Timer::Keepalive, Timer::Hold] {
            feed(&mut fsm, Input::TimerFired(timer));
        }
    }
});
