//! Lease election: the pure rule as tables, the elector against a scripted API server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrolb_kube::lease::{Attempt, Decision, ElectionConfig, Error, LeaderElector, decide, released};
use ferrolb_kube::scripted::{self, Exchange};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

const ME: &str = "ctrl-a";
const OTHER: &str = "ctrl-b";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/metallb-system/leases";
const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/metallb-system/leases/ferrolb-controller";

fn t0() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().expect("a timestamp")
}

fn at(ms: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_millis(ms)).expect("in range")
}

fn micro(ms: i64) -> Option<MicroTime> {
    Some(MicroTime(at(ms)))
}

/// The wire form of `at(ms)` in a Lease.
fn wire(ms: i64) -> String {
    serde_json::to_value(MicroTime(at(ms))).expect("serializes").as_str().expect("a string").to_owned()
}

fn held(holder: &str, renew_ms: i64, seconds: i32, transitions: i32) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.into()),
        acquire_time: micro(renew_ms - 60_000),
        renew_time: micro(renew_ms),
        lease_duration_seconds: Some(seconds),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

// ---- the pure rule ----

#[test]
fn no_lease_is_created_with_zero_transitions() {
    let Decision::Create(spec) = decide(None, ME, 15, at(0)) else { panic!("expected Create") };
    assert_eq!(spec.holder_identity.as_deref(), Some(ME));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.acquire_time, micro(0));
    assert_eq!(spec.renew_time, micro(0));
}

#[test]
fn my_lease_is_renewed_keeping_acquire_time_and_transitions() {
    let mine = held(ME, 0, 15, 4);
    let Decision::Renew(spec) = decide(Some(&mine), ME, 15, at(5_000)) else { panic!("expected Renew") };
    assert_eq!(spec.renew_time, micro(5_000));
    assert_eq!(spec.acquire_time, mine.acquire_time);
    assert_eq!(spec.lease_transitions, Some(4));
    assert_eq!(spec.holder_identity.as_deref(), Some(ME));
}

#[test]
fn my_lease_without_times_is_renewed_and_gets_an_acquire_time() {
    let mine = LeaseSpec { holder_identity: Some(ME.into()), ..LeaseSpec::default() };
    let Decision::Renew(spec) = decide(Some(&mine), ME, 15, at(0)) else { panic!("expected Renew") };
    assert_eq!(spec.acquire_time, micro(0));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.lease_duration_seconds, Some(15));
}

/// (case, lease, now in ms after t0, expected: Some(wait until ms) or None for a takeover)
#[test]
fn another_holders_lease_is_waited_out_until_strictly_after_expiry() {
    let cases: Vec<(&str, LeaseSpec, i64, Option<i64>)> = vec![
        ("freshly renewed", held(OTHER, 0, 15, 1), 1_000, Some(15_000)),
        ("at the expiry instant itself", held(OTHER, 0, 15, 1), 15_000, Some(15_000)),
        ("one millisecond after expiry", held(OTHER, 0, 15, 1), 15_001, None),
        ("long expired", held(OTHER, 0, 15, 1), 3_600_000, None),
        ("renewTime in our future (clock skew)", held(OTHER, 10_000, 15, 1), 0, Some(25_000)),
        ("their duration, not ours, counts", held(OTHER, 0, 60, 1), 30_000, Some(60_000)),
        ("a zero duration expires at once", held(OTHER, 0, 0, 1), 1, None),
        ("a negative duration counts as zero", held(OTHER, 0, -5, 1), 0, Some(0)),
        (
            "missing duration counts as ours (15 s)",
            LeaseSpec { lease_duration_seconds: None, ..held(OTHER, 0, 0, 1) },
            14_000,
            Some(15_000),
        ),
        (
            "missing renewTime falls back to acquireTime",
            LeaseSpec { renew_time: None, acquire_time: micro(0), ..held(OTHER, 0, 15, 1) },
            10_000,
            Some(15_000),
        ),
        (
            "no time at all cannot be valid",
            LeaseSpec { renew_time: None, acquire_time: None, ..held(OTHER, 0, 15, 1) },
            0,
            None,
        ),
        (
            "released (empty holder) is free at once",
            LeaseSpec { holder_identity: Some(String::new()), ..held(OTHER, 0, 15, 1) },
            0,
            None,
        ),
        ("missing holder is free at once", LeaseSpec { holder_identity: None, ..held(OTHER, 0, 15, 1) }, 0, None),
    ];
    for (case, lease, now, expected) in cases {
        let decision = decide(Some(&lease), ME, 15, at(now));
        match (expected, &decision) {
            (Some(until), Decision::Wait { holder, until: got }) => {
                assert_eq!(*got, at(until), "{case}");
                assert_eq!(holder, OTHER, "{case}");
            }
            (None, Decision::TakeOver(spec)) => {
                assert_eq!(spec.holder_identity.as_deref(), Some(ME), "{case}");
                assert_eq!(spec.lease_transitions, Some(2), "{case}");
                assert_eq!(spec.renew_time, micro(now), "{case}");
                assert_eq!(spec.acquire_time, micro(now), "{case}");
                assert_eq!(spec.lease_duration_seconds, Some(15), "{case}");
            }
            _ => panic!("{case}: got {decision:?}"),
        }
    }
}

#[test]
fn a_takeover_counts_transitions_from_zero_when_missing_and_saturates() {
    let missing = LeaseSpec { lease_transitions: None, ..held(OTHER, 0, 1, 0) };
    let Decision::TakeOver(spec) = decide(Some(&missing), ME, 15, at(60_000)) else { panic!("expected TakeOver") };
    assert_eq!(spec.lease_transitions, Some(1));
    let maxed = held(OTHER, 0, 1, i32::MAX);
    let Decision::TakeOver(spec) = decide(Some(&maxed), ME, 15, at(60_000)) else { panic!("expected TakeOver") };
    assert_eq!(spec.lease_transitions, Some(i32::MAX));
}

#[test]
fn a_renewal_at_the_end_of_time_does_not_panic_and_stays_valid() {
    let lease = LeaseSpec { renew_time: Some(MicroTime(Timestamp::MAX)), ..held(OTHER, 0, i32::MAX, 1) };
    assert!(matches!(decide(Some(&lease), ME, 15, at(0)), Decision::Wait { until, .. } if until == Timestamp::MAX));
}

#[test]
fn fields_ferrolb_does_not_manage_are_kept() {
    let lease = LeaseSpec {
        preferred_holder: Some(OTHER.into()),
        strategy: Some("OldestEmulationVersion".into()),
        ..held(OTHER, 0, 1, 0)
    };
    let decision = decide(Some(&lease), ME, 15, at(60_000));
    let spec = decision.spec().expect("a write");
    assert_eq!(spec.preferred_holder.as_deref(), Some(OTHER));
    assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
}

#[test]
fn a_released_lease_has_no_holder_and_a_one_second_duration() {
    let spec = released(&held(ME, 0, 15, 3), at(2_000));
    assert_eq!(spec.holder_identity, None);
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.renew_time, micro(2_000));
    assert_eq!(spec.lease_transitions, Some(3));
    assert!(matches!(decide(Some(&spec), OTHER, 15, at(2_000)), Decision::TakeOver(_)));
}

#[tokio::test]
async fn settings_that_break_the_timing_invariant_are_rejected() {
    let (client, _server) = scripted::client();
    let ok = ElectionConfig::new("metallb-system", "ferrolb-controller", ME, Duration::from_secs(15));
    assert_eq!(ok.renew_deadline, Duration::from_secs(10));
    assert_eq!(ok.retry_period, Duration::from_secs(5));
    let bad = [
        ElectionConfig { renew_deadline: Duration::from_secs(15), ..ok.clone() },
        ElectionConfig { retry_period: Duration::from_secs(10), ..ok.clone() },
        ElectionConfig { retry_period: Duration::ZERO, ..ok.clone() },
        ElectionConfig { identity: String::new(), ..ok.clone() },
        ElectionConfig::new("metallb-system", "ferrolb-controller", ME, Duration::from_millis(500)),
    ];
    for config in bad {
        let err = LeaderElector::new(client.clone(), config.clone()).expect_err("invalid");
        assert!(matches!(err, Error::Config(_)), "{config:?}: {err}");
        assert!(!err.to_string().contains('\n'));
    }
    assert!(LeaderElector::new(client, ok).is_ok());
}

// ---- against the API server ----

/// Lease 6 s: renew every 2 s, step down 4 s after the last renewal.
fn config() -> ElectionConfig {
    ElectionConfig::new("metallb-system", "ferrolb-controller", ME, Duration::from_secs(6))
}

/// A wall clock that moves with tokio's (paused) clock, starting at t0.
fn elector(client: kube::Client) -> LeaderElector {
    let start = Instant::now();
    LeaderElector::new(client, config()).expect("valid settings").with_clock(move || {
        let elapsed = i64::try_from(start.elapsed().as_nanos()).expect("small");
        t0().checked_add(SignedDuration::from_nanos(elapsed)).expect("in range")
    })
}

fn lease_json(holder: &str, renew_ms: i64, seconds: i32, transitions: i32, rv: &str) -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "ferrolb-controller", "namespace": "metallb-system", "resourceVersion": rv},
        "spec": {
            "holderIdentity": holder, "leaseDurationSeconds": seconds, "leaseTransitions": transitions,
            "acquireTime": wire(renew_ms - 60_000), "renewTime": wire(renew_ms),
        },
    })
}

fn get_lease() -> Exchange {
    Exchange::get(LEASE)
}

fn absent() -> Exchange {
    get_lease().fails(404, "NotFound")
}

fn create_mine(rv: &str) -> Exchange {
    Exchange::post(LEASES)
        .body(json!({
            "metadata": {"name": "ferrolb-controller", "namespace": "metallb-system"},
            "spec": {"holderIdentity": ME, "leaseDurationSeconds": 6, "leaseTransitions": 0,
                     "acquireTime": wire(0), "renewTime": wire(0)},
        }))
        .returns(lease_json(ME, 0, 6, 0, rv))
}

/// Records every value `leading` takes, with the (paused) time it was seen at.
fn record(mut rx: watch::Receiver<bool>) -> Arc<Mutex<Vec<(Duration, bool)>>> {
    let start = Instant::now();
    let history = Arc::new(Mutex::new(vec![(Duration::ZERO, *rx.borrow_and_update())]));
    let out = history.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let value = *rx.borrow_and_update();
            out.lock().expect("not poisoned").push((start.elapsed(), value));
        }
    });
    history
}

#[tokio::test(start_paused = true)]
async fn an_absent_lease_is_created_with_a_post() {
    let (attempt, _) = scripted::run(vec![absent(), create_mine("1")], |client| async move {
        elector(client).try_acquire_or_renew().await
    })
    .await;
    assert!(matches!(attempt, Ok(Attempt::Leading { acquired: true, .. })), "{attempt:?}");
}

#[tokio::test(start_paused = true)]
async fn my_lease_is_renewed_with_a_put_carrying_the_observed_resource_version() {
    let script = vec![
        get_lease().returns(lease_json(ME, -2_000, 6, 3, "41")),
        Exchange::put(LEASE)
            .body(json!({
                "metadata": {"resourceVersion": "41"},
                "spec": {"holderIdentity": ME, "renewTime": wire(0), "acquireTime": wire(-62_000), "leaseTransitions": 3},
            }))
            .returns(lease_json(ME, 0, 6, 3, "42")),
    ];
    let (attempt, _) =
        scripted::run(script, |client| async move { elector(client).try_acquire_or_renew().await }).await;
    assert!(matches!(attempt, Ok(Attempt::Leading { acquired: false, .. })), "{attempt:?}");
}

#[tokio::test(start_paused = true)]
async fn a_valid_lease_held_by_another_replica_is_waited_for_without_writing() {
    let script = vec![get_lease().returns(lease_json(OTHER, -1_000, 6, 3, "41"))];
    let (attempt, seen) =
        scripted::run(script, |client| async move { elector(client).try_acquire_or_renew().await }).await;
    match attempt {
        Ok(Attempt::Standby { holder, until }) => {
            assert_eq!(holder, OTHER);
            assert_eq!(until, at(5_000));
        }
        other => panic!("expected Standby, got {other:?}"),
    }
    assert_eq!(seen.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_is_taken_over_with_one_more_transition() {
    let script = vec![
        get_lease().returns(lease_json(OTHER, -6_001, 6, 3, "41")),
        Exchange::put(LEASE)
            .body(json!({
                "metadata": {"resourceVersion": "41"},
                "spec": {"holderIdentity": ME, "leaseTransitions": 4, "acquireTime": wire(0), "renewTime": wire(0),
                         "leaseDurationSeconds": 6},
            }))
            .returns(lease_json(ME, 0, 6, 4, "42")),
    ];
    let (attempt, _) =
        scripted::run(script, |client| async move { elector(client).try_acquire_or_renew().await }).await;
    assert!(matches!(attempt, Ok(Attempt::Leading { acquired: true, .. })), "{attempt:?}");
}

#[tokio::test(start_paused = true)]
async fn a_conflict_on_create_is_a_lost_race_not_an_error() {
    let script = vec![absent(), Exchange::post(LEASES).fails(409, "AlreadyExists")];
    let (attempt, _) =
        scripted::run(script, |client| async move { elector(client).try_acquire_or_renew().await }).await;
    assert!(matches!(attempt, Ok(Attempt::Conflict)), "{attempt:?}");
}

#[tokio::test(start_paused = true)]
async fn a_conflict_on_put_leaves_us_standing_by_and_the_lease_is_read_again_at_once() {
    let script = vec![
        get_lease().returns(lease_json(OTHER, -7_000, 6, 3, "41")),
        Exchange::put(LEASE).body(json!({"metadata": {"resourceVersion": "41"}})).fails(409, "Conflict"),
        get_lease().returns(lease_json("ctrl-c", 0, 6, 4, "42")),
    ];
    let (history, seen) = scripted::run(script, |client| async move {
        let (tx, rx) = watch::channel(false);
        let history = record(rx);
        elector(client).run(tx, tokio::time::sleep(Duration::from_secs(1))).await;
        history
    })
    .await;
    assert_eq!(*history.lock().expect("not poisoned"), vec![(Duration::ZERO, false)]);
    assert_eq!(seen.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_leader_renews_every_retry_period_and_releases_on_shutdown() {
    let script = vec![
        absent(),
        create_mine("1"),
        get_lease().returns(lease_json(ME, 0, 6, 0, "1")),
        Exchange::put(LEASE)
            .body(json!({"metadata": {"resourceVersion": "1"}, "spec": {"holderIdentity": ME, "renewTime": wire(2_000)}}))
            .returns(lease_json(ME, 2_000, 6, 0, "2")),
        // shutdown at 3 s: the release
        get_lease().returns(lease_json(ME, 2_000, 6, 0, "2")),
        Exchange::put(LEASE)
            .body(json!({"metadata": {"resourceVersion": "2"}, "spec": {"leaseDurationSeconds": 1, "renewTime": wire(3_000)}}))
            .returns(json!({})),
    ];
    let (history, seen) = scripted::run(script, |client| async move {
        let (tx, rx) = watch::channel(false);
        let history = record(rx);
        elector(client).run(tx, tokio::time::sleep(Duration::from_secs(3))).await;
        history
    })
    .await;
    assert_eq!(
        *history.lock().expect("not poisoned"),
        vec![(Duration::ZERO, false), (Duration::ZERO, true), (Duration::from_secs(3), false)]
    );
    let release = &seen.last().expect("requests").body["spec"];
    assert!(release.get("holderIdentity").is_none(), "the holder is cleared: {release}");
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_steps_down_at_the_renew_deadline_before_the_lease_expires() {
    let script = vec![
        absent(),
        create_mine("1"),
        // t = 2 s: renewals fail, retried with backoff (0.25 s, 0.5 s, 1 s, then cut to the deadline)
        get_lease().fails(503, "ServiceUnavailable"),
        get_lease().fails(429, "TooManyRequests"),
        get_lease().fails(500, "InternalError"),
        get_lease().fails(503, "ServiceUnavailable"),
        // t = 4 s: the deadline passed; the next read finds another leader
        get_lease().returns(lease_json(OTHER, 4_000, 6, 1, "9")),
    ];
    let (history, _) = scripted::run(script, |client| async move {
        let (tx, rx) = watch::channel(false);
        let history = record(rx);
        elector(client).run(tx, tokio::time::sleep(Duration::from_millis(4_500))).await;
        history
    })
    .await;
    let history = history.lock().expect("not poisoned").clone();
    assert_eq!(history, vec![(Duration::ZERO, false), (Duration::ZERO, true), (Duration::from_secs(4), false)]);
    // Others may take over only after 6 s: we stopped 2 s before.
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_api_server_is_gone_steps_down_at_the_renew_deadline() {
    // The API server answers the create, then goes away: every later request fails at once.
    let (client, server) = scripted::client();
    let played = server.play(vec![absent(), create_mine("1")]);
    let (tx, rx) = watch::channel(false);
    let history = record(rx);
    let elector = elector(client);
    let run = tokio::spawn(async move { elector.run(tx, tokio::time::sleep(Duration::from_millis(4_500))).await });
    played.await.expect("script played");
    run.await.expect("the elector ends");
    let history = history.lock().expect("not poisoned").clone();
    assert_eq!(history, vec![(Duration::ZERO, false), (Duration::ZERO, true), (Duration::from_secs(4), false)]);
}

#[tokio::test(start_paused = true)]
async fn release_leaves_a_lease_held_by_another_replica_alone() {
    let script = vec![get_lease().returns(lease_json(OTHER, 0, 6, 1, "9"))];
    let (released, seen) = scripted::run(script, |client| async move { elector(client).release().await }).await;
    assert!(matches!(released, Ok(false)), "{released:?}");
    assert_eq!(seen.len(), 1);
}
