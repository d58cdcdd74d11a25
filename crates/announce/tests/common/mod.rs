//! Fixtures: clusters written as the YAML a user would apply, parsed as ferrolb parses it.
#![allow(dead_code)]

use ferrolb_announce::{BgpDecision, Cluster, L2Decision, Liveness, ServiceDecision, ServiceKey, Snapshot};
use ferrolb_api::Resources;
use ferrolb_config::{Config, Options};

pub struct World {
    pub resources: Resources,
    pub config: Config,
}

impl World {
    pub fn new(documents: &[String]) -> Self {
        let mut resources = Resources::default();
        ferrolb_api::load_str(&documents.join("\n---\n"), "test", &mut resources).unwrap();
        let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
        Self { resources, config }
    }

    pub fn cluster<'a>(&'a self, liveness: &'a Liveness) -> Cluster<'a> {
        Cluster::new(
            &self.config,
            &self.resources.services,
            &self.resources.endpoint_slices,
            &self.resources.nodes,
            liveness,
        )
    }

    /// Every node's Layer 2 decision for `default/<service>`.
    pub fn l2(&self, cluster: &Cluster<'_>, service: &str) -> Vec<(String, Option<L2Decision>)> {
        let snapshot = Snapshot::new(cluster);
        let nodes: Vec<&str> = snapshot.node_names().collect();
        nodes.iter().map(|n| ((*n).to_owned(), l2_of(&snapshot.decide(n).services[&key(service)]))).collect()
    }

    pub fn bgp(&self, cluster: &Cluster<'_>, node: &str, service: &str) -> Option<BgpDecision> {
        match &Snapshot::new(cluster).decide(node).services[&key(service)] {
            ServiceDecision::Evaluated { bgp, .. } => bgp.clone(),
            ServiceDecision::Withdraw(reason) => panic!("withdrawn: {reason}"),
        }
    }
}

pub fn key(service: &str) -> ServiceKey {
    ServiceKey::new("default", service)
}

fn l2_of(decision: &ServiceDecision) -> Option<L2Decision> {
    match decision {
        ServiceDecision::Evaluated { l2, .. } => l2.clone(),
        ServiceDecision::Withdraw(reason) => panic!("withdrawn: {reason}"),
    }
}

pub fn pool(name: &str, addresses: &[&str]) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}, namespace: metallb-system}}\n\
         spec:\n  addresses: [{}]\n",
        addresses.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
    )
}

/// An L2Advertisement; `extra` is spec YAML (indented two spaces), e.g. node selectors.
pub fn l2ad(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{name: {name}, namespace: metallb-system}}\n\
         spec:\n  ipAddressPools: []\n{extra}\n"
    )
}

pub fn bgpad(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: {name}, namespace: metallb-system}}\n\
         spec:\n  ipAddressPools: []\n{extra}\n"
    )
}

pub fn peer(name: &str, my_asn: u32, peer_asn: u32, address: &str, extra: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: metallb-system}}\n\
         spec:\n  myASN: {my_asn}\n  peerASN: {peer_asn}\n  peerAddress: {address}\n{extra}\n"
    )
}

/// A Node; `labels` as `k: v` pairs, optionally NetworkUnavailable.
pub fn node(name: &str, labels: &[(&str, &str)], network_unavailable: bool) -> String {
    let labels = labels.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect::<Vec<_>>().join(", ");
    let status = if network_unavailable { "True" } else { "False" };
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{{labels}}}}}\n\
         status:\n  conditions: [{{type: NetworkUnavailable, status: \"{status}\"}}]\n"
    )
}

pub fn nodes(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| node(n, &[("kubernetes.io/hostname", n)], false)).collect()
}

/// A LoadBalancer Service in `default` with its ingress already set; `extra` is metadata
/// YAML (labels, annotations) indented two spaces; `local` selects ETP Local.
pub fn service(name: &str, ips: &[&str], local: bool, extra: &str) -> String {
    let ingress = ips.iter().map(|ip| format!("{{ip: \"{ip}\"}}")).collect::<Vec<_>>().join(", ");
    let etp = if local { "Local" } else { "Cluster" };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: default\n{extra}\n\
         spec:\n  type: LoadBalancer\n  externalTrafficPolicy: {etp}\n  ports: [{{port: 80}}]\n\
         status:\n  loadBalancer:\n    ingress: [{ingress}]\n"
    )
}

/// An EndpointSlice of `default/<service>` with one endpoint per `(node, ready)`.
pub fn slice(service: &str, endpoints: &[(&str, bool)]) -> String {
    let eps = endpoints
        .iter()
        .enumerate()
        .map(|(i, (node, ready))| {
            format!("  - {{addresses: [\"10.244.0.{}\"], nodeName: {node}, conditions: {{ready: {ready}}}}}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {service}-x\n  namespace: default\n\
         \x20 labels: {{kubernetes.io/service-name: {service}}}\naddressType: IPv4\nendpoints:\n{eps}\n"
    )
}

pub fn announce_all() -> L2Decision {
    L2Decision::Announce { interfaces: ferrolb_announce::Interfaces::All }
}
