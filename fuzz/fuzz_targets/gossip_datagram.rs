//! Membership datagrams without a key (the `P` framing of crates/gossip/src/seal.rs).
//!
//! - Decoder: the bytes after the `P` go to `wire::Message::decode`; a message that decodes
//!   re-encodes (`wire::Message::encode`, every update in) to exactly those bytes, since the
//!   layout has one encoding per message.
//! - Engine: the datagram is fed to the engine exactly as the UDP driver does: to a fresh
//!   engine, and to one that has already heard the other two members join (so updates about
//!   known members, suspicions and leave notices meet real state). The timers the engine
//!   asks for are fired once. Never panics; every datagram is counted.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ferrolb_fuzz::gossip::{Delivery, TARGET_NODE, addr, engine, simulate};
use ferrolb_gossip::wire::Message;
use ferrolb_gossip::{Engine, Output};
use libfuzzer_sys::fuzz_target;

/// What the target node hears first in the simulation: the others joining.
fn warm_up() -> &'static [Delivery] {
    static WARM: OnceLock<Vec<Delivery>> = OnceLock::new();
    WARM.get_or_init(|| simulate(None, 1).into_iter().filter(|d| d.to == TARGET_NODE).take(6).collect())
}

fn handle(engine: &mut Engine, data: &[u8], now: Instant) {
    let before = engine.counters().datagrams_in;
    let out = engine.handle_datagram(addr(0), data, now);
    assert_eq!(engine.counters().datagrams_in, before + 1);
    for output in out {
        if let Output::SetTimer { after, timer } = output {
            engine.handle_timer(timer, now + after);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(plain) = data.strip_prefix(b"P")
        && let Ok(message) = Message::decode(plain)
    {
        let updates: Vec<_> = message.updates.iter().collect();
        let (bytes, count) = Message::encode(&message.sender, &message.body, &updates, usize::MAX);
        assert_eq!(count, updates.len());
        assert_eq!(bytes, plain, "{message:?} re-encodes to other bytes");
    }
    let now = Instant::now();
    handle(&mut engine(TARGET_NODE, None), data, now);
    let mut warm = engine(TARGET_NODE, None);
    for (i, d) in warm_up().iter().enumerate() {
        warm.handle_datagram(addr(d.from), &d.bytes, now + Duration::from_millis(i as u64));
    }
    handle(&mut warm, data, now + Duration::from_secs(1));
});
