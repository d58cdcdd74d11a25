//! Events: the aggregation cache without I/O, the worker against a scripted API server.

use std::time::Duration;

use ferrolb_kube::events::{Action, Aggregator, Event, EventRecorder, ObjectRef, RecorderSettings, Reporter};
use ferrolb_kube::scripted::{self, Exchange};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

const EVENTS: &str = "/api/v1/namespaces/shop/events";

fn t0() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().expect("a timestamp")
}

fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).expect("in range")
}

fn wire(secs: i64) -> String {
    serde_json::to_value(Time(at(secs))).expect("serializes").as_str().expect("a string").to_owned()
}

fn web() -> ObjectRef {
    ObjectRef::service("shop", "web", Some("uid-1"))
}

fn allocated() -> Event {
    Event::normal(web(), "IPAllocated", "Assigned IP [\"192.0.2.10\"]")
}

/// The name client-go would give an event for `web` created at `at(secs)`, plus `bump`.
fn name_at(secs: i64, bump: i128) -> String {
    format!("web.{:x}", at(secs).as_nanosecond() + bump)
}

fn aggregator() -> Aggregator {
    Aggregator::new(Duration::from_secs(600), 16)
}

// ---- the pure cache ----

#[test]
fn a_first_occurrence_creates_an_event_with_count_one() {
    let Action::Create(event) = aggregator().record(&allocated(), &Reporter::controller(), at(0)) else {
        panic!("expected Create")
    };
    assert_eq!(event.metadata.name, Some(name_at(0, 0)));
    assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
    assert_eq!(event.count, Some(1));
    assert_eq!(event.involved_object.kind.as_deref(), Some("Service"));
    assert_eq!(event.involved_object.uid.as_deref(), Some("uid-1"));
    assert_eq!(event.source.as_ref().and_then(|s| s.component.as_deref()), Some("metallb-controller"));
}

#[test]
fn repeats_within_the_window_patch_the_same_event_with_a_growing_count() {
    let mut cache = aggregator();
    let reporter = Reporter::controller();
    cache.record(&allocated(), &reporter, at(0));
    for (n, secs) in [(2, 10), (3, 600), (4, 1_100)] {
        let action = cache.record(&allocated(), &reporter, at(secs));
        assert_eq!(
            action,
            Action::Patch { namespace: "shop".into(), name: name_at(0, 0), count: n, last_timestamp: at(secs) },
            "the window runs from the last occurrence"
        );
    }
}

#[test]
fn a_repeat_after_the_window_creates_a_new_event() {
    let mut cache = aggregator();
    let reporter = Reporter::controller();
    cache.record(&allocated(), &reporter, at(0));
    assert!(
        matches!(cache.record(&allocated(), &reporter, at(601)), Action::Create(e) if e.metadata.name == Some(name_at(601, 0)))
    );
}

#[test]
fn any_difference_in_object_type_reason_or_message_is_a_new_event_with_a_distinct_name() {
    let mut cache = aggregator();
    let reporter = Reporter::controller();
    let variants = [
        allocated(),
        Event::normal(web(), "IPAllocated", "Assigned IP [\"192.0.2.11\"]"),
        Event::warning(web(), "IPAllocated", "Assigned IP [\"192.0.2.10\"]"),
        Event::normal(web(), "ClearAssignment", "Assigned IP [\"192.0.2.10\"]"),
        Event::normal(ObjectRef::service("shop", "web", Some("uid-2")), "IPAllocated", "Assigned IP [\"192.0.2.10\"]"),
    ];
    let mut names = Vec::new();
    for event in &variants {
        let Action::Create(created) = cache.record(event, &reporter, at(0)) else {
            panic!("expected Create for {event:?}")
        };
        names.push(created.metadata.name.expect("named"));
    }
    // One clock reading, five names: each one past the last.
    assert_eq!(names, (0..5).map(|bump| name_at(0, bump)).collect::<Vec<_>>());
}

#[test]
fn events_about_cluster_scoped_objects_go_to_the_default_namespace() {
    let event = Event::normal(ObjectRef::node("node-1", None), "nodeAssigned", "announcing");
    let Action::Create(created) = aggregator().record(&event, &Reporter::speaker("node-1"), at(0)) else {
        panic!("expected Create")
    };
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(created.involved_object.namespace, None);
    assert_eq!(created.source.and_then(|s| s.host).as_deref(), Some("node-1"));
    assert_eq!(created.reporting_component.as_deref(), Some("metallb-speaker"));
}

#[test]
fn event_names_stay_within_253_characters() {
    let long = "s".repeat(253);
    let event = Event::normal(ObjectRef::service("shop", &long, None), "IPAllocated", "x");
    let Action::Create(created) = aggregator().record(&event, &Reporter::controller(), at(0)) else {
        panic!("expected Create")
    };
    let name = created.metadata.name.expect("named");
    assert_eq!(name.len(), 253);
    assert!(name.ends_with(&format!(".{:x}", at(0).as_nanosecond())), "{name}");
}

#[test]
fn a_full_cache_forgets_the_least_recently_seen_event() {
    let mut cache = Aggregator::new(Duration::from_secs(600), 2);
    let reporter = Reporter::controller();
    let a = Event::normal(web(), "A", "a");
    let b = Event::normal(web(), "B", "b");
    let c = Event::normal(web(), "C", "c");
    cache.record(&a, &reporter, at(0));
    cache.record(&b, &reporter, at(1));
    cache.record(&a, &reporter, at(2));
    cache.record(&c, &reporter, at(3));
    assert_eq!(cache.len(), 2);
    assert!(matches!(cache.record(&a, &reporter, at(4)), Action::Patch { count: 3, .. }), "a was seen last");
    assert!(matches!(cache.record(&b, &reporter, at(5)), Action::Create(_)), "b was evicted");
}

#[test]
fn a_forgotten_event_is_created_again() {
    let mut cache = aggregator();
    let reporter = Reporter::controller();
    cache.record(&allocated(), &reporter, at(0));
    cache.forget(&allocated());
    assert!(cache.is_empty());
    assert!(matches!(cache.record(&allocated(), &reporter, at(1)), Action::Create(_)));
}

#[test]
fn an_object_ref_is_taken_from_a_typed_object() {
    let service = Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("shop".into()),
            uid: Some("uid-1".into()),
            ..ObjectMeta::default()
        },
        ..Service::default()
    };
    assert_eq!(ObjectRef::of(&service), web());
}

// ---- against the API server ----

/// Retries wait 1 s, 2 s, 4 s (paused time: instantly).
fn settings() -> RecorderSettings {
    RecorderSettings { backoff: Duration::from_secs(1), ..RecorderSettings::default() }
}

/// Publishes the events one after another at a fixed clock, then lets the worker drain.
async fn publish_all(client: kube::Client, events: Vec<Event>) -> u64 {
    let (recorder, worker) = EventRecorder::new(client, Reporter::controller(), settings());
    let worker = worker.with_clock(|| at(0));
    for event in events {
        recorder.publish(event);
    }
    let dropped = recorder.dropped();
    drop(recorder);
    worker.run().await;
    dropped
}

fn first_post() -> Exchange {
    Exchange::post(EVENTS)
        .exact_body(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name_at(0, 0), "namespace": "shop"},
            "involvedObject": {"apiVersion": "v1", "kind": "Service", "namespace": "shop", "name": "web", "uid": "uid-1"},
            "reason": "IPAllocated", "type": "Normal", "message": "Assigned IP [\"192.0.2.10\"]",
            "count": 1, "firstTimestamp": wire(0), "lastTimestamp": wire(0),
            "source": {"component": "metallb-controller"}, "reportingComponent": "metallb-controller",
        }))
        .returns(json!({}))
}

#[tokio::test(start_paused = true)]
async fn the_first_event_is_posted_and_a_repeat_patches_its_count() {
    let script = vec![
        first_post(),
        Exchange::patch(&format!("{EVENTS}/{}", name_at(0, 0)))
            .exact_body(json!({"count": 2, "lastTimestamp": wire(0)}))
            .returns(json!({})),
        Exchange::patch(&format!("{EVENTS}/{}", name_at(0, 0))).body(json!({"count": 3})).returns(json!({})),
    ];
    let (dropped, _) = scripted::run(script, |client| publish_all(client, vec![allocated(); 3])).await;
    assert_eq!(dropped, 0);
}

#[tokio::test(start_paused = true)]
async fn a_different_message_posts_a_new_event() {
    let other = Event::normal(web(), "IPAllocated", "Assigned IP [\"192.0.2.11\"]");
    let script = vec![
        first_post(),
        Exchange::post(EVENTS)
            .body(json!({"metadata": {"name": name_at(0, 1)}, "message": "Assigned IP [\"192.0.2.11\"]", "count": 1}))
            .returns(json!({})),
    ];
    scripted::run(script, |client| publish_all(client, vec![allocated(), other])).await;
}

#[tokio::test(start_paused = true)]
async fn a_server_error_is_retried_until_the_event_goes_through() {
    let script = vec![
        Exchange::post(EVENTS).fails(500, "InternalError"),
        Exchange::post(EVENTS).fails(429, "TooManyRequests"),
        first_post(),
    ];
    scripted::run(script, |client| publish_all(client, vec![allocated()])).await;
}

#[tokio::test(start_paused = true)]
async fn a_create_that_went_through_before_its_answer_was_lost_is_not_posted_twice() {
    let script = vec![
        Exchange::post(EVENTS).fails(503, "ServiceUnavailable"),
        Exchange::post(EVENTS).fails(409, "AlreadyExists"),
    ];
    let (_, seen) = scripted::run(script, |client| publish_all(client, vec![allocated()])).await;
    assert_eq!(seen.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn transient_failures_give_up_after_the_last_attempt() {
    let script = vec![
        Exchange::post(EVENTS).fails(503, "ServiceUnavailable"),
        Exchange::post(EVENTS).fails(503, "ServiceUnavailable"),
        Exchange::post(EVENTS).fails(503, "ServiceUnavailable"),
        Exchange::post(EVENTS).fails(503, "ServiceUnavailable"),
        // given up: the next occurrence is a new Event, not a patch of one never created
        Exchange::post(EVENTS).body(json!({"count": 1})).returns(json!({})),
    ];
    scripted::run(script, |client| publish_all(client, vec![allocated(), allocated()])).await;
}

#[tokio::test(start_paused = true)]
async fn a_forbidden_event_is_dropped_without_retrying() {
    let next = Event::warning(web(), "AllocationFailed", "Failed to allocate IP for \"shop/web\": no available IPs");
    let script = vec![
        Exchange::post(EVENTS).fails(403, "Forbidden"),
        Exchange::post(EVENTS).body(json!({"reason": "AllocationFailed", "type": "Warning"})).returns(json!({})),
    ];
    scripted::run(script, |client| publish_all(client, vec![allocated(), next])).await;
}

#[tokio::test(start_paused = true)]
async fn a_patch_of_an_event_that_expired_on_the_server_creates_a_new_one() {
    let script = vec![
        first_post(),
        Exchange::patch(&format!("{EVENTS}/{}", name_at(0, 0))).fails(404, "NotFound"),
        Exchange::post(EVENTS).body(json!({"metadata": {"name": name_at(0, 1)}, "count": 1})).returns(json!({})),
    ];
    scripted::run(script, |client| publish_all(client, vec![allocated(), allocated()])).await;
}

#[tokio::test]
async fn publishing_never_blocks_and_overflow_is_counted() {
    let (client, _server) = scripted::client();
    let settings = RecorderSettings { queue: 2, ..RecorderSettings::default() };
    let (recorder, worker) = EventRecorder::new(client, Reporter::controller(), settings);
    for _ in 0..5 {
        recorder.publish(allocated());
    }
    assert_eq!(recorder.dropped(), 3);
    drop(worker);
    recorder.publish(allocated());
    assert_eq!(recorder.dropped(), 4, "a closed queue drops too");
}
