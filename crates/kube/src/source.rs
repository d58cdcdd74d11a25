//! The `k8s` source: watches of exactly the objects a role reads, folded into snapshots of
//! [`Resources`], the same shape the `dir:` source produces.
//!
//! Every watched kind keeps its own store, filled by a kube-runtime watcher (list, then
//! watch, re-listing with backoff after any error). Objects are decoded by the manifest
//! loader (`ferrolb_api::load_value`), so an object means the same thing whether it came from
//! a file or from the API server. An object that does not decode is kept out of the
//! snapshot and reported in it ([`Snapshot::rejected`]), where the reconcilers turn it into
//! a ConfigurationState error; a watcher never stops on one.
//!
//! Nothing is published until every kind has been listed once: a controller reconciling a
//! half-listed cluster would release the addresses of the services it has not seen yet.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ferrolb_api::Resources;
use ferrolb_api::touched::{ServiceKey, Touched};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

/// The kinds ferrolb reads from the API server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    IPAddressPool,
    L2Advertisement,
    BGPAdvertisement,
    BGPPeer,
    BFDProfile,
    Community,
    Secret,
    Service,
    EndpointSlice,
    Node,
    Namespace,
}

/// Which process reads: the controller needs far less than a speaker (docs/compatibility.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Controller,
    Speaker,
}

impl Role {
    /// The kinds this role watches. The controller validates pools and communities only
    /// (config scope `Controller`) and allocates to Services by Namespace.
    pub fn kinds(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            Role::Controller => &[IPAddressPool, Community, Service, Namespace],
            Role::Speaker => &Kind::ALL,
        }
    }
}

impl Kind {
    /// Every kind; a speaker reads them all.
    pub const ALL: [Kind; 11] = [
        Kind::IPAddressPool,
        Kind::L2Advertisement,
        Kind::BGPAdvertisement,
        Kind::BGPPeer,
        Kind::BFDProfile,
        Kind::Community,
        Kind::Secret,
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Node,
        Kind::Namespace,
    ];

    /// Where the kind lives on the API server.
    pub fn api_resource(self) -> ApiResource {
        let (group, version, plural) = match self {
            Kind::IPAddressPool => ("metallb.io", "v1beta1", "ipaddresspools"),
            Kind::L2Advertisement => ("metallb.io", "v1beta1", "l2advertisements"),
            Kind::BGPAdvertisement => ("metallb.io", "v1beta1", "bgpadvertisements"),
            // The storage version: v1beta1 objects arrive converted by the webhook.
            Kind::BGPPeer => ("metallb.io", "v1beta2", "bgppeers"),
            Kind::BFDProfile => ("metallb.io", "v1beta1", "bfdprofiles"),
            Kind::Community => ("metallb.io", "v1beta1", "communities"),
            Kind::Secret => ("", "v1", "secrets"),
            Kind::Service => ("", "v1", "services"),
            Kind::EndpointSlice => ("discovery.k8s.io", "v1", "endpointslices"),
            Kind::Node => ("", "v1", "nodes"),
            Kind::Namespace => ("", "v1", "namespaces"),
        };
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: if group.is_empty() { version.into() } else { format!("{group}/{version}") },
            kind: self.as_str().into(),
            plural: plural.into(),
        }
    }

    /// MetalLB CRs and Secrets are read in the ferrolb namespace only; the rest cluster-wide.
    pub fn in_own_namespace(self) -> bool {
        !matches!(self, Kind::Service | Kind::EndpointSlice | Kind::Node | Kind::Namespace)
    }
}

/// What the reconcilers get: the objects, and the ones that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub resources: Resources,
    /// Objects the API server holds but ferrolb cannot decode (a field of the wrong type on
    /// an object written before the CRD was updated).
    pub rejected: Vec<Rejected>,
    /// How it differs from the snapshot published before it, when the source knows.
    pub changes: Changes,
}

/// Two snapshots are equal when they hold the same objects, however they came about.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.resources == other.resources && self.rejected == other.rejected
    }
}

/// How a snapshot differs from the one its source published just before it: what lets a
/// reconciler that saw that one redo only the Services that changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The source's count of the snapshots it published, this one included; 0 when the
    /// source does not count them (and then nothing is known of the changes).
    pub seq: u64,
    /// What differs from snapshot `seq - 1`.
    pub touched: Touched,
}

impl Changes {
    /// The Services that differ from snapshot `seen`, the last one a reconciler worked
    /// through; `None` when that is not known (it missed one, or anything may have changed),
    /// and every Service must be looked at.
    pub fn since(&self, seen: u64) -> Option<&BTreeSet<ServiceKey>> {
        if self.seq == 0 || seen.checked_add(1) != Some(self.seq) {
            return None;
        }
        self.touched.services()
    }
}

/// An object that could not be decoded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// The decoder's one-line message: `Kind/name: field: rule`.
    pub message: String,
}

impl Kind {
    /// The kind's name, as in `apiVersion`/`kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IPAddressPool => "IPAddressPool",
            Kind::L2Advertisement => "L2Advertisement",
            Kind::BGPAdvertisement => "BGPAdvertisement",
            Kind::BGPPeer => "BGPPeer",
            Kind::BFDProfile => "BFDProfile",
            Kind::Community => "Community",
            Kind::Secret => "Secret",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Node => "Node",
            Kind::Namespace => "Namespace",
        }
    }

    /// True for the metallb.io configuration kinds: one of them unreadable makes the whole
    /// configuration unknowable, so the last good one stays (as for any invalid object).
    pub fn is_configuration(self) -> bool {
        matches!(
            self,
            Kind::IPAddressPool
                | Kind::L2Advertisement
                | Kind::BGPAdvertisement
                | Kind::BGPPeer
                | Kind::BFDProfile
                | Kind::Community
        )
    }
}

/// One watcher's news, tagged with its kind.
#[derive(Debug)]
pub enum Change {
    /// A re-list began: objects until [`Change::Listed`] replace the kind's store.
    Relist(Kind),
    Apply(Kind, Value),
    Delete(Kind, Value),
    /// The re-list is complete.
    Listed(Kind),
    /// The watch failed; the watcher retries by itself.
    Failed(Kind, String),
}

/// The stores of every watched kind: pure, fed [`Change`]s, read as a [`Snapshot`].
///
/// Objects are held once, in the snapshot itself: publishing shares it with the reconcilers,
/// and the first change after that copies it (copy on write), so a quiet cluster costs one
/// copy of its objects, not one per store and one per snapshot. An update that decodes to
/// the same object (a Node's heartbeat, a resourceVersion bump) changes nothing and
/// publishes nothing.
#[derive(Debug, Default)]
pub struct Stores {
    kinds: BTreeMap<Kind, Store>,
    snapshot: Arc<Snapshot>,
}

#[derive(Debug, Default)]
struct Store {
    /// Where each object (`namespace/name`) sits in the snapshot.
    slots: BTreeMap<String, Slot>,
    /// Objects received during a re-list, swapped in when it completes.
    relisting: Option<BTreeMap<String, Entry>>,
    listed: bool,
}

/// A position in the snapshot: in the kind's list, or among the rejected objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Decoded(usize),
    Rejected(usize),
}

#[derive(Debug, Clone)]
enum Entry {
    /// A [`Resources`] holding exactly this one object.
    Decoded(Resources),
    Rejected(Rejected),
}

/// Runs `$body` with `$list` bound to the snapshot's list of `$kind` and `$one` to the same
/// list of a one-object [`Resources`] (borrowed mutably with `[mut]`, shared with `[]`): the
/// lists have different element types, so each kind gets its own arm.
macro_rules! with_lists {
    ($kind:expr, [$($m:ident)?] $resources:expr, $from:expr, |$list:ident, $one:ident| $body:expr) => {
        match $kind {
            Kind::IPAddressPool => {
                let ($list, $one) = (&$($m)? $resources.ip_address_pools, &$($m)? $from.ip_address_pools);
                $body
            }
            Kind::L2Advertisement => {
                let ($list, $one) = (&$($m)? $resources.l2_advertisements, &$($m)? $from.l2_advertisements);
                $body
            }
            Kind::BGPAdvertisement => {
                let ($list, $one) = (&$($m)? $resources.bgp_advertisements, &$($m)? $from.bgp_advertisements);
                $body
            }
            Kind::BGPPeer => {
                let ($list, $one) = (&$($m)? $resources.bgp_peers, &$($m)? $from.bgp_peers);
                $body
            }
            Kind::BFDProfile => {
                let ($list, $one) = (&$($m)? $resources.bfd_profiles, &$($m)? $from.bfd_profiles);
                $body
            }
            Kind::Community => {
                let ($list, $one) = (&$($m)? $resources.communities, &$($m)? $from.communities);
                $body
            }
            Kind::Secret => {
                let ($list, $one) = (&$($m)? $resources.secrets, &$($m)? $from.secrets);
                $body
            }
            Kind::Service => {
                let ($list, $one) = (&$($m)? $resources.services, &$($m)? $from.services);
                $body
            }
            Kind::EndpointSlice => {
                let ($list, $one) = (&$($m)? $resources.endpoint_slices, &$($m)? $from.endpoint_slices);
                $body
            }
            Kind::Node => {
                let ($list, $one) = (&$($m)? $resources.nodes, &$($m)? $from.nodes);
                $body
            }
            Kind::Namespace => {
                let ($list, $one) = (&$($m)? $resources.namespaces, &$($m)? $from.namespaces);
                $body
            }
        }
    };
}

impl Stores {
    /// Stores for these kinds, none listed yet.
    pub fn new(kinds: &[Kind]) -> Self {
        Self { kinds: kinds.iter().map(|k| (*k, Store::default())).collect(), snapshot: Arc::default() }
    }

    /// Applies one change; true when the snapshot changed.
    pub fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Relist(kind) => {
                // A listing replaces what the store holds, at once, when it ends. The first
                // one has nothing to replace and is not published before it ends (nor before
                // every kind is listed), so its objects go straight into the snapshot: a
                // buffer of thousands of decoded objects would double the peak memory.
                if let Some(store) = self.kinds.get_mut(&kind)
                    && (store.listed || !store.slots.is_empty())
                {
                    store.relisting = Some(BTreeMap::new());
                }
                false
            }
            Change::Apply(kind, object) => {
                let Some(store) = self.kinds.get_mut(&kind) else { return false };
                let (key, entry) = decode(kind, object);
                match &mut store.relisting {
                    Some(buffer) => {
                        buffer.insert(key, entry);
                        false
                    }
                    None => self.put(kind, key, entry),
                }
            }
            Change::Delete(kind, object) => {
                let Some(store) = self.kinds.get_mut(&kind) else { return false };
                let key = object_key(&object);
                if let Some(buffer) = &mut store.relisting {
                    buffer.remove(&key);
                }
                self.remove(kind, &key)
            }
            Change::Listed(kind) => {
                let Some(store) = self.kinds.get_mut(&kind) else { return false };
                store.listed = true;
                let Some(buffer) = store.relisting.take() else {
                    // A first listing went straight in, its list grown by doubling: give the
                    // room it did not fill back (nothing has been handed out yet, so this
                    // copies nothing).
                    let mut none = Resources::default();
                    let snapshot = Arc::make_mut(&mut self.snapshot);
                    with_lists!(kind, [mut] snapshot.resources, none, |list, _none| list.shrink_to_fit());
                    return true;
                };
                let stale: Vec<String> = store.slots.keys().filter(|k| !buffer.contains_key(*k)).cloned().collect();
                let new = buffer
                    .iter()
                    .filter(|(k, e)| matches!(e, Entry::Decoded(_)) && !store.slots.contains_key(*k))
                    .count();
                let mut changed = false;
                for key in stale {
                    changed |= self.remove(kind, &key);
                }
                // Room for what the relist adds, exactly: grown by doubling, a list can keep up
                // to twice the room it needs for as long as the process runs.
                if new > 0 {
                    let mut none = Resources::default();
                    let snapshot = Arc::make_mut(&mut self.snapshot);
                    with_lists!(kind, [mut] snapshot.resources, none, |list, _none| list.reserve_exact(new));
                }
                for (key, entry) in buffer {
                    changed |= self.put(kind, key, entry);
                }
                // The first listing completes the view even when it is empty.
                changed || self.kinds.values().all(|s| s.listed)
            }
            Change::Failed(..) => false,
        }
    }

    /// Puts an object in the snapshot, replacing the one of the same key; false when it was
    /// there already, unchanged.
    fn put(&mut self, kind: Kind, key: String, entry: Entry) -> bool {
        let Some(store) = self.kinds.get_mut(&kind) else { return false };
        let slot = store.slots.get(&key).copied();
        match (slot, entry) {
            (Some(Slot::Decoded(at)), Entry::Decoded(mut one)) => {
                let same = with_lists!(kind, [] self.snapshot.resources, one, |list, one| list.get(at) == one.first());
                if same {
                    return false;
                }
                let snapshot = Arc::make_mut(&mut self.snapshot);
                with_lists!(kind, [mut] snapshot.resources, one, |list, one| {
                    if let Some(object) = one.pop() {
                        list[at] = object;
                    }
                });
                true
            }
            (Some(Slot::Rejected(at)), Entry::Rejected(rejected)) => {
                if self.snapshot.rejected.get(at) == Some(&rejected) {
                    return false;
                }
                Arc::make_mut(&mut self.snapshot).rejected[at] = rejected;
                true
            }
            (slot, entry) => {
                if slot.is_some() {
                    self.remove(kind, &key);
                }
                let snapshot = Arc::make_mut(&mut self.snapshot);
                let slot = match entry {
                    Entry::Decoded(mut one) => with_lists!(kind, [mut] snapshot.resources, one, |list, one| {
                        list.append(one);
                        Slot::Decoded(list.len() - 1)
                    }),
                    Entry::Rejected(rejected) => {
                        snapshot.rejected.push(rejected);
                        Slot::Rejected(snapshot.rejected.len() - 1)
                    }
                };
                if let Some(store) = self.kinds.get_mut(&kind) {
                    store.slots.insert(key, slot);
                }
                true
            }
        }
    }

    /// Removes an object from the snapshot; false when it was not there. The objects after
    /// it move up one place, and their slots with them.
    fn remove(&mut self, kind: Kind, key: &str) -> bool {
        let Some(slot) = self.kinds.get_mut(&kind).and_then(|s| s.slots.remove(key)) else { return false };
        let snapshot = Arc::make_mut(&mut self.snapshot);
        match slot {
            Slot::Decoded(at) => {
                let mut none = Resources::default();
                with_lists!(kind, [mut] snapshot.resources, none, |list, _unused| {
                    list.remove(at);
                });
                for other in self.kinds.get_mut(&kind).into_iter().flat_map(|s| s.slots.values_mut()) {
                    if let Slot::Decoded(i) = other
                        && *i > at
                    {
                        *i -= 1;
                    }
                }
            }
            Slot::Rejected(at) => {
                snapshot.rejected.remove(at);
                for other in self.kinds.values_mut().flat_map(|s| s.slots.values_mut()) {
                    if let Slot::Rejected(i) = other
                        && *i > at
                    {
                        *i -= 1;
                    }
                }
            }
        }
        true
    }

    /// Whether every kind has been listed at least once.
    pub fn ready(&self) -> bool {
        self.kinds.values().all(|s| s.listed)
    }

    /// The current snapshot, shared.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot)
    }
}

fn object_key(object: &Value) -> String {
    let field = |path: &str| object.pointer(path).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}", field("/metadata/namespace"), field("/metadata/name"))
}

/// Decodes an object the way a manifest is decoded. List responses carry no apiVersion and
/// kind per item, so they are set from the watched kind first.
fn decode(kind: Kind, mut object: Value) -> (String, Entry) {
    let key = object_key(&object);
    let resource = kind.api_resource();
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".into(), Value::String(resource.api_version));
        map.insert("kind".into(), Value::String(resource.kind));
    }
    let mut one = Resources::default();
    match ferrolb_api::load_value(object, "api", &mut one) {
        Ok(_) => {
            one.shrink_to_fit();
            (key, Entry::Decoded(one))
        }
        Err(e) => {
            let (namespace, name) = key.split_once('/').unwrap_or(("", &key));
            let message = e.to_string();
            let message = message.strip_prefix("api: ").unwrap_or(&message).to_owned();
            let rejected = Rejected { kind, namespace: namespace.into(), name: name.into(), message };
            (key, Entry::Rejected(rejected))
        }
    }
}

/// How long the stores must be quiet before a snapshot is published: a burst of changes
/// (a `kubectl apply` of many objects, a re-list) is one reconcile.
const COALESCE: Duration = Duration::from_millis(30);
/// A snapshot is published at least this often while changes keep coming.
const MAX_DELAY: Duration = Duration::from_millis(300);

/// Watches `kinds` and publishes a [`Snapshot`] on `tx` after the first complete listing and
/// after every change. Returns when every receiver is gone.
pub async fn run(client: kube::Client, namespace: String, kinds: &[Kind], tx: watch::Sender<Option<Arc<Snapshot>>>) {
    let (changes_tx, mut changes) = mpsc::channel(1024);
    let mut tasks = Vec::new();
    for kind in kinds {
        tasks.push(tokio::spawn(watch_kind(client.clone(), namespace.clone(), *kind, changes_tx.clone())));
    }
    drop(changes_tx);
    let mut stores = Stores::new(kinds);
    let mut failing: BTreeMap<Kind, String> = BTreeMap::new();
    let mut dirty = false;
    let mut first_dirty: Option<tokio::time::Instant> = None;
    loop {
        let wait = match first_dirty {
            Some(since) if dirty => COALESCE.min(MAX_DELAY.saturating_sub(since.elapsed())),
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            change = changes.recv() => {
                let Some(change) = change else { break };
                note_health(&change, &mut failing);
                if stores.apply(change) {
                    dirty = true;
                    first_dirty.get_or_insert_with(tokio::time::Instant::now);
                }
            }
            () = tokio::time::sleep(wait), if dirty => {
                if stores.ready() {
                    let snapshot = stores.snapshot();
                    debug!(rejected = snapshot.rejected.len(), "new snapshot");
                    tx.send_replace(Some(snapshot));
                    dirty = false;
                    first_dirty = None;
                }
            }
            () = tx.closed() => break,
        }
    }
    for task in tasks {
        task.abort();
    }
}

/// Logs a watch failure once, and its recovery.
fn note_health(change: &Change, failing: &mut BTreeMap<Kind, String>) {
    match change {
        Change::Failed(kind, error) => {
            if failing.get(kind) != Some(error) {
                warn!(kind = ?kind, %error, "watch failed; retrying with backoff");
                failing.insert(*kind, error.clone());
            }
        }
        Change::Listed(kind) | Change::Apply(kind, _) | Change::Delete(kind, _) => {
            if failing.remove(kind).is_some() {
                info!(kind = ?kind, "watch recovered");
            }
        }
        Change::Relist(_) => {}
    }
}

/// One kind's watcher: list, watch, re-list after errors with backoff, forever.
async fn watch_kind(client: kube::Client, namespace: String, kind: Kind, out: mpsc::Sender<Change>) {
    let resource = kind.api_resource();
    let api = api_of(client, kind.in_own_namespace().then_some(namespace.as_str()), &resource);
    let mut stream = watcher::watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        let change = match event {
            Ok(Event::Init) => Change::Relist(kind),
            Ok(Event::InitApply(object) | Event::Apply(object)) => Change::Apply(kind, to_value(object)),
            Ok(Event::Delete(object)) => Change::Delete(kind, to_value(object)),
            Ok(Event::InitDone) => Change::Listed(kind),
            Err(e) => Change::Failed(kind, e.to_string()),
        };
        if out.send(change).await.is_err() {
            return;
        }
    }
}

/// Lists `kinds` once, page by page, without watching: what a one-shot reader (`ferrolb
/// why`) sees, decoded exactly as the watchers' objects are. A kind the caller may not list
/// (403) is taken as empty and named in the second value; any other failure is an error.
pub async fn list_once(
    client: kube::Client,
    namespace: &str,
    kinds: &[Kind],
) -> Result<(Arc<Snapshot>, Vec<String>), String> {
    let mut stores = Stores::new(kinds);
    let mut forbidden = Vec::new();
    for kind in kinds {
        stores.apply(Change::Relist(*kind));
        match list_all(client.clone(), kind.in_own_namespace().then_some(namespace), &kind.api_resource(), None).await {
            Ok(objects) => {
                for object in objects {
                    stores.apply(Change::Apply(*kind, object));
                }
            }
            Err(kube::Error::Api(e)) if e.code == 403 => forbidden.push(format!("{}: {}", kind.as_str(), e.message)),
            Err(e) => return Err(format!("cannot list {}: {e}", kind.api_resource().plural)),
        }
        stores.apply(Change::Listed(*kind));
    }
    Ok((stores.snapshot(), forbidden))
}

/// Every object of `resource` (in `namespace`, or cluster-wide), 500 per request.
pub async fn list_all(
    client: kube::Client,
    namespace: Option<&str>,
    resource: &ApiResource,
    labels: Option<&str>,
) -> Result<Vec<Value>, kube::Error> {
    let api = api_of(client, namespace, resource);
    let mut params = kube::api::ListParams::default().limit(500);
    if let Some(labels) = labels {
        params = params.labels(labels);
    }
    let mut out = Vec::new();
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items.into_iter().map(to_value));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}

/// The objects of `resource` in `namespace`, or cluster-wide.
fn api_of(client: kube::Client, namespace: Option<&str>, resource: &ApiResource) -> Api<DynamicObject> {
    match namespace {
        Some(namespace) => Api::namespaced_with(client, namespace, resource),
        None => Api::all_with(client, resource),
    }
}

fn to_value(object: DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pool(name: &str, cidr: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "metallb-system"}, "spec": {"addresses": [cidr]}})
    }

    #[test]
    fn nothing_is_ready_until_every_kind_is_listed() {
        let mut stores = Stores::new(&[Kind::IPAddressPool, Kind::Service]);
        stores.apply(Change::Relist(Kind::IPAddressPool));
        stores.apply(Change::Apply(Kind::IPAddressPool, pool("a", "10.0.0.0/24")));
        stores.apply(Change::Listed(Kind::IPAddressPool));
        assert!(!stores.ready());
        stores.apply(Change::Relist(Kind::Service));
        stores.apply(Change::Listed(Kind::Service));
        assert!(stores.ready());
        assert_eq!(stores.snapshot().resources.ip_address_pools.len(), 1);
    }

    #[test]
    fn a_relist_replaces_the_store_only_when_complete() {
        let mut stores = Stores::new(&[Kind::IPAddressPool]);
        stores.apply(Change::Relist(Kind::IPAddressPool));
        stores.apply(Change::Apply(Kind::IPAddressPool, pool("a", "10.0.0.0/24")));
        stores.apply(Change::Apply(Kind::IPAddressPool, pool("b", "10.0.1.0/24")));
        stores.apply(Change::Listed(Kind::IPAddressPool));
        // The watch broke; while re-listing, the old view stays whole.
        stores.apply(Change::Failed(Kind::IPAddressPool, "connection reset".into()));
        stores.apply(Change::Relist(Kind::IPAddressPool));
        stores.apply(Change::Apply(Kind::IPAddressPool, pool("b", "10.0.1.0/24")));
        assert_eq!(stores.snapshot().resources.ip_address_pools.len(), 2);
        // "a" was deleted while the watch was down: the completed re-list drops it.
        stores.apply(Change::Listed(Kind::IPAddressPool));
        let names: Vec<String> =
            stores.snapshot().resources.ip_address_pools.iter().map(|p| p.metadata.name.clone()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn updates_and_deletes_change_the_snapshot() {
        let mut stores = Stores::new(&[Kind::IPAddressPool]);
        stores.apply(Change::Listed(Kind::IPAddressPool));
        assert!(stores.apply(Change::Apply(Kind::IPAddressPool, pool("a", "10.0.0.0/24"))));
        assert!(stores.apply(Change::Apply(Kind::IPAddressPool, pool("a", "10.9.0.0/24"))));
        let snapshot = stores.snapshot();
        assert_eq!(snapshot.resources.ip_address_pools.len(), 1);
        assert_eq!(snapshot.resources.ip_address_pools[0].spec.addresses, ["10.9.0.0/24"]);
        assert!(stores.apply(Change::Delete(Kind::IPAddressPool, pool("a", "10.9.0.0/24"))));
        assert!(!stores.apply(Change::Delete(Kind::IPAddressPool, pool("a", "10.9.0.0/24"))));
        assert!(stores.snapshot().resources.ip_address_pools.is_empty());
    }

    #[test]
    fn an_undecodable_object_is_reported_not_dropped_silently() {
        let mut stores = Stores::new(&[Kind::IPAddressPool]);
        stores.apply(Change::Listed(Kind::IPAddressPool));
        let bad =
            json!({"metadata": {"name": "bad", "namespace": "metallb-system"}, "spec": {"addresses": "10.0.0.0/24"}});
        stores.apply(Change::Apply(Kind::IPAddressPool, bad));
        stores.apply(Change::Apply(Kind::IPAddressPool, pool("good", "10.0.0.0/24")));
        let snapshot = stores.snapshot();
        assert_eq!(snapshot.resources.ip_address_pools.len(), 1);
        assert_eq!(snapshot.rejected.len(), 1);
        let rejected = &snapshot.rejected[0];
        assert_eq!((rejected.kind, rejected.name.as_str()), (Kind::IPAddressPool, "bad"));
        assert!(rejected.message.starts_with("IPAddressPool/bad: spec.addresses: "), "{}", rejected.message);
    }

    #[test]
    fn changes_for_unwatched_kinds_are_ignored() {
        let mut stores = Stores::new(&[Kind::Service]);
        assert!(!stores.apply(Change::Apply(Kind::Node, json!({"metadata": {"name": "n"}}))));
        assert!(!stores.apply(Change::Listed(Kind::Node)));
    }

    #[test]
    fn the_controller_watches_less_than_a_speaker() {
        assert!(!Role::Controller.kinds().contains(&Kind::Secret));
        assert!(!Role::Controller.kinds().contains(&Kind::EndpointSlice));
        assert!(Role::Speaker.kinds().contains(&Kind::Secret));
        assert_eq!(Kind::BGPPeer.api_resource().api_version, "metallb.io/v1beta2");
        assert_eq!(Kind::EndpointSlice.api_resource().api_version, "discovery.k8s.io/v1");
        assert!(Kind::Secret.in_own_namespace() && !Kind::Node.in_own_namespace());
    }
}
