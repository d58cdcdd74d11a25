//! Three UDP drivers on 127.0.0.1 (ephemeral ports). Only loopback is ever addressed.
#![cfg(feature = "driver")]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrolb_gossip::{DriverConfig, Key, Membership, MembershipHandle, MembershipView};
use tokio::sync::watch;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn start(name: &str, key: &[u8], seeds: Vec<SocketAddr>) -> (MembershipHandle, watch::Receiver<MembershipView>) {
    let mut config = DriverConfig::new(name, loopback());
    config.key = Some(Key::derive(key).unwrap());
    config.seeds = seeds;
    Membership::start(config).unwrap()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Waits until the view satisfies `ok`, returning how long it took.
async fn wait_for(
    rx: &mut watch::Receiver<MembershipView>,
    within: Duration,
    ok: impl Fn(&MembershipView) -> bool,
) -> Duration {
    let start = Instant::now();
    let reached = matches!(tokio::time::timeout(within, rx.wait_for(|v| ok(v))).await, Ok(Ok(_)));
    assert!(reached, "view not reached within {within:?}; last view: {:?}", *rx.borrow());
    start.elapsed()
}

/// Three converged speakers a, b, c (c seeds from a and b, the others from c).
async fn trio(key_c: &[u8]) -> Vec<(MembershipHandle, watch::Receiver<MembershipView>)> {
    let a = start("a", b"k", vec![]);
    let b = start("b", b"k", vec![a.0.local_addr()]);
    let c = start("c", key_c, vec![a.0.local_addr(), b.0.local_addr()]);
    vec![a, b, c]
}

#[tokio::test]
async fn three_speakers_converge_and_see_a_silent_crash_within_the_detection_time() {
    let mut nodes = trio(b"k").await;
    for (_, rx) in nodes.iter_mut() {
        let took = wait_for(rx, Duration::from_secs(3), |v| v.members == names(&["a", "b", "c"])).await;
        assert!(took < Duration::from_secs(3));
    }
    let (c, _) = nodes.pop().unwrap();
    let crashed = Instant::now();
    drop(c);
    for (_, rx) in nodes.iter_mut() {
        wait_for(rx, Duration::from_secs(3), |v| v.members == names(&["a", "b"])).await;
        println!("crash of c seen after {:?}", crashed.elapsed());
    }
    let view = nodes[0].1.borrow().clone();
    assert!(view.quorum, "2 of 3 known is a majority");
    assert_eq!(view.known, names(&["a", "b", "c"]), "a crashed speaker stays known");
    let stats = nodes[0].0.stats();
    assert!(stats.counters.datagrams_in > 0 && stats.counters.datagrams_out > 0);
    assert_eq!(stats.counters.member_down, 1);
    assert_eq!(stats.members, 2);
}

#[tokio::test]
async fn a_graceful_leave_is_seen_at_once_and_shrinks_the_known_set() {
    let mut nodes = trio(b"k").await;
    for (_, rx) in nodes.iter_mut() {
        wait_for(rx, Duration::from_secs(3), |v| v.members.len() == 3).await;
    }
    let (c, _) = nodes.pop().unwrap();
    let left = Instant::now();
    c.leave().await;
    for (_, rx) in nodes.iter_mut() {
        let took = wait_for(rx, Duration::from_millis(500), |v| v.members == names(&["a", "b"])).await;
        println!("leave of c seen after {took:?} (total {:?})", left.elapsed());
        assert_eq!(rx.borrow().known, names(&["a", "b"]));
    }
}

#[tokio::test]
async fn a_speaker_with_the_wrong_key_never_joins() {
    let mut nodes = trio(b"wrong").await;
    wait_for(&mut nodes[0].1, Duration::from_secs(3), |v| v.members == names(&["a", "b"])).await;
    // c keeps knocking (it rejoins every second): once a and b have each turned several of its
    // datagrams away, it has had its chances.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while nodes[..2].iter().any(|(handle, _)| handle.stats().counters.dropped_bad_key < 3) {
        assert!(tokio::time::Instant::now() < deadline, "c's datagrams never reached a and b");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (handle, rx) in &nodes[..2] {
        assert_eq!(rx.borrow().members, names(&["a", "b"]));
        assert!(handle.stats().counters.dropped_bad_key > 0, "c's datagrams are counted");
    }
    assert_eq!(nodes[2].1.borrow().members, names(&["c"]));
}
