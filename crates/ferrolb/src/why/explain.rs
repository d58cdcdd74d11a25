//! The answer of `ferrolb why`, decided without I/O: the configuration is evaluated with the
//! same pure functions the controller and the speakers run (as `ferrolb plan` does), and the
//! result is set beside what the cluster says happened (status objects, heartbeats, the
//! speakers' reports). Every disagreement is a line of the answer.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_announce::{Announcement, Cluster, Interfaces, Liveness, Protocol, Reason, ServiceKey, Skipped};
use ferrolb_api::Resources;
use ferrolb_api::metallb::ConfigurationStateStatus;
use ferrolb_api::report::{SpeakerReport, config_digest};
use ferrolb_config::{Options, Scope};
use serde::Serialize;

/// Per Service (namespace, name): each node's status, with the interfaces (ServiceL2Status)
/// or the peers (ServiceBGPStatus) it names.
pub type PerNode = BTreeMap<(String, String), Vec<(String, Vec<String>)>>;

/// What the cluster (or a state directory) holds, as `why` read it.
#[derive(Debug, Default)]
pub struct Observed {
    pub resources: Resources,
    /// Objects that could not be decoded, one line each.
    pub rejected: Vec<String>,
    /// ServiceL2Status by Service: the node answering ARP/NDP and its interfaces.
    pub layer2: PerNode,
    /// ServiceBGPStatus by Service: each announcing node and the peers it names.
    pub bgp: PerNode,
    /// ConfigurationState by component (`controller`, `speaker-<node>`).
    pub states: BTreeMap<String, ConfigurationStateStatus>,
    /// Each node with a heartbeat, and whether it is fresh; `None` when there are no
    /// heartbeats at all (membership fencing is off), and then every node counts as alive.
    pub heartbeats: Option<BTreeMap<String, bool>>,
    pub reports: BTreeMap<String, SpeakerReport>,
    /// What could not be read (a report that does not decode, a kind the user may not list).
    pub notes: Vec<String>,
}

/// How the answer is computed: the installation's namespace and the controller's options.
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespace: String,
    pub lb_class: Option<String>,
    pub ignore_exclude_lb: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Announced,
    Partly,
    NotAnnounced,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Announced => "announced",
            Verdict::Partly => "partly announced",
            Verdict::NotAnnounced => "not announced",
        }
    }
}

/// One node's part: what it does for the Service or why it does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub node: String,
    pub protocol: Protocol,
    pub text: String,
    /// The configuration says this node should announce: a line of `notAnnouncing` with it
    /// set is a fault, not a choice.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub planned: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    pub namespace: String,
    pub name: String,
    pub verdict: Verdict,
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// About the Service as a whole: its address, a claim without an election.
    pub problems: Vec<String>,
    pub announcing: Vec<Line>,
    pub not_announcing: Vec<Line>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The configuration as a whole: invalid, or refused by a component.
    pub configuration: Vec<String>,
    pub services: Vec<Explanation>,
    pub notes: Vec<String>,
}

impl Answer {
    pub fn fully_announced(&self) -> bool {
        self.services.iter().all(|s| s.verdict == Verdict::Announced)
    }
}

/// The answer for every LoadBalancer Service in `observed` (`why` filters it afterwards).
pub fn explain(observed: &Observed, settings: &Settings) -> Answer {
    let resources = &observed.resources;
    let options = |scope| Options { namespace: settings.namespace.clone(), scope };
    let mut configuration = Vec::new();
    configuration.extend(observed.rejected.iter().map(|r| format!("cannot be read: {r}")));
    let full = ferrolb_config::parse(resources, &options(Scope::Full));
    if let Err(e) = &full {
        configuration.push(format!(
            "the configuration is invalid: {e} (each speaker checks only the peers and advertisements of its node: the nodes it does not concern go on with it, the others keep the last configuration they accepted)"
        ));
    }
    for (component, state) in &observed.states {
        if state.result.as_deref() == Some("Invalid") {
            let summary = state.error_summary.trim();
            configuration.push(format!("{component} rejected the configuration: {summary}"));
        }
    }
    // The controller validates pools and communities only: a bad peer does not stop it.
    let controller = match &full {
        Ok(config) => Ok(config.clone()),
        Err(_) => ferrolb_config::parse(resources, &options(Scope::Controller)),
    };
    let lb_class = settings.lb_class.as_deref().filter(|c| !c.is_empty());
    let index = Index::of(resources);
    let Ok(controller) = controller else {
        let services = ferrolb_ipam::plan(&ferrolb_config::Config::default(), &resources.services, lb_class)
            .into_iter()
            .map(|r| Explanation {
                addresses: index.addresses(&r.namespace, &r.name),
                namespace: r.namespace,
                name: r.name,
                verdict: Verdict::NotAnnounced,
                pool: None,
                problems: vec!["the controller cannot allocate: its part of the configuration is invalid".to_owned()],
                announcing: Vec::new(),
                not_announcing: Vec::new(),
            })
            .collect();
        return Answer { configuration, services, notes: observed.notes.clone() };
    };
    let planned = ferrolb_ipam::plan(&controller, &resources.services, lb_class);
    let liveness = match &observed.heartbeats {
        None => Liveness::Disabled,
        Some(beats) => Liveness::Members(beats.iter().filter(|(_, fresh)| **fresh).map(|(n, _)| n.clone()).collect()),
    };
    let plan_with = |config: &ferrolb_config::Config| {
        let mut cluster =
            Cluster::new(config, &resources.services, &resources.endpoint_slices, &resources.nodes, &liveness);
        cluster.ignore_exclude_lb = settings.ignore_exclude_lb;
        cluster.lb_class = lb_class;
        ferrolb_announce::plan_announcements(&cluster)
    };
    let mut refused = BTreeMap::new();
    let mut plans = match &full {
        Ok(config) => plan_with(config),
        // as each speaker does: its own scope, its own node's lines
        Err(_) => {
            let mut merged: BTreeMap<ServiceKey, ferrolb_announce::ServiceAnnouncements> = BTreeMap::new();
            for node in &resources.nodes {
                let name = node.metadata.name.as_str();
                match ferrolb_config::parse(resources, &options(Scope::Speaker { node: name.to_owned() })) {
                    Ok(config) => {
                        for (key, plan) in plan_with(&config) {
                            let into = merged.entry(key).or_default();
                            into.announcements.extend(plan.announcements.into_iter().filter(|a| a.node() == name));
                            into.skipped.extend(plan.skipped.into_iter().filter(|s| s.node == name));
                            into.reason = into.reason.or(plan.reason);
                        }
                    }
                    Err(e) => {
                        refused.insert(name.to_owned(), e.to_string());
                    }
                }
            }
            merged
        }
    };
    let digest = config_digest(resources);
    let speakers = Speakers { observed, digest: &digest, index, refused };
    let services = planned
        .into_iter()
        .map(|result| {
            let key = ServiceKey::new(&result.namespace, &result.name);
            let plan = plans.remove(&key);
            explain_service(result, plan, &speakers)
        })
        .collect();
    Answer { configuration, services, notes: observed.notes.clone() }
}

/// The Services by namespace and name: each answer looks its Service up once (a search of
/// the list per Service made `--all` quadratic).
struct Index<'a>(std::collections::HashMap<(&'a str, &'a str), &'a ferrolb_api::Service>);

impl<'a> Index<'a> {
    fn of(resources: &'a Resources) -> Self {
        Index(
            resources
                .services
                .iter()
                .map(|s| ((s.metadata.namespace.as_deref().unwrap_or("default"), s.metadata.name.as_str()), s))
                .collect(),
        )
    }

    /// The Service's current addresses (its status).
    fn addresses(&self, namespace: &str, name: &str) -> Vec<String> {
        self.0.get(&(namespace, name)).map(|s| s.ingress_ips().map(str::to_owned).collect()).unwrap_or_default()
    }
}

fn addresses_set(list: &[String]) -> BTreeSet<IpAddr> {
    list.iter().filter_map(|a| a.parse().ok()).collect()
}

/// What the speakers say about themselves.
struct Speakers<'a> {
    observed: &'a Observed,
    digest: &'a str,
    index: Index<'a>,
    /// The nodes whose speaker refuses the configuration in its own scope, and why (only
    /// computed when the whole configuration is invalid).
    refused: BTreeMap<String, String>,
}

impl Speakers<'_> {
    /// Why `node`'s speaker is not running, if its heartbeat says so.
    fn dead(&self, node: &str) -> Option<String> {
        match self.observed.heartbeats.as_ref()?.get(node) {
            None => Some("no speaker runs there (it has no heartbeat)".to_owned()),
            Some(false) => Some("its speaker is not alive (its heartbeat is stale)".to_owned()),
            Some(true) => None,
        }
    }

    /// Why `node`'s speaker may not be doing what it should, if something says so.
    fn trouble(&self, node: &str) -> Option<String> {
        if let Some(dead) = self.dead(node) {
            return Some(dead);
        }
        if let Some(error) = self.refused.get(node) {
            return Some(format!("its speaker refuses the configuration ({error}) and keeps the last one it accepted"));
        }
        if let Some(state) = self.observed.states.get(&format!("speaker-{node}"))
            && state.result.as_deref() == Some("Invalid")
        {
            return Some(format!(
                "its speaker rejected the configuration and runs an older one: {}",
                state.error_summary.trim()
            ));
        }
        let report = self.observed.reports.get(node)?;
        if let Some(membership) = &report.membership
            && membership.fenced
        {
            return Some(format!(
                "fenced without quorum: it sees {} speaker(s) and not a majority of those it knows, while the others' heartbeats show them alive",
                membership.members.len() + membership.members_omitted
            ));
        }
        if let Some(error) = &report.config_error {
            return Some(format!("its speaker rejected the newest configuration and runs an older one: {error}"));
        }
        if report.config.as_deref().is_some_and(|d| d != self.digest) {
            return Some(
                "its speaker runs another configuration than the cluster's (older, or not yet seen)".to_owned(),
            );
        }
        None
    }

    fn session(&self, node: &str, peer: &str) -> Option<&ferrolb_api::report::SessionReport> {
        self.observed.reports.get(node)?.sessions.iter().find(|s| s.peer == peer)
    }
}

fn explain_service(
    result: ferrolb_ipam::ServiceResult,
    plan: Option<ferrolb_announce::ServiceAnnouncements>,
    speakers: &Speakers<'_>,
) -> Explanation {
    let observed = speakers.observed;
    let key = (result.namespace.clone(), result.name.clone());
    let current = speakers.index.addresses(&result.namespace, &result.name);
    let mut problems = Vec::new();
    match (&result.error, current.is_empty()) {
        (Some(error), true) => problems.push(format!("no address: {error}")),
        (Some(error), false) => problems.push(format!("its address is not valid any more: {error}")),
        (None, true) if !result.ips.is_empty() => problems.push(format!(
            "no address yet: the controller would assign {} from pool {}, but has not (is it running? see `kubectl get configurationstates`)",
            result.ips.join(", "),
            result.pool.as_deref().unwrap_or("-")
        )),
        (None, true) => problems.push("no address".to_owned()),
        (None, false) if addresses_set(&current) != addresses_set(&result.ips) => problems.push(format!(
            "its status holds {} but the controller's rules give {}",
            current.join(", "),
            if result.ips.is_empty() { "none".to_owned() } else { result.ips.join(", ") }
        )),
        (None, false) => {}
    }
    let mut announcing = Vec::new();
    let mut not_announcing = Vec::new();
    let layer2 = observed.layer2.get(&key).map(Vec::as_slice).unwrap_or_default();
    let bgp = observed.bgp.get(&key).map(Vec::as_slice).unwrap_or_default();
    let mut expected = 0usize;
    let mut confirmed = 0usize;
    if let Some(plan) = &plan {
        if let Some(reason) = plan.reason
            && !current.is_empty()
        {
            problems.push(format!("no speaker announces it: {}", worded(reason, Protocol::Layer2, None)));
        }
        let owner = plan.announcements.iter().find_map(|a| match a {
            Announcement::Layer2 { node, .. } => Some(node.as_str()),
            Announcement::Bgp { .. } => None,
        });
        // BGP: one line per node and peer, with every prefix
        let mut routes: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for announcement in &plan.announcements {
            match announcement {
                Announcement::Layer2 { node, interfaces } => {
                    expected += 1;
                    let on = match interfaces {
                        Interfaces::All => "every eligible interface".to_owned(),
                        Interfaces::Only(list) => list.iter().cloned().collect::<Vec<_>>().join(", "),
                    };
                    match layer2.iter().find(|(n, _)| n == node) {
                        Some((_, seen)) => {
                            confirmed += 1;
                            let seen = if seen.is_empty() { on } else { seen.join(", ") };
                            announcing.push(line(
                                node,
                                Protocol::Layer2,
                                format!("elected; answers ARP/NDP on {seen}"),
                            ));
                        }
                        None => {
                            let why = speakers.trouble(node).unwrap_or_else(|| {
                                "it has not written its ServiceL2Status yet (just elected, or its speaker is not running)"
                                    .to_owned()
                            });
                            not_announcing.push(planned(
                                node,
                                Protocol::Layer2,
                                format!("elected, but does not answer: {why}"),
                            ));
                        }
                    }
                }
                Announcement::Bgp { node, peer, prefix, .. } => {
                    routes.entry((node, peer)).or_default().push(prefix.to_string());
                }
            }
        }
        for ((node, peer), prefixes) in routes {
            expected += 1;
            let prefixes = prefixes.join(", ");
            let listed = bgp.iter().any(|(n, peers)| n == node && peers.iter().any(|p| p == peer));
            let session = speakers.session(node, peer);
            let down = session.filter(|s| !s.established);
            if let Some(dead) = speakers.dead(node) {
                // its sessions ended with it: the router has withdrawn (or will at the hold time)
                not_announcing.push(planned(
                    node,
                    Protocol::Bgp,
                    format!("would announce {prefixes} to {peer}, but {dead}"),
                ));
            } else if let Some(session) = down {
                let since = session.since.as_deref().map(|s| format!(" since {s}")).unwrap_or_default();
                let error = session.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                not_announcing.push(planned(
                    node,
                    Protocol::Bgp,
                    format!(
                        "would announce {prefixes} to {peer}, but the session ({}) is {}{since}{error}",
                        session.address, session.state
                    ),
                ));
            } else if listed {
                confirmed += 1;
                let up = if session.is_some() { ", session established" } else { "" };
                announcing.push(line(node, Protocol::Bgp, format!("announces {prefixes} to {peer}{up}")));
            } else {
                let why = speakers.trouble(node).unwrap_or_else(|| {
                    "its ServiceBGPStatus does not name this peer yet (the session is not established, or its speaker is not running)".to_owned()
                });
                not_announcing.push(planned(
                    node,
                    Protocol::Bgp,
                    format!("would announce {prefixes} to {peer}, but does not: {why}"),
                ));
            }
        }
        for skipped in &plan.skipped {
            let Skipped { node, protocol, reason } = skipped;
            // a speaker that is not alive takes no part in the election: say that, not "not the owner"
            let text = match speakers.trouble(node) {
                Some(trouble) if *reason == Reason::NotOwner && *protocol == Protocol::Layer2 => trouble,
                _ => worded(*reason, *protocol, owner),
            };
            not_announcing.push(line(node, *protocol, text));
        }
        for (node, _) in layer2 {
            if Some(node.as_str()) != owner {
                let elected = owner.map_or("no node".to_owned(), str::to_owned);
                problems.push(format!(
                    "claim without election: {node} holds a ServiceL2Status (it answers ARP/NDP, or did and left it behind) but the election gives {elected}"
                ));
            }
        }
        if layer2.len() > 1 {
            let nodes: Vec<&str> = layer2.iter().map(|(n, _)| n.as_str()).collect();
            problems.push(format!("{} nodes claim it by Layer 2: {}", nodes.len(), nodes.join(", ")));
        }
        if plan.announcements.is_empty() && plan.skipped.is_empty() && plan.reason.is_none() && !current.is_empty() {
            problems.push("no L2Advertisement or BGPAdvertisement selects its pool".to_owned());
        }
    } else if !current.is_empty() && speakers.refused.len() < observed.resources.nodes.len() {
        problems.push("no L2Advertisement or BGPAdvertisement selects its pool".to_owned());
    }
    // Nodes in no plan line: their speaker refuses the configuration, or membership left them
    // out. Their lines take the Service's protocol.
    if !current.is_empty() {
        let protocol = plan
            .as_ref()
            .and_then(|p| p.announcements.first().map(Announcement::protocol).or(p.skipped.first().map(|s| s.protocol)))
            .unwrap_or(Protocol::Layer2);
        let listed: BTreeSet<String> = announcing.iter().chain(&not_announcing).map(|l| l.node.clone()).collect();
        for node in speakers.refused.keys().filter(|n| !listed.contains(*n)) {
            not_announcing.push(line(node, protocol, speakers.trouble(node).unwrap_or_default()));
        }
        if let Some(beats) = observed.heartbeats.as_ref().filter(|_| plan.is_some()) {
            for node in &observed.resources.nodes {
                let name = node.metadata.name.as_str();
                if !listed.contains(name) && !speakers.refused.contains_key(name) && beats.get(name) != Some(&true) {
                    let text = speakers.trouble(name).unwrap_or_else(|| "its speaker is not alive".to_owned());
                    not_announcing.push(line(name, protocol, text));
                }
            }
        }
    }
    let verdict = if current.is_empty() || confirmed == 0 {
        Verdict::NotAnnounced
    } else if confirmed == expected && problems.is_empty() {
        Verdict::Announced
    } else {
        Verdict::Partly
    };
    announcing.sort_by(|a, b| (&a.node, a.protocol).cmp(&(&b.node, b.protocol)));
    not_announcing.sort_by(|a, b| (&a.node, a.protocol).cmp(&(&b.node, b.protocol)));
    Explanation {
        namespace: result.namespace,
        name: result.name,
        verdict,
        addresses: current,
        pool: result.pool,
        problems,
        announcing,
        not_announcing,
    }
}

fn line(node: &str, protocol: Protocol, text: String) -> Line {
    Line { node: node.to_owned(), protocol, text, planned: false }
}

fn planned(node: &str, protocol: Protocol, text: String) -> Line {
    Line { planned: true, ..line(node, protocol, text) }
}

/// A reason as a sentence; MetalLB's name for it in parentheses, as logs and `plan` print it.
fn worded(reason: Reason, protocol: Protocol, owner: Option<&str>) -> String {
    let text = match (reason, protocol) {
        (Reason::NotOwner, Protocol::Layer2) => match owner {
            Some(owner) => format!("not the elected node ({owner} is)"),
            None => "not the elected node (no node is: no speaker with a ready endpoint of the Service is alive)".to_owned(),
        },
        (Reason::NotOwner, Protocol::Bgp) => "no BGPAdvertisement of its pool selects this node".to_owned(),
        (Reason::NoMatchingAdvertisement, _) => {
            "no advertisement that selects this Service includes this node (nodeSelectors)".to_owned()
        }
        (Reason::NodeLabeledExcludeBalancers, _) => {
            "the node is labelled node.kubernetes.io/exclude-from-external-load-balancers".to_owned()
        }
        (Reason::NoLocalEndpoints, _) => "externalTrafficPolicy is Local and no ready endpoint runs on this node".to_owned(),
        (Reason::NoEndpoints, _) => "the Service has no ready endpoint anywhere".to_owned(),
        (Reason::NoPeers, _) => {
            "no BGPPeer of this node takes the prefix (its peers' nodeSelectors, the advertisement's peers, or the address family)".to_owned()
        }
        (Reason::PeersNotServed, _) => {
            "every BGPPeer of this node is one its speaker cannot serve here (see the BGPPeer's events)".to_owned()
        }
        (Reason::NodeNetworkUnavailable, _) => "the node has the condition NetworkUnavailable=True".to_owned(),
        (Reason::SharedIpWithServiceSelector, _) => {
            "it shares its address (allow-shared-ip) and the advertisement selects Services by label".to_owned()
        }
        (Reason::ConflictingAdvertisements, _) => {
            "two BGPAdvertisements give it different localPref values on this node".to_owned()
        }
        (Reason::NoIpAllocated, _) => "it has no address yet".to_owned(),
        (Reason::InvalidIp, _) => "its address does not parse".to_owned(),
        (Reason::IpNotAllowed, _) => "its addresses are not all in one pool of the configuration".to_owned(),
        (Reason::NotLoadBalancer, _) => "it is not of type LoadBalancer".to_owned(),
        (Reason::ServiceDeleted, _) => "it is being deleted".to_owned(),
    };
    format!("{text} ({reason})")
}

#[cfg(test)]
mod tests {
    use ferrolb_api::manifest;
    use ferrolb_api::report::{MembershipReport, SessionReport};

    use super::*;

    const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec: {addresses: [172.30.0.100-172.30.0.101]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: lan, namespace: metallb-system}
spec: {ipAddressPools: [lan]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: metallb-system}
spec: {addresses: [10.50.0.0/24]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgp, namespace: metallb-system}
spec: {ipAddressPools: [bgp]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: r1, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 172.30.0.1
  nodeSelectors: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node1, node2]}]}]
"#;

    fn node(name: &str, extra_labels: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}{extra_labels}}}}}\nstatus: {{addresses: [{{type: InternalIP, address: 172.30.0.1{}}}]}}\n",
            &name[4..]
        )
    }

    fn service(name: &str, pool: &str, ip: Option<&str>, policy: &str, endpoints_on: &[&str]) -> String {
        let status =
            ip.map(|ip| format!("status: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}\n")).unwrap_or_default();
        let endpoints: Vec<String> = endpoints_on
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{{addresses: [10.244.0.{i}], conditions: {{ready: true}}, nodeName: {n}}}"))
            .collect();
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop, annotations: {{metallb.io/address-pool: {pool}}}}}\nspec: {{type: LoadBalancer, clusterIPs: [10.96.0.1], ipFamilies: [IPv4], externalTrafficPolicy: {policy}, ports: [{{port: 80}}]}}\n{status}---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}-x, namespace: shop, labels: {{kubernetes.io/service-name: {name}}}}}\naddressType: IPv4\nendpoints: [{}]\n",
            endpoints.join(", ")
        )
    }

    /// The three nodes, the configuration, `dns` by Layer 2 at .100, `web` by BGP at 10.50.0.10.
    fn cluster(extra: &str) -> Observed {
        let text = [
            CONFIG.to_owned(),
            node("node1", ""),
            node("node2", ""),
            node("node3", ""),
            service("dns", "lan", Some("172.30.0.100"), "Cluster", &["node1", "node2", "node3"]),
            service("web", "bgp", Some("10.50.0.10"), "Cluster", &["node1"]),
            extra.to_owned(),
        ]
        .iter()
        .filter(|d| !d.trim().is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("\n---\n");
        let mut resources = Resources::default();
        manifest::load_str(&text, "test.yaml", &mut resources).unwrap();
        Observed { resources, ..Observed::default() }
    }

    fn settings() -> Settings {
        Settings { namespace: "metallb-system".into(), lb_class: None, ignore_exclude_lb: false }
    }

    fn key(name: &str) -> (String, String) {
        ("shop".to_owned(), name.to_owned())
    }

    fn l2_owner(observed: &mut Observed, service: &str, node: &str) {
        observed.layer2.entry(key(service)).or_default().push((node.to_owned(), vec!["eth0".to_owned()]));
    }

    fn bgp_status(observed: &mut Observed, node: &str) {
        observed.bgp.entry(key("web")).or_default().push((node.to_owned(), vec!["r1".to_owned()]));
    }

    fn of<'a>(answer: &'a Answer, name: &str) -> &'a Explanation {
        answer.services.iter().find(|s| s.name == name).unwrap()
    }

    /// Every line of a Service's answer, as `node protocol: text`.
    fn lines(e: &Explanation) -> String {
        let mut out = e.problems.join("\n");
        for l in e.announcing.iter().chain(&e.not_announcing) {
            out.push_str(&format!("\n{} {:?}: {}", l.node, l.protocol, l.text));
        }
        out
    }

    /// The elected Layer 2 node of `dns` with everyone alive.
    fn elected() -> String {
        let answer = explain(&cluster(""), &settings());
        let dns = of(&answer, "dns");
        dns.not_announcing.iter().find(|l| l.planned).map(|l| l.node.clone()).unwrap()
    }

    fn everything_announced(observed: &mut Observed, owner: &str) {
        l2_owner(observed, "dns", owner);
        bgp_status(observed, "node1");
        bgp_status(observed, "node2");
    }

    #[test]
    fn a_service_announced_as_planned_is_announced_and_the_others_say_why_not() {
        let owner = elected();
        let mut observed = cluster("");
        everything_announced(&mut observed, &owner);
        let answer = explain(&observed, &settings());
        let dns = of(&answer, "dns");
        assert_eq!(dns.verdict, Verdict::Announced, "{}", lines(dns));
        assert!(lines(dns).contains(&format!("{owner} Layer2: elected; answers ARP/NDP on eth0")), "{}", lines(dns));
        assert!(lines(dns).contains(&format!("not the elected node ({owner} is) (notOwner)")), "{}", lines(dns));
        let web = of(&answer, "web");
        assert_eq!(web.verdict, Verdict::Announced, "{}\n{:?}", lines(web), web);
        assert!(lines(web).contains("node1 Bgp: announces 10.50.0.10/32 to r1"), "{}", lines(web));
        assert!(lines(web).contains("node3 Bgp: no BGPPeer of this node takes the prefix"), "{}", lines(web));
        assert!(answer.fully_announced());
        assert!(answer.configuration.is_empty(), "{:?}", answer.configuration);
    }

    #[test]
    fn no_address_says_why_and_an_unassigned_one_names_the_controller() {
        let extra = [
            // the pool has two addresses: dns holds one, this takes the other, the next none
            service("second", "lan", Some("172.30.0.101"), "Cluster", &["node1"]),
            service("third", "lan", None, "Cluster", &["node1"]),
            service("waiting", "bgp", None, "Cluster", &["node1"]),
        ]
        .join("\n---\n");
        let answer = explain(&cluster(&extra), &settings());
        let third = of(&answer, "third");
        assert_eq!(third.verdict, Verdict::NotAnnounced);
        assert!(third.problems[0].starts_with("no address: "), "{:?}", third.problems);
        assert!(third.problems[0].contains("lan"), "{:?}", third.problems);
        let waiting = of(&answer, "waiting");
        assert!(
            waiting.problems[0].starts_with("no address yet: the controller would assign 10.50.0."),
            "{:?}",
            waiting.problems
        );
        assert!(!answer.fully_announced());
    }

    /// A Service of `cluster`'s kind with `annotations` and `spec` lines added.
    fn custom(name: &str, annotations: &str, spec: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop, annotations: {{{annotations}}}}}\nspec: {{type: LoadBalancer, clusterIPs: [10.96.0.2], ipFamilies: [IPv4], ports: [{{port: 80}}]{spec}}}\n"
        )
    }

    #[test]
    fn every_allocation_failure_is_an_answer_naming_it() {
        let extra = [
            custom("outside", "metallb.io/loadBalancerIPs: 192.0.2.7", ""),
            custom("nopool", "metallb.io/address-pool: missing", ""),
            custom("classy", "", ", loadBalancerClass: example.com/other"),
            custom("sharer", "metallb.io/loadBalancerIPs: 172.30.0.100, metallb.io/allow-shared-ip: k1", ""),
        ]
        .join("\n---\n");
        let answer = explain(&cluster(&extra), &settings());
        let problem = |name: &str| of(&answer, name).problems.first().cloned().unwrap_or_default();
        assert!(problem("outside").contains("[\"192.0.2.7\"] is not allowed in config"), "{}", problem("outside"));
        assert!(
            problem("nopool").starts_with("no address: ") && problem("nopool").contains("missing"),
            "{}",
            problem("nopool")
        );
        assert!(
            problem("classy").contains("loadBalancerClass \"example.com/other\" is not handled"),
            "{}",
            problem("classy")
        );
        assert!(
            problem("sharer").starts_with("no address: ") && problem("sharer").contains("shar"),
            "{}",
            problem("sharer")
        );
        for name in ["outside", "nopool", "classy", "sharer"] {
            assert_eq!(of(&answer, name).verdict, Verdict::NotAnnounced, "{name}");
        }
    }

    #[test]
    fn an_elected_node_without_a_status_is_named_and_its_speaker_trouble_explained() {
        let owner = elected();
        let mut observed = cluster("");
        let answer = explain(&observed, &settings());
        let dns = of(&answer, "dns");
        assert_eq!(dns.verdict, Verdict::NotAnnounced);
        assert!(
            lines(dns).contains("elected, but does not answer: it has not written its ServiceL2Status yet"),
            "{}",
            lines(dns)
        );
        // fenced
        let fenced = MembershipReport { members: vec![owner.clone()], fenced: true, ..MembershipReport::default() };
        observed.reports.insert(
            owner.clone(),
            SpeakerReport { node: owner.clone(), membership: Some(fenced), ..SpeakerReport::default() },
        );
        let answer = explain(&observed, &settings());
        assert!(
            lines(of(&answer, "dns"))
                .contains("elected, but does not answer: fenced without quorum: it sees 1 speaker(s)"),
            "{}",
            lines(of(&answer, "dns"))
        );
        // an older configuration
        observed.reports.insert(
            owner.clone(),
            SpeakerReport { node: owner.clone(), config: Some("0000000000000000".into()), ..SpeakerReport::default() },
        );
        let answer = explain(&observed, &settings());
        assert!(
            lines(of(&answer, "dns")).contains("runs another configuration than the cluster's"),
            "{}",
            lines(of(&answer, "dns"))
        );
        // the same configuration: nothing to say about it
        let digest = config_digest(&observed.resources);
        observed.reports.insert(
            owner.clone(),
            SpeakerReport { node: owner.clone(), config: Some(digest), ..SpeakerReport::default() },
        );
        let answer = explain(&observed, &settings());
        assert!(!lines(of(&answer, "dns")).contains("another configuration"), "{}", lines(of(&answer, "dns")));
        // a speaker that rejected the configuration
        observed.states.insert(
            format!("speaker-{owner}"),
            ConfigurationStateStatus {
                result: Some("Invalid".into()),
                error_summary: "BGPPeer/r1: spec.holdTime: too short".into(),
                conditions: Vec::new(),
            },
        );
        let answer = explain(&observed, &settings());
        assert!(
            answer
                .configuration
                .iter()
                .any(|c| c
                    == &format!("speaker-{owner} rejected the configuration: BGPPeer/r1: spec.holdTime: too short")),
            "{:?}",
            answer.configuration
        );
        assert!(
            lines(of(&answer, "dns"))
                .contains("its speaker rejected the configuration and runs an older one: BGPPeer/r1"),
            "{}",
            lines(of(&answer, "dns"))
        );
    }

    #[test]
    fn a_dead_speaker_is_named_and_the_election_moves_to_the_living() {
        let owner = elected();
        let mut observed = cluster("");
        let beats = ["node1", "node2", "node3"].map(|n| (n.to_owned(), n != owner));
        observed.heartbeats = Some(beats.into_iter().collect());
        l2_owner(&mut observed, "dns", &owner);
        let answer = explain(&observed, &settings());
        let dns = of(&answer, "dns");
        let text = lines(dns);
        assert!(text.contains(&format!("{owner} Layer2: its speaker is not alive (its heartbeat is stale)")), "{text}");
        assert!(text.contains(&format!("claim without election: {owner} holds a ServiceL2Status")), "{text}");
        assert!(dns.not_announcing.iter().any(|l| l.planned && l.node != owner), "another node is elected: {text}");
        assert_eq!(dns.verdict, Verdict::NotAnnounced);
        // a node without any heartbeat runs no speaker
        observed.heartbeats.as_mut().unwrap().remove("node1");
        if owner != "node1" {
            let answer = explain(&observed, &settings());
            assert!(
                lines(of(&answer, "dns")).contains("node1 Layer2: no speaker runs there (it has no heartbeat)"),
                "{}",
                lines(of(&answer, "dns"))
            );
        }
        let web = of(&explain(&observed, &settings()), "web").clone();
        assert!(
            lines(&web).contains("node1 Bgp: would announce 10.50.0.10/32 to r1, but no speaker runs there"),
            "{}",
            lines(&web)
        );
    }

    #[test]
    fn a_session_down_says_since_when_and_why() {
        let mut observed = cluster("");
        bgp_status(&mut observed, "node1");
        let session = SessionReport {
            peer: "r1".into(),
            address: "172.30.0.1:179".into(),
            state: "Active".into(),
            established: false,
            since: Some("2026-12-05T10:00:00Z".into()),
            last_error: Some("connection refused".into()),
        };
        observed.reports.insert(
            "node1".into(),
            SpeakerReport { node: "node1".into(), sessions: vec![session.clone()], ..SpeakerReport::default() },
        );
        let answer = explain(&observed, &settings());
        let web = of(&answer, "web");
        assert_eq!(web.verdict, Verdict::NotAnnounced, "{}", lines(web));
        assert!(lines(web).contains("node1 Bgp: would announce 10.50.0.10/32 to r1, but the session (172.30.0.1:179) is Active since 2026-12-05T10:00:00Z: connection refused"), "{}", lines(web));
        let up = SessionReport { established: true, state: "Established".into(), last_error: None, ..session };
        observed.reports.get_mut("node1").unwrap().sessions = vec![up];
        let answer = explain(&observed, &settings());
        assert!(lines(of(&answer, "web")).contains("announces 10.50.0.10/32 to r1, session established"));
    }

    #[test]
    fn local_traffic_policy_exclusion_label_and_peer_selectors_are_worded() {
        let extra = [
            service("local", "bgp", Some("10.50.0.20"), "Local", &["node1"]),
            node("node4", ", node.kubernetes.io/exclude-from-external-load-balancers: \"\""),
        ]
        .join("\n---\n");
        let mut observed = cluster(&extra);
        observed.bgp.entry(key("local")).or_default().push(("node1".into(), vec!["r1".into()]));
        let answer = explain(&observed, &settings());
        let text = lines(of(&answer, "local"));
        assert!(
            text.contains(
                "node2 Bgp: externalTrafficPolicy is Local and no ready endpoint runs on this node (noLocalEndpoints)"
            ),
            "{text}"
        );
        assert!(text.contains("node4 Bgp: the node is labelled node.kubernetes.io/exclude-from-external-load-balancers (nodeLabeledExcludeBalancers)"), "{text}");
        assert!(text.contains("node1 Bgp: announces 10.50.0.20/32 to r1"), "{text}");
    }

    #[test]
    fn two_layer2_claimants_are_a_problem() {
        let owner = elected();
        let other = if owner == "node1" { "node2" } else { "node1" };
        let mut observed = cluster("");
        everything_announced(&mut observed, &owner);
        l2_owner(&mut observed, "dns", other);
        let answer = explain(&observed, &settings());
        let dns = of(&answer, "dns");
        assert_eq!(dns.verdict, Verdict::Partly);
        let text = lines(dns);
        assert!(text.contains(&format!("claim without election: {other} holds a ServiceL2Status")), "{text}");
        assert!(text.contains("2 nodes claim it by Layer 2"), "{text}");
    }

    #[test]
    fn a_peer_that_breaks_one_speaker_leaves_the_others_explained() {
        let bad = "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: bad, namespace: metallb-system}\nspec:\n  myASN: 64500\n  peerASN: 64501\n  peerAddress: 172.30.0.9\n  holdTime: 1s\n  nodeSelectors: [{matchLabels: {kubernetes.io/hostname: node3}}]\n";
        let owner = elected();
        let mut observed = cluster(bad);
        everything_announced(&mut observed, &owner);
        let answer = explain(&observed, &settings());
        assert!(
            answer.configuration[0].starts_with("the configuration is invalid: BGPPeer/bad"),
            "{:?}",
            answer.configuration
        );
        let web = of(&answer, "web");
        let text = lines(web);
        assert!(text.contains("node1 Bgp: announces 10.50.0.10/32 to r1"), "{text}");
        assert!(text.contains("node3 Bgp: its speaker refuses the configuration (BGPPeer/bad"), "{text}");
        assert_eq!(web.verdict, Verdict::Announced, "node3 has no peer to announce to anyway: {text}");
        let dns = lines(of(&answer, "dns"));
        assert!(dns.contains(&format!("{owner} Layer2: elected; answers ARP/NDP")), "{dns}");
    }

    #[test]
    fn an_invalid_configuration_is_said_and_addresses_still_explained() {
        let bad = "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: b, namespace: metallb-system}\nspec: {receiveInterval: 1}\n";
        let answer = explain(&cluster(bad), &settings());
        assert!(
            answer.configuration[0].starts_with("the configuration is invalid: BFDProfile/b"),
            "{:?}",
            answer.configuration
        );
        let dns = of(&answer, "dns");
        assert_eq!(dns.addresses, ["172.30.0.100"]);
        assert_eq!(dns.verdict, Verdict::NotAnnounced);
    }
}
