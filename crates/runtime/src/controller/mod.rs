//! The controller role: address management, one active instance.
//!
//! [`core`] decides; [`Controller`] is the thin executor that runs while this process holds
//! the controller role: it feeds every snapshot to the core, applies the writes and events
//! the core asks for through the [`Sink`] (which retries until each lands), and keeps the
//! metrics.

pub mod core;

use std::sync::Arc;

use tokio::sync::watch;
use tracing::info;

use self::core::{ControllerCore, Event, Write};
use crate::conditions::{CONTROLLER_CONDITION, configuration_state};
use crate::observe::metrics::{Metrics, PoolLabel};
use crate::sink::{ServiceRef, Sink};
use crate::sources::Snapshot;
use crate::sources::state_writer::SERVICES_RESCAN;

#[derive(Debug)]
pub struct Controller {
    core: ControllerCore,
    sink: Sink,
    namespace: String,
    metrics: Arc<Metrics>,
}

impl Controller {
    pub fn new(sink: Sink, namespace: String, lb_class: Option<String>, metrics: Arc<Metrics>) -> Self {
        Self { core: ControllerCore::new(namespace.clone(), lb_class), sink, namespace, metrics }
    }

    /// Reconciles every snapshot until the source ends; between them, now and then, has the
    /// stored service states looked at again (what someone else did to them).
    pub async fn run(mut self, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
        let mut rescan = tokio::time::interval(SERVICES_RESCAN);
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        rescan.tick().await;
        loop {
            tokio::select! {
                // The channel's initial value is a placeholder, not the cluster: reconciling
                // it would clear every service's status. Only published snapshots count.
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let snapshot = Arc::clone(&snapshots.borrow_and_update());
                    self.reconcile(&snapshot);
                }
                _ = rescan.tick() => {
                    let sink = self.sink.clone();
                    let _ = tokio::task::spawn_blocking(move || sink.rescan_stored_services()).await;
                }
            }
        }
    }

    pub fn reconcile(&mut self, snapshot: &Snapshot) {
        let core = &mut self.core;
        let reread = snapshot.changes.touched.services();
        let step = self.sink.with_stored_services(reread, |stored| core.reconcile(snapshot, stored));
        self.metrics.config_result(step.accepted);
        for pool in &step.forgotten_pools {
            self.metrics.forget_pool(pool);
        }
        for event in step.events {
            self.event(event);
        }
        for write in step.writes {
            self.write(&write);
        }
        for (pool, m) in step.pool_metrics {
            let label = PoolLabel { pool };
            self.metrics.addresses_total.get_or_create(&label).set(m.addresses_total);
            self.metrics.ipv4_addresses_total.get_or_create(&label).set(m.ipv4_addresses_total);
            self.metrics.ipv6_addresses_total.get_or_create(&label).set(m.ipv6_addresses_total);
            self.metrics.addresses_in_use.get_or_create(&label).set(m.addresses_in_use_total);
            self.metrics.ipv4_addresses_in_use.get_or_create(&label).set(m.ipv4_addresses_in_use_total);
            self.metrics.ipv6_addresses_in_use.get_or_create(&label).set(m.ipv6_addresses_in_use_total);
            self.metrics.services_allocated.get_or_create(&label).set(m.services_allocated_total);
        }
    }

    fn write(&self, write: &Write) {
        match write {
            Write::Service { id: (namespace, name), state } => {
                self.metrics.updates.inc();
                self.sink.write_service(namespace, name, state.as_ref());
                match state {
                    Some(s) => {
                        let ips: Vec<&str> = s.ingress.iter().filter_map(|i| i.ip.as_deref()).collect();
                        info!(service = %format!("{namespace}/{name}"), ips = ?ips, pool = ?s.pool, "service status written");
                    }
                    None => info!(service = %format!("{namespace}/{name}"), "service status cleared"),
                }
            }
            Write::Pool { name, counters } => self.sink.write_pool(name, counters),
            Write::RemovePool { name } => self.sink.remove_pool(name),
            Write::ConfigurationState { error } => {
                let status = configuration_state(CONTROLLER_CONDITION, error.as_ref());
                self.sink.write_configuration_state("controller", &status)
            }
        }
    }

    fn event(&self, event: Event) {
        match event {
            Event::Service { id: (namespace, name), uid, warning, reason, message } => {
                let kind = if warning { "Warning" } else { "Normal" };
                info!(service = %format!("{namespace}/{name}"), reason = %reason, kind, "{message}");
                let service = ServiceRef { namespace: &namespace, name: &name, uid: uid.as_deref() };
                self.sink.event(&service, warning, &reason, message);
            }
            Event::Configuration(error) => self.sink.configuration_event(&self.namespace, &error, "controller"),
        }
    }
}
