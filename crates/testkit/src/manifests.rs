//! The YAML a user would apply, as builders: each returns one document, in the
//! `metallb-system` namespace for metallb.io kinds and `default` for Services, so tests read
//! as the configuration they exercise.

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
