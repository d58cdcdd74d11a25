//! Kubernetes Events (`core/v1`), with MetalLB's sources and reasons.
//!
//! MetalLB records events through client-go's recorder: source `metallb-controller` or
//! `metallb-speaker`, reasons such as `IPAllocated`, `AllocationFailed`, `nodeAssigned` or
//! `announceFailed` (docs/compatibility.md §2.4). Users grep `kubectl get events` for those, so ferrolb
//! posts the same. The reasons are the reconcilers' business: this module takes any string.
//!
//! Like client-go, a repeated event is not posted again: while the same (object, type,
//! reason, message) recurs within [`RecorderSettings::window`] of its last occurrence, the
//! existing Event's `count` and `lastTimestamp` are patched. That decision is the pure
//! [`Aggregator`]; [`EventWorker`] does the I/O.
//!
//! Events are best-effort and must never stall a reconciler: [`EventRecorder::publish`] only
//! enqueues on a bounded queue and drops (and counts) what does not fit; the worker retries
//! transient failures (429, 5xx, transport) a few times with backoff, then drops the event
//! with a warning. Permanent refusals (403, 400, 422…) are dropped at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as KubeEvent, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::lease::{Clock, system_now};

/// The controller's event source, as MetalLB names it.
pub const CONTROLLER: &str = "metallb-controller";
/// The speakers' event source, as MetalLB names it.
pub const SPEAKER: &str = "metallb-speaker";

/// The object an event is about (client-go's `ObjectReference`, the fields that identify it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    /// `None` for cluster-scoped objects (Node): their events go to the `default` namespace.
    pub namespace: Option<String>,
    pub name: String,
    pub uid: Option<String>,
}

impl ObjectRef {
    /// A reference to any typed object (a Service, a Node, a metallb.io resource...).
    pub fn of<K: kube::Resource<DynamicType = ()>>(object: &K) -> Self {
        let meta = object.meta();
        Self {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
        }
    }

    pub fn service(namespace: &str, name: &str, uid: Option<&str>) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "Service".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
            uid: uid.map(Into::into),
        }
    }

    pub fn node(name: &str, uid: Option<&str>) -> Self {
        Self {
            api_version: "v1".into(),
            kind: "Node".into(),
            namespace: None,
            name: name.into(),
            uid: uid.map(Into::into),
        }
    }

    /// The namespace the Event lives in (client-go: the object's, else `default`).
    pub fn event_namespace(&self) -> &str {
        match self.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => ns,
            _ => "default",
        }
    }

    fn to_kube(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some(self.api_version.clone()),
            kind: Some(self.kind.clone()),
            namespace: self.namespace.clone().filter(|ns| !ns.is_empty()),
            name: Some(self.name.clone()),
            uid: self.uid.clone(),
            ..ObjectReference::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Warning => "Warning",
        }
    }
}

/// One event, as a reconciler states it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    pub object: ObjectRef,
    pub type_: EventType,
    pub reason: String,
    pub message: String,
}

impl Event {
    pub fn normal(object: ObjectRef, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { object, type_: EventType::Normal, reason: reason.into(), message: message.into() }
    }

    pub fn warning(object: ObjectRef, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self { object, type_: EventType::Warning, reason: reason.into(), message: message.into() }
    }
}

/// Who reports: `source.component` / `reportingComponent` ([`CONTROLLER`] or [`SPEAKER`]) and
/// optionally `source.host` / `reportingInstance` (the pod or node name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporter {
    pub component: String,
    pub instance: Option<String>,
}

impl Reporter {
    pub fn controller() -> Self {
        Self { component: CONTROLLER.into(), instance: None }
    }

    pub fn speaker(node: &str) -> Self {
        Self { component: SPEAKER.into(), instance: Some(node.into()) }
    }
}

/// What to send for one occurrence of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// POST this new Event.
    Create(Box<KubeEvent>),
    /// PATCH the existing Event's count and lastTimestamp.
    Patch { namespace: String, name: String, count: i32, last_timestamp: Timestamp },
}

impl Action {
    fn namespace(&self) -> &str {
        match self {
            Self::Create(event) => event.metadata.namespace.as_deref().unwrap_or("default"),
            Self::Patch { namespace, .. } => namespace,
        }
    }

    fn name(&self) -> &str {
        match self {
            Self::Create(event) => event.metadata.name.as_deref().unwrap_or(""),
            Self::Patch { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    namespace: String,
    name: String,
    count: i32,
    last: Timestamp,
}

/// The aggregation cache: which events were posted, under what name, how many times.
#[derive(Debug, Clone)]
pub struct Aggregator {
    window: SignedDuration,
    capacity: usize,
    entries: HashMap<Event, Entry>,
    /// The last name suffix handed out, so two events in the same nanosecond (or a clock that
    /// steps back) still get distinct names.
    last_suffix: i128,
}

impl Aggregator {
    /// `capacity` bounds memory: when full, the entries past their window go first, then the
    /// least recently seen (which then gets a new Event if it recurs).
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            window: SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX),
            capacity: capacity.max(1),
            entries: HashMap::new(),
            last_suffix: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records one occurrence at `now` and says what to send.
    pub fn record(&mut self, event: &Event, reporter: &Reporter, now: Timestamp) -> Action {
        if let Some(entry) = self.entries.get_mut(event)
            && !expired(entry.last, self.window, now)
        {
            entry.count = entry.count.saturating_add(1);
            entry.last = entry.last.max(now);
            return Action::Patch {
                namespace: entry.namespace.clone(),
                name: entry.name.clone(),
                count: entry.count,
                last_timestamp: now,
            };
        }
        self.entries.remove(event);
        self.make_room(now);
        let suffix = now.as_nanosecond().max(self.last_suffix.saturating_add(1)).max(0);
        self.last_suffix = suffix;
        let namespace = event.object.event_namespace().to_owned();
        let name = event_name(&event.object.name, suffix);
        self.entries
            .insert(event.clone(), Entry { namespace: namespace.clone(), name: name.clone(), count: 1, last: now });
        Action::Create(Box::new(KubeEvent {
            metadata: ObjectMeta { name: Some(name), namespace: Some(namespace), ..ObjectMeta::default() },
            involved_object: event.object.to_kube(),
            reason: Some(event.reason.clone()),
            message: Some(event.message.clone()),
            type_: Some(event.type_.as_str().into()),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            source: Some(EventSource { component: Some(reporter.component.clone()), host: reporter.instance.clone() }),
            reporting_component: Some(reporter.component.clone()),
            reporting_instance: reporter.instance.clone(),
            ..KubeEvent::default()
        }))
    }

    /// Forgets an event whose Event could not be written (or vanished), so its next
    /// occurrence creates a new one.
    pub fn forget(&mut self, event: &Event) {
        self.entries.remove(event);
    }

    fn make_room(&mut self, now: Timestamp) {
        if self.entries.len() < self.capacity {
            return;
        }
        let window = self.window;
        self.entries.retain(|_, entry| !expired(entry.last, window, now));
        while self.entries.len() >= self.capacity {
            let Some(oldest) = self.entries.iter().min_by_key(|(_, entry)| entry.last).map(|(key, _)| key.clone())
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

/// `<object name>.<hex suffix>` (client-go), the object name cut so the whole stays a valid
/// object name (at most 253 characters).
fn event_name(object: &str, suffix: i128) -> String {
    let suffix = format!(".{suffix:x}");
    let room = 253usize.saturating_sub(suffix.len());
    let cut =
        object.char_indices().map(|(i, _)| i).chain([object.len()]).take_while(|&i| i <= room).last().unwrap_or(0);
    format!("{}{suffix}", &object[..cut])
}

fn expired(last: Timestamp, window: SignedDuration, now: Timestamp) -> bool {
    last.checked_add(window).map(|end| now > end).unwrap_or(false)
}

/// Queue and retry settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderSettings {
    /// Events waiting to be sent; more are dropped.
    pub queue: usize,
    /// How long after its last occurrence an event is still aggregated (client-go: 10 min).
    pub window: Duration,
    /// Distinct events remembered for aggregation.
    pub cache_capacity: usize,
    /// Attempts per request, the first included, for transient failures.
    pub attempts: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        Self {
            queue: 1024,
            window: Duration::from_secs(600),
            cache_capacity: 4096,
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// The reconcilers' handle: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct EventRecorder {
    tx: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventRecorder {
    /// The handle and the worker that sends; spawn `worker.run()`. The worker ends when every
    /// handle is dropped and the queue is drained.
    pub fn new(client: kube::Client, reporter: Reporter, settings: RecorderSettings) -> (Self, EventWorker) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let recorder = Self { tx, dropped: Arc::new(AtomicU64::new(0)) };
        let worker = EventWorker {
            rx,
            client,
            reporter,
            aggregator: Aggregator::new(settings.window, settings.cache_capacity),
            settings,
            clock: Arc::new(system_now),
        };
        (recorder, worker)
    }

    /// Enqueues an event; if the queue is full (or the worker is gone) the event is dropped
    /// and counted, with one warning for the first drop.
    pub fn publish(&self, event: Event) {
        if let Err(e) = self.tx.try_send(event) {
            let before = self.dropped.fetch_add(1, Ordering::Relaxed);
            let (full, event) = match e {
                mpsc::error::TrySendError::Full(event) => (true, event),
                mpsc::error::TrySendError::Closed(event) => (false, event),
            };
            if before == 0 {
                warn!(reason = %event.reason, object = %event.object.name, full, "dropping events: the event queue is full or closed");
            } else {
                debug!(reason = %event.reason, object = %event.object.name, full, "dropped an event");
            }
        }
    }

    /// Events dropped so far because the queue was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Sends what the recorders enqueue, one at a time, in order.
pub struct EventWorker {
    rx: mpsc::Receiver<Event>,
    client: kube::Client,
    reporter: Reporter,
    aggregator: Aggregator,
    settings: RecorderSettings,
    clock: Clock,
}

impl std::fmt::Debug for EventWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWorker")
            .field("reporter", &self.reporter)
            .field("settings", &self.settings)
            .field("cached", &self.aggregator.len())
            .finish_non_exhaustive()
    }
}

impl EventWorker {
    /// Replaces the wall clock (event timestamps, names and the aggregation window).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sends until every [`EventRecorder`] is dropped and the queue is empty.
    pub async fn run(mut self) {
        while let Some(event) = self.rx.recv().await {
            self.deliver(event).await;
        }
    }

    async fn deliver(&mut self, event: Event) {
        let now = (self.clock)();
        let action = self.aggregator.record(&event, &self.reporter, now);
        let mut result = self.send(&action).await;
        if matches!(action, Action::Patch { .. }) && result.as_ref().err().and_then(status_code) == Some(404) {
            // The Event expired on the API server (events have a TTL): start a new one.
            self.aggregator.forget(&event);
            let action = self.aggregator.record(&event, &self.reporter, now);
            result = self.send(&action).await;
            if result.is_err() {
                self.aggregator.forget(&event);
            }
        } else if result.is_err() && matches!(action, Action::Create(_)) {
            self.aggregator.forget(&event);
        }
        if let Err(e) = result {
            warn!(
                reason = %event.reason, object = %event.object.name, namespace = event.object.event_namespace(),
                error = %e, "dropping an event the API server did not take"
            );
        }
    }

    /// One request, retried while the failure is transient and attempts remain.
    async fn send(&self, action: &Action) -> Result<(), kube::Error> {
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), action.namespace());
        let mut attempt = 1;
        loop {
            let result = match action {
                Action::Create(event) => api.create(&PostParams::default(), event).await.map(drop),
                Action::Patch { name, count, last_timestamp, .. } => {
                    let body = serde_json::json!({"count": count, "lastTimestamp": Time(*last_timestamp)});
                    api.patch(name, &PatchParams::default(), &Patch::Merge(body)).await.map(drop)
                }
            };
            match result {
                Ok(()) => return Ok(()),
                // A create we retried after a lost answer may have gone through the first time.
                Err(e) if attempt > 1 && matches!(action, Action::Create(_)) && status_code(&e) == Some(409) => {
                    debug!(name = action.name(), "event already created by an earlier attempt");
                    return Ok(());
                }
                Err(e) if transient(&e) && attempt < self.settings.attempts => {
                    let wait = self.settings.backoff.saturating_mul(1 << (attempt - 1).min(16));
                    debug!(name = action.name(), error = %e, attempt, "event request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Worth retrying: throttled, server-side failures, and anything that got no answer.
fn transient(e: &kube::Error) -> bool {
    match status_code(e) {
        Some(code) => code == 429 || code >= 500,
        None => !matches!(e, kube::Error::SerdeError(_) | kube::Error::BuildRequest(_)),
    }
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}
