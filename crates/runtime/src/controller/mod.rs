//! The controller role: address management.
//!
//! Runs only while this process holds the controller lock. Every new snapshot is one
//! reconcile: parse the configuration (controller scope), keep the last good one if the new
//! one is rejected, re-home allocations when the pools changed, reprocess every service
//! (assigned ones first, so a restart or a takeover never moves an address), release
//! deleted services, and write what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ferrolb_api::core::LoadBalancerIngress;
use ferrolb_config::{Config, Options, Scope};
use ferrolb_ipam::Allocator;
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::conditions::{CONTROLLER_CONDITION, configuration_state};
use crate::observe::metrics::{Metrics, PoolLabel};
use crate::sink::{ServiceRef, Sink};
use crate::sources::state_dir::ServiceState;
use crate::sources::{POOL_ANNOTATION, Snapshot, parse_config};

#[derive(Debug)]
pub struct Controller {
    sink: Sink,
    options: Options,
    metrics: Arc<Metrics>,
    allocator: Allocator,
    config: Option<Config>,
    /// The configuration objects the current allocator pools came from, to detect changes.
    config_json: Option<String>,
    /// Services handled in the previous pass, to release the ones that disappeared.
    known: BTreeSet<(String, String)>,
    /// The service states on disk as this controller last saw or wrote them.
    written: BTreeMap<(String, String), ServiceState>,
    last_error: Option<String>,
    /// What was last written for pools and the ConfigurationState, to write only changes.
    pools_written: BTreeMap<String, String>,
    condition_written: Option<Option<String>>,
}

impl Controller {
    pub fn new(sink: Sink, namespace: String, lb_class: Option<String>, metrics: Arc<Metrics>) -> Self {
        Self {
            sink,
            options: Options { namespace, scope: Scope::Controller },
            metrics,
            allocator: Allocator::new(lb_class),
            config: None,
            config_json: None,
            known: BTreeSet::new(),
            written: BTreeMap::new(),
            last_error: None,
            pools_written: BTreeMap::new(),
            condition_written: None,
        }
    }

    /// Reconciles every snapshot until the source ends.
    pub async fn run(mut self, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
        // The channel's initial value is a placeholder, not the cluster: reconciling it would
        // clear every service's status. Only published snapshots count.
        while snapshots.changed().await.is_ok() {
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            self.reconcile(&snapshot);
        }
    }

    pub fn reconcile(&mut self, snapshot: &Snapshot) {
        let resources = &snapshot.resources;
        match parse_config(snapshot, &self.options) {
            Ok(config) => {
                let json = serde_json::to_string(&config).unwrap_or_default();
                if self.config_json.as_deref() != Some(json.as_str()) {
                    let released = self.allocator.set_pools(&config);
                    if !released.is_empty() {
                        info!(services = ?released, "configuration change released addresses; reallocating");
                    }
                    for gone in
                        self.config.iter().flat_map(|c| c.pools.iter()).filter(|p| config.pool(&p.name).is_none())
                    {
                        self.metrics.forget_pool(&gone.name);
                        if let Err(e) = self.sink.remove_pool(&gone.name) {
                            warn!(pool = %gone.name, error = %e, "cannot remove pool status");
                        }
                    }
                    info!(pools = config.pools.len(), "configuration loaded");
                    self.config = Some(config);
                    self.config_json = Some(json);
                }
                if self.last_error.take().is_some() {
                    info!("configuration valid again");
                }
                self.metrics.config_result(true);
                self.write_configuration_state(None);
            }
            Err(e) => {
                self.metrics.config_result(false);
                let message = e.to_string();
                if self.last_error.as_deref() != Some(message.as_str()) {
                    error!(error = %message, "configuration rejected; keeping the last good configuration");
                    self.sink.configuration_event(&self.options.namespace, &e, "controller");
                    self.last_error = Some(message);
                }
                self.write_configuration_state(Some(&e));
            }
        }
        if self.config.is_none() {
            return;
        }

        let mut present: BTreeSet<(String, String)> = resources
            .services
            .iter()
            .map(|s| (s.metadata.namespace.clone().unwrap_or_else(|| "default".into()), s.metadata.name.clone()))
            .collect();
        // A Service the source could not decode still exists: its address stays reserved.
        for rejected in snapshot.rejected.iter().filter(|r| r.kind == ferrolb_kube::source::Kind::Service) {
            present.insert((rejected.namespace.clone(), rejected.name.clone()));
        }
        for (namespace, name) in self.known.difference(&present) {
            if self.allocator.release_service(namespace, name) {
                info!(service = %format!("{namespace}/{name}"), "service deleted; address released");
            }
        }
        self.written = match self.sink.stored_services() {
            Some(stored) => {
                // Service states of services that no longer exist are garbage, whoever wrote them.
                for key in stored.keys().filter(|k| !present.contains(*k)) {
                    self.write_service(key, None);
                }
                stored.into_iter().filter(|(k, _)| present.contains(k)).collect()
            }
            None => states_on_objects(resources),
        };
        self.known = present;

        let outcomes = self.allocator.reconcile_all(&resources.services);
        for (service, outcome) in resources.services.iter().zip(outcomes) {
            let key =
                (service.metadata.namespace.clone().unwrap_or_else(|| "default".into()), service.metadata.name.clone());
            let service_ref = ServiceRef { namespace: &key.0, name: &key.1, uid: service.metadata.uid.as_deref() };
            for event in &outcome.events {
                info!(service = %format!("{}/{}", key.0, key.1), reason = %event.reason, kind = ?event.type_, "{}", event.message);
                let warning = event.type_ == ferrolb_ipam::EventType::Warning;
                self.sink.event(&service_ref, warning, &event.reason, event.message.clone());
            }
            if !outcome.handled {
                continue;
            }
            let desired = (!outcome.ips.is_empty()).then(|| ServiceState {
                ingress: outcome
                    .ips
                    .iter()
                    .map(|ip| LoadBalancerIngress { ip: Some(ip.to_string()), hostname: None })
                    .collect(),
                pool: outcome.pool.clone(),
            });
            if self.written.get(&key) != desired.as_ref() {
                self.write_service(&key, desired.as_ref());
            }
        }
        self.write_pools();
    }

    fn write_service(&mut self, key: &(String, String), state: Option<&ServiceState>) {
        self.metrics.updates.inc();
        match self.sink.write_service(&key.0, &key.1, state) {
            Ok(()) => match state {
                Some(s) => {
                    let ips: Vec<&str> = s.ingress.iter().filter_map(|i| i.ip.as_deref()).collect();
                    info!(service = %format!("{}/{}", key.0, key.1), ips = ?ips, pool = ?s.pool, "service status written");
                    self.written.insert(key.clone(), s.clone());
                }
                None => {
                    info!(service = %format!("{}/{}", key.0, key.1), "service status cleared");
                    self.written.remove(key);
                }
            },
            Err(e) => {
                self.metrics.update_errors.inc();
                error!(service = %format!("{}/{}", key.0, key.1), error = %e, "cannot write service status; will retry");
            }
        }
    }

    fn write_pools(&mut self) {
        let Some(config) = &self.config else { return };
        for pool in &config.pools {
            if let Some(m) = self.allocator.metrics(&pool.name) {
                let label = PoolLabel { pool: pool.name.clone() };
                self.metrics.addresses_total.get_or_create(&label).set(m.addresses_total);
                self.metrics.ipv4_addresses_total.get_or_create(&label).set(m.ipv4_addresses_total);
                self.metrics.ipv6_addresses_total.get_or_create(&label).set(m.ipv6_addresses_total);
                self.metrics.addresses_in_use.get_or_create(&label).set(m.addresses_in_use_total);
                self.metrics.ipv4_addresses_in_use.get_or_create(&label).set(m.ipv4_addresses_in_use_total);
                self.metrics.ipv6_addresses_in_use.get_or_create(&label).set(m.ipv6_addresses_in_use_total);
            }
            let Some(counters) = self.allocator.counters(&pool.name) else { continue };
            let json = serde_json::to_string(&counters).unwrap_or_default();
            if self.pools_written.get(&pool.name) == Some(&json) {
                continue;
            }
            match self.sink.write_pool(&pool.name, &counters) {
                Ok(()) => {
                    self.pools_written.insert(pool.name.clone(), json);
                }
                Err(e) => {
                    self.metrics.update_errors.inc();
                    warn!(pool = %pool.name, error = %e, "cannot write pool status");
                }
            }
        }
    }

    /// Written when the outcome changes, not on every pass: each write wakes every reader.
    fn write_configuration_state(&mut self, error: Option<&ferrolb_config::ConfigError>) {
        let key = error.map(ToString::to_string);
        if self.condition_written.as_ref() == Some(&key) {
            return;
        }
        let status = configuration_state(CONTROLLER_CONDITION, error);
        match self.sink.write_configuration_state("controller", &status) {
            Ok(()) => self.condition_written = Some(key),
            Err(e) => {
                self.metrics.update_errors.inc();
                warn!(error = %e, "cannot write the controller's ConfigurationState");
            }
        }
    }
}

/// Service states as the objects carry them (the API server's Services).
fn states_on_objects(resources: &ferrolb_api::Resources) -> BTreeMap<(String, String), ServiceState> {
    resources
        .services
        .iter()
        .filter(|s| !s.status.load_balancer.ingress.is_empty())
        .map(|s| {
            let key = (s.metadata.namespace.clone().unwrap_or_else(|| "default".into()), s.metadata.name.clone());
            let state = ServiceState {
                ingress: s.status.load_balancer.ingress.clone(),
                pool: s.metadata.annotations.get(POOL_ANNOTATION).cloned(),
            };
            (key, state)
        })
        .collect()
}
