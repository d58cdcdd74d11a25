//! What one member knows about another, which news wins, and when a suspicion runs out.
//!
//! News about a member is ordered by (boot generation, incarnation, state rank): a later
//! boot replaces an earlier one; within a boot, a higher incarnation wins whatever the state
//! (SWIM §4.2: an alive message with a higher incarnation overrides a suspicion), and at equal
//! incarnation suspect beats alive and dead beats suspect. Unlike SWIM's paper, and like
//! memberlist, "dead" is not final: a member wrongly declared dead refutes with a higher
//! incarnation and is alive again under the same identity, without a new boot.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::wire::{Peer, Status, Update};

/// The state of a known member.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    Alive,
    Suspect(Suspicion),
    Dead,
    Left,
}

impl State {
    fn rank(&self) -> u8 {
        match self {
            State::Alive => 0,
            State::Suspect(_) => 1,
            State::Dead => 2,
            State::Left => 3,
        }
    }

    /// Alive or suspected: still a candidate for the Layer 2 election and for quorum.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, State::Alive | State::Suspect(_))
    }
}

/// A suspicion in progress (Lifeguard's dynamic suspicion, Dadgar et al. 2018 §IV-B): the
/// timeout starts long and shrinks logarithmically with each independent accuser, so one
/// member's lossy link is refuted in time while a crash seen by several members is declared
/// quickly.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Suspicion {
    pub(crate) started: Instant,
    /// Members whose own probe failed; the first raised the suspicion.
    pub(crate) accusers: BTreeSet<String>,
    /// The last authenticated datagram received from the suspect itself. A fresh datagram
    /// (replays are refused) is proof of life: the clock restarts from it, so only a member
    /// silent towards us for the whole timeout is declared dead.
    pub(crate) heard: Option<Instant>,
}

/// The bounds of a suspicion timeout and how many accusers bring it to the minimum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SuspicionBounds {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    /// Independent confirmations expected for a real failure (the indirect probers that exist).
    pub(crate) expected: usize,
}

impl Suspicion {
    pub(crate) fn new(accuser: String, now: Instant) -> Self {
        Self { started: now, accusers: BTreeSet::from([accuser]), heard: None }
    }

    /// The timeout after `confirmations` accusers beyond the first: `max` with none, `min` once
    /// `expected` have confirmed, logarithmic in between.
    pub(crate) fn timeout(bounds: SuspicionBounds, confirmations: usize) -> Duration {
        if bounds.expected == 0 || confirmations >= bounds.expected || bounds.max <= bounds.min {
            return bounds.min;
        }
        let fraction = ((confirmations + 1) as f64).ln() / ((bounds.expected + 1) as f64).ln();
        let span = bounds.max - bounds.min;
        bounds.max - span.mul_f64(fraction.clamp(0.0, 1.0))
    }

    /// When this suspicion turns into a declaration of death.
    pub(crate) fn deadline(&self, bounds: SuspicionBounds) -> Instant {
        let from = self.heard.map_or(self.started, |heard| heard.max(self.started));
        from + Self::timeout(bounds, self.accusers.len().saturating_sub(1))
    }
}

/// Another member as this one knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) peer: Peer,
    pub(crate) state: State,
    /// When the state last changed (dead records are forgotten after a while).
    pub(crate) since: Instant,
}

impl Member {
    pub(crate) fn new(update: &Update, now: Instant) -> Self {
        Self { peer: update.peer.clone(), state: state_of(&update.status, now), since: now }
    }

    /// The update that describes this member as held.
    pub(crate) fn update(&self) -> Update {
        let status = match &self.state {
            State::Alive => Status::Alive,
            // The first accuser: every holder names the same one for the same incarnation.
            State::Suspect(s) => Status::Suspect { accuser: s.accusers.first().cloned().unwrap_or_default() },
            State::Dead => Status::Dead,
            State::Left => Status::Left,
        };
        Update { peer: self.peer.clone(), status }
    }

    /// How `update` compares with what is held: greater means it is newer news.
    pub(crate) fn compare(&self, update: &Update) -> Ordering {
        let theirs = (update.peer.generation, update.peer.incarnation, status_rank(&update.status));
        let ours = (self.peer.generation, self.peer.incarnation, self.state.rank());
        theirs.cmp(&ours)
    }
}

pub(crate) fn state_of(status: &Status, now: Instant) -> State {
    match status {
        Status::Alive => State::Alive,
        Status::Suspect { accuser } => State::Suspect(Suspicion::new(accuser.clone(), now)),
        Status::Dead => State::Dead,
        Status::Left => State::Left,
    }
}

fn status_rank(status: &Status) -> u8 {
    match status {
        Status::Alive => 0,
        Status::Suspect { .. } => 1,
        Status::Dead => 2,
        Status::Left => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn bounds(expected: usize) -> SuspicionBounds {
        SuspicionBounds { min: 400 * MS, max: 1600 * MS, expected }
    }

    fn update(generation: u64, incarnation: u64, status: Status) -> Update {
        Update { peer: Peer { name: "b".into(), addr: "10.0.0.2:1".parse().unwrap(), generation, incarnation }, status }
    }

    #[test]
    fn the_timeout_starts_at_the_maximum_and_reaches_the_minimum_with_every_expected_confirmation() {
        assert_eq!(Suspicion::timeout(bounds(3), 0), 1600 * MS);
        let one = Suspicion::timeout(bounds(3), 1);
        let two = Suspicion::timeout(bounds(3), 2);
        assert!(1600 * MS > one && one > two && two > 400 * MS, "{one:?} {two:?}");
        assert_eq!(Suspicion::timeout(bounds(3), 3), 400 * MS);
        assert_eq!(Suspicion::timeout(bounds(3), 9), 400 * MS);
        // nobody can confirm in a two-member cluster
        assert_eq!(Suspicion::timeout(bounds(0), 0), 400 * MS);
    }

    #[test]
    fn hearing_from_the_suspect_restarts_the_clock() {
        let t0 = Instant::now();
        let mut s = Suspicion::new("a".into(), t0);
        assert_eq!(s.deadline(bounds(1)), t0 + 1600 * MS);
        s.heard = Some(t0 + 500 * MS);
        assert_eq!(s.deadline(bounds(1)), t0 + 2100 * MS);
        s.accusers.insert("c".into());
        assert_eq!(s.deadline(bounds(1)), t0 + 900 * MS);
    }

    #[test]
    fn news_is_ordered_by_boot_then_incarnation_then_state() {
        let now = Instant::now();
        let held = Member::new(&update(2, 5, Status::Suspect { accuser: "a".into() }), now);
        assert_eq!(held.compare(&update(3, 0, Status::Alive)), Ordering::Greater, "a later boot");
        assert_eq!(held.compare(&update(1, 9, Status::Alive)), Ordering::Less, "an earlier boot");
        assert_eq!(held.compare(&update(2, 6, Status::Alive)), Ordering::Greater, "a refutation");
        assert_eq!(held.compare(&update(2, 5, Status::Alive)), Ordering::Less);
        assert_eq!(held.compare(&update(2, 5, Status::Suspect { accuser: "c".into() })), Ordering::Equal);
        assert_eq!(held.compare(&update(2, 5, Status::Dead)), Ordering::Greater);
        let dead = Member::new(&update(2, 5, Status::Dead), now);
        assert_eq!(dead.compare(&update(2, 6, Status::Alive)), Ordering::Greater, "dead is not final");
        assert_eq!(dead.compare(&update(2, 5, Status::Left)), Ordering::Greater, "a leave explains a death");
    }
}
