//! Builders shared by the integration tests: configurations from YAML, services by
//! builder.
#![allow(dead_code)]

use std::net::IpAddr;

use ferrolb_api::core::{LoadBalancerIngress, ServicePort, ServiceSpec};
use ferrolb_api::{ObjectMeta, Resources, Service, ServiceFields};
use ferrolb_config::{Config, Options, Scope};
use ferrolb_ipam::{Allocator, Outcome};

/// Parses pools (and Namespaces) written as YAML, the way the controller would.
pub fn config(yaml: &str) -> Config {
    let mut resources = Resources::default();
    ferrolb_api::load_str(yaml, "test", &mut resources).expect("test YAML loads");
    let options = Options { scope: Scope::Controller, ..Options::default() };
    ferrolb_config::parse(&resources, &options).expect("test config is valid")
}

/// One IPAddressPool document.
pub fn pool(name: &str, addresses: &[&str], extra: &str) -> String {
    let addresses: Vec<String> = addresses.iter().map(|a| format!("    - {a:?}")).collect();
    format!(
        "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: {name}\n  namespace: metallb-system\nspec:\n  addresses:\n{}\n{extra}\n",
        addresses.join("\n")
    )
}

pub fn allocator(yaml: &str) -> Allocator {
    let mut a = Allocator::new(None);
    a.set_pools(&config(yaml));
    a
}

/// A LoadBalancer service builder, IPv4 single-stack with TCP/80 unless told otherwise.
#[derive(Debug, Clone)]
pub struct Svc(pub Service);

pub fn lb(key: &str) -> Svc {
    let (ns, name) = key.split_once('/').expect("namespace/name");
    Svc(Service::new(ServiceFields {
        metadata: ObjectMeta::named(name).in_namespace(ns),
        spec: ServiceSpec {
            type_: Some("LoadBalancer".into()),
            cluster_ips: vec!["10.96.0.10".into()],
            ports: vec![ServicePort { name: None, protocol: Some("TCP".into()), port: 80 }],
            ..ServiceSpec::default()
        }
        .into(),
        ..Default::default()
    }))
}

impl Svc {
    pub fn v6(mut self) -> Self {
        self.0.spec.cluster_ips = vec!["fd00:96::10".into()];
        self.0.spec.ip_families = vec!["IPv6".into()];
        self
    }

    /// Dual-stack cluster IPs, `primary` first ("IPv4" or "IPv6"), with a policy.
    pub fn dual(mut self, policy: &str, primary: &str) -> Self {
        self.0.spec.cluster_ips = if primary == "IPv6" {
            vec!["fd00:96::10".into(), "10.96.0.10".into()]
        } else {
            vec!["10.96.0.10".into(), "fd00:96::10".into()]
        };
        let other = if primary == "IPv6" { "IPv4" } else { "IPv6" };
        self.0.spec.ip_families = vec![primary.into(), other.into()];
        self.0.spec.ip_family_policy = Some(policy.into());
        self
    }

    pub fn policy(mut self, policy: &str) -> Self {
        self.0.spec.ip_family_policy = Some(policy.into());
        self
    }

    pub fn annotate(mut self, key: &str, value: &str) -> Self {
        self.0.metadata.annotations.insert(key.into(), value.into());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.0.metadata.labels.insert(key.into(), value.into());
        self
    }

    pub fn shared(self, key: &str) -> Self {
        self.annotate("metallb.io/allow-shared-ip", key)
    }

    pub fn ports(mut self, ports: &[(&str, i32)]) -> Self {
        self.0.spec.ports =
            ports.iter().map(|(p, n)| ServicePort { name: None, protocol: Some((*p).into()), port: *n }).collect();
        self
    }

    pub fn spec_ip(mut self, ip: &str) -> Self {
        self.0.spec.load_balancer_ip = Some(ip.into());
        self
    }

    pub fn requested(self, ips: &str) -> Self {
        self.annotate("metallb.io/loadBalancerIPs", ips)
    }

    pub fn in_pool(self, pool: &str) -> Self {
        self.annotate("metallb.io/address-pool", pool)
    }

    pub fn local(mut self, selector: &[(&str, &str)]) -> Self {
        self.0.spec.external_traffic_policy = Some("Local".into());
        self.0.spec.selector = Some(selector.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect());
        self
    }

    pub fn class(mut self, class: &str) -> Self {
        self.0.spec.load_balancer_class = Some(class.into());
        self
    }

    pub fn kind(mut self, type_: &str) -> Self {
        self.0.spec.type_ = Some(type_.into());
        self
    }

    pub fn no_cluster_ip(mut self) -> Self {
        self.0.spec.cluster_ips.clear();
        self.0.spec.cluster_ip = None;
        self
    }

    /// Status as a previous controller left it.
    pub fn ingress(mut self, ips: &[&str]) -> Self {
        self.0.status.load_balancer.ingress =
            ips.iter().map(|ip| LoadBalancerIngress { ip: Some((*ip).into()), hostname: None }).collect();
        self
    }

    /// Applies an outcome as the runtime would write it back.
    pub fn with_outcome(mut self, outcome: &Outcome) -> Self {
        self.0.status.load_balancer.ingress =
            outcome.ips.iter().map(|ip| LoadBalancerIngress { ip: Some(ip.to_string()), hostname: None }).collect();
        match &outcome.pool {
            Some(pool) => self.0.metadata.annotations.insert("metallb.io/ip-allocated-from-pool".into(), pool.clone()),
            None => self.0.metadata.annotations.remove("metallb.io/ip-allocated-from-pool"),
        };
        self
    }

    pub fn build(&self) -> &Service {
        &self.0
    }
}

pub fn ips(outcome: &Outcome) -> Vec<String> {
    outcome.ips.iter().map(IpAddr::to_string).collect()
}

/// `(reason, message)` of every event.
pub fn events(outcome: &Outcome) -> Vec<(String, String)> {
    outcome.events.iter().map(|e| (e.reason.clone(), e.message.clone())).collect()
}
