//! The controller's decision for one service (MetalLB's `SetBalancer` and
//! `convergeBalancer`, docs/compatibility.md §3.1): which addresses it should carry, from which pool,
//! which events to emit, and whether every service must be reprocessed.

use std::net::IpAddr;

use ferrolb_api::Service;
use serde::Serialize;

use crate::allocator::{Allocator, Claim};
use crate::family::{self, Family, Policy, quote_ips};
use crate::service::ServiceView;

/// Kubernetes event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    Normal,
    Warning,
}

/// An event on the Service, as MetalLB's controller records it (docs/compatibility.md §2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub reason: String,
    #[serde(rename = "type")]
    pub type_: EventType,
    pub message: String,
}

impl Event {
    fn normal(reason: &str, message: String) -> Self {
        Self { reason: reason.to_owned(), type_: EventType::Normal, message }
    }

    fn warning(reason: &str, message: String) -> Self {
        Self { reason: reason.to_owned(), type_: EventType::Warning, message }
    }
}

/// What to do with one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// False when the service belongs to another load-balancer class: it is left alone
    /// entirely, not even cleaned up (docs/compatibility.md §2.1).
    pub handled: bool,
    /// `status.loadBalancer.ingress` to write, in order.
    pub ips: Vec<IpAddr>,
    /// `metallb.io/ip-allocated-from-pool` to write; `None` removes it.
    pub pool: Option<String>,
    /// Whether `ips` or `pool` differ from what the service carries: write only then.
    pub changed: bool,
    pub events: Vec<Event>,
    /// Why the service did not converge (MetalLB's `ErrConverge`): the message of the
    /// warning that stopped it, or the reason it was cleared. Not retried by itself.
    pub error: Option<String>,
    /// The service gave up addresses that are still inside a pool: others waiting for an
    /// address may now fit, so every service must be reprocessed.
    pub reprocess_all: bool,
}

/// The service state being converged: starts as what the service carries.
struct Status {
    ips: Vec<IpAddr>,
    pool: Option<String>,
    /// Whether `ips` still holds the input unchanged (so unparsable entries are kept).
    untouched: bool,
    events: Vec<Event>,
}

impl Allocator {
    /// Converges one service against the current pools and allocations (MetalLB's
    /// `SetBalancer` for an existing service).
    pub fn reconcile(&mut self, svc: &Service) -> Outcome {
        let view = ServiceView::new(svc);
        if view.class != self.lb_class.as_deref() {
            return Outcome {
                handled: false,
                ips: Vec::new(),
                pool: None,
                changed: false,
                events: Vec::new(),
                error: Some(match (&self.lb_class, view.class) {
                    (None, Some(class)) => format!("loadBalancerClass {class:?} is not handled by this controller"),
                    (Some(ours), _) => format!("loadBalancerClass is not {ours:?}, the class this controller handles"),
                    (None, None) => unreachable!("equal classes are handled"),
                }),
                reprocess_all: false,
            };
        }
        let previous: Vec<IpAddr> = self.ips(&view.key).to_vec();
        let mut status = Status {
            ips: view.ingress.iter().filter_map(|ip| ip.parse().ok()).collect(),
            pool: view.current_pool.map(str::to_owned),
            untouched: true,
            events: Vec::new(),
        };
        let error = self.converge(&view, &mut status).err();

        let input_ingress: Vec<String> =
            svc.status.load_balancer.ingress.iter().map(|i| i.ip.clone().unwrap_or_default()).collect();
        let hostnames = svc.status.load_balancer.ingress.iter().any(|i| i.hostname.is_some());
        let changed = !status.untouched
            && (hostnames
                || input_ingress != status.ips.iter().map(ToString::to_string).collect::<Vec<_>>()
                || view.current_pool != status.pool.as_deref());
        if changed {
            for key in view.deprecated_annotations() {
                status
                    .events
                    .push(Event::warning("deprecatedAnnotation", format!("Service uses deprecated annotation {key}")));
            }
        }
        let reprocess_all =
            changed && !previous.is_empty() && self.pool(&view.key).is_none() && self.pool_for_ips(&previous).is_some();
        Outcome {
            handled: true,
            ips: status.ips,
            pool: status.pool,
            changed,
            events: status.events,
            error,
            reprocess_all,
        }
    }

    /// The service was deleted: frees its addresses. True when it held any, in which case
    /// every service must be reprocessed (another may now fit).
    pub fn release_service(&mut self, namespace: &str, name: &str) -> bool {
        self.release(&format!("{namespace}/{name}"))
    }

    fn clear(&mut self, view: &ServiceView<'_>, status: &mut Status) {
        self.release(&view.key);
        status.ips.clear();
        status.pool = None;
        status.untouched = false;
    }

    /// `convergeBalancer`: Err carries the reason convergence stopped.
    fn converge(&mut self, view: &ServiceView<'_>, status: &mut Status) -> Result<(), String> {
        if !view.is_load_balancer {
            self.clear(view, status);
            return Ok(());
        }
        if !self.has_pools() {
            self.clear(view, status);
            return Err("no IPAddressPool is configured".to_owned());
        }
        if view.cluster_ips.is_empty() {
            self.clear(view, status);
            return Err("the service has no clusterIPs, its IP family is unknown".to_owned());
        }
        if view.policy == Policy::RequireDualStack && view.cluster_ips.len() < 2 {
            let message = format!("RequireDualStack needs two clusterIPs, the service has {}", view.cluster_ips.len());
            status.events.push(Event::warning("not enough clusterips", message.clone()));
            self.clear(view, status);
            return Err(message);
        }

        let claim = Claim {
            key: &view.key,
            namespace: view.namespace,
            labels: view.labels,
            ports: &sorted_ports(view),
            alloc_key: &view.alloc_key,
        };
        let service_family = view.family();

        let mut lb_ips: Vec<IpAddr> = Vec::new();
        if view.ingress.is_empty() {
            self.clear(view, status);
        } else {
            let lb_family = match family::of_addresses(&view.ingress) {
                Ok(family) => Some(family),
                Err(why) => {
                    let message =
                        format!("Failed to retrieve LBIPs IPFamily for {}: {why}", family::quote_list(&view.ingress));
                    status.events.push(Event::warning("nolbIPsIPFamily", message));
                    None
                }
            };
            let cluster_family = match &service_family {
                Ok(family) => *family,
                Err(why) => {
                    let message = format!(
                        "Failed to retrieve ClusterIPs IPFamily for {} : {why}",
                        family::quote_list(&view.cluster_ips)
                    );
                    status.events.push(Event::warning("noclusterIPsIPFamily", message.clone()));
                    return Err(message);
                }
            };
            if family_changed(lb_family, cluster_family, view.policy) {
                self.clear(view, status);
            } else {
                lb_ips = status.ips.clone();
            }
        }

        if !lb_ips.is_empty() {
            if let Err(why) = self.assign(&claim, &lb_ips) {
                status.events.push(Event::normal(
                    "ClearAssignment",
                    format!(
                        "current IP for {:?} not allowed by config, will attempt for new IP assignment: {why}",
                        view.key
                    ),
                ));
                self.clear(view, status);
                lb_ips.clear();
            }
            if !lb_ips.is_empty()
                && let Some(desired) = view.desired_pool
                && self.pool(&view.key) != Some(desired)
            {
                self.clear(view, status);
                lb_ips.clear();
            }
            let (requested, _) = match view.requested_ips() {
                Ok(requested) => requested,
                Err(why) => {
                    let message = format!("invalid requested loadbalancer IPs: {why}");
                    status.events.push(Event::warning("LoadBalancerFailed", message.clone()));
                    return Err(message);
                }
            };
            if !requested.is_empty() && !same_set(&lb_ips, &requested) {
                self.clear(view, status);
                lb_ips.clear();
            }
        }

        if lb_ips.len() == 1 && view.policy == Policy::PreferDualStack && service_family == Ok(Family::Dual) {
            match self.allocate_additional(&claim, lb_ips[0]) {
                Ok(additional) => {
                    lb_ips.push(additional);
                    status.events.push(Event::normal(
                        "IPAllocated",
                        format!("Assigned additional IP {:?}", additional.to_string()),
                    ));
                }
                Err(why) => status.events.push(Event::normal(
                    "AdditionalAssignFailed",
                    format!("cannot assign additional IP in PreferDualStack: {why}"),
                )),
            }
        }

        if lb_ips.is_empty() {
            match self.allocate_ips(view, &claim) {
                Ok(ips) => {
                    status.events.push(Event::normal("IPAllocated", format!("Assigned IP {}", quote_ips(&ips))));
                    lb_ips = ips;
                }
                Err(why) => {
                    let message = format!("Failed to allocate IP for {:?}: {why}", view.key);
                    status.events.push(Event::warning("AllocationFailed", message.clone()));
                    return Err(message);
                }
            }
        }

        let pool = self.pool(&view.key).map(str::to_owned);
        if status.untouched && status.ips == lb_ips && status.pool == pool {
            return Ok(());
        }
        status.ips = lb_ips;
        status.pool = pool;
        status.untouched = false;
        Ok(())
    }

    /// MetalLB's `allocateIPs`: requested addresses, else the named pool, else any pool.
    fn allocate_ips(&mut self, view: &ServiceView<'_>, claim: &Claim<'_>) -> Result<Vec<IpAddr>, String> {
        let family = view.family()?;
        let (requested, requested_family) = view.requested_ips()?;
        if !requested.is_empty() {
            if requested_family != Some(family) {
                return Err(format!(
                    "requested loadBalancer IP(s) {} does not match the ipFamily of the service",
                    quote_ips(&requested)
                ));
            }
            self.assign(claim, &requested)?;
            if let Some(desired) = view.desired_pool
                && self.pool(&view.key) != Some(desired)
            {
                self.release(&view.key);
                return Err(format!(
                    "requested loadBalancer IP(s) {} is not compatible with requested address pool {desired}",
                    quote_ips(&requested)
                ));
            }
            return Ok(requested);
        }
        match view.desired_pool {
            Some(pool) => self.allocate_from_pool(claim, pool, family, view.policy),
            None => self.allocate(claim, family, view.policy, view.primary),
        }
    }
}

/// Whether the addresses a service carries no longer fit its family: unknown, or another
/// family than the cluster IPs', except a single family on a PreferDualStack dual-stack
/// service (MetalLB's `serviceFamilyChanged`).
fn family_changed(lb: Option<Family>, cluster: Family, policy: Policy) -> bool {
    match lb {
        None => true,
        Some(lb) if lb == cluster => false,
        Some(_) => !(cluster == Family::Dual && policy == Policy::PreferDualStack),
    }
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

fn sorted_ports(view: &ServiceView<'_>) -> Vec<crate::service::Port> {
    let mut ports = view.ports.clone();
    ports.sort();
    ports.dedup();
    ports
}
