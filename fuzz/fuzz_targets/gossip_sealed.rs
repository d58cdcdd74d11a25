//! Sealed membership datagrams (crates/gossip/src/seal.rs) under a fixed cluster key.
//!
//! - As received: the bytes go to an engine holding the key. Only the header is parsed
//!   before the tag is checked, so this exercises the framing, the authentication and the
//!   replay window; the seeds are datagrams the simulation sealed, so they authenticate.
//! - Round trip: the bytes, as a plaintext, are sealed by one sealer and opened by another:
//!   they come back unchanged, a second opening is refused as a replay, and any one flipped
//!   bit is refused as a bad key or malformed. The sealed datagram then goes to the engine,
//!   so fuzzer-chosen plaintext reaches the message decoder behind a valid seal.
#![no_main]

use std::time::Instant;

use ferrolb_fuzz::gossip::{TARGET_NODE, addr, engine, key, name};
use ferrolb_gossip::OpenError;
use ferrolb_gossip::seal::{Sealer, Sender};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = key();
    let now = Instant::now();
    let mut receiver = engine(TARGET_NODE, Some(&key));
    receiver.handle_datagram(addr(0), data, now);

    let sender = Sender { name: name(0), generation: 1000, random: [1; 8] };
    let mut sealer = Sealer::new(Some(&key), sender);
    let mut opener = Sealer::new(Some(&key), Sender { name: name(TARGET_NODE), generation: 1001, random: [2; 8] });
    let sealed = sealer.seal(data);
    assert_eq!(opener.open(&sealed).as_deref(), Ok(data));
    assert_eq!(opener.open(&sealed), Err(OpenError::Replayed));
    let mut fresh = Sealer::new(Some(&key), Sender { name: name(2), generation: 1002, random: [3; 8] });
    let at = data.first().map_or(0, |b| usize::from(*b)) % sealed.len();
    let mut tampered = sealed.clone();
    tampered[at] ^= 1 << (data.len() % 8);
    let got = fresh.open(&tampered);
    assert!(matches!(got, Err(OpenError::BadKey | OpenError::Malformed)), "flipped bit at {at}: {got:?}");
    receiver.handle_datagram(addr(0), &sealed, now);
});
