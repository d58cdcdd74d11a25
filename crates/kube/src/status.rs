//! Status writes to the API server: Service status and pool annotation, IPAddressPool status,
//! ConfigurationState, ServiceL2Status and ServiceBGPStatus.
//!
//! Callers state what they want ([`StatusWriter::set`]) and return at once; one task
//! converges the API server to it. Each target keeps only its latest wish, so a burst of
//! changes is one write, and a failed write (429, 5xx, a dropped connection) is retried with
//! backoff until it lands or is superseded: nothing is lost, and because every write is a
//! patch to a named object or is checked against the watched objects first, nothing is
//! duplicated either.
//!
//! ServiceL2Status and ServiceBGPStatus objects are created with `generateName` (as MetalLB
//! does), so they are found by their labels in a watch of their kind. A create whose answer
//! was lost may leave a second object; the next pass sees two and deletes the extra.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Label keys MetalLB puts on the per-service status objects (docs/compatibility.md §1.8).
pub const LABEL_NODE: &str = "metallb.io/node";
pub const LABEL_SERVICE_NAME: &str = "metallb.io/service-name";
pub const LABEL_SERVICE_NAMESPACE: &str = "metallb.io/service-namespace";
/// The Service annotation naming the pool an address came from.
pub const POOL_ANNOTATION: &str = "metallb.io/ip-allocated-from-pool";
/// Field manager of server-side applies.
const FIELD_MANAGER: &str = "ferrolb";

/// Which per-service status kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceStatusKind {
    /// ServiceL2Status: the node answering ARP/NDP for the service.
    Layer2,
    /// ServiceBGPStatus: a node advertising the service, and to which peers.
    Bgp,
}

impl ServiceStatusKind {
    pub fn resource(self) -> ApiResource {
        let (kind, plural) = match self {
            Self::Layer2 => ("ServiceL2Status", "servicel2statuses"),
            Self::Bgp => ("ServiceBGPStatus", "servicebgpstatuses"),
        };
        metallb(kind, plural)
    }

    fn generate_name(self) -> &'static str {
        match self {
            Self::Layer2 => "l2-",
            Self::Bgp => "bgp-",
        }
    }
}

/// Where the ConfigurationState objects live.
pub fn configuration_state_resource() -> ApiResource {
    metallb("ConfigurationState", "configurationstates")
}

fn metallb(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: "metallb.io".into(),
        version: "v1beta1".into(),
        api_version: "metallb.io/v1beta1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// What a write is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A Service's `status.loadBalancer` and pool annotation.
    Service { namespace: String, name: String },
    /// An IPAddressPool's status.
    Pool { name: String },
    /// A ConfigurationState object (`controller`, `speaker-<node>`).
    ConfigurationState { name: String },
    /// One node's ServiceL2Status or ServiceBGPStatus for one service.
    ServiceStatus { kind: ServiceStatusKind, namespace: String, name: String, node: String },
    /// A per-service status object to delete by name (another node's, left behind).
    Stale { kind: ServiceStatusKind, object: String },
}

/// The wished state of a target; `None` in [`StatusWriter::set`] means "absent / cleared".
#[derive(Debug, Clone, PartialEq)]
pub enum Wish {
    /// Ingress addresses (as `status.loadBalancer.ingress` items) and the pool.
    Service { ingress: Value, pool: Option<String> },
    /// The pool's status object.
    Pool(Value),
    /// Labels of the object and its status.
    ConfigurationState { labels: BTreeMap<String, String>, status: Value },
    /// The status of the per-service object.
    ServiceStatus(Value),
}

/// A per-service status object as the watch last showed it (or as this writer created it).
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    kind: ServiceStatusKind,
    namespace: String,
    service: String,
    node: String,
    status: Value,
}

#[derive(Debug, Default)]
struct State {
    wishes: BTreeMap<Target, Option<Wish>>,
    /// Targets to visit, with the earliest time to do so (backoff)...
    due: BTreeMap<Target, Instant>,
    /// ...and the same visits in time order.
    queue: BTreeSet<(Instant, Target)>,
    attempts: BTreeMap<Target, u32>,
    /// Targets being written right now.
    in_flight: BTreeSet<Target>,
    /// Per-service status objects by object name.
    observed: BTreeMap<String, Observed>,
    /// Whether each status kind's first listing is done: until then nobody knows which
    /// objects exist, and creating one could duplicate it.
    listed: BTreeSet<ServiceStatusKind>,
    /// ConfigurationState objects already applied by this process.
    applied_objects: BTreeSet<String>,
    errors: u64,
}

impl State {
    /// Schedules a visit of `target` at `at`, or keeps an earlier one. The queue orders visits
    /// by time, so finding the next is cheap however many thousands are waiting.
    fn schedule(&mut self, target: Target, at: Instant) {
        match self.due.get(&target) {
            Some(existing) if *existing <= at => {}
            Some(existing) => {
                self.queue.remove(&(*existing, target.clone()));
                self.queue.insert((at, target.clone()));
                self.due.insert(target, at);
            }
            None => {
                self.queue.insert((at, target.clone()));
                self.due.insert(target, at);
            }
        }
    }

    fn unschedule(&mut self, target: &Target) {
        if let Some(at) = self.due.remove(target) {
            self.queue.remove(&(at, target.clone()));
        }
    }
}

/// The handle reconcilers write through; cheap to clone.
#[derive(Debug, Clone)]
pub struct StatusWriter {
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    settings: Arc<Settings>,
}

/// Where and as whom the writer writes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespace: String,
    /// Owner of the objects this process creates (its Pod), so they go with it.
    pub owner: Option<OwnerReference>,
}

/// How many targets are written at once.
pub const IN_FLIGHT: usize = 8;

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

/// Backoff of a failed write: 200 ms doubling to 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(8))).min(Duration::from_secs(30))
}

impl StatusWriter {
    pub fn new(settings: Settings) -> Self {
        Self { state: Arc::default(), wake: Arc::new(Notify::new()), settings: Arc::new(settings) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// States the wish for a target. Returns at once; the write happens in [`run`](Self::run).
    /// The same wish while it is still waiting is one write; stated again after it was
    /// written, it is written again (the caller saw the object differ: someone changed it).
    pub fn set(&self, target: Target, wish: Option<Wish>) {
        let mut state = self.lock();
        if state.wishes.get(&target) == Some(&wish) && state.due.contains_key(&target) {
            return;
        }
        state.wishes.insert(target.clone(), wish);
        state.attempts.remove(&target);
        state.schedule(target, Instant::now());
        drop(state);
        self.wake.notify_one();
    }

    /// Whether nothing is waiting to be written (targets waiting for their kind's first
    /// listing do not count).
    pub fn settled(&self) -> bool {
        let state = self.lock();
        state.due.is_empty() && state.in_flight.is_empty()
    }

    /// Waits until [`settled`](Self::settled) or the time is up; true if settled. For an
    /// orderly shutdown: the last statuses land before the process exits.
    pub async fn flush(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.settled() {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// How many targets the writer holds a wish for (objects that should exist, and
    /// removals not yet landed).
    pub fn remembered(&self) -> usize {
        self.lock().wishes.len()
    }

    /// Writes that failed so far (each retry counts).
    pub fn errors(&self) -> u64 {
        self.lock().errors
    }

    /// Whether `node` holds a per-service status object for the service, as far as known.
    pub fn has(&self, kind: ServiceStatusKind, namespace: &str, service: &str, node: &str) -> bool {
        let state = self.lock();
        let target =
            Target::ServiceStatus { kind, namespace: namespace.into(), name: service.into(), node: node.into() };
        matches!(state.wishes.get(&target), Some(Some(_)))
            || state
                .observed
                .values()
                .any(|o| o.kind == kind && o.namespace == namespace && o.service == service && o.node == node)
    }

    /// Deletes the service's status objects of other nodes, except those `keep` says are
    /// alive; returns those nodes. As the announcer in MetalLB, the one node that owns a
    /// service removes what dead nodes left behind.
    pub fn remove_others(
        &self,
        kind: ServiceStatusKind,
        namespace: &str,
        service: &str,
        node: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let stale: Vec<(String, String)> = self
            .lock()
            .observed
            .iter()
            .filter(|(_, o)| o.kind == kind && o.namespace == namespace && o.service == service)
            .filter(|(_, o)| o.node != node && !keep(&o.node))
            .map(|(name, o)| (name.clone(), o.node.clone()))
            .collect();
        let mut nodes = Vec::new();
        for (object, other) in stale {
            self.set(Target::Stale { kind, object }, None);
            nodes.push(other);
        }
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Feeds the watch of a per-service status kind (see [`watch_statuses`]).
    pub fn observe(&self, kind: ServiceStatusKind, event: StatusEvent) {
        let mut state = self.lock();
        match event {
            StatusEvent::Listed(objects) => {
                state.observed.retain(|_, o| o.kind != kind);
                for (name, observed) in objects.into_iter().filter_map(|o| parse_observed(kind, &o)) {
                    state.observed.insert(name, observed);
                }
                state.listed.insert(kind);
                // Targets waiting for the listing can go now.
                let waiting: Vec<Target> = state
                    .wishes
                    .keys()
                    .filter(|t| matches!(t, Target::ServiceStatus { kind: k, .. } if *k == kind))
                    .cloned()
                    .collect();
                let now = Instant::now();
                for target in waiting {
                    state.schedule(target, now);
                }
            }
            StatusEvent::Applied(object) => {
                if let Some((name, observed)) = parse_observed(kind, &object) {
                    state.observed.insert(name, observed);
                }
            }
            StatusEvent::Deleted(object) => {
                if let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) {
                    state.observed.remove(name);
                }
            }
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Converges the API server to the wishes until the future is dropped. Up to
    /// [`IN_FLIGHT`] targets are written at once (thousands of services after a restart must
    /// not queue behind each other's round trips); one target is never written twice at once,
    /// so its writes stay in order.
    pub async fn run(self, client: kube::Client) {
        let mut writes = tokio::task::JoinSet::new();
        loop {
            while writes.len() < IN_FLIGHT {
                let Some(target) = self.take_due(Instant::now()) else { break };
                let (writer, client) = (self.clone(), client.clone());
                writes.spawn(async move {
                    writer.visit(&client, target.clone()).await;
                    writer.lock().in_flight.remove(&target);
                });
            }
            let next = self.next_due();
            tokio::select! {
                Some(_) = writes.join_next(), if !writes.is_empty() => {}
                () = tokio::time::sleep_until(next.unwrap_or_else(far_future)), if next.is_some() && writes.len() < IN_FLIGHT => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// The earliest due target not being written now, if it is due by `now`; marked in flight.
    fn take_due(&self, now: Instant) -> Option<Target> {
        let mut state = self.lock();
        let (_, target) =
            state.queue.iter().take_while(|(at, _)| *at <= now).find(|(_, t)| !state.in_flight.contains(t)).cloned()?;
        state.unschedule(&target);
        state.in_flight.insert(target.clone());
        Some(target)
    }

    /// When the next target not being written now falls due.
    fn next_due(&self) -> Option<Instant> {
        let state = self.lock();
        state.queue.iter().find(|(_, t)| !state.in_flight.contains(t)).map(|(at, _)| *at)
    }

    /// One attempt at one target.
    async fn visit(&self, client: &kube::Client, target: Target) {
        let (wish, blocked) = {
            let state = self.lock();
            let wish = state.wishes.get(&target).cloned().unwrap_or(None);
            let blocked = match &target {
                Target::ServiceStatus { kind, .. } | Target::Stale { kind, .. } => !state.listed.contains(kind),
                _ => false,
            };
            (wish, blocked)
        };
        if blocked {
            // Revisited when the listing arrives (see `observe`).
            return;
        }
        let result = match &target {
            Target::Service { namespace, name } => self.write_service(client, namespace, name, wish.as_ref()).await,
            Target::Pool { name } => self.write_pool(client, name, wish.as_ref()).await,
            Target::ConfigurationState { name } => self.write_configuration_state(client, name, wish.as_ref()).await,
            Target::ServiceStatus { kind, namespace, name, node } => {
                self.write_service_status(client, *kind, namespace, name, node, wish.as_ref()).await
            }
            Target::Stale { kind, object } => self.delete_status_object(client, *kind, object).await,
        };
        let mut state = self.lock();
        match result {
            Ok(()) => {
                state.attempts.remove(&target);
                // An absence that landed needs no remembering: forgetting it keeps the
                // writer's memory to the objects that exist, however many come and go.
                if wish.is_none() && state.wishes.get(&target) == Some(&wish) {
                    state.wishes.remove(&target);
                }
            }
            Err(e) => {
                state.errors += 1;
                let attempt = state.attempts.entry(target.clone()).or_insert(0);
                let delay = backoff(*attempt);
                *attempt += 1;
                if *attempt == 1 || (*attempt).is_power_of_two() {
                    warn!(target = ?target, error = %e, retry_in = ?delay, "status write failed; retrying");
                }
                state.schedule(target, Instant::now() + delay);
            }
        }
    }

    async fn write_service(
        &self,
        client: &kube::Client,
        namespace: &str,
        name: &str,
        wish: Option<&Wish>,
    ) -> Result<(), kube::Error> {
        let (ingress, pool) = match wish {
            Some(Wish::Service { ingress, pool }) => (ingress.clone(), pool.clone()),
            _ => (Value::Null, None),
        };
        let resource = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Service".into(),
            plural: "services".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let params = PatchParams::default();
        // The annotation first: a reader that sees the new address also sees its pool.
        let annotation = json!({"metadata": {"annotations": {POOL_ANNOTATION: pool}}});
        let status = json!({"status": {"loadBalancer": {"ingress": if ingress.as_array().is_some_and(|a| !a.is_empty()) { ingress } else { Value::Null }}}});
        let done = async {
            api.patch(name, &params, &Patch::Merge(&annotation)).await?;
            api.patch_status(name, &params, &Patch::Merge(&status)).await
        };
        match done.await {
            Ok(_) => {
                debug!(service = %format!("{namespace}/{name}"), "service status written");
                Ok(())
            }
            // The service is gone: nothing left to write.
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn write_pool(&self, client: &kube::Client, name: &str, wish: Option<&Wish>) -> Result<(), kube::Error> {
        let Some(Wish::Pool(status)) = wish else { return Ok(()) };
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &self.settings.namespace, &metallb("IPAddressPool", "ipaddresspools"));
        match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&json!({"status": status}))).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Server-side apply, as MetalLB: the object (labels, owner) once per process or again
    /// when it was deleted, then the status.
    async fn write_configuration_state(
        &self,
        client: &kube::Client,
        name: &str,
        wish: Option<&Wish>,
    ) -> Result<(), kube::Error> {
        let Some(Wish::ConfigurationState { labels, status }) = wish else { return Ok(()) };
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &self.settings.namespace, &configuration_state_resource());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = self.lock().applied_objects.contains(name);
        if !applied {
            let mut metadata = json!({"name": name, "namespace": self.settings.namespace, "labels": labels});
            if let Some(owner) = &self.settings.owner {
                metadata["ownerReferences"] = json!([owner]);
            }
            let object =
                json!({"apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState", "metadata": metadata});
            api.patch(name, &params, &Patch::Apply(&object)).await?;
            self.lock().applied_objects.insert(name.to_owned());
        }
        let object = json!({"apiVersion": "metallb.io/v1beta1", "kind": "ConfigurationState", "metadata": {"name": name}, "status": status});
        match api.patch_status(name, &params, &Patch::Apply(&object)).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => {
                // Deleted by someone: recreate it on the retry.
                self.lock().applied_objects.remove(name);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn write_service_status(
        &self,
        client: &kube::Client,
        kind: ServiceStatusKind,
        namespace: &str,
        service: &str,
        node: &str,
        wish: Option<&Wish>,
    ) -> Result<(), kube::Error> {
        let mine: Vec<(String, Value)> = self
            .lock()
            .observed
            .iter()
            .filter(|(_, o)| o.kind == kind && o.namespace == namespace && o.service == service && o.node == node)
            .map(|(name, o)| (name.clone(), o.status.clone()))
            .collect();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &self.settings.namespace, &kind.resource());
        let Some(Wish::ServiceStatus(status)) = wish else {
            for (object, _) in &mine {
                self.delete_status_object(client, kind, object).await?;
            }
            return Ok(());
        };
        let (keep, current) = match mine.split_first() {
            Some(((name, current), extras)) => {
                for (extra, _) in extras {
                    self.delete_status_object(client, kind, extra).await?;
                }
                (name.clone(), Some(current.clone()))
            }
            None => {
                let mut metadata = json!({
                    "generateName": kind.generate_name(),
                    "namespace": self.settings.namespace,
                    "labels": {LABEL_NODE: node, LABEL_SERVICE_NAME: service, LABEL_SERVICE_NAMESPACE: namespace},
                });
                if let Some(owner) = &self.settings.owner {
                    metadata["ownerReferences"] = json!([owner]);
                }
                let object = json!({"apiVersion": "metallb.io/v1beta1", "kind": kind.resource().kind, "metadata": metadata, "spec": {}});
                let object: DynamicObject = serde_json::from_value(object).map_err(kube::Error::SerdeError)?;
                let created = api.create(&PostParams::default(), &object).await?;
                let name = created.metadata.name.clone().unwrap_or_default();
                // Known at once, before the watch shows it: the next pass must not create another.
                self.lock().observed.insert(
                    name.clone(),
                    Observed {
                        kind,
                        namespace: namespace.into(),
                        service: service.into(),
                        node: node.into(),
                        status: Value::Null,
                    },
                );
                (name, None)
            }
        };
        if current.as_ref() != Some(status) {
            api.patch_status(&keep, &PatchParams::default(), &Patch::Merge(&json!({"status": status}))).await?;
            if let Some(o) = self.lock().observed.get_mut(&keep) {
                o.status = status.clone();
            }
            info!(kind = ?kind, service = %format!("{namespace}/{service}"), object = %keep, "status written");
        }
        Ok(())
    }

    async fn delete_status_object(
        &self,
        client: &kube::Client,
        kind: ServiceStatusKind,
        object: &str,
    ) -> Result<(), kube::Error> {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &self.settings.namespace, &kind.resource());
        match api.delete(object, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e),
        }
        self.lock().observed.remove(object);
        Ok(())
    }
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

fn parse_observed(kind: ServiceStatusKind, object: &Value) -> Option<(String, Observed)> {
    let name = object.pointer("/metadata/name")?.as_str()?.to_owned();
    let label = |key: &str| object.pointer("/metadata/labels").and_then(|l| l.get(key)).and_then(Value::as_str);
    let observed = Observed {
        kind,
        namespace: label(LABEL_SERVICE_NAMESPACE)?.to_owned(),
        service: label(LABEL_SERVICE_NAME)?.to_owned(),
        node: label(LABEL_NODE)?.to_owned(),
        status: object.get("status").cloned().unwrap_or(Value::Null),
    };
    Some((name, observed))
}

/// News from the watch of a per-service status kind.
#[derive(Debug, Clone)]
pub enum StatusEvent {
    /// A complete listing: these are all the objects.
    Listed(Vec<Value>),
    Applied(Value),
    Deleted(Value),
}

/// Watches a per-service status kind in the namespace and feeds the writer, forever.
pub async fn watch_statuses(client: kube::Client, writer: StatusWriter, kind: ServiceStatusKind) {
    let api: Api<DynamicObject> = Api::namespaced_with(client, &writer.settings.namespace, &kind.resource());
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let mut buffer: Option<Vec<Value>> = None;
    while let Some(event) = stream.next().await {
        let value = |o: DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
        match event {
            Ok(Event::Init) => buffer = Some(Vec::new()),
            Ok(Event::InitApply(o)) => buffer.get_or_insert_with(Vec::new).push(value(o)),
            Ok(Event::InitDone) => writer.observe(kind, StatusEvent::Listed(buffer.take().unwrap_or_default())),
            Ok(Event::Apply(o)) => writer.observe(kind, StatusEvent::Applied(value(o))),
            Ok(Event::Delete(o)) => writer.observe(kind, StatusEvent::Deleted(value(o))),
            Err(e) => warn!(kind = ?kind, error = %e, "status watch failed; retrying with backoff"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(7), Duration::from_millis(25_600));
        assert_eq!(backoff(8), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn status_objects_are_recognised_by_their_labels() {
        let object = json!({"metadata": {"name": "l2-abc", "labels": {
            LABEL_NODE: "n1", LABEL_SERVICE_NAME: "web", LABEL_SERVICE_NAMESPACE: "default"}},
            "status": {"node": "n1"}});
        let (name, observed) = parse_observed(ServiceStatusKind::Layer2, &object).unwrap();
        assert_eq!((name.as_str(), observed.node.as_str(), observed.service.as_str()), ("l2-abc", "n1", "web"));
        // Without MetalLB's labels it is not ours to manage.
        assert!(parse_observed(ServiceStatusKind::Layer2, &json!({"metadata": {"name": "x"}})).is_none());
    }

    #[test]
    fn a_repeated_wish_waits_once_and_a_new_one_replaces_it() {
        let writer = StatusWriter::new(Settings { namespace: "metallb-system".into(), owner: None });
        let target = Target::Pool { name: "p".into() };
        writer.set(target.clone(), Some(Wish::Pool(json!({"assignedIPv4": 1}))));
        let first = writer.lock().due[&target];
        writer.set(target.clone(), Some(Wish::Pool(json!({"assignedIPv4": 1}))));
        assert_eq!(writer.lock().due[&target], first, "not pushed back by a repeat");
        writer.set(target.clone(), Some(Wish::Pool(json!({"assignedIPv4": 2}))));
        assert_eq!(writer.lock().due.len(), 1);
        assert_eq!(writer.lock().wishes[&target], Some(Wish::Pool(json!({"assignedIPv4": 2}))));
    }

    #[test]
    fn the_owner_removes_what_dead_nodes_left_and_keeps_the_living() {
        let writer = StatusWriter::new(Settings { namespace: "metallb-system".into(), owner: None });
        let object = |name: &str, node: &str| {
            json!({"metadata": {"name": name, "labels": {
                LABEL_NODE: node, LABEL_SERVICE_NAME: "web", LABEL_SERVICE_NAMESPACE: "default"}}})
        };
        writer.observe(
            ServiceStatusKind::Layer2,
            StatusEvent::Listed(vec![object("l2-a", "n1"), object("l2-b", "n2"), object("l2-c", "n3")]),
        );
        let removed = writer.remove_others(ServiceStatusKind::Layer2, "default", "web", "n3", |n| n == "n1");
        assert_eq!(removed, ["n2"]);
        assert!(writer.has(ServiceStatusKind::Layer2, "default", "web", "n3"));
        assert!(!writer.has(ServiceStatusKind::Bgp, "default", "web", "n3"));
        let due: Vec<Target> = writer.lock().due.keys().cloned().collect();
        assert_eq!(due, [Target::Stale { kind: ServiceStatusKind::Layer2, object: "l2-b".into() }]);
    }
}
