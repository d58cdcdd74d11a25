//! The full reprocess and the service part of `ferrolb plan` (docs/design.md, The command-line
//! contract).

use std::cmp::Reverse;

use ferrolb_api::Service;
use ferrolb_config::Config;
use serde::Serialize;

use crate::allocator::Allocator;
use crate::reconcile::{Event, Outcome};
use crate::service::DEFAULT_NAMESPACE;

/// One LoadBalancer service in `ferrolb plan -o json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceResult {
    pub namespace: String,
    pub name: String,
    pub ips: Vec<String>,
    pub pool: Option<String>,
    pub error: Option<String>,
    /// Filled by the speaker's decisions (a later issue); always empty here.
    pub announcements: Vec<serde_json::Value>,
    /// Filled by the speaker's decisions (a later issue); always empty here.
    pub skipped: Vec<serde_json::Value>,
    /// The events the controller would record, for the text output.
    #[serde(skip)]
    pub events: Vec<Event>,
}

impl Allocator {
    /// MetalLB's "reprocess all" (docs/compatibility.md §3.1): services that already carry addresses
    /// first (most addresses first, then by namespace/name), so that after a restart or a
    /// configuration change every still-valid address is re-registered before anything
    /// new is allocated. Outcomes are returned in input order.
    pub fn reconcile_all(&mut self, services: &[Service]) -> Vec<Outcome> {
        self.reconcile_these(&services.iter().collect::<Vec<_>>())
    }

    /// [`Self::reconcile_all`] of some of the services: the others are left as they are.
    pub fn reconcile_these(&mut self, services: &[&Service]) -> Vec<Outcome> {
        let mut order: Vec<usize> = (0..services.len()).collect();
        order.sort_by_cached_key(|&i| {
            let s = &services[i];
            let ingress = s.ingress_ips().count();
            (Reverse(ingress), namespace_of(s), s.metadata.name.as_str())
        });
        let mut outcomes: Vec<Option<Outcome>> = vec![None; services.len()];
        for i in order {
            outcomes[i] = Some(self.reconcile(services[i]));
        }
        outcomes.into_iter().map(|o| o.expect("every service reconciled")).collect()
    }
}

/// What the controller would do with these services under this configuration, starting
/// from their current status as after a restart: one result per LoadBalancer service,
/// sorted by namespace and name.
pub fn plan(config: &Config, services: &[Service], lb_class: Option<&str>) -> Vec<ServiceResult> {
    let mut allocator = Allocator::new(lb_class.map(str::to_owned));
    allocator.set_pools(config);
    let outcomes = allocator.reconcile_all(services);
    let mut results: Vec<ServiceResult> = services
        .iter()
        .zip(outcomes)
        .filter(|(s, _)| s.spec.type_.as_deref() == Some("LoadBalancer"))
        .map(|(s, o)| ServiceResult {
            namespace: namespace_of(s).to_owned(),
            name: s.metadata.name.clone(),
            ips: o.ips.iter().map(ToString::to_string).collect(),
            pool: o.pool,
            error: o.error,
            announcements: Vec::new(),
            skipped: Vec::new(),
            events: o.events,
        })
        .collect();
    results.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    results
}

fn namespace_of(s: &Service) -> &str {
    s.metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE)
}
