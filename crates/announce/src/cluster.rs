//! The speaker's inputs, and what it reads from Nodes and Services (docs/compatibility.md
//! §2.1, §2.2, §4.1).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use ferrolb_api::{EndpointSlice, Node, Service};
use ferrolb_config::{Config, Pool};
use serde::Serialize;

use crate::liveness::Liveness;
use crate::reason::Reason;

/// The label that keeps a node out of every election and BGP announcement (docs/compatibility.md §4.1).
pub const EXCLUDE_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
/// The sharing annotation; its mere presence matters to Layer 2 (docs/compatibility.md §2.2, §4.2).
pub const ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.io/allow-shared-ip";
const DEPRECATED_ALLOW_SHARED_IP: &str = "metallb.universe.tf/allow-shared-ip";
/// The namespace of an object written without one.
const DEFAULT_NAMESPACE: &str = "default";

/// Everything a speaker decides from: the same snapshot on every node, so every node reaches
/// the same Layer 2 winner.
#[derive(Debug, Clone, Copy)]
pub struct Cluster<'a> {
    pub config: &'a Config,
    pub services: &'a [Service],
    pub endpoint_slices: &'a [EndpointSlice],
    pub nodes: &'a [Node],
    pub liveness: &'a Liveness,
    /// `--ignore-exclude-lb`: the exclusion label is ignored.
    pub ignore_exclude_lb: bool,
    /// `--lb-class`: `None` handles services without a class only (docs/compatibility.md §2.1).
    pub lb_class: Option<&'a str>,
}

impl<'a> Cluster<'a> {
    /// A cluster with membership disabled, no exclusion override and no class.
    pub fn new(
        config: &'a Config,
        services: &'a [Service],
        endpoint_slices: &'a [EndpointSlice],
        nodes: &'a [Node],
        liveness: &'a Liveness,
    ) -> Self {
        Self { config, services, endpoint_slices, nodes, liveness, ignore_exclude_lb: false, lb_class: None }
    }

    /// Whether this speaker handles the service at all: services of another class are
    /// ignored, not withdrawn (docs/compatibility.md §2.1).
    pub(crate) fn handles(&self, service: &Service) -> bool {
        service.spec.load_balancer_class.as_deref() == self.lb_class
    }

    /// The slices of the service, found through their `kubernetes.io/service-name` label
    /// (hashed: looked up once per Service, 100,000 times a step in a large cluster).
    /// Only the Services `wanted` says yes to are indexed; `room` is how many are expected.
    pub(crate) fn slices_by_service(
        &self,
        room: usize,
        wanted: impl Fn((&str, &str)) -> bool,
    ) -> HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>> {
        let mut index: HashMap<(&str, &str), Vec<&EndpointSlice>> = HashMap::with_capacity(room);
        for slice in self.endpoint_slices {
            if let Some(service) = slice.service_name() {
                let key = (namespace_of(slice.metadata.namespace.as_deref()), service);
                if wanted(key) {
                    index.entry(key).or_default().push(slice);
                }
            }
        }
        index
    }

    /// Why `node` may not announce at all, whatever the service (docs/compatibility.md §4.1).
    pub(crate) fn node_exclusion(&self, node: Option<&Node>) -> Option<Reason> {
        let node = node?;
        if node.network_unavailable() {
            Some(Reason::NodeNetworkUnavailable)
        } else if !self.ignore_exclude_lb && node.metadata.labels.contains_key(EXCLUDE_LB_LABEL) {
            Some(Reason::NodeLabeledExcludeBalancers)
        } else {
            None
        }
    }
}

/// A service's identity. Serialises as `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into() }
    }

    pub fn of(service: &Service) -> Self {
        Self::new(namespace_of(service.metadata.namespace.as_deref()), service.metadata.name.clone())
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl Serialize for ServiceKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

pub(crate) fn namespace_of(namespace: Option<&str>) -> &str {
    namespace.filter(|ns| !ns.is_empty()).unwrap_or(DEFAULT_NAMESPACE)
}

/// A LoadBalancer service whose addresses passed the common checks: what both protocols
/// announce.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    /// In `status.loadBalancer.ingress` order; IPv4-mapped IPv6 addresses read as IPv4.
    pub ips: Vec<IpAddr>,
    pub pool: &'a Pool,
}

/// The common flow (docs/compatibility.md §4.1): the addresses to announce and their pool, or why
/// nothing is announced by either protocol.
pub(crate) fn target<'a>(config: &'a Config, service: &Service) -> Result<Target<'a>, Reason> {
    if service.spec.type_.as_deref() != Some("LoadBalancer") {
        return Err(Reason::NotLoadBalancer);
    }
    let ips = ingress_ips(service)?;
    let pool = config.pool_containing(ips[0]).ok_or(Reason::IpNotAllowed)?;
    if !ips.iter().all(|&ip| pool.cidrs.iter().any(|c| c.contains(&ip))) {
        return Err(Reason::IpNotAllowed);
    }
    Ok(Target { ips, pool })
}

/// The non-empty `ingress[].ip` entries, parsed as Go's `net.ParseIP` does: an IPv4-mapped
/// IPv6 address is the IPv4 address (it prints and matches pools as such).
fn ingress_ips(service: &Service) -> Result<Vec<IpAddr>, Reason> {
    let texts: Vec<&str> = service.ingress_ips().collect();
    if texts.is_empty() {
        return Err(Reason::NoIpAllocated);
    }
    texts.iter().map(|t| t.parse::<IpAddr>().map(|ip| ip.to_canonical()).map_err(|_| Reason::InvalidIp)).collect()
}

pub(crate) fn is_local(service: &Service) -> bool {
    service.spec.external_traffic_policy.as_deref() == Some("Local")
}

/// Presence of the sharing annotation, empty or not (docs/compatibility.md §2.2).
pub(crate) fn shares_ip(service: &Service) -> bool {
    let annotations = &service.metadata.annotations;
    annotations.contains_key(ANNOTATION_ALLOW_SHARED_IP) || annotations.contains_key(DEPRECATED_ALLOW_SHARED_IP)
}

#[cfg(test)]
mod tests {
    use ferrolb_api::core::LoadBalancerIngress;
    use ferrolb_api::{ObjectMeta, ServiceFields};

    use super::*;

    fn service(type_: &str, ingress: &[&str]) -> Service {
        let mut svc = Service::new(ServiceFields { metadata: ObjectMeta::named("web"), ..Default::default() });
        svc.spec.type_ = Some(type_.to_owned());
        svc.status.load_balancer.ingress =
            ingress.iter().map(|ip| LoadBalancerIngress { ip: Some((*ip).to_owned()), hostname: None }).collect();
        svc
    }

    #[test]
    fn an_ipv4_mapped_ingress_address_reads_and_prints_as_ipv4_like_go() {
        let svc = service("LoadBalancer", &["::ffff:10.0.0.1"]);
        let ips = ingress_ips(&svc).unwrap();
        assert_eq!(ips[0].to_string(), "10.0.0.1");
    }

    #[test]
    fn ipv6_ingress_addresses_print_in_rfc5952_form_like_go() {
        let table = [
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("::1.2.3.4", "::102:304"),
        ];
        for (input, go) in table {
            let svc = service("LoadBalancer", &[input]);
            assert_eq!(ingress_ips(&svc).unwrap()[0].to_string(), go);
        }
    }

    #[test]
    fn hostname_only_ingress_means_no_ip_allocated() {
        let mut svc = service("LoadBalancer", &[]);
        svc.status.load_balancer.ingress.push(LoadBalancerIngress { ip: None, hostname: Some("lb".into()) });
        assert_eq!(ingress_ips(&svc), Err(Reason::NoIpAllocated));
    }

    #[test]
    fn an_unparsable_ingress_address_is_an_invalid_ip() {
        assert_eq!(ingress_ips(&service("LoadBalancer", &["10.0.0.1", "10.0.0.300"])), Err(Reason::InvalidIp));
    }

    #[test]
    fn the_sharing_annotation_counts_when_present_even_empty() {
        let mut svc = service("LoadBalancer", &[]);
        assert!(!shares_ip(&svc));
        svc.metadata.annotations.insert("metallb.universe.tf/allow-shared-ip".into(), String::new());
        assert!(shares_ip(&svc));
    }

    #[test]
    fn service_keys_default_the_namespace_and_print_with_a_slash() {
        let svc = service("LoadBalancer", &[]);
        assert_eq!(ServiceKey::of(&svc).to_string(), "default/web");
    }
}
