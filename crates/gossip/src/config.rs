//! Protocol timers, tuned for sub-second failover on a LAN.
//!
//! SWIM (Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
//! Membership Protocol", DSN 2002) detects a failure in two steps: a probe round (§3.1: direct
//! ping, then `k` indirect pings through other members) marks the member *suspect*, and the
//! suspicion (§4.2) turns into *down* unless the member refutes it with a higher incarnation
//! number before the suspicion timeout. Detection time on a quiet network is therefore
//!
//! ```text
//! T_detect ≈ T_wait + probe_period + suspicion + T_spread
//! suspicion = suspicion_multiplier × probe_period × max(1, log10(n))
//! ```
//!
//! where `T_wait` (until some member probes the dead one) is at most one `probe_period` with
//! two members and on average less with more (every member probes once per period), and
//! `T_spread` (the down update reaching everyone) is about one `gossip_interval`. With the
//! defaults and up to 10 speakers: 100 + 100 + 400 + 100 ms ≈ 0.6-0.7 s, against 4-6 s for
//! MetalLB's memberlist LAN profile (docs/design.md, Performance targets).
//!
//! The suspicion window is what keeps a loaded network from flapping: a member that missed a
//! probe because its acks were delayed or lost has `suspicion` to hear about it (piggybacked
//! on any message it receives) and refute. Slower or lossier networks raise `probe_timeout`
//! (to a high percentile of the RTT), `probe_period` (≥ 2 × `probe_timeout`) and the
//! multiplier.

use std::num::{NonZeroU8, NonZeroUsize};
use std::time::Duration;

use thiserror::Error;

/// Default UDP port, the same as memberlist's (MetalLB `METALLB_ML_BIND_PORT`).
pub const DEFAULT_PORT: u16 = 7946;

/// Bytes this crate adds around a SWIM payload: the sealed header for the longest sender name
/// and the AEAD tag ([`crate::seal`]), and the message kind.
pub(crate) const ENVELOPE_OVERHEAD: usize = crate::seal::SEAL_OVERHEAD + 1;

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
    /// Suspicion timeout in probe periods, before scaling by `max(1, log10(n))`.
    pub suspicion_multiplier: f64,
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
    #[error("max_datagram must be between 512 and 65507 bytes, got {0}")]
    MaxDatagram(usize),
}

impl Timers {
    /// Checks the invariants foca relies on (it panics or misbehaves otherwise).
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
        if !(512..=65507).contains(&self.max_datagram) {
            return Err(TimersError::MaxDatagram(self.max_datagram));
        }
        Ok(())
    }

    /// Suspicion timeout for a cluster of `n` live members: Lifeguard/memberlist's scaling
    /// (`max(1, log10(n))`), because an update needs O(log n) gossip rounds to reach everyone
    /// (SWIM §4.1) and the suspect must hear of the suspicion to refute it.
    pub fn suspicion_timeout(&self, n: usize) -> Duration {
        let scale = (n.max(1) as f64).log10().max(1.0);
        self.probe_period.mul_f64(self.suspicion_multiplier * scale)
    }

    /// Worst-case detection time on a quiet network for `n` live members (see the module
    /// documentation): one period waiting to be probed, the probe itself, the suspicion, and
    /// one gossip interval to spread the verdict.
    pub fn expected_detection(&self, n: usize) -> Duration {
        self.probe_period * 2 + self.suspicion_timeout(n) + self.gossip_interval
    }

    /// Times an update is piggybacked: `4 × log10(n + 1)` as memberlist's retransmit
    /// multiplier, at least 3 so small clusters still survive a lost datagram or two.
    fn max_transmissions(n: usize) -> NonZeroU8 {
        let tx = (4.0 * ((n + 1) as f64).log10()).ceil().clamp(3.0, 255.0) as u8;
        NonZeroU8::new(tx).unwrap_or(NonZeroU8::MIN)
    }

    /// The foca configuration for `n` live members. Invariants come from [`Timers::validate`].
    pub(crate) fn foca_config(&self, n: usize) -> foca::Config {
        let nz = |v: usize| NonZeroUsize::new(v).unwrap_or(NonZeroUsize::MIN);
        foca::Config {
            probe_period: self.probe_period,
            probe_rtt: self.probe_timeout,
            num_indirect_probes: nz(self.indirect_probes),
            max_transmissions: Self::max_transmissions(n),
            suspect_to_down_after: self.suspicion_timeout(n),
            // Identities carry a per-boot generation and renew themselves, so remembering a
            // down identity for a day only blocks stale copies of it, never a restarted node.
            remove_down_after: Some(Duration::from_secs(24 * 3600)),
            max_packet_size: nz(self.max_datagram.saturating_sub(ENVELOPE_OVERHEAD)),
            // A member wrongly declared down learns it at once and rejoins under a new
            // identity instead of talking into the void.
            notify_down_members: true,
            periodic_announce: Some(foca::PeriodicParams {
                frequency: Duration::from_secs(30),
                num_members: NonZeroUsize::MIN,
            }),
            periodic_announce_to_down_members: Some(foca::PeriodicParams {
                frequency: self.rejoin_interval,
                num_members: nz(2),
            }),
            periodic_gossip: Some(foca::PeriodicParams {
                frequency: self.gossip_interval,
                num_members: nz(self.gossip_fanout),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_detect_well_under_a_second() {
        let t = Timers::default();
        assert_eq!(t.validate(), Ok(()));
        for n in [2, 3, 5, 10] {
            assert!(t.expected_detection(n) < Duration::from_millis(800), "n={n}");
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
        assert_eq!(Timers::max_transmissions(1).get(), 3);
        assert_eq!(Timers::max_transmissions(100).get(), 9);
    }
}
