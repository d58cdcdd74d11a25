//! The controller's reconcile step, without I/O: a snapshot (and, on the `dir:` source, the
//! service states stored beside it) in, the writes and events it wants out.
//!
//! One step: parse the configuration (controller scope); keep the last good one if the new
//! one is rejected; re-home allocations when the pools changed; reprocess every Service
//! (assigned ones first, so a restart or a takeover never moves an address); release deleted
//! Services; and ask for what changed to be written. The executor ([`super::Controller`])
//! hands the writes to the sink, which retries each until it lands.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use ferrolb_api::core::LoadBalancerIngress;
use ferrolb_config::{Config, ConfigError, Options, Scope};
use ferrolb_ipam::{Allocator, EventType, PoolCounters, PoolMetrics};
use ferrolb_kube::source::Kind;
use tracing::{error, info};

use crate::sources::state_dir::ServiceState;
use crate::sources::{POOL_ANNOTATION, Snapshot, parse_config};

/// A Service by namespace and name.
pub type ServiceId = (String, String);

/// The service states kept apart from the objects (the state directory), read where they
/// are: every step asks one question of each Service, and a copy of all of them for each
/// step was, at 100,000 Services, 25 MB made and dropped again for every change.
pub trait StoredStates {
    /// The state of the Service `namespace/name`.
    fn state(&self, namespace: &str, name: &str) -> Option<&ServiceState>;
    /// Calls `f` with the namespace and name of every Service that has a state.
    fn each(&self, f: &mut dyn FnMut(&str, &str));
}

impl StoredStates for BTreeMap<ServiceId, ServiceState> {
    fn state(&self, namespace: &str, name: &str) -> Option<&ServiceState> {
        self.get(&(namespace.to_owned(), name.to_owned()))
    }

    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (namespace, name) in self.keys() {
            f(namespace, name);
        }
    }
}

/// A write the controller wants; the executor applies it through the sink.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A Service's addresses and pool; `None` clears them (or forgets a deleted Service).
    Service { id: ServiceId, state: Option<ServiceState> },
    /// An IPAddressPool's status counters.
    Pool { name: String, counters: PoolCounters },
    /// A deleted pool's status.
    RemovePool { name: String },
    /// The controller's ConfigurationState: accepted (`None`) or rejected, and why.
    ConfigurationState { error: Option<ConfigError> },
}

/// An event the controller records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// About a Service (MetalLB's reasons: IPAllocated, AllocationFailed, ...).
    Service { id: ServiceId, uid: Option<String>, warning: bool, reason: String, message: String },
    /// A rejected configuration, on the object at fault.
    Configuration(ConfigError),
}

/// What one step wants done.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Step {
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
    /// Whether the snapshot's configuration was accepted (the `config_loaded`/`stale` gauges).
    pub accepted: bool,
    /// The `metallb_allocator_*` gauges of every pool.
    pub pool_metrics: Vec<(String, PoolMetrics)>,
    /// Pools gone from the configuration: their gauges go too.
    pub forgotten_pools: Vec<String>,
}

/// The controller's memory between steps.
#[derive(Debug)]
pub struct ControllerCore {
    options: Options,
    allocator: Allocator,
    config: Option<Config>,
    /// The configuration the allocator's pools came from, to detect changes.
    config_json: Option<String>,
    last_error: Option<String>,
    /// What was last asked for pools and the ConfigurationState, to write only changes.
    pools_written: BTreeMap<String, PoolCounters>,
    condition_written: Option<Option<String>>,
    /// The count of the snapshot last reconciled ([`Changes::seq`]): the next one, if it
    /// follows it and says what changed, is reconciled for those Services only.
    seen: u64,
}

impl ControllerCore {
    pub fn new(namespace: String, lb_class: Option<String>) -> Self {
        Self {
            options: Options { namespace, scope: Scope::Controller },
            allocator: Allocator::new(lb_class),
            config: None,
            config_json: None,
            last_error: None,
            pools_written: BTreeMap::new(),
            condition_written: None,
            seen: 0,
        }
    }

    /// One reconcile. `stored` holds the service states kept apart from the objects (the
    /// state directory); `None` when they live on the objects (the API server), where the
    /// snapshot carries them and a deleted Service takes its status with it.
    pub fn reconcile(&mut self, snapshot: &Snapshot, stored: Option<&dyn StoredStates>) -> Step {
        let mut step = Step::default();
        let repooled = self.configure(snapshot, &mut step);
        let seen = std::mem::replace(&mut self.seen, snapshot.changes.seq);
        if self.config.is_none() {
            // nothing was looked at: the next step looks at everything
            self.seen = 0;
            return step;
        }
        match snapshot.changes.since(seen).filter(|_| !repooled) {
            Some(touched) => self.reconcile_touched(snapshot, stored, touched, &mut step),
            None => self.reconcile_every(snapshot, stored, &mut step),
        }
        self.pools(&mut step);
        step
    }

    /// Every Service: the first step, and any step after a change that is not known to
    /// concern only some Services (the pools changed, a snapshot was missed, the source does
    /// not say).
    fn reconcile_every(&mut self, snapshot: &Snapshot, stored: Option<&dyn StoredStates>, step: &mut Step) {
        let resources = &snapshot.resources;
        // Borrowed, not copied: this runs on every snapshot, over every Service.
        let mut present: HashSet<(&str, &str)> = resources.services.iter().map(service_key).collect();
        // A Service the source could not decode still exists: its address stays reserved.
        for rejected in snapshot.rejected.iter().filter(|r| r.kind == Kind::Service) {
            present.insert((rejected.namespace.as_str(), rejected.name.as_str()));
        }
        // The Services holding addresses that are gone: the allocator's own list (a list of
        // every Service seen, kept for this, was 10 MB at 100,000).
        let gone: Vec<ServiceId> = self
            .allocator
            .holders()
            .filter_map(|key| key.split_once('/'))
            .filter(|key| !present.contains(key))
            .map(|(namespace, name)| (namespace.to_owned(), name.to_owned()))
            .collect();
        for (namespace, name) in &gone {
            if self.allocator.release_service(namespace, name) {
                info!(service = %format!("{namespace}/{name}"), "service deleted; address released");
            }
        }
        if let Some(stored) = stored {
            // Service states of Services that no longer exist are garbage, whoever wrote them.
            stored.each(&mut |namespace, name| {
                if !present.contains(&(namespace, name)) {
                    let id = (namespace.to_owned(), name.to_owned());
                    step.writes.push(Write::Service { id, state: None });
                }
            });
        }
        let services: Vec<&ferrolb_api::Service> = resources.services.iter().collect();
        self.reconcile_services(&services, stored, step);
    }

    /// The Services in `touched` only, the snapshot being the one after the last reconciled
    /// but for them: one edited Service among 100,000 is that Service's allocation and
    /// status, not 100,000 questions. When one gives up addresses (deleted, or moved out of
    /// its pool), every other Service is reconciled too, as in MetalLB, since one waiting
    /// for an address may now fit.
    fn reconcile_touched(
        &mut self,
        snapshot: &Snapshot,
        stored: Option<&dyn StoredStates>,
        touched: &BTreeSet<ServiceId>,
        step: &mut Step,
    ) {
        let resources = &snapshot.resources;
        let mut found: BTreeMap<(&str, &str), Vec<&ferrolb_api::Service>> =
            touched.iter().map(|(namespace, name)| ((namespace.as_str(), name.as_str()), Vec::new())).collect();
        for service in &resources.services {
            if let Some(list) = found.get_mut(&service_key(service)) {
                list.push(service);
            }
        }
        let undecoded: BTreeSet<(&str, &str)> = snapshot
            .rejected
            .iter()
            .filter(|r| r.kind == Kind::Service)
            .map(|r| (r.namespace.as_str(), r.name.as_str()))
            .filter(|key| found.contains_key(key))
            .collect();
        let mut freed = false;
        let mut here = Vec::new();
        for (&(namespace, name), services) in &found {
            if !services.is_empty() || undecoded.contains(&(namespace, name)) {
                here.extend(services.iter().copied());
                continue;
            }
            // deleted: its addresses go back, its stored state is garbage
            if self.allocator.release_service(namespace, name) {
                info!(service = %format!("{namespace}/{name}"), "service deleted; address released");
                freed = true;
            }
            if stored.is_some_and(|stored| stored.state(namespace, name).is_some()) {
                let id = (namespace.to_owned(), name.to_owned());
                step.writes.push(Write::Service { id, state: None });
            }
        }
        freed |= self.reconcile_services(&here, stored, step);
        if freed {
            let others: Vec<&ferrolb_api::Service> =
                resources.services.iter().filter(|s| !found.contains_key(&service_key(s))).collect();
            self.reconcile_services(&others, stored, step);
        }
    }

    /// Allocates for `services` (those with addresses first) and asks for every state that
    /// differs from what is written (`stored`, or on the objects themselves when `None`);
    /// true when one gave up addresses others may now take.
    fn reconcile_services(
        &mut self,
        services: &[&ferrolb_api::Service],
        stored: Option<&dyn StoredStates>,
        step: &mut Step,
    ) -> bool {
        let on_objects;
        let written: &dyn StoredStates = match stored {
            Some(stored) => stored,
            None => {
                on_objects = states_on_objects(services.iter().copied());
                &on_objects
            }
        };
        let outcomes = self.allocator.reconcile_these(services);
        let mut text = String::new();
        let mut freed = false;
        for (service, outcome) in services.iter().zip(outcomes) {
            freed |= outcome.reprocess_all;
            for event in outcome.events {
                let warning = event.type_ == EventType::Warning;
                let uid = service.metadata.uid.clone();
                step.events.push(Event::Service {
                    id: service_id(service),
                    uid,
                    warning,
                    reason: event.reason,
                    message: event.message,
                });
            }
            if !outcome.handled {
                continue;
            }
            let (namespace, name) = service_key(service);
            if same_state(written.state(namespace, name), &outcome.ips, outcome.pool.as_deref(), &mut text) {
                continue;
            }
            let id = service_id(service);
            let desired = (!outcome.ips.is_empty()).then(|| ServiceState {
                ingress: outcome
                    .ips
                    .iter()
                    .map(|ip| LoadBalancerIngress { ip: Some(ip.to_string()), hostname: None })
                    .collect(),
                pool: outcome.pool.clone(),
            });
            step.writes.push(Write::Service { id, state: desired });
        }
        freed
    }

    /// The configuration in force after this snapshot, and what its change asks for; true
    /// when the pools were set again (every allocation was looked at).
    fn configure(&mut self, snapshot: &Snapshot, step: &mut Step) -> bool {
        let mut repooled = false;
        match parse_config(snapshot, &self.options) {
            Ok(config) => {
                step.accepted = true;
                let json = serde_json::to_string(&config).unwrap_or_default();
                if self.config_json.as_deref() != Some(json.as_str()) {
                    let released = self.allocator.set_pools(&config);
                    repooled = true;
                    if !released.is_empty() {
                        info!(services = ?released, "configuration change released addresses; reallocating");
                    }
                    for gone in
                        self.config.iter().flat_map(|c| c.pools.iter()).filter(|p| config.pool(&p.name).is_none())
                    {
                        step.forgotten_pools.push(gone.name.clone());
                        self.pools_written.remove(&gone.name);
                        step.writes.push(Write::RemovePool { name: gone.name.clone() });
                    }
                    info!(pools = config.pools.len(), "configuration loaded");
                    self.config = Some(config);
                    self.config_json = Some(json);
                }
                if self.last_error.take().is_some() {
                    info!("configuration valid again");
                }
                self.condition(None, step);
            }
            Err(e) => {
                let message = e.to_string();
                if self.last_error.as_deref() != Some(message.as_str()) {
                    error!(error = %message, "configuration rejected; keeping the last good configuration");
                    step.events.push(Event::Configuration(e.clone()));
                    self.last_error = Some(message);
                }
                self.condition(Some(e), step);
            }
        }
        repooled
    }

    /// The ConfigurationState, asked for when the outcome changes, not on every step: each
    /// write wakes every reader.
    fn condition(&mut self, error: Option<ConfigError>, step: &mut Step) {
        let key = error.as_ref().map(ToString::to_string);
        if self.condition_written.as_ref() != Some(&key) {
            self.condition_written = Some(key);
            step.writes.push(Write::ConfigurationState { error });
        }
    }

    fn pools(&mut self, step: &mut Step) {
        let Some(config) = &self.config else { return };
        for pool in &config.pools {
            if let Some(m) = self.allocator.metrics(&pool.name) {
                step.pool_metrics.push((pool.name.clone(), m));
            }
            let Some(counters) = self.allocator.counters(&pool.name) else { continue };
            if self.pools_written.get(&pool.name) != Some(&counters) {
                self.pools_written.insert(pool.name.clone(), counters.clone());
                step.writes.push(Write::Pool { name: pool.name.clone(), counters });
            }
        }
    }
}

/// Whether `written` is exactly the state that `ips` and `pool` make (the addresses as the
/// controller prints them, in order, no hostnames): the question every step asks of every
/// Service, answered without building that state. `text` is scratch space.
fn same_state(written: Option<&ServiceState>, ips: &[IpAddr], pool: Option<&str>, text: &mut String) -> bool {
    let Some(written) = written else { return ips.is_empty() };
    if ips.is_empty() || written.pool.as_deref() != pool || written.ingress.len() != ips.len() {
        return false;
    }
    written.ingress.iter().zip(ips).all(|(ingress, ip)| {
        text.clear();
        let _ = write!(text, "{ip}");
        ingress.hostname.is_none() && ingress.ip.as_deref() == Some(text.as_str())
    })
}

/// A Service's namespace and name, borrowed.
fn service_key(service: &ferrolb_api::Service) -> (&str, &str) {
    (service.metadata.namespace.as_deref().unwrap_or("default"), service.metadata.name.as_str())
}

fn service_id(service: &ferrolb_api::Service) -> ServiceId {
    (service.metadata.namespace.clone().unwrap_or_else(|| "default".into()), service.metadata.name.clone())
}

/// Service states as the objects carry them (the API server's Services).
fn states_on_objects<'a>(
    services: impl Iterator<Item = &'a ferrolb_api::Service>,
) -> BTreeMap<ServiceId, ServiceState> {
    services
        .filter(|s| !s.status.load_balancer.ingress.is_empty())
        .map(|s| {
            let state = ServiceState {
                ingress: s.status.load_balancer.ingress.clone(),
                pool: s.metadata.annotations.get(POOL_ANNOTATION).cloned(),
            };
            (service_id(s), state)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ferrolb_kube::source::Rejected;

    use super::*;
    use crate::sources::numbered;

    fn some(stored: &BTreeMap<ServiceId, ServiceState>) -> Option<&dyn StoredStates> {
        Some(stored)
    }

    const POOL: &str = "apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: [10.0.0.0/30]}
";

    fn service(name: &str) -> String {
        format!(
            "---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default, uid: uid-{name}}}
spec: {{type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{{port: 80}}]}}
"
        )
    }

    fn snapshot(yaml: &str) -> Snapshot {
        let mut snapshot = Snapshot::default();
        ferrolb_api::load_str(yaml, "test", &mut snapshot.resources).unwrap();
        snapshot
    }

    /// The snapshot the `dir:` source publishes: the objects with the stored states overlaid.
    fn observed(yaml: &str, stored: &BTreeMap<ServiceId, ServiceState>) -> Snapshot {
        let mut snapshot = snapshot(yaml);
        for service in &mut snapshot.resources.services {
            if let Some(state) = stored.get(&service_id(service)) {
                service.status.load_balancer.ingress = state.ingress.clone();
                if let Some(pool) = &state.pool {
                    service.metadata.annotations.insert(POOL_ANNOTATION.into(), pool.clone());
                }
            }
        }
        snapshot
    }

    fn core() -> ControllerCore {
        ControllerCore::new("metallb-system".into(), None)
    }

    fn id(name: &str) -> ServiceId {
        ("default".into(), name.into())
    }

    fn service_writes(step: &Step) -> Vec<(ServiceId, Option<Vec<String>>)> {
        step.writes
            .iter()
            .filter_map(|w| match w {
                Write::Service { id, state } => {
                    Some((id.clone(), state.as_ref().map(|s| s.ingress.iter().filter_map(|i| i.ip.clone()).collect())))
                }
                _ => None,
            })
            .collect()
    }

    /// What a state directory holds after `step` was applied on top of `stored`.
    fn apply(stored: &mut BTreeMap<ServiceId, ServiceState>, step: &Step) {
        for write in &step.writes {
            if let Write::Service { id, state } = write {
                match state {
                    Some(s) => stored.insert(id.clone(), s.clone()),
                    None => stored.remove(id),
                };
            }
        }
    }

    #[test]
    fn a_stored_state_is_the_same_only_when_it_reads_exactly_as_the_controller_writes_it() {
        let state = |ips: &[&str], pool: &str| ServiceState {
            ingress: ips.iter().map(|ip| LoadBalancerIngress { ip: Some((*ip).into()), hostname: None }).collect(),
            pool: Some(pool.into()),
        };
        let ips: Vec<IpAddr> = vec!["10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let mut text = String::new();
        let same = |written: Option<&ServiceState>, ips: &[IpAddr], text: &mut String| {
            same_state(written, ips, Some("lan"), text)
        };
        assert!(same(Some(&state(&["10.0.0.1", "2001:db8::1"], "lan")), &ips, &mut text));
        assert!(!same(Some(&state(&["10.0.0.1", "2001:db8:0:0::1"], "lan")), &ips, &mut text), "rewritten canonically");
        assert!(!same(Some(&state(&["2001:db8::1", "10.0.0.1"], "lan")), &ips, &mut text), "order counts");
        assert!(!same(Some(&state(&["10.0.0.1", "2001:db8::1"], "web")), &ips, &mut text), "the pool counts");
        assert!(!same(Some(&state(&["10.0.0.1"], "lan")), &ips, &mut text));
        assert!(same(None, &[], &mut text), "nothing stored, nothing to store");
        assert!(!same(None, &ips, &mut text));
        assert!(!same(Some(&state(&["10.0.0.1"], "lan")), &[], &mut text), "a state to clear");
        let mut hostname = state(&["10.0.0.1", "2001:db8::1"], "lan");
        hostname.ingress[0].hostname = Some("lb".into());
        assert!(!same(Some(&hostname), &ips, &mut text));
    }

    #[test]
    fn an_allocation_is_written_once_then_nothing_while_nothing_changes() {
        let mut core = core();
        let snap = snapshot(&format!("{POOL}{}", service("web")));
        let mut stored = BTreeMap::new();
        let first = core.reconcile(&snap, some(&stored));
        assert!(first.accepted);
        assert_eq!(service_writes(&first), [(id("web"), Some(vec!["10.0.0.0".to_owned()]))]);
        assert!(first.writes.iter().any(|w| matches!(w, Write::Pool { name, .. } if name == "lan")));
        assert!(first.writes.contains(&Write::ConfigurationState { error: None }));
        assert!(first.events.iter().any(
            |e| matches!(e, Event::Service { reason, uid: Some(uid), .. } if reason == "IPAllocated" && uid == "uid-web")
        ));
        apply(&mut stored, &first);

        let second = core.reconcile(&snap, some(&stored));
        assert_eq!(second.writes, [], "nothing changed, nothing is written");
    }

    #[test]
    fn on_the_api_server_the_status_the_service_carries_counts_as_written() {
        let mut core = core();
        let snap = snapshot(&format!("{POOL}{}", service("web")));
        let first = core.reconcile(&snap, None);
        assert_eq!(service_writes(&first).len(), 1);
        // The API server now holds the status: the next snapshot carries it.
        let mut updated = snap.clone();
        let web = &mut updated.resources.services[0];
        web.status.load_balancer.ingress = vec![LoadBalancerIngress { ip: Some("10.0.0.0".into()), hostname: None }];
        web.metadata.annotations.insert(POOL_ANNOTATION.into(), "lan".into());
        assert_eq!(service_writes(&core.reconcile(&updated, None)), []);
    }

    #[test]
    fn a_service_write_that_did_not_land_is_asked_for_again() {
        let mut core = core();
        let snap = snapshot(&format!("{POOL}{}", service("web")));
        let first = core.reconcile(&snap, some(&BTreeMap::new()));
        assert_eq!(service_writes(&first).len(), 1);
        // The write failed: the state directory still holds nothing.
        let again = core.reconcile(&snap, some(&BTreeMap::new()));
        assert_eq!(service_writes(&again), [(id("web"), Some(vec!["10.0.0.0".to_owned()]))]);
    }

    #[test]
    fn a_rejected_configuration_keeps_the_last_good_one_and_every_address() {
        let mut core = core();
        let good = format!("{POOL}{}", service("web"));
        let mut stored = BTreeMap::new();
        let step = core.reconcile(&observed(&good, &stored), some(&stored));
        apply(&mut stored, &step);

        let bad = format!(
            "{POOL}---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: broken, namespace: metallb-system}}\nspec: {{addresses: [not-an-address]}}\n{}",
            service("web")
        );
        let step = core.reconcile(&observed(&bad, &stored), some(&stored));
        assert!(!step.accepted);
        assert_eq!(service_writes(&step), [], "no address is cleared or moved");
        let errors: Vec<&Write> =
            step.writes.iter().filter(|w| matches!(w, Write::ConfigurationState { error: Some(_) })).collect();
        assert_eq!(errors.len(), 1);
        assert!(matches!(&step.events[..], [Event::Configuration(e)] if e.name == "broken"), "{:?}", step.events);

        let repeated = core.reconcile(&observed(&bad, &stored), some(&stored));
        assert_eq!(repeated.writes, [], "the same error is reported once");
        assert_eq!(repeated.events, []);

        let fixed = core.reconcile(&observed(&good, &stored), some(&stored));
        assert!(fixed.accepted);
        assert_eq!(fixed.writes, [Write::ConfigurationState { error: None }]);
    }

    #[test]
    fn a_deleted_service_is_released_and_its_stored_state_removed() {
        let mut core = core();
        let mut stored = BTreeMap::new();
        let two = snapshot(&format!("{POOL}{}{}", service("a"), service("b")));
        let step = core.reconcile(&two, some(&stored));
        apply(&mut stored, &step);
        assert_eq!(stored.len(), 2);
        let one = observed(&format!("{POOL}{}", service("b")), &stored);
        let step = core.reconcile(&one, some(&stored));
        assert_eq!(service_writes(&step), [(id("a"), None)]);
        apply(&mut stored, &step);
        // The released address goes to the next Service that asks.
        let next = observed(&format!("{POOL}{}{}", service("b"), service("c")), &stored);
        let step = core.reconcile(&next, some(&stored));
        assert_eq!(service_writes(&step), [(id("c"), Some(vec!["10.0.0.0".to_owned()]))]);
    }

    #[test]
    fn a_service_that_does_not_decode_keeps_its_address_reserved() {
        let mut core = core();
        let mut stored = BTreeMap::new();
        let step = core.reconcile(&snapshot(&format!("{POOL}{}", service("a"))), some(&stored));
        apply(&mut stored, &step);
        let mut broken = snapshot(POOL);
        broken.rejected.push(Rejected {
            kind: Kind::Service,
            namespace: "default".into(),
            name: "a".into(),
            message: "Service/a: spec.ports: invalid type".into(),
        });
        let step = core.reconcile(&broken, some(&stored));
        assert_eq!(service_writes(&step), [], "neither released nor cleared");
    }

    #[test]
    fn a_snapshot_that_names_its_changes_is_reconciled_for_those_services_only() {
        let mut core = core();
        let mut stored = BTreeMap::new();
        let two = format!("{POOL}{}{}", service("a"), service("b"));
        let step = core.reconcile(&numbered(observed(&two, &stored), 1, &[]), some(&stored));
        apply(&mut stored, &step);
        assert_eq!(stored.len(), 2);

        // b's state goes missing behind the controller's back: only a step that looks at b
        // notices. A snapshot naming c alone is c's allocation and nothing else.
        stored.remove(&id("b"));
        let three = format!("{two}{}", service("c"));
        let step = core.reconcile(&numbered(observed(&three, &stored), 2, &["c"]), some(&stored));
        assert_eq!(service_writes(&step), [(id("c"), Some(vec!["10.0.0.2".to_owned()]))]);
        apply(&mut stored, &step);

        // A reconciler that missed snapshot 3 cannot trust the changes of 4: everything.
        let step = core.reconcile(&numbered(observed(&three, &stored), 4, &["c"]), some(&stored));
        assert_eq!(service_writes(&step), [(id("b"), Some(vec!["10.0.0.1".to_owned()]))], "b is written again");
    }

    #[test]
    fn a_named_deletion_frees_its_address_for_a_service_that_waits_for_one() {
        let mut core = core();
        let mut stored = BTreeMap::new();
        let five: String = ["a", "b", "c", "d", "e"].iter().map(|n| service(n)).collect();
        let step = core.reconcile(&numbered(observed(&format!("{POOL}{five}"), &stored), 1, &[]), some(&stored));
        apply(&mut stored, &step);
        assert_eq!(stored.len(), 4, "four addresses for five Services");
        assert!(!stored.contains_key(&id("e")));

        let four: String = ["b", "c", "d", "e"].iter().map(|n| service(n)).collect();
        let step = core.reconcile(&numbered(observed(&format!("{POOL}{four}"), &stored), 2, &["a"]), some(&stored));
        assert_eq!(
            service_writes(&step),
            [(id("a"), None), (id("e"), Some(vec!["10.0.0.0".to_owned()]))],
            "a is forgotten and e, which waited, takes its address"
        );
    }

    #[test]
    fn a_pool_change_reconciles_every_service_whatever_the_snapshot_names() {
        let mut core = core();
        let mut stored = BTreeMap::new();
        let two = format!("{POOL}{}{}", service("a"), service("b"));
        let step = core.reconcile(&numbered(observed(&two, &stored), 1, &[]), some(&stored));
        apply(&mut stored, &step);
        let moved = two.replace("10.0.0.0/30", "10.1.0.0/30");
        let step = core.reconcile(&numbered(observed(&moved, &stored), 2, &[]), some(&stored));
        assert_eq!(
            service_writes(&step),
            [(id("a"), Some(vec!["10.1.0.0".to_owned()])), (id("b"), Some(vec!["10.1.0.1".to_owned()]))]
        );
    }

    #[test]
    fn a_removed_pool_has_its_status_and_gauges_removed() {
        let mut core = core();
        core.reconcile(&snapshot(POOL), None);
        let other = POOL.replace("name: lan", "name: wan").replace("10.0.0.0/30", "10.1.0.0/30");
        let step = core.reconcile(&snapshot(&other), None);
        assert!(step.writes.contains(&Write::RemovePool { name: "lan".into() }));
        assert_eq!(step.forgotten_pools, ["lan"]);
    }
}
