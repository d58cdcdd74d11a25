//! Local health (Lifeguard's "local health aware probe", Dadgar et al. 2018 §IV-A): a member
//! that misses acks and nacks, or has to refute suspicions about itself, is more likely the
//! one in trouble (overloaded, or behind a lossy link) than the members it probes. It then
//! slows its own probing and waits longer before it accuses anyone, instead of spreading
//! false suspicions.

/// A score from 0 (healthy) to `max`; every timeout this member applies is multiplied by
/// `score + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Health {
    score: u32,
    max: u32,
}

impl Health {
    pub(crate) fn new(max: u32) -> Self {
        Self { score: 0, max }
    }

    /// A probe answered: evidence that this member's network works.
    pub(crate) fn probe_succeeded(&mut self) {
        self.score = self.score.saturating_sub(1);
    }

    /// A probe unanswered. With relays asked, each relay that did not even send its nack
    /// counts (our own link is the likely culprit); without relays the failure itself counts.
    pub(crate) fn probe_failed(&mut self, relays: u32, nacks: u32) {
        let penalty = if relays == 0 { 1 } else { relays.saturating_sub(nacks) };
        self.score = (self.score + penalty).min(self.max);
    }

    /// Someone suspected us: we missed their probes.
    pub(crate) fn refuted(&mut self) {
        self.score = (self.score + 1).min(self.max);
    }

    pub(crate) fn multiplier(&self) -> u32 {
        self.score + 1
    }

    #[cfg(test)]
    fn score(&self) -> u32 {
        self.score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_nacks_raise_the_score_up_to_the_cap_and_answers_bring_it_down() {
        let mut h = Health::new(4);
        assert_eq!(h.multiplier(), 1);
        h.probe_failed(3, 1);
        assert_eq!(h.score(), 2);
        h.probe_failed(3, 3);
        assert_eq!(h.score(), 2, "every relay answered: the target is the likely culprit");
        h.probe_failed(0, 0);
        h.refuted();
        h.refuted();
        assert_eq!(h.score(), 4);
        assert_eq!(h.multiplier(), 5);
        for _ in 0..10 {
            h.probe_succeeded();
        }
        assert_eq!(h.multiplier(), 1);
    }
}
