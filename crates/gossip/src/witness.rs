//! Fencing on evidence: an outside witness of which speakers are alive, and the rule that
//! decides, with it, whether a speaker without a gossip majority must stop answering.
//!
//! Quorum alone cannot tell "the others died" from "I am cut off from them". Fencing a
//! speaker that is merely the last one alive turns a double failure (a rack losing power, a
//! cold start after a power cut where one node boots first) into an outage of every Layer 2
//! address. So each speaker also renews a heartbeat somewhere outside the gossip (a per-node
//! Lease on the API server; a per-node file in the `dir:` source's shared state directory),
//! and a speaker without a gossip majority fences only when the heartbeats show that a
//! majority of the speakers it knows is alive elsewhere, where they hold the majority and
//! serve. Without a witness it can read it keeps serving: if it is the one cut off, its
//! answers reach nobody; if the others died, its answers are the only ones.
//!
//! Freshness is judged by this speaker's own monotonic clock (a heartbeat is fresh when this
//! speaker saw it change recently), never by comparing the writers' wall clocks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::fence::has_quorum;

/// How a speaker without a gossip majority decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FenceMode {
    /// Fence only when the witness shows a live majority elsewhere (the default).
    #[default]
    Witnessed,
    /// Fence whenever gossip shows no majority (quorum alone; a double failure fences the
    /// survivor).
    Strict,
}

/// What the witness shows right now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Witness {
    /// No witness, or it cannot be read: no evidence either way.
    #[default]
    Unreachable,
    /// The speakers whose heartbeat is fresh.
    Alive(BTreeSet<String>),
}

/// Whether a speaker must stop answering: `quorum` is its gossip verdict over `known`, and
/// `seen` the speakers gossip shows alive (itself included).
pub fn must_fence(
    mode: FenceMode,
    known: &BTreeSet<String>,
    seen: &BTreeSet<String>,
    quorum: bool,
    witness: &Witness,
) -> bool {
    if quorum {
        return false;
    }
    match (mode, witness) {
        (FenceMode::Strict, _) => true,
        (FenceMode::Witnessed, Witness::Unreachable) => false,
        (FenceMode::Witnessed, Witness::Alive(fresh)) => {
            let alive: BTreeSet<String> = seen.union(fresh).cloned().collect();
            has_quorum(known, &alive)
        }
    }
}

/// Turns successive readings of the heartbeats (name → whatever changes with each renewal)
/// into the set of fresh ones.
#[derive(Debug, Clone)]
pub struct Heartbeats {
    started: Instant,
    validity: Duration,
    /// Last token seen per name, and when it last changed (`None`: unchanged since the first
    /// reading, which may be a leftover of a speaker that is gone).
    seen: BTreeMap<String, (String, Option<Instant>)>,
    read_once: bool,
}

impl Heartbeats {
    /// `validity`: how long a heartbeat stays fresh after it changed (a few renewal intervals).
    pub fn new(validity: Duration, now: Instant) -> Self {
        Self { started: now, validity, seen: BTreeMap::new(), read_once: false }
    }

    /// Records one reading of every heartbeat.
    pub fn observe(&mut self, reading: impl IntoIterator<Item = (String, String)>, now: Instant) {
        let reading: BTreeMap<String, String> = reading.into_iter().collect();
        self.seen.retain(|name, _| reading.contains_key(name));
        for (name, token) in reading {
            match self.seen.get_mut(&name) {
                Some((old, changed)) => {
                    if *old != token {
                        *old = token;
                        *changed = Some(now);
                    }
                }
                None => {
                    // one that appears after the first reading was just written
                    let changed = self.read_once.then_some(now);
                    self.seen.insert(name, (token, changed));
                }
            }
        }
        self.read_once = true;
    }

    /// The heartbeats that changed within the validity. During the first validity after
    /// start a heartbeat not yet seen to change counts too: it may well be renewed, and
    /// guessing "dead" would let a speaker cut off at start-up answer beside the majority.
    pub fn fresh(&self, now: Instant) -> BTreeSet<String> {
        let starting = now.saturating_duration_since(self.started) < self.validity;
        self.seen
            .iter()
            .filter(|(_, (_, changed))| match changed {
                Some(at) => now.saturating_duration_since(*at) < self.validity,
                None => starting,
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &str) -> BTreeSet<String> {
        names.split_whitespace().map(str::to_owned).collect()
    }

    fn reading(entries: &[(&str, u32)]) -> Vec<(String, String)> {
        entries.iter().map(|(n, t)| ((*n).to_owned(), t.to_string())).collect()
    }

    #[test]
    fn the_fencing_rule_by_case() {
        let known = set("a b c");
        let fresh = |names: &str| Witness::Alive(set(names));
        // (mode, seen by gossip, quorum, witness, fenced)
        let cases = [
            (FenceMode::Witnessed, "a b c", true, fresh(""), false),
            // b and c died: serve
            (FenceMode::Witnessed, "a", false, fresh("a"), false),
            // cut off from a live majority
            (FenceMode::Witnessed, "a", false, fresh("a b c"), true),
            // b alive but unheard: a majority may be serving without us (as quorum alone decides)
            (FenceMode::Witnessed, "a", false, fresh("a b"), true),
            (FenceMode::Witnessed, "a", false, Witness::Unreachable, false),
            (FenceMode::Strict, "a", false, fresh("a"), true),
            (FenceMode::Strict, "a", false, Witness::Unreachable, true),
            (FenceMode::Strict, "a b", true, Witness::Unreachable, false),
        ];
        for (mode, seen, quorum, witness, fenced) in cases {
            assert_eq!(must_fence(mode, &known, &set(seen), quorum, &witness), fenced, "{mode:?} {seen} {witness:?}");
        }
    }

    #[test]
    fn a_heartbeat_is_fresh_while_it_keeps_changing() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut h = Heartbeats::new(3 * s, t0);
        h.observe(reading(&[("a", 1), ("b", 7), ("c", 3)]), t0);
        assert_eq!(h.fresh(t0), set("a b c"), "unknown at start: presumed alive");
        h.observe(reading(&[("a", 2), ("b", 7), ("c", 4)]), t0 + s);
        h.observe(reading(&[("a", 3), ("b", 7), ("c", 5)]), t0 + 2 * s);
        assert_eq!(h.fresh(t0 + 2 * s), set("a b c"));
        h.observe(reading(&[("a", 4), ("b", 7), ("c", 5)]), t0 + 3 * s);
        assert_eq!(h.fresh(t0 + 3 * s), set("a c"), "b never changed: a leftover");
        h.observe(reading(&[("a", 5), ("b", 7), ("c", 5)]), t0 + 4 * s);
        assert_eq!(h.fresh(t0 + 4 * s), set("a c"));
        assert_eq!(h.fresh(t0 + 5 * s), set("a"), "c last renewed 3 s ago");
    }

    #[test]
    fn a_heartbeat_that_appears_later_is_fresh_and_one_removed_is_gone() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut h = Heartbeats::new(3 * s, t0);
        h.observe(reading(&[("a", 1)]), t0);
        h.observe(reading(&[("a", 2), ("d", 1)]), t0 + 5 * s);
        assert_eq!(h.fresh(t0 + 5 * s), set("a d"));
        h.observe(reading(&[("d", 2)]), t0 + 6 * s);
        assert_eq!(h.fresh(t0 + 6 * s), set("d"));
    }
}
