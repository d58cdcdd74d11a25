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
}

impl Default for Profile {
    /// The BFDProfile defaults (FRR's): 300 ms, 300 ms, 3, active, minimum TTL 254.
    fn default() -> Self {
        Self {
            receive_interval_ms: 300,
            transmit_interval_ms: 300,
            detect_multiplier: 3,
            passive: false,
            minimum_ttl: 254,
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
}
