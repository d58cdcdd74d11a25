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
            "the configuration is invalid: {e} (the speakers keep the last configuration they accepted; what they announce cannot be predicted from this one)"
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
    let Ok(controller) = controller else {
        let services = ferrolb_ipam::plan(&ferrolb_config::Config::default(), &resources.services, lb_class)
            .into_iter()
            .map(|r| Explanation {
                addresses: current_addresses(resources, &r.namespace, &r.name),
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
    let mut plans = match &full {
        Ok(config) => {
            let mut cluster =
                Cluster::new(config, &resources.services, &resources.endpoint_slices, &resources.nodes, &liveness);
            cluster.ignore_exclude_lb = settings.ignore_exclude_lb;
            cluster.lb_class = lb_class;
            ferrolb_announce::plan_announcements(&cluster)
        }
        Err(_) => BTreeMap::new(),
    };
    let digest = config_digest(resources);
    let speakers = Speakers { observed, digest: &digest };
    let services = planned
        .into_iter()
        .map(|result| {
            let key = ServiceKey::new(&result.namespace, &result.name);
            let plan = plans.remove(&key);
            explain_service(result, plan, &speakers, full.is_ok())
        })
        .collect();
    Answer { configuration, services, notes: observed.notes.clone() }
}

fn current_addresses(resources: &Resources, namespace: &str, name: &str) -> Vec<String> {
    resources
        .services
        .iter()
        .find(|s| s.metadata.name == name && s.metadata.namespace.as_deref().unwrap_or("default") == namespace)
        .map(|s| s.ingress_ips().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn addresses_set(list: &[String]) -> BTreeSet<IpAddr> {
    list.iter().filter_map(|a| a.parse().ok()).collect()
}

/// What the speakers say about themselves.
struct Speakers<'a> {
    observed: &'a Observed,
    digest: &'a str,
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
    configuration_valid: bool,
) -> Explanation {
    let observed = speakers.observed;
    let key = (result.namespace.clone(), result.name.clone());
    let current = current_addresses(&observed.resources, &result.namespace, &result.name);
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
    } else if !current.is_empty() && configuration_valid {
        problems.push("no L2Advertisement or BGPAdvertisement selects its pool".to_owned());
    }
    // nodes that are in no plan line because membership left them out
    if let Some(beats) = &observed.heartbeats {
        let listed: BTreeSet<String> = announcing.iter().chain(&not_announcing).map(|l| l.node.clone()).collect();
        let protocol = plan.as_ref().and_then(|p| p.skipped.first().map(|s| s.protocol)).unwrap_or(Protocol::Layer2);
        for node in &observed.resources.nodes {
            let name = node.metadata.name.as_str();
            if !listed.contains(name) && beats.get(name) != Some(&true) && !current.is_empty() && plan.is_some() {
                let text = speakers.trouble(name).unwrap_or_else(|| "its speaker is not alive".to_owned());
                not_announcing.push(line(name, protocol, text));
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
