//! Protocol timers, tuned for sub-second failover on a LAN.
//!
//! SWIM (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
//! Membership Protocol", DSN 2002) detects a failure in two steps: a probe round (§3.1: direct
//! ping, then `k` indirect pings through other members) marks the member *suspect*, and the
//! suspicion (§4.2) turns into *dead* unless the member refutes it with a higher incarnation
//! number first. Lifeguard (Dadgar et al., DSN 2018) makes the suspicion timeout dynamic: it
//! starts at `suspicion_max_multiplier` times the minimum and falls, logarithmically in the
//! number of independent accusers, to the minimum
//!
//! ```text
//! suspicion_min = suspicion_multiplier × probe_period × max(1, log10(n))
//! ```
//!
//! once `k' = min(indirect_probes, n - 2)` other members have confirmed it (a two-member
//! cluster has nobody to confirm, and uses the minimum). A member that hears of a suspicion
//! probes the suspect next, so after a real crash the confirmations arrive within a few probe
//! periods and gossip intervals. Detection on a quiet network is therefore at most
//!
//! ```text
//! T_detect ≈ T_wait + probe_period + max(suspicion_min, T_confirm) + T_spread
//! ```
//!
//! where `T_wait` (until some member probes the dead one) is at most one `probe_period`,
//! `T_confirm` (the other members hear the suspicion, probe, and their accusations come back)
//! up to four probe periods and four gossip intervals, and `T_spread` one gossip interval.
//! With the defaults that bounds it at 0.7 s for two members and 1.1 s for more; the median
//! is about 0.55 s whatever the size (`cargo bench -p ferrolb-gossip --bench detection`),
//! against 4-6 s for MetalLB's memberlist LAN profile (docs/design.md, Performance targets).
//!
//! A suspicion raised by one member alone (its own link lost the datagrams) waits the maximum
//! (1.6 s by default), ample time for the suspect, told directly every gossip interval, to
//! refute; a member that keeps missing acks stretches its probe interval and timeout by its
//! local health multiplier (up to `max_local_health + 1`). Slower or lossier networks raise
//! `probe_timeout` (to a high percentile of the RTT), `probe_period` (≥ 2 × `probe_timeout`)
//! and the multipliers.

use std::time::Duration;

use thiserror::Error;

/// Default UDP port, the same as memberlist's (MetalLB `METALLB_ML_BIND_PORT`).
pub const DEFAULT_PORT: u16 = 7946;

/// Bytes this crate adds around a SWIM payload: the sealed header for the longest sender name
/// and the AEAD tag ([`crate::seal`]).
pub(crate) const ENVELOPE_OVERHEAD: usize = crate::seal::SEAL_OVERHEAD;

/// Timers and fan-outs of the failure detector. See the module documentation for how they add
/// up to the detection time.
#[derive(Debug, Clone, PartialEq)]
pub struct Timers {
    /// How often this member probes one other member (SWIM's protocol period T').
    pub probe_period: Duration,
    /// How long to wait for the direct ack before asking others to probe (a high percentile of
    /// the RTT); must be shorter than `probe_period`.
    pub probe_timeout: Duration,
    /// Members asked to probe indirectly when the direct probe times out (SWIM's `k`).
    pub indirect_probes: usize,
    /// Minimum suspicion timeout in probe periods, before scaling by `max(1, log10(n))`.
    pub suspicion_multiplier: f64,
    /// The suspicion timeout with no confirmation, as a multiple of the minimum (Lifeguard's
    /// dynamic suspicion).
    pub suspicion_max_multiplier: f64,
    /// The highest local health score: a member that misses acks multiplies its own probe
    /// interval and timeout by up to this plus one (Lifeguard's local health awareness).
    pub max_local_health: u32,
    /// How often updates are also pushed to a few members outside the probe cycle, so a
    /// suspicion reaches its target (and the refutation comes back) well within the timeout.
    pub gossip_interval: Duration,
    /// Members each periodic gossip goes to.
    pub gossip_fanout: usize,
    /// How often seeds that are not members are asked to let this member in again, which also
    /// heals partitions and covers speakers that start before their peers.
    pub rejoin_interval: Duration,
    /// Largest datagram sent or accepted, envelope included (keep it under the path MTU).
    pub max_datagram: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            probe_period: Duration::from_millis(100),
            probe_timeout: Duration::from_millis(50),
            indirect_probes: 3,
            suspicion_multiplier: 4.0,
            suspicion_max_multiplier: 4.0,
            max_local_health: 8,
            gossip_interval: Duration::from_millis(100),
            gossip_fanout: 3,
            rejoin_interval: Duration::from_secs(1),
            max_datagram: 1400,
        }
    }
}

/// A timer combination the failure detector cannot run with.
#[derive(Debug, Error, PartialEq)]
pub enum TimersError {
    #[error("probe_timeout ({timeout:?}) must be non-zero and shorter than probe_period ({period:?})")]
    ProbeTimeout { timeout: Duration, period: Duration },
    #[error("{field} must be greater than zero")]
    Zero { field: &'static str },
    #[error("suspicion_multiplier must be a finite number >= 1, got {0}")]
    SuspicionMultiplier(f64),
    #[error("suspicion_max_multiplier must be a finite number between 1 and 100, got {0}")]
    SuspicionMaxMultiplier(f64),
    #[error("max_local_health must be at most 100, got {0}")]
    MaxLocalHealth(u32),
    #[error("max_datagram must be between 512 and 65507 bytes, got {0}")]
    MaxDatagram(usize),
}

impl Timers {
    /// Checks the invariants the engine relies on.
    pub fn validate(&self) -> Result<(), TimersError> {
        if self.probe_timeout.is_zero() || self.probe_timeout >= self.probe_period {
            return Err(TimersError::ProbeTimeout { timeout: self.probe_timeout, period: self.probe_period });
        }
        for (field, zero) in [
            ("indirect_probes", self.indirect_probes == 0),
            ("gossip_interval", self.gossip_interval.is_zero()),
            ("gossip_fanout", self.gossip_fanout == 0),
            ("rejoin_interval", self.rejoin_interval.is_zero()),
        ] {
            if zero {
                return Err(TimersError::Zero { field });
            }
        }
        if !self.suspicion_multiplier.is_finite() || self.suspicion_multiplier < 1.0 {
            return Err(TimersError::SuspicionMultiplier(self.suspicion_multiplier));
        }
        if !self.suspicion_max_multiplier.is_finite() || !(1.0..=100.0).contains(&self.suspicion_max_multiplier) {
            return Err(TimersError::SuspicionMaxMultiplier(self.suspicion_max_multiplier));
        }
        if self.max_local_health > 100 {
            return Err(TimersError::MaxLocalHealth(self.max_local_health));
        }
        if !(512..=65507).contains(&self.max_datagram) {
            return Err(TimersError::MaxDatagram(self.max_datagram));
        }
        Ok(())
    }

    /// The minimum suspicion timeout for a cluster of `n` live members: Lifeguard/memberlist's
    /// scaling (`max(1, log10(n))`), because an update needs O(log n) gossip rounds to reach
    /// everyone (SWIM §4.1) and the suspect must hear of the suspicion to refute it.
    pub fn suspicion_timeout(&self, n: usize) -> Duration {
        let scale = (n.max(1) as f64).log10().max(1.0);
        self.probe_period.mul_f64(self.suspicion_multiplier * scale)
    }

    /// The confirmations that bring a suspicion to its minimum in a cluster of `n`: the
    /// members other than the accuser and the suspect, at most `indirect_probes`.
    pub fn expected_confirmations(&self, n: usize) -> usize {
        n.saturating_sub(2).min(self.indirect_probes)
    }

    /// Worst-case detection time on a quiet network for `n` live members (see the module
    /// documentation): one period waiting to be probed, the probe itself, the suspicion (or
    /// the confirmations, if they take longer), and one gossip interval to spread the verdict.
    pub fn expected_detection(&self, n: usize) -> Duration {
        let min = self.suspicion_timeout(n);
        let suspicion = if self.expected_confirmations(n) == 0 {
            min
        } else {
            min.max(self.probe_period * 4 + self.gossip_interval * 4)
        };
        self.probe_period * 2 + suspicion + self.gossip_interval
    }

    pub(crate) fn suspicion_bounds(&self, n: usize) -> crate::member::SuspicionBounds {
        let min = self.suspicion_timeout(n);
        crate::member::SuspicionBounds {
            min,
            max: min.mul_f64(self.suspicion_max_multiplier),
            expected: self.expected_confirmations(n),
        }
    }

    /// Times an update is piggybacked: `4 × log10(n + 1)` as memberlist's retransmit
    /// multiplier, at least 3 so small clusters still survive a lost datagram or two.
    pub(crate) fn max_transmissions(&self, n: usize) -> u32 {
        (4.0 * ((n + 1) as f64).log10()).ceil().clamp(3.0, 255.0) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_detect_within_about_a_second() {
        let t = Timers::default();
        assert_eq!(t.validate(), Ok(()));
        for n in [2, 3, 5, 10] {
            assert!(t.expected_detection(n) <= Duration::from_millis(1200), "n={n}: {:?}", t.expected_detection(n));
        }
    }

    #[test]
    fn suspicion_grows_with_the_log_of_the_cluster_size() {
        let t = Timers::default();
        assert_eq!(t.suspicion_timeout(1), Duration::from_millis(400));
        assert_eq!(t.suspicion_timeout(10), Duration::from_millis(400));
        assert_eq!(t.suspicion_timeout(100), Duration::from_millis(800));
    }

    #[test]
    fn a_probe_timeout_not_shorter_than_the_period_is_rejected() {
        let t = Timers { probe_timeout: Duration::from_millis(100), ..Timers::default() };
        assert!(matches!(t.validate(), Err(TimersError::ProbeTimeout { .. })));
    }

    #[test]
    fn small_clusters_still_retransmit_each_update_three_times() {
        assert_eq!(Timers::default().max_transmissions(1), 3);
        assert_eq!(Timers::default().max_transmissions(100), 9);
    }
}
