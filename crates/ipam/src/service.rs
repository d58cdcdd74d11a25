//! What the controller reads from a Service (docs/compatibility.md §2.1-§2.3, §2.5): the annotations,
//! stable `metallb.io/` winning over deprecated `metallb.universe.tf/`, the family, the
//! ports and the sharing keys.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ferrolb_api::Service;

use crate::family::{self, Family, Policy};

pub const ANNOTATION_ADDRESS_POOL: &str = "metallb.io/address-pool";
pub const ANNOTATION_LOAD_BALANCER_IPS: &str = "metallb.io/loadBalancerIPs";
pub const ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.io/allow-shared-ip";
/// Written by the controller: the pool of the service's current IPs.
pub const ANNOTATION_IP_ALLOCATED_FROM_POOL: &str = "metallb.io/ip-allocated-from-pool";
/// Prefix of the annotations MetalLB still reads but warns about.
pub const DEPRECATED_PREFIX: &str = "metallb.universe.tf";

const DEPRECATED_ADDRESS_POOL: &str = "metallb.universe.tf/address-pool";
const DEPRECATED_LOAD_BALANCER_IPS: &str = "metallb.universe.tf/loadBalancerIPs";
const DEPRECATED_ALLOW_SHARED_IP: &str = "metallb.universe.tf/allow-shared-ip";

/// The namespace of an object written without one, as `kubectl apply` would place it.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One `spec.ports[]` entry as the sharing rules see it: TCP/53 and UDP/53 differ.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub protocol: String,
    pub port: i32,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.protocol, self.port)
    }
}

/// Sharing key plus backend key (docs/compatibility.md §3.3): two services may share an address only
/// when both are equal and the sharing key is not empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AllocKey {
    pub sharing: String,
    /// `Local` services: the pod selector rendered as `k=v,k2=v2`; `Cluster`: empty.
    pub backend: String,
}

/// A Service reduced to what allocation decides on.
#[derive(Debug, Clone)]
pub(crate) struct ServiceView<'a> {
    pub key: String,
    pub namespace: &'a str,
    pub labels: &'a ferrolb_api::StringMap,
    pub annotations: &'a ferrolb_api::StringMap,
    pub is_load_balancer: bool,
    pub class: Option<&'a str>,
    /// `spec.clusterIPs`, else `[spec.clusterIP]`, else empty.
    pub cluster_ips: Vec<&'a str>,
    pub policy: Policy,
    /// `spec.ipFamilies[0]`: decides the PreferDualStack single-family fallback.
    pub primary: Family,
    pub ports: Vec<Port>,
    pub alloc_key: AllocKey,
    /// The pool annotation; empty means none, as in MetalLB.
    pub desired_pool: Option<&'a str>,
    /// `status.loadBalancer.ingress[].ip`, empty entries skipped.
    pub ingress: Vec<&'a str>,
    /// The pool annotation the service carries now.
    pub current_pool: Option<&'a str>,
    lb_ips_annotation: Option<&'a str>,
    spec_lb_ip: Option<&'a str>,
}

impl<'a> ServiceView<'a> {
    pub(crate) fn new(svc: &'a Service) -> Self {
        let meta = &svc.metadata;
        let spec = &svc.spec;
        let namespace = meta.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        let annotations = &meta.annotations;
        let cluster_ips: Vec<&str> = if !spec.cluster_ips.is_empty() {
            spec.cluster_ips.iter().map(String::as_str).collect()
        } else {
            spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty()).into_iter().collect()
        };
        let backend = if spec.external_traffic_policy.as_deref() == Some("Local") {
            render_selector(spec.selector.as_ref())
        } else {
            String::new()
        };
        Self {
            key: format!("{namespace}/{}", meta.name),
            namespace,
            labels: &meta.labels,
            annotations,
            is_load_balancer: spec.type_.as_deref() == Some("LoadBalancer"),
            class: spec.load_balancer_class.as_deref(),
            cluster_ips,
            policy: Policy::parse(spec.ip_family_policy.as_deref()),
            primary: if spec.ip_families.first().map(String::as_str) == Some("IPv6") { Family::V6 } else { Family::V4 },
            ports: spec
                .ports
                .iter()
                .map(|p| Port { protocol: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()), port: p.port })
                .collect(),
            alloc_key: AllocKey {
                sharing: annotation(annotations, ANNOTATION_ALLOW_SHARED_IP, DEPRECATED_ALLOW_SHARED_IP)
                    .unwrap_or_default()
                    .to_owned(),
                backend,
            },
            desired_pool: annotation(annotations, ANNOTATION_ADDRESS_POOL, DEPRECATED_ADDRESS_POOL)
                .filter(|p| !p.is_empty()),
            ingress: svc.ingress_ips().collect(),
            current_pool: annotations.get(ANNOTATION_IP_ALLOCATED_FROM_POOL).map(String::as_str),
            lb_ips_annotation: annotation(annotations, ANNOTATION_LOAD_BALANCER_IPS, DEPRECATED_LOAD_BALANCER_IPS)
                .filter(|v| !v.is_empty()),
            spec_lb_ip: spec.load_balancer_ip.as_deref().filter(|v| !v.is_empty()),
        }
    }

    /// The service's family from its cluster IPs (MetalLB's `ipfamily.ForService`).
    pub(crate) fn family(&self) -> Result<Family, String> {
        family::of_addresses(&self.cluster_ips)
    }

    /// The requested addresses and their family, from `metallb.io/loadBalancerIPs` or
    /// `spec.loadBalancerIP` (MetalLB's `getDesiredLbIPs`). Empty when nothing is requested.
    pub(crate) fn requested_ips(&self) -> Result<(Vec<IpAddr>, Option<Family>), String> {
        match (self.lb_ips_annotation, self.spec_lb_ip) {
            (None, None) => Ok((Vec::new(), None)),
            (Some(_), Some(_)) => {
                Err(format!("service can not have both {ANNOTATION_LOAD_BALANCER_IPS} and svc.Spec.LoadBalancerIP"))
            }
            (Some(list), None) => {
                let ips = list
                    .split(',')
                    .map(|s| s.trim().parse::<IpAddr>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| format!("invalid {ANNOTATION_LOAD_BALANCER_IPS}: {list:?}"))?;
                let texts: Vec<String> = ips.iter().map(ToString::to_string).collect();
                let family = family::of_addresses(&texts)?;
                Ok((ips, Some(family)))
            }
            (None, Some(ip)) => {
                let ip: IpAddr = ip.parse().map_err(|_| format!("invalid spec.loadBalancerIP {ip:?}"))?;
                Ok((vec![ip], Some(Family::of(ip))))
            }
        }
    }

    /// Keys of deprecated annotations the service carries, for the `deprecatedAnnotation`
    /// warning.
    pub(crate) fn deprecated_annotations(&self) -> impl Iterator<Item = &'a str> {
        self.annotations.keys().map(String::as_str).filter(|k| k.starts_with(DEPRECATED_PREFIX))
    }
}

/// A stable annotation if present (even empty), else the deprecated one (docs/compatibility.md §2.2).
fn annotation<'a>(annotations: &'a ferrolb_api::StringMap, stable: &str, deprecated: &str) -> Option<&'a str> {
    annotations.get(stable).or_else(|| annotations.get(deprecated)).map(String::as_str)
}

/// A pod selector as Kubernetes' `labels.Set.String()` renders it: sorted `k=v` joined by
/// commas. MetalLB compares these strings, so `Local` services share only with identical
/// selectors.
fn render_selector(selector: Option<&BTreeMap<String, String>>) -> String {
    selector.into_iter().flatten().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use ferrolb_api::core::ServiceSpec;
    use ferrolb_api::{ObjectMeta, ServiceFields};

    use super::*;

    fn svc(annotations: &[(&str, &str)], spec: ServiceSpec) -> Service {
        let mut metadata = ObjectMeta::named("web").in_namespace("prod");
        metadata.annotations = annotations.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Service::new(ServiceFields { metadata, spec: spec.into(), ..Default::default() })
    }

    #[test]
    fn stable_annotations_win_over_deprecated_ones() {
        let s = svc(
            &[
                ("metallb.io/address-pool", "new"),
                ("metallb.universe.tf/address-pool", "old"),
                ("metallb.universe.tf/allow-shared-ip", "k"),
            ],
            ServiceSpec::default(),
        );
        let v = ServiceView::new(&s);
        assert_eq!(v.desired_pool, Some("new"));
        assert_eq!(v.alloc_key.sharing, "k");
        assert_eq!(v.deprecated_annotations().count(), 2);
    }

    #[test]
    fn local_services_key_their_backends_by_rendered_pod_selector() {
        let spec = ServiceSpec {
            external_traffic_policy: Some("Local".into()),
            selector: Some([("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into()),
            ..ServiceSpec::default()
        };
        assert_eq!(ServiceView::new(&svc(&[], spec)).alloc_key.backend, "a=1,b=2");
    }

    #[test]
    fn requested_ips_are_trimmed_and_both_sources_together_are_rejected() {
        let s = svc(&[("metallb.io/loadBalancerIPs", " 10.0.0.1 , fd00::1")], ServiceSpec::default());
        let (ips, family) = ServiceView::new(&s).requested_ips().unwrap();
        assert_eq!(ips.len(), 2);
        assert_eq!(family, Some(Family::Dual));
        let spec = ServiceSpec { load_balancer_ip: Some("10.0.0.2".into()), ..ServiceSpec::default() };
        let s = svc(&[("metallb.io/loadBalancerIPs", "10.0.0.1")], spec);
        assert_eq!(
            ServiceView::new(&s).requested_ips().unwrap_err(),
            "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"
        );
    }
}
