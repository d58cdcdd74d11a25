//! The takeover burst schedule (docs/compatibility.md §4.2), stepped through time by hand.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ferrolb_l2::{GratuitousConfig, GratuitousSchedule};

const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 30, 0, 100));
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 30, 0, 101));

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs the schedule from `t0` to `t0 + until`, firing at every deadline, and returns the
/// burst times (relative to `t0`) for `ip`, the immediate one included.
fn bursts(schedule: &mut GratuitousSchedule, t0: Instant, ip: IpAddr, until: Duration) -> Vec<Duration> {
    let mut times = Vec::new();
    while let Some(deadline) = schedule.next_deadline() {
        if deadline > t0 + until {
            break;
        }
        if schedule.due(deadline).contains(&ip) {
            times.push(deadline - t0);
        }
    }
    times
}

#[test]
fn a_takeover_sends_at_once_then_every_1_1_s_for_5_s() {
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig::default());
    assert!(s.trigger(VIP, t0), "the first burst is immediate");
    let later = bursts(&mut s, t0, VIP, Duration::from_secs(60));
    assert_eq!(later, vec![ms(1100), ms(2200), ms(3300), ms(4400)], "five bursts in all");
    assert!(!s.is_scheduled(VIP));
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn a_retrigger_during_a_series_restarts_its_five_seconds_without_an_extra_burst() {
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig::default());
    s.trigger(VIP, t0);
    assert_eq!(s.due(t0 + ms(1100)), vec![VIP]);
    assert_eq!(s.due(t0 + ms(2200)), vec![VIP]);
    assert!(!s.trigger(VIP, t0 + ms(3000)));
    let later = bursts(&mut s, t0, VIP, Duration::from_secs(60));
    assert_eq!(later, vec![ms(3300), ms(4400), ms(5500), ms(6600), ms(7700)]);
}

#[test]
fn cancelling_stops_the_series_early() {
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig::default());
    s.trigger(VIP, t0);
    s.trigger(OTHER, t0 + ms(500));
    assert_eq!(s.due(t0 + ms(1100)), vec![VIP]);
    s.cancel(VIP);
    assert_eq!(s.next_deadline(), Some(t0 + ms(1600)));
    assert_eq!(bursts(&mut s, t0, VIP, Duration::from_secs(60)), vec![]);
}

#[test]
fn nothing_is_due_before_its_deadline() {
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig::default());
    s.trigger(VIP, t0);
    assert!(s.due(t0 + ms(1099)).is_empty());
    assert_eq!(s.due(t0 + ms(1100)), vec![VIP]);
}

#[test]
fn a_late_timer_sends_one_burst_not_a_backlog() {
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig::default());
    s.trigger(VIP, t0);
    assert_eq!(s.due(t0 + ms(3400)), vec![VIP]);
    assert_eq!(s.next_deadline(), Some(t0 + ms(4400)));
}

#[test]
fn a_refresh_interval_keeps_announcing_after_the_takeover_series() {
    let t0 = Instant::now();
    let config = GratuitousConfig { refresh: Some(Duration::from_secs(30)), ..GratuitousConfig::default() };
    let mut s = GratuitousSchedule::new(config);
    s.trigger(VIP, t0);
    let times = bursts(&mut s, t0, VIP, Duration::from_secs(100));
    assert_eq!(times, vec![ms(1100), ms(2200), ms(3300), ms(4400), ms(34_400), ms(64_400), ms(94_400)]);
    assert!(s.trigger(VIP, t0 + Duration::from_secs(100)), "a new takeover during refresh bursts at once");
}

#[test]
fn refresh_is_off_by_default_and_a_zero_refresh_is_off() {
    assert_eq!(GratuitousConfig::default().refresh, None);
    let t0 = Instant::now();
    let mut s = GratuitousSchedule::new(GratuitousConfig { refresh: Some(Duration::ZERO), ..Default::default() });
    s.trigger(VIP, t0);
    assert_eq!(bursts(&mut s, t0, VIP, Duration::from_secs(60)).len(), 4);
}
