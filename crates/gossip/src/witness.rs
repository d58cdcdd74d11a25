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
//! speaker saw it change recently), never by comparing the writers' wall clocks. Shortly after
//! a lost quorum a fresh heartbeat is evidence of life; after a grace (one renewal and one
//! reading) only a renewal seen since the loss is, so the survivor of a double failure is
//! dark for the grace only, not for a whole validity.

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
    /// The speakers whose heartbeat is fresh, and when each was last renewed.
    Alive(Renewals),
}

/// The fresh heartbeats of one reading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Renewals {
    pub fresh: BTreeMap<String, Renewed>,
    /// How long after a lost quorum every fresh heartbeat still counts as evidence of life:
    /// long enough for every live speaker to renew once and for this one to see it. After
    /// that only a renewal seen since the loss counts.
    pub grace: Duration,
}

impl Renewals {
    pub fn names(&self) -> BTreeSet<String> {
        self.fresh.keys().cloned().collect()
    }
}

/// What is known of a fresh heartbeat's latest renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// Within the first validity after this speaker started reading: presumed renewed (a
    /// speaker cut off at start-up must not answer beside the majority).
    Presumed,
    /// Renewed no earlier than this instant: the reading before the one that saw it change.
    /// A heartbeat a speaker wrote just before it died is seen to change up to one reading
    /// later; only a change bounded below by the moment gossip lost the quorum proves that
    /// the speaker outlived that moment.
    After(Instant),
}

/// What gossip shows: the speakers known this epoch, those reachable now (alive and not
/// suspected, this one included), whether they are a quorum, and since when they are not.
#[derive(Debug, Clone, Copy)]
pub struct GossipQuorum<'a> {
    pub known: &'a BTreeSet<String>,
    pub reachable: &'a BTreeSet<String>,
    pub quorum: bool,
    pub lost_at: Option<Instant>,
}

/// Whether a speaker must stop answering.
///
/// Without quorum it fences at once while the heartbeats of the speakers it cannot hear are
/// fresh: the majority takes a cut-off speaker's addresses within a detection time, so the
/// minority must go quiet before it can know more. Within the grace the live ones renew and
/// this speaker sees it; after the grace only a renewal seen since the loss counts. A
/// speaker that died a moment before the loss leaves a heartbeat that still looks fresh for a
/// whole validity: counting it past the grace would keep the survivor of a double failure
/// dark until it expires.
pub fn must_fence(mode: FenceMode, gossip: GossipQuorum<'_>, witness: &Witness, now: Instant) -> bool {
    if gossip.quorum {
        return false;
    }
    let renewals = match (mode, witness) {
        (FenceMode::Strict, _) => return true,
        (FenceMode::Witnessed, Witness::Unreachable) => return false,
        (FenceMode::Witnessed, Witness::Alive(renewals)) => renewals,
    };
    let lost = gossip.lost_at.unwrap_or(now);
    let in_grace = now.saturating_duration_since(lost) < renewals.grace;
    let evidence = renewals.fresh.iter().filter(|(_, renewed)| match renewed {
        Renewed::Presumed => true,
        Renewed::After(at) => in_grace || *at >= lost,
    });
    let alive: BTreeSet<String> = gossip.reachable.iter().cloned().chain(evidence.map(|(n, _)| n.clone())).collect();
    has_quorum(gossip.known, &alive)
}

/// Turns successive readings of the heartbeats (name → whatever changes with each renewal)
/// into the fresh ones and what is known of their renewals.
#[derive(Debug, Clone)]
pub struct Heartbeats {
    started: Instant,
    validity: Duration,
    grace: Duration,
    /// Last token seen per name, and the bounds of its last change: after the reading before,
    /// seen at the reading that saw it (`None`: unchanged since the first reading, which may
    /// be a leftover of a speaker that is gone).
    seen: BTreeMap<String, (String, Option<(Instant, Instant)>)>,
    last_read: Option<Instant>,
}

impl Heartbeats {
    /// `validity`: how long a heartbeat stays fresh after it changed (a few renewal
    /// intervals); `grace`: see [`Renewals::grace`] (capped by the validity).
    pub fn new(validity: Duration, grace: Duration, now: Instant) -> Self {
        Self { started: now, validity, grace: grace.min(validity), seen: BTreeMap::new(), last_read: None }
    }

    /// Records one reading of every heartbeat.
    pub fn observe(&mut self, reading: impl IntoIterator<Item = (String, String)>, now: Instant) {
        let reading: BTreeMap<String, String> = reading.into_iter().collect();
        let previous = self.last_read;
        self.seen.retain(|name, _| reading.contains_key(name));
        for (name, token) in reading {
            match self.seen.get_mut(&name) {
                Some((old, changed)) => {
                    if *old != token {
                        *old = token;
                        // an entry exists only after a first reading
                        *changed = Some((previous.unwrap_or(now), now));
                    }
                }
                None => {
                    // one that appears after the first reading was written since the last one
                    let changed = previous.map(|p| (p, now));
                    self.seen.insert(name, (token, changed));
                }
            }
        }
        self.last_read = Some(now);
    }

    fn starting(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) < self.validity
    }

    /// The heartbeats that changed within the validity. During the first validity after
    /// start a heartbeat not yet seen to change counts too: it may well be renewed, and
    /// guessing "dead" would let a speaker cut off at start-up answer beside the majority.
    pub fn fresh(&self, now: Instant) -> BTreeSet<String> {
        self.renewals(now).names()
    }

    /// The fresh heartbeats with what is known of their last renewal (all presumed during
    /// the first validity after start, when nothing can be told apart yet).
    pub fn renewals(&self, now: Instant) -> Renewals {
        let starting = self.starting(now);
        let fresh = self
            .seen
            .iter()
            .filter_map(|(name, (_, changed))| {
                let renewed = match changed {
                    Some((_, seen_at)) if now.saturating_duration_since(*seen_at) >= self.validity => return None,
                    _ if starting => Renewed::Presumed,
                    Some((after, _)) => Renewed::After(*after),
                    None => return None,
                };
                Some((name.clone(), renewed))
            })
            .collect();
        Renewals { fresh, grace: self.grace }
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

    const GRACE: Duration = Duration::from_secs(2);

    fn renewals(entries: &[(&str, Renewed)]) -> Witness {
        let fresh = entries.iter().map(|(n, r)| ((*n).to_owned(), *r)).collect();
        Witness::Alive(Renewals { fresh, grace: GRACE })
    }

    #[test]
    fn the_fencing_rule_by_case() {
        let t0 = Instant::now();
        let lost = t0 + Duration::from_secs(10);
        let soon = lost + Duration::from_secs(1);
        let later = lost + Duration::from_secs(3);
        let known = set("a b c");
        let before = Renewed::After(lost - Duration::from_millis(300));
        let since = Renewed::After(lost + Duration::from_millis(200));
        let p = Renewed::Presumed;
        // (mode, reachable by gossip, quorum, witness, now, fenced)
        let cases = [
            (FenceMode::Witnessed, "a b c", true, renewals(&[]), soon, false),
            (FenceMode::Witnessed, "a b", true, Witness::Unreachable, soon, false),
            // b and c renewed after gossip lost them: cut off from a live majority
            (FenceMode::Witnessed, "a", false, renewals(&[("a", since), ("b", since), ("c", since)]), later, true),
            // b alive but unheard: a majority may be serving without us (as quorum alone decides)
            (FenceMode::Witnessed, "a", false, renewals(&[("a", since), ("b", since)]), later, true),
            // presumed alive at start-up
            (FenceMode::Witnessed, "a", false, renewals(&[("b", p), ("c", p)]), later, true),
            // fresh, last renewed before the loss: alive as far as anyone can tell yet...
            (FenceMode::Witnessed, "a", false, renewals(&[("a", since), ("b", before), ("c", before)]), soon, true),
            // ...but not renewed within the grace: dead
            (FenceMode::Witnessed, "a", false, renewals(&[("a", since), ("b", before), ("c", before)]), later, false),
            (FenceMode::Witnessed, "a", false, renewals(&[("a", since)]), soon, false),
            (FenceMode::Witnessed, "a", false, Witness::Unreachable, soon, false),
            (FenceMode::Strict, "a", false, renewals(&[("a", since)]), later, true),
            (FenceMode::Strict, "a", false, Witness::Unreachable, soon, true),
            (FenceMode::Strict, "a b", true, Witness::Unreachable, soon, false),
        ];
        for (mode, reachable, quorum, witness, now, fenced) in cases {
            let reachable = set(reachable);
            let gossip = GossipQuorum { known: &known, reachable: &reachable, quorum, lost_at: Some(lost) };
            assert_eq!(must_fence(mode, gossip, &witness, now), fenced, "{mode:?} {reachable:?} {witness:?}");
        }
    }

    /// Readings every 250 ms, renewals every second; gossip loses the quorum at 10.4 s. `dead`:
    /// whether b and c stop renewing at 10 s. Returns the verdict at each reading from the loss.
    fn fencing_after_loss(dead: bool) -> Vec<(Duration, bool)> {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let known = set("a b c");
        let reachable = set("a");
        let mut h = Heartbeats::new(Duration::from_secs(3), GRACE, t0);
        let lost = t0 + ms(10_400);
        let mut verdicts = Vec::new();
        for step in 0..=80u64 {
            let now = t0 + ms(250 * step);
            let beat = (step / 4) as u32;
            let others = if dead { beat.min(10) } else { beat };
            h.observe(reading(&[("a", beat), ("b", others), ("c", others)]), now);
            if now < lost {
                continue;
            }
            let gossip = GossipQuorum { known: &known, reachable: &reachable, quorum: false, lost_at: Some(lost) };
            verdicts
                .push((now - lost, must_fence(FenceMode::Witnessed, gossip, &Witness::Alive(h.renewals(now)), now)));
        }
        verdicts
    }

    #[test]
    fn the_survivor_of_a_double_failure_is_fenced_for_the_grace_only() {
        let verdicts = fencing_after_loss(true);
        let serving = verdicts.iter().find(|(_, fenced)| !fenced).map(|(at, _)| *at).expect("serves");
        assert_eq!(serving, Duration::from_millis(2_100), "at the first reading after the grace");
        assert!(verdicts.iter().all(|(at, fenced)| *fenced == (*at < serving)), "{verdicts:?}");
    }

    #[test]
    fn a_speaker_cut_off_from_live_peers_stays_fenced() {
        let verdicts = fencing_after_loss(false);
        assert!(verdicts.iter().all(|(_, fenced)| *fenced), "{verdicts:?}");
    }

    #[test]
    fn a_renewal_is_bounded_below_by_the_reading_before_the_one_that_saw_it() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut h = Heartbeats::new(3 * s, 2 * s, t0);
        h.observe(reading(&[("a", 1)]), t0);
        h.observe(reading(&[("a", 1)]), t0 + 4 * s);
        h.observe(reading(&[("a", 2), ("d", 1)]), t0 + 5 * s);
        let r = h.renewals(t0 + 5 * s);
        assert_eq!(r.fresh.get("a"), Some(&Renewed::After(t0 + 4 * s)));
        assert_eq!(r.fresh.get("d"), Some(&Renewed::After(t0 + 4 * s)), "appeared since the last reading");
        assert_eq!(h.renewals(t0 + s).fresh.get("a"), Some(&Renewed::Presumed), "first validity: presumed");
    }

    #[test]
    fn a_heartbeat_is_fresh_while_it_keeps_changing() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut h = Heartbeats::new(3 * s, 2 * s, t0);
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
        let mut h = Heartbeats::new(3 * s, 2 * s, t0);
        h.observe(reading(&[("a", 1)]), t0);
        h.observe(reading(&[("a", 2), ("d", 1)]), t0 + 5 * s);
        assert_eq!(h.fresh(t0 + 5 * s), set("a d"));
        h.observe(reading(&[("d", 2)]), t0 + 6 * s);
        assert_eq!(h.fresh(t0 + 6 * s), set("d"));
    }
}
