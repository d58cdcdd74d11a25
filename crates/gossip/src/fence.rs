//! Quorum fencing for Layer 2: a speaker that cannot see a strict majority of the speakers it
//! knows stops answering ARP/NDP, so the minority side of a partition goes quiet instead of
//! answering for the same IP as the majority side (docs/compatibility.md §9.11).
//!
//! *Known* speakers are those seen alive since this speaker started (its epoch), itself
//! included. A speaker stops being known when it leaves gracefully (a rolling restart must
//! not fence the rest) or when the caller forgets it (its Node object was deleted); one that
//! merely stops answering stays known: that is what lets the minority notice it is one.
//!
//! With one or two known speakers there is no majority to be had without the peer, and a
//! dead peer cannot be told from a partition: the survivor keeps serving. A two-node cluster
//! therefore fails over, and can split-brain during a partition; that trade-off is deliberate
//! (two-node clusters are common and must fail over). An outside witness (the Kubernetes API
//! server) can break the tie; that is the caller's business.
//!
//! Caveat: a speaker that starts inside a partition has seen nobody, knows only itself and
//! serves. [`Fence::expect`] seeds the known set with the speakers the caller expects (e.g.
//! Node objects that run a speaker) for deployments that prefer fencing in that case.

use std::collections::BTreeSet;

/// Whether `alive` (the names currently seen alive, this node included) is a quorum of
/// `known` (the names known this epoch, this node included).
pub fn has_quorum(known: &BTreeSet<String>, alive: &BTreeSet<String>) -> bool {
    if known.len() <= 2 {
        return true;
    }
    2 * known.intersection(alive).count() > known.len()
}

/// The known set of one speaker and its quorum verdict, fed by membership events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    this: String,
    known: BTreeSet<String>,
}

impl Fence {
    /// A fence for speaker `this`, which knows only itself.
    pub fn new(this: impl Into<String>) -> Self {
        let this = this.into();
        Self { known: BTreeSet::from([this.clone()]), this }
    }

    /// Counts these speakers as known before they are seen alive.
    pub fn expect(&mut self, names: impl IntoIterator<Item = String>) {
        self.known.extend(names);
    }

    /// A speaker was seen alive.
    pub fn up(&mut self, name: &str) {
        self.known.insert(name.to_owned());
    }

    /// A speaker left gracefully: it no longer counts until it is seen alive again.
    pub fn left(&mut self, name: &str) {
        if name != self.this {
            self.known.remove(name);
        }
    }

    /// A speaker the caller knows is gone for good (its Node object was deleted).
    pub fn forget(&mut self, name: &str) {
        self.left(name);
    }

    pub fn known(&self) -> &BTreeSet<String> {
        &self.known
    }

    /// Whether this speaker, seeing `alive` (itself included or not), has quorum.
    pub fn has_quorum(&self, alive: &BTreeSet<String>) -> bool {
        let mut alive = alive.clone();
        alive.insert(self.this.clone());
        has_quorum(&self.known, &alive)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &str) -> BTreeSet<String> {
        names.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn quorum_table_for_one_to_five_known_speakers() {
        // (known, alive, quorum)
        let table = [
            ("a", "a", true),
            ("a b", "a b", true),
            ("a b", "a", true),
            ("a b c", "a b c", true),
            ("a b c", "a b", true),
            ("a b c", "a", false),
            ("a b c d", "a b c", true),
            ("a b c d", "a b", false),
            ("a b c d e", "a b c", true),
            ("a b c d e", "a b", false),
            ("a b c d e", "a", false),
        ];
        for (known, alive, quorum) in table {
            assert_eq!(has_quorum(&set(known), &set(alive)), quorum, "known={known} alive={alive}");
        }
    }

    #[test]
    fn alive_speakers_that_are_not_known_do_not_count() {
        assert!(!has_quorum(&set("a b c"), &set("a x y")));
    }

    #[test]
    fn the_survivor_of_two_keeps_serving() {
        let mut f = Fence::new("a");
        f.up("b");
        assert!(f.has_quorum(&set("a")));
    }

    #[test]
    fn the_minority_side_of_a_partition_is_fenced_and_the_majority_is_not() {
        let mut a = Fence::new("a");
        let mut c = Fence::new("c");
        for n in ["a", "b", "c", "d", "e"] {
            a.up(n);
            c.up(n);
        }
        assert!(a.has_quorum(&set("a b e")));
        assert!(!c.has_quorum(&set("c d")));
    }

    #[test]
    fn a_rolling_restart_never_fences_the_rest() {
        let mut a = Fence::new("a");
        for n in ["b", "c"] {
            a.up(n);
        }
        for restarting in ["b", "c"] {
            a.left(restarting);
            let alive: BTreeSet<String> = set("a b c").into_iter().filter(|n| n != restarting).collect();
            assert!(a.has_quorum(&alive), "while {restarting} restarts");
            a.up(restarting);
        }
        assert_eq!(a.known(), &set("a b c"));
    }

    #[test]
    fn a_graceful_leave_shrinks_the_quorum_and_a_crash_does_not() {
        let mut a = Fence::new("a");
        for n in ["b", "c", "d"] {
            a.up(n);
        }
        a.left("b");
        assert!(a.has_quorum(&set("a c")), "2 of 3 known after b left");
        assert!(!a.has_quorum(&set("a")), "c and d crashed: 1 of 3");
    }

    #[test]
    fn a_rejoining_speaker_counts_again() {
        let mut c = Fence::new("c");
        for n in ["a", "b"] {
            c.up(n);
        }
        assert!(!c.has_quorum(&set("c")));
        c.up("a");
        assert!(c.has_quorum(&set("a c")));
    }

    #[test]
    fn a_speaker_never_forgets_itself() {
        let mut a = Fence::new("a");
        a.left("a");
        a.forget("a");
        assert_eq!(a.known(), &set("a"));
    }

    #[test]
    fn expected_speakers_fence_a_node_that_starts_inside_a_partition() {
        let mut a = Fence::new("a");
        assert!(a.has_quorum(&set("")));
        a.expect(["b".to_owned(), "c".to_owned()]);
        assert!(!a.has_quorum(&set("")));
    }
}
