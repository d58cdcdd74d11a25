//! When to send gratuitous ARP / unsolicited NA bursts (docs/compatibility.md §4.2): at takeover, then
//! every 1.1 s until 5 s have passed, so a neighbour that missed one packet still moves
//! its cache entry within seconds; plus an optional steady refresh (docs/compatibility.md §9.12) for
//! switches and hosts that age entries out or missed the takeover entirely.
//!
//! Pure: the caller passes the current instant and asks for the next deadline, so tests
//! step time by hand and never sleep.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Timing of the bursts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GratuitousConfig {
    /// Gap between bursts after a takeover (MetalLB: 1.1 s).
    pub interval: Duration,
    /// A burst is due while less than this has passed since the (re)trigger (MetalLB: 5 s).
    pub duration: Duration,
    /// After the takeover bursts, one burst every `refresh` while announced; off by default
    /// (MetalLB never refreshes).
    pub refresh: Option<Duration>,
}

impl Default for GratuitousConfig {
    fn default() -> Self {
        GratuitousConfig { interval: Duration::from_millis(1100), duration: Duration::from_secs(5), refresh: None }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When the current takeover series started; `None` once it is over (refresh only).
    started: Option<Instant>,
    next: Instant,
}

/// The per-IP burst timers.
#[derive(Debug, Clone, Default)]
pub struct GratuitousSchedule {
    config: GratuitousConfig,
    entries: BTreeMap<IpAddr, Entry>,
}

impl GratuitousSchedule {
    /// A zero interval or refresh would never advance; they are raised to 1 ms and
    /// disabled respectively.
    pub fn new(mut config: GratuitousConfig) -> Self {
        config.interval = config.interval.max(Duration::from_millis(1));
        config.refresh = config.refresh.filter(|r| !r.is_zero());
        GratuitousSchedule { config, entries: BTreeMap::new() }
    }

    /// A takeover of `ip` at `now`. Returns true when a burst is due right away: on a new
    /// series; a re-trigger during a running series only restarts its 5 s window, as
    /// MetalLB's spam loop does.
    pub fn trigger(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.entries.get_mut(&ip) {
            Some(Entry { started: Some(started), .. }) => {
                *started = now;
                false
            }
            _ => {
                self.entries.insert(ip, Entry { started: Some(now), next: now + self.config.interval });
                true
            }
        }
    }

    /// Stops all bursts for `ip` (withdrawn: no more gratuitous packets).
    pub fn cancel(&mut self, ip: IpAddr) {
        self.entries.remove(&ip);
    }

    /// The IPs whose burst is due at `now`, advancing their timers; series that have run
    /// their course end, or fall back to the refresh interval when one is configured.
    pub fn due(&mut self, now: Instant) -> Vec<IpAddr> {
        let (interval, duration, refresh) = (self.config.interval, self.config.duration, self.config.refresh);
        let mut due = Vec::new();
        self.entries.retain(|ip, entry| {
            while entry.next <= now {
                match entry.started {
                    Some(started) if entry.next.saturating_duration_since(started) <= duration => {
                        if !due.contains(ip) {
                            due.push(*ip);
                        }
                        entry.next += interval;
                    }
                    Some(_) => match refresh {
                        Some(refresh) => {
                            entry.started = None;
                            entry.next = entry.next - interval + refresh;
                        }
                        None => return false,
                    },
                    None => {
                        let Some(refresh) = refresh else { return false };
                        if !due.contains(ip) {
                            due.push(*ip);
                        }
                        entry.next += refresh;
                    }
                }
            }
            true
        });
        due
    }

    /// The earliest instant at which [`GratuitousSchedule::due`] has work: the driver's
    /// one timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().map(|e| e.next).min()
    }

    /// True while `ip` has a takeover series or refresh pending.
    pub fn is_scheduled(&self, ip: IpAddr) -> bool {
        self.entries.contains_key(&ip)
    }
}
