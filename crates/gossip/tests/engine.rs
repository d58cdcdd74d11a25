//! The membership engine in a simulated network ([`sim`]): virtual time, an event queue,
//! seeded loss. No sockets, no sleeping; addresses are only labels.

mod sim;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ferrolb_gossip::{Boot, Engine, EngineConfig, Key, Output, Timers};
use proptest::prelude::*;
use sim::{Change, LATENCY, Sim, addr, name, names};

#[test]
fn members_converge_from_a_shared_seed_list() {
    let mut sim = Sim::new(5, 7);
    sim.join_all();
    sim.run_for(Duration::from_millis(500));
    for i in 0..5 {
        assert_eq!(sim.members(i), names(&[0, 1, 2, 3, 4]), "node {i}");
    }
}

#[test]
fn members_converge_when_everyone_seeds_from_one_node() {
    let mut sim = Sim::new(4, 9);
    for i in 1..4 {
        let out = sim.nodes[i].as_mut().unwrap().join([addr(0)]);
        sim.apply(i, out);
    }
    sim.run_for(Duration::from_secs(2));
    for i in 0..4 {
        assert_eq!(sim.members(i), names(&[0, 1, 2, 3]), "node {i}");
    }
}

#[test]
fn a_speaker_that_starts_before_its_peers_finds_them_through_the_rejoin_timer() {
    let mut sim = Sim::new(3, 11);
    sim.crash(1);
    sim.crash(2);
    sim.join(0);
    sim.run_for(Duration::from_secs(3));
    assert_eq!(sim.members(0), names(&[0]));
    sim.boot(1);
    sim.boot(2);
    sim.run_for(Duration::from_millis(1500));
    assert_eq!(sim.members(1), names(&[0, 1, 2]), "node 1 never called join, node 0 kept retrying it");
}

#[test]
fn a_silent_member_is_declared_down_by_everyone_within_the_expected_detection_time() {
    for (n, seed) in [2, 3, 5, 7].into_iter().flat_map(|n| (0..20).map(move |seed| (n, seed))) {
        let mut sim = Sim::new(n, 21 + seed);
        sim.join_all();
        sim.run_for(Duration::from_millis(1000 + 13 * seed));
        let crashed_at = sim.now;
        sim.crash(n - 1);
        sim.run_for(Duration::from_secs(3));
        let downs = sim.changes_about(n - 1);
        let downs: Vec<&Change> = downs.iter().filter(|c| matches!(c.output, Output::MemberDown(_))).collect();
        assert_eq!(downs.len(), n - 1, "n={n}: every survivor reports it once: {downs:?}");
        let bound = Timers::default().expected_detection(n);
        let floor = Timers::default().suspicion_timeout(n);
        for c in downs {
            let took = c.at - crashed_at;
            assert!(took >= floor, "down before the suspicion timeout: {took:?}");
            assert!(took <= bound, "detection took {took:?}, bound {bound:?}");
        }
        for i in 0..n - 1 {
            assert_eq!(sim.members(i), (0..n - 1).map(name).collect::<BTreeSet<_>>());
        }
    }
}

#[test]
fn a_member_that_refutes_its_suspicion_stays_up() {
    let mut sim = Sim::new(3, 5);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    let start = sim.now;
    // node-2 is unreachable for three probe periods: long enough to fail probes and be
    // suspected, shorter than the suspicion timeout.
    sim.partition(&[2], &[0, 1]);
    let mut suspected = false;
    for _ in 0..30 {
        sim.run_for(Duration::from_millis(10));
        suspected |= sim.engine(0).suspects().contains("node-2") || sim.engine(1).suspects().contains("node-2");
    }
    sim.cut.clear();
    sim.run_for(Duration::from_secs(2));
    assert!(suspected, "the blackout should have raised a suspicion");
    assert_eq!(sim.downs_since(start), vec![]);
    assert!(sim.engine(0).suspects().is_empty() && sim.engine(1).suspects().is_empty());
    for i in 0..3 {
        assert_eq!(sim.members(i), names(&[0, 1, 2]));
    }
}

#[test]
fn a_graceful_leave_is_seen_at_once_as_a_leave_not_a_failure() {
    let mut sim = Sim::new(3, 3);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    let left_at = sim.now;
    sim.leave(2);
    sim.run_for(Duration::from_millis(5));
    let changes = sim.changes_about(2);
    let lefts: Vec<&Change> = changes.iter().filter(|c| c.at >= left_at).collect();
    assert_eq!(lefts.len(), 2, "{lefts:?}");
    for c in lefts {
        assert_eq!(c.output, Output::MemberLeft("node-2".into()));
        assert!(c.at - left_at <= LATENCY, "seen after one network hop");
    }
    assert_eq!(sim.members(0), names(&[0, 1]));
    assert!(sim.engine(2).members().is_empty());
    assert_eq!(sim.engine(0).counters().member_left, 1);
}

#[test]
fn a_restarted_member_comes_back_under_a_new_generation() {
    let mut sim = Sim::new(3, 13);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    sim.crash(1);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.members(0), names(&[0, 2]));
    sim.restart(1);
    sim.run_for(Duration::from_millis(300));
    for i in 0..3 {
        assert_eq!(sim.members(i), names(&[0, 1, 2]), "node {i}");
    }
}

#[test]
fn a_healed_partition_merges_back() {
    let mut sim = Sim::new(5, 17);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    sim.partition(&[0, 1, 2], &[3, 4]);
    sim.run_for(Duration::from_secs(3));
    assert_eq!(sim.members(0), names(&[0, 1, 2]));
    assert_eq!(sim.members(4), names(&[3, 4]));
    sim.cut.clear();
    sim.run_for(Duration::from_secs(3));
    for i in 0..5 {
        assert_eq!(sim.members(i), names(&[0, 1, 2, 3, 4]), "node {i}");
    }
}

#[test]
fn a_speaker_with_another_key_never_joins_and_its_datagrams_are_counted() {
    let mut sim = Sim::new(3, 19);
    sim.keys[2] = Some(Key::derive(b"another secret").unwrap());
    sim.boot(2);
    sim.join_all();
    sim.run_for(Duration::from_secs(3));
    assert_eq!(sim.members(0), names(&[0, 1]));
    assert_eq!(sim.members(2), names(&[2]));
    assert!(sim.engine(0).counters().dropped_bad_key > 0);
    assert!(sim.engine(2).counters().dropped_bad_key > 0);
    assert!(sim.changes_about(2).is_empty());
}

#[test]
fn a_tampered_datagram_is_dropped_as_a_bad_key_and_changes_nothing() {
    let mut sim = Sim::new(2, 23);
    sim.join(0);
    sim.join(1);
    sim.run_for(Duration::from_millis(500));
    let key = Key::derive(b"cluster secret").unwrap();
    let config = EngineConfig { name: "forger".into(), advertise: addr(9), timers: Timers::default() };
    let mut forger = Engine::new(config, Some(&key), Boot { generation: 1, rng_seed: 1, nonce_salt: [9; 16] }).unwrap();
    let Some(Output::Send { mut bytes, .. }) = forger.join([addr(0)]).into_iter().next() else { panic!() };
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let before = sim.engine(0).counters().clone();
    let out = sim.nodes[0].as_mut().unwrap().handle_datagram(addr(9), &bytes, Instant::now());
    assert_eq!(out, vec![Output::Dropped { from: addr(9), reason: ferrolb_gossip::DropReason::BadKey }]);
    assert_eq!(sim.engine(0).counters().dropped_bad_key, before.dropped_bad_key + 1);
    assert_eq!(sim.members(0), names(&[0, 1]));
}

/// Members that stay up despite `loss` for `rounds` probe periods, with a fixed seed.
fn no_false_down_under_loss(loss: f64, rounds: u32, seed: u64) {
    let mut sim = Sim::new(5, seed);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    let start = sim.now;
    sim.loss = loss;
    sim.run_for(Timers::default().probe_period * rounds);
    assert_eq!(sim.downs_since(start), vec![]);
    for i in 0..5 {
        assert_eq!(sim.members(i), names(&[0, 1, 2, 3, 4]));
    }
}

#[test]
fn ten_percent_packet_loss_causes_no_false_down_in_three_thousand_rounds() {
    no_false_down_under_loss(0.10, 3000, 0x5eed);
}

/// 3,000 probe periods are 300 simulated seconds: at 20 % loss each way a round trip fails
/// more than a third of the time, and hundreds of suspicions are raised and refuted.
#[test]
fn twenty_percent_packet_loss_causes_no_false_down_in_three_hundred_seconds() {
    no_false_down_under_loss(0.20, 3000, 0x5eed);
}

/// Not a pass/fail test: prints false downs, suspicions and refutations under loss over five
/// simulated minutes (`cargo test --release --test engine -- --ignored --nocapture`).
#[test]
#[ignore]
fn measure_false_downs_under_loss() {
    for loss in [0.05, 0.10, 0.20, 0.25, 0.30] {
        for seed in [1u64, 2, 4] {
            let mut sim = Sim::new(5, seed);
            sim.join_all();
            sim.run_for(Duration::from_secs(1));
            sim.loss = loss;
            sim.run_for(Duration::from_secs(300));
            let downs = sim.downs_since(Duration::ZERO).len();
            let suspicions: u64 = (0..5).map(|i| sim.engine(i).counters().suspicions).sum();
            let refutations: u64 = (0..5).map(|i| sim.engine(i).counters().refutations).sum();
            println!(
                "loss {loss}: seed {seed}: {downs} false MemberDown outputs, {suspicions} suspicions, {refutations} refutations in 300 s"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any cluster of 2-7 members under up to 10 % loss each way converges, declares no live
    /// member dead, and still sees a crash within three seconds.
    #[test]
    fn any_cluster_converges_and_detects_a_crash(n in 2usize..8, seed in any::<u64>(), loss in 0.0f64..0.10) {
        let mut sim = Sim::new(n, seed);
        sim.loss = loss;
        sim.join_all();
        sim.run_for(Duration::from_secs(3));
        for i in 0..n {
            prop_assert_eq!(sim.members(i), (0..n).map(name).collect::<BTreeSet<_>>(), "node {} after joining", i);
        }
        prop_assert_eq!(sim.downs_since(Duration::ZERO), vec![]);
        let crashed_at = sim.now;
        sim.crash(0);
        sim.run_for(Duration::from_secs(3));
        for i in 1..n {
            prop_assert_eq!(sim.members(i), (1..n).map(name).collect::<BTreeSet<_>>(), "node {} after the crash", i);
        }
        let downs = sim.downs_since(crashed_at);
        prop_assert!(downs.iter().all(|c| c.output == Output::MemberDown(name(0))), "{:?}", downs);
    }
}

#[test]
fn two_member_clusters_under_loss_converge_and_still_detect_a_crash() {
    // Seeds the randomized property failed on before the engine had Lifeguard's refinements:
    // under 4 % loss node-1 was falsely declared down, rejoined, and then never noticed the
    // crash of node-0; at 2.9 % loss the two never converged.
    for (seed, loss) in [(10789304646982115049, 0.041886200504584165), (6540519179986027632, 0.029068341543165527)] {
        let mut sim = Sim::new(2, seed);
        sim.loss = loss;
        sim.join_all();
        sim.run_for(Duration::from_secs(2));
        assert_eq!(sim.members(1), names(&[0, 1]), "seed {seed}");
        assert_eq!(sim.downs_since(Duration::ZERO), vec![]);
        sim.crash(0);
        sim.run_for(Duration::from_secs(3));
        assert_eq!(sim.members(1), names(&[1]), "seed {seed}");
    }
}

/// Delivers each recorded datagram again to its recipient; returns the drop reasons seen.
fn replay(sim: &mut Sim, recorded: &[(usize, usize, Vec<u8>)]) -> Vec<Output> {
    let now = sim.base + sim.now;
    let mut outputs = Vec::new();
    for (to, from, bytes) in recorded {
        if let Some(engine) = sim.nodes[*to].as_mut() {
            outputs.extend(engine.handle_datagram(addr(*from), bytes, now));
        }
    }
    outputs
}

#[test]
fn recorded_datagrams_sent_again_are_dropped_as_replays_and_counted() {
    let mut sim = Sim::new(3, 31);
    sim.join_all();
    sim.run_for(Duration::from_secs(2));
    sim.recorded = Some(Vec::new());
    sim.run_for(Duration::from_secs(2));
    let recorded = sim.recorded.take().unwrap();
    assert!(recorded.len() > 20, "{} datagrams recorded", recorded.len());
    let before: Vec<u64> = (0..3).map(|i| sim.engine(i).counters().dropped_replayed).collect();
    let outputs = replay(&mut sim, &recorded);
    // every one is refused before decoding, and nothing else comes out (no reply, no change)
    assert_eq!(outputs.len(), recorded.len());
    assert!(
        outputs.iter().all(|o| matches!(o, Output::Dropped { reason: ferrolb_gossip::DropReason::Replayed, .. })),
        "{outputs:?}"
    );
    let counted: u64 = (0..3).map(|i| sim.engine(i).counters().dropped_replayed - before[i]).sum();
    assert_eq!(counted, recorded.len() as u64);
    sim.run_for(Duration::from_secs(2));
    for i in 0..3 {
        assert_eq!(sim.members(i), names(&[0, 1, 2]));
    }
}

#[test]
fn datagrams_of_an_earlier_boot_are_replays_once_the_restarted_member_is_heard() {
    let mut sim = Sim::new(2, 37);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    sim.recorded = Some(Vec::new());
    sim.run_for(Duration::from_secs(1));
    let old_boot: Vec<_> = sim.recorded.take().unwrap().into_iter().filter(|(to, _, _)| *to == 0).collect();
    sim.restart(1);
    sim.run_for(Duration::from_secs(2));
    assert_eq!(sim.members(0), names(&[0, 1]));
    let outputs = replay(&mut sim, &old_boot);
    assert!(!old_boot.is_empty());
    assert!(
        outputs.iter().all(|o| matches!(o, Output::Dropped { reason: ferrolb_gossip::DropReason::Replayed, .. })),
        "{outputs:?}"
    );
}

#[test]
fn a_member_restarted_with_its_clock_set_back_is_heard_again() {
    let mut sim = Sim::new(2, 41);
    sim.generations[1] = 1_000;
    sim.boot(1);
    sim.join_all();
    sim.run_for(Duration::from_secs(1));
    assert_eq!(sim.members(0), names(&[0, 1]));
    // the new boot's generation is older than the one node 0 remembers
    sim.crash(1);
    sim.generations[1] = 10;
    sim.boot(1);
    sim.join(1);
    sim.run_for(Duration::from_secs(10));
    assert_eq!(sim.members(0), names(&[0, 1]));
    assert_eq!(sim.members(1), names(&[0, 1]));
    assert!(sim.engine(0).counters().dropped_replayed > 0, "refused until the old identity was declared down");
}
