//! A session's settings as a BFDProfile gives them: plain data, so the crates that decide
//! (which build this crate without its driver) can speak of them.

use std::time::Duration;

use crate::fsm::Timers;

/// The settings of one session, from a BFDProfile (docs/compatibility.md §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    /// `receiveInterval`: our Required Min RX Interval, in milliseconds.
    pub receive_interval_ms: u32,
    /// `transmitInterval`: our Desired Min TX Interval once Up, in milliseconds.
    pub transmit_interval_ms: u32,
    /// `detectMultiplier`.
    pub detect_multiplier: u8,
    /// `passiveMode`: send nothing until the peer has sent something.
    pub passive: bool,
    /// `minimumTtl`: multi-hop packets arriving with a lower TTL are dropped.
    pub minimum_ttl: u8,
    /// `echoMode`: run the Echo function (RFC 5880 §6.4) on single-hop IPv4 sessions.
    pub echo_mode: bool,
    /// `echoInterval`, in milliseconds: our echo transmit interval and the Required Min
    /// Echo RX Interval we advertise (FRR's `echo-interval`, which sets both).
    pub echo_interval_ms: u32,
}

impl Default for Profile {
    /// The BFDProfile defaults (FRR's): 300 ms, 300 ms, 3, active, minimum TTL 254, no echo
    /// (50 ms when turned on).
    fn default() -> Self {
        Self {
            receive_interval_ms: 300,
            transmit_interval_ms: 300,
            detect_multiplier: 3,
            passive: false,
            minimum_ttl: 254,
            echo_mode: false,
            echo_interval_ms: 50,
        }
    }
}

impl Profile {
    /// The FSM's timers for these settings.
    pub fn timers(&self) -> Timers {
        Timers {
            desired_min_tx: Duration::from_millis(self.transmit_interval_ms.into()),
            required_min_rx: Duration::from_millis(self.receive_interval_ms.into()),
            detect_multiplier: self.detect_multiplier,
        }
    }

    /// The echo interval for [`crate::FsmConfig::echo`] when echo mode is on and the session
    /// can run it: single-hop IPv4 only, as FRR (RFC 5883 §3 rules echo out of multi-hop
    /// sessions; FRR loops IPv4 echoes only, and MetalLB refuses echo with IPv6 pools).
    pub fn echo(&self, ipv4: bool, multihop: bool) -> Option<Duration> {
        (self.echo_mode && ipv4 && !multihop && self.echo_interval_ms > 0)
            .then(|| Duration::from_millis(self.echo_interval_ms.into()))
    }
}
