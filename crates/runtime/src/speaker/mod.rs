//! The speaker role: what this node announces.
//!
//! Every snapshot: parse the configuration in this node's scope (peers and BGP
//! advertisements for other nodes are dropped before validation, docs/compatibility.md §1.13; the last
//! good configuration stays when a new one is rejected), run the pure speaker decisions for
//! this node, and bring the Layer 2 data plane to the addresses this node wins. The winner of
//! a service writes its ServiceL2Status; every other node removes its own.

mod bfd;
mod bgp;
pub mod exclusions;
mod membership;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ferrolb_announce::{Cluster, ServiceKey};
use ferrolb_api::metallb::{InterfaceInfo, ServiceBGPStatusStatus, ServiceL2StatusStatus};
use ferrolb_config::{Config, ConfigError, Options, Scope};
use ferrolb_l2::L2Announcer;
use tokio::sync::watch;
use tracing::{error, info, warn};

use self::bfd::BfdSessions;
use self::bgp::Sessions;
use self::membership::Members;
use crate::conditions::{SPEAKER_CONDITION, configuration_state};
use crate::config::MembershipConfig;
use crate::observe::metrics::{AnnouncedLabels, Metrics};
use crate::sink::{ServiceRef, Sink};
use crate::sources::Snapshot;
use ferrolb_announce::claims::{self, Claims};
use ferrolb_announce::sessions::{self as bgp_plan, NodeAddresses};

/// How the speaker decides, beyond the configuration.
#[derive(Debug, Clone)]
pub struct SpeakerOptions {
    pub lb_class: Option<String>,
    pub ignore_exclude_lb: bool,
    pub membership: MembershipConfig,
    /// On SIGTERM, how long routes carry GRACEFUL_SHUTDOWN before they are withdrawn.
    pub graceful_shutdown_delay: std::time::Duration,
}

#[derive(Debug)]
pub struct Speaker {
    node: String,
    sink: Sink,
    options: Options,
    decide: SpeakerOptions,
    metrics: Arc<Metrics>,
    config: Option<Arc<Config>>,
    condition_written: Option<Option<String>>,
    l2: Option<L2Announcer>,
    claims: Claims,
    statuses_written: BTreeMap<ServiceKey, BTreeSet<String>>,
    sessions: Sessions,
    members: Members,
    bfd: BfdSessions,
    bfd_down: Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
    draining: bool,
    /// The live members at the last decision, and whether this speaker could answer then.
    last_members: Option<BTreeSet<String>>,
    fenced: bool,
    bgp_statuses_written: BTreeMap<ServiceKey, BTreeSet<String>>,
    bgp_announced: BTreeSet<AnnouncedLabels>,
    /// Each Service's uid, from the last snapshot: events name their object by it.
    uids: BTreeMap<ServiceKey, String>,
    /// The nodes that run a speaker, when discovery by pod label says so; `None` means
    /// every Node object (the `dir:` source, or no `--ml-labels`).
    speaker_nodes: watch::Receiver<Option<BTreeSet<String>>>,
}

impl Speaker {
    pub fn new(
        node: String,
        sink: Sink,
        namespace: String,
        decide: SpeakerOptions,
        l2: Option<L2Announcer>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let options = Options { namespace, scope: Scope::Speaker { node: node.clone() } };
        let sessions = Sessions::new(node.clone(), Arc::clone(&metrics));
        let members = Members::new(node.clone(), decide.membership.clone());
        let (bfd_down_tx, bfd_down) = tokio::sync::mpsc::unbounded_channel();
        let bfd = BfdSessions::new(Arc::clone(&metrics), bfd_down_tx);
        Self {
            node,
            sink,
            options,
            decide,
            metrics,
            config: None,
            condition_written: None,
            l2,
            claims: Claims::new(),
            statuses_written: BTreeMap::new(),
            sessions,
            members,
            bfd,
            bfd_down: Some(bfd_down),
            draining: false,
            last_members: None,
            fenced: false,
            bgp_statuses_written: BTreeMap::new(),
            bgp_announced: BTreeSet::new(),
            uids: BTreeMap::new(),
            speaker_nodes: watch::channel(None).1,
        }
    }

    /// Takes the set of nodes running a speaker from pod discovery: only they take part in
    /// membership and count toward its quorum (a node a nodeSelector keeps the speaker off
    /// would otherwise count as a speaker that never answers).
    pub fn with_speaker_nodes(mut self, nodes: watch::Receiver<Option<BTreeSet<String>>>) -> Self {
        self.speaker_nodes = nodes;
        self
    }

    pub async fn run(mut self, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
        // The channel's initial value is a placeholder, not the cluster: only published
        // snapshots count.
        let Some(mut bfd_down) = self.bfd_down.take() else { return };
        let mut seen_snapshot = false;
        loop {
            let mut reset = None;
            tokio::select! {
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    seen_snapshot = true;
                }
                () = self.members.changed() => {}
                Ok(()) = self.speaker_nodes.changed() => {}
                Some(peer) = bfd_down.recv() => reset = Some(peer),
            }
            if let Some(peer) = reset {
                self.sessions.reset(&peer).await;
                continue;
            }
            // Membership may wake us before the first snapshot: nothing to decide on yet.
            if !seen_snapshot {
                continue;
            }
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            self.reconcile_config(&snapshot);
            self.announce(&snapshot).await;
            if self.condition_written.as_ref().is_some_and(|c| c.is_some()) {
                // A configuration refused because it would orphan an address may fit now that
                // the controller's move of that service has been applied.
                self.reconcile_config(&snapshot);
                self.announce(&snapshot).await;
            }
        }
        self.withdraw_everything().await;
    }

    fn reconcile_config(&mut self, snapshot: &Snapshot) {
        let parsed = crate::sources::parse_config(snapshot, &self.options).and_then(|config| {
            match orphan(&config, self.announced()) {
                None => Ok(config),
                Some(e) => Err(e),
            }
        });
        match parsed {
            Ok(config) => {
                self.metrics.config_result(true);
                if self.condition_written.as_ref().is_some_and(|c| c.is_some()) {
                    info!(node = %self.node, "configuration valid again");
                }
                for warning in &config.warnings {
                    warn!(node = %self.node, "{warning}");
                }
                self.config = Some(Arc::new(config));
                self.report(None);
            }
            Err(e) => {
                self.metrics.config_result(false);
                if self.condition_written.as_ref().and_then(|c| c.as_deref()) != Some(e.to_string().as_str()) {
                    error!(node = %self.node, error = %e, "configuration rejected; keeping the last good configuration");
                    self.sink.configuration_event(&self.options.namespace, &e, &format!("speaker {}", self.node));
                }
                self.report(Some(&e));
            }
        }
    }

    /// Logs membership and fencing transitions and keeps their metrics current.
    fn follow_membership(&mut self) {
        if let Some(view) = self.members.view() {
            if let Some(before) = &self.last_members {
                for up in view.members.difference(before) {
                    info!(node = %self.node, member = %up, "member up");
                }
                for down in before.difference(&view.members) {
                    warn!(node = %self.node, member = %down, "member down");
                }
            }
            self.metrics.membership_members.set(view.members.len() as i64);
            self.metrics.membership_quorum.set(i64::from(view.quorum));
        }
        if let Some(stats) = self.members.stats() {
            self.metrics.membership(&stats);
        }
        let fenced = self.members.fenced();
        if fenced != self.fenced {
            if fenced {
                warn!(node = %self.node, "lost quorum: this speaker cannot see a majority of the speakers it knows; withdrawing its layer2 announcements");
            } else {
                info!(node = %self.node, "quorum regained: layer2 announcements follow the election again");
            }
            self.fenced = fenced;
        }
    }

    /// True when a speaker joined or came back since the last decision: neighbours may have
    /// learnt another MAC for our addresses meanwhile (a healed partition), so the owner
    /// sends its gratuitous burst again.
    fn members_regrown(&mut self, liveness: &ferrolb_announce::Liveness) -> bool {
        let ferrolb_announce::Liveness::Members(now) = liveness else { return false };
        let grown = self.last_members.as_ref().is_some_and(|before| !now.is_subset(before));
        self.last_members = Some(now.clone());
        grown
    }

    async fn reannounce(&self) {
        let Some(l2) = &self.l2 else { return };
        let ips: BTreeSet<IpAddr> = self.claims.keys().map(|(_, ip)| *ip).collect();
        for ip in ips {
            if let Err(e) = l2.reannounce(ip).await {
                error!(%ip, error = %e, "cannot re-announce");
            }
        }
    }

    /// Every address this node announces now, by either protocol.
    fn announced(&self) -> Vec<(ServiceKey, IpAddr)> {
        let mut out: Vec<(ServiceKey, IpAddr)> = self.claims.keys().cloned().collect();
        for label in &self.bgp_announced {
            if let (Some((namespace, name)), Ok(ip)) = (label.service.split_once('/'), label.ip.parse()) {
                out.push((ServiceKey::new(namespace, name), ip));
            }
        }
        out
    }

    async fn announce(&mut self, snapshot: &Snapshot) {
        let Some(config) = self.config.clone() else { return };
        let resources = &snapshot.resources;
        self.uids = resources
            .services
            .iter()
            .filter_map(|s| {
                let namespace = s.metadata.namespace.as_deref().unwrap_or("default");
                Some((ServiceKey::new(namespace, &s.metadata.name), s.metadata.uid.clone()?))
            })
            .collect();
        let speaker_nodes = self.speaker_nodes.borrow_and_update().clone();
        match speaker_nodes {
            Some(names) => {
                let nodes: Vec<ferrolb_api::Node> = resources
                    .nodes
                    .iter()
                    .filter(|n| n.metadata.name == self.node || names.contains(&n.metadata.name))
                    .cloned()
                    .collect();
                self.members.update(&nodes);
            }
            None => self.members.update(&resources.nodes),
        }
        let liveness = self.members.liveness();
        self.follow_membership();
        let mut cluster =
            Cluster::new(&config, &resources.services, &resources.endpoint_slices, &resources.nodes, &liveness);
        cluster.lb_class = self.decide.lb_class.as_deref();
        cluster.ignore_exclude_lb = self.decide.ignore_exclude_lb;
        let decisions = ferrolb_announce::decide(&cluster, &self.node);
        let wanted = if self.members.may_answer() { claims::wanted(&decisions) } else { Claims::new() };
        let regrown = self.members_regrown(&liveness);
        self.apply_layer2(wanted).await;
        if regrown {
            self.reannounce().await;
        }
        self.write_statuses();

        let this_node = resources.nodes.iter().find(|n| n.metadata.name == self.node);
        let addresses = NodeAddresses::of(this_node);
        self.sessions.reconcile(bgp_plan::wanted_sessions(&config, &self.node, addresses)).await;
        self.bfd.reconcile(ferrolb_announce::bfd::wanted(&config, &self.node)).await;
        // A cordoned node (kubectl cordon/drain) keeps announcing, with RFC 8326's
        // GRACEFUL_SHUTDOWN, so routers move traffic away before its pods go.
        let draining = this_node.is_some_and(|n| n.spec.unschedulable);
        if draining != self.draining {
            info!(node = %self.node, draining, "node schedulability changed: GRACEFUL_SHUTDOWN community {}", if draining { "added" } else { "removed" });
            self.draining = draining;
        }
        let tables = bgp_plan::tables(&decisions);
        self.sessions.advertise(if draining { bgp_plan::with_graceful_shutdown(tables) } else { tables });
        self.write_bgp_statuses(bgp_plan::statuses(&decisions), &decisions);
    }

    /// ServiceBGPStatus, one file per (service, node), and `metallb_speaker_announced` for
    /// BGP.
    fn write_bgp_statuses(
        &mut self,
        now: BTreeMap<ServiceKey, BTreeSet<String>>,
        decisions: &ferrolb_announce::NodeDecisions,
    ) {
        let mut announced = BTreeSet::new();
        for key in now.keys() {
            if let Some(ferrolb_announce::ServiceDecision::Evaluated { ips, .. }) = decisions.services.get(key) {
                for ip in ips {
                    announced.insert(AnnouncedLabels::bgp(key, &self.node, *ip));
                }
            }
        }
        for gone in self.bgp_announced.difference(&announced) {
            self.metrics.speaker_announced.remove(gone);
        }
        for label in &announced {
            self.metrics.speaker_announced.get_or_create(label).set(1);
        }
        self.bgp_announced = announced;

        for gone in self.bgp_statuses_written.keys().filter(|k| !now.contains_key(*k)).cloned().collect::<Vec<_>>() {
            match self.sink.write_bgp_status(&gone.namespace, &gone.name, &self.node, None) {
                Ok(()) => {
                    self.bgp_statuses_written.remove(&gone);
                }
                Err(e) => warn!(service = %gone, error = %e, "cannot remove ServiceBGPStatus"),
            }
        }
        for (key, peers) in now {
            if self.bgp_statuses_written.get(&key) == Some(&peers) {
                continue;
            }
            let status = ServiceBGPStatusStatus {
                node: self.node.clone(),
                service_name: key.name.clone(),
                service_namespace: key.namespace.clone(),
                peers: peers.iter().cloned().collect(),
            };
            match self.sink.write_bgp_status(&key.namespace, &key.name, &self.node, Some(&status)) {
                Ok(()) => {
                    info!(service = %key, node = %self.node, peers = ?peers, event = "nodeAssigned",
                        "announcing from node {:?} with protocol \"bgp\"", self.node);
                    self.event(
                        &key,
                        false,
                        "nodeAssigned",
                        format!("announcing from node {:?} with protocol \"bgp\"", self.node),
                    );
                    self.bgp_statuses_written.insert(key, peers);
                }
                Err(e) => {
                    self.metrics.update_errors.inc();
                    warn!(service = %key, error = %e, "cannot write ServiceBGPStatus");
                }
            }
        }
    }

    /// Brings the data plane from the current claims to `wanted`, withdrawing first.
    async fn apply_layer2(&mut self, wanted: Claims) {
        let (withdraw, announce) = claims::changes(&self.claims, &wanted);
        let Some(l2) = self.l2.clone() else {
            // Without a data plane (disabled, or no permission) nothing answers, so nothing is
            // claimed and no ServiceL2Status says otherwise; the decisions are still logged.
            for ((key, ip), _) in announce {
                info!(service = %key, %ip, node = %self.node, "would announce by layer2 (data plane off)");
            }
            return;
        };
        let before: BTreeSet<ServiceKey> = self.claims.keys().map(|(k, _)| k.clone()).collect();
        let mut failed = BTreeSet::new();
        for (key, ip) in withdraw {
            if let Err(e) = l2.withdraw(&key.to_string(), ip).await {
                error!(service = %key, %ip, error = %e, "cannot withdraw");
            }
            self.claims.remove(&(key.clone(), ip));
            self.metrics.speaker_announced.remove(&AnnouncedLabels::layer2(&key, &self.node, ip));
        }
        for ((key, ip), selection) in announce {
            match l2.announce(&key.to_string(), ip, selection.clone()).await {
                Ok(interfaces) if interfaces.is_empty() => {
                    failed.insert(key);
                }
                Ok(_) => {
                    self.metrics.speaker_announced.get_or_create(&AnnouncedLabels::layer2(&key, &self.node, ip)).set(1);
                    self.claims.insert((key, ip), selection);
                }
                Err(e) => error!(service = %key, %ip, error = %e, "cannot announce"),
            }
        }
        // Events are per service, as MetalLB records them, however many addresses it has.
        let after: BTreeSet<ServiceKey> = self.claims.keys().map(|(k, _)| k.clone()).collect();
        for key in after.difference(&before) {
            let ips: Vec<String> = self.claims.keys().filter(|(k, _)| k == key).map(|(_, ip)| ip.to_string()).collect();
            info!(service = %key, ips = ?ips, node = %self.node, event = "nodeAssigned",
                "announcing from node {:?} with protocol \"layer2\"", self.node);
            self.event(
                key,
                false,
                "nodeAssigned",
                format!("announcing from node {:?} with protocol \"layer2\"", self.node),
            );
        }
        for key in before.difference(&after) {
            info!(service = %key, node = %self.node, "withdrawn: this node no longer announces the service by layer2");
        }
        for key in failed.difference(&after) {
            warn!(service = %key, node = %self.node, event = "announceFailed",
                "the interfaces of the L2Advertisement do not exist on this node; not announcing");
            let message = format!("the interfaces of the L2Advertisement do not exist on node {:?}", self.node);
            self.event(key, true, "announceFailed", message);
        }
    }

    /// ServiceL2Status: one file per (service, node), written by the node that announces and
    /// removed by it when it stops, so each file has exactly one writer.
    fn write_statuses(&mut self) {
        let now = claims::statuses(&self.claims);
        for gone in self.statuses_written.keys().filter(|k| !now.contains_key(*k)).cloned().collect::<Vec<_>>() {
            match self.sink.write_l2_status(&gone.namespace, &gone.name, &self.node, None) {
                Ok(()) => {
                    self.statuses_written.remove(&gone);
                }
                Err(e) => warn!(service = %gone, error = %e, "cannot remove ServiceL2Status"),
            }
        }
        for (key, interfaces) in now {
            // Re-created if it vanished (an operator, or a node that briefly announced too).
            if self.statuses_written.get(&key) == Some(&interfaces)
                && self.sink.has_l2_status(&key.namespace, &key.name, &self.node)
            {
                continue;
            }
            let status = ServiceL2StatusStatus {
                node: self.node.clone(),
                service_name: key.name.clone(),
                service_namespace: key.namespace.clone(),
                interfaces: interfaces.iter().map(|name| InterfaceInfo { name: name.clone() }).collect(),
            };
            match self.sink.write_l2_status(&key.namespace, &key.name, &self.node, Some(&status)) {
                Ok(()) => {
                    let live = self.last_members.clone();
                    let alive = |n: &str| live.as_ref().is_some_and(|m| m.contains(n));
                    match self.sink.remove_other_l2_statuses(&key.namespace, &key.name, &self.node, alive) {
                        Ok(others) if !others.is_empty() => {
                            info!(service = %key, previous = ?others, "removed the previous announcer's ServiceL2Status");
                        }
                        Ok(_) => {}
                        Err(e) => warn!(service = %key, error = %e, "cannot remove other nodes' ServiceL2Status"),
                    }
                    self.statuses_written.insert(key, interfaces);
                }
                Err(e) => {
                    self.metrics.update_errors.inc();
                    warn!(service = %key, error = %e, "cannot write ServiceL2Status");
                }
            }
        }
    }

    /// On shutdown: stop answering ARP/NDP, and end every BGP session with a CEASE so the
    /// routers withdraw at once instead of waiting for the hold timer.
    async fn withdraw_everything(&mut self) {
        // Leave first: the others elect new owners the moment they hear it, while this
        // speaker still answers; then stop answering.
        self.members.leave().await;
        self.apply_layer2(Claims::new()).await;
        self.write_statuses();
        let delay = self.decide.graceful_shutdown_delay;
        let tables = self.sessions.tables();
        let draining = !delay.is_zero() && tables.values().any(|t| !t.is_empty());
        if draining {
            info!(node = %self.node, ?delay, "graceful shutdown: announcing GRACEFUL_SHUTDOWN (RFC 8326) before withdrawing");
            self.sessions.advertise(bgp_plan::with_graceful_shutdown(tables));
            tokio::time::sleep(delay).await;
        }
        self.sessions.shutdown("ferrolb speaker shutting down", draining).await;
        self.bfd.shutdown().await;
        for key in std::mem::take(&mut self.bgp_statuses_written).into_keys() {
            let _ = self.sink.write_bgp_status(&key.namespace, &key.name, &self.node, None);
        }
    }

    fn event(&self, key: &ServiceKey, warning: bool, reason: &str, message: String) {
        let uid = self.uids.get(key).map(String::as_str);
        self.sink.event(&ServiceRef { namespace: &key.namespace, name: &key.name, uid }, warning, reason, message);
    }

    fn report(&mut self, error: Option<&ConfigError>) {
        let key = error.map(ToString::to_string);
        if self.condition_written.as_ref() == Some(&key) {
            return;
        }
        let status = configuration_state(SPEAKER_CONDITION, error);
        match self.sink.write_configuration_state(&format!("speaker-{}", self.node), &status) {
            Ok(()) => self.condition_written = Some(key),
            Err(e) => {
                self.metrics.update_errors.inc();
                warn!(error = %e, "cannot write the speaker's ConfigurationState");
            }
        }
    }
}

/// MetalLB's speaker refuses a configuration under which an address it announces belongs to
/// no pool (docs/compatibility.md §4.1): withdrawing it before the controller has moved the service would
/// cut traffic for nothing. The previous configuration stays until the move is seen.
fn orphan(config: &Config, announced: Vec<(ServiceKey, IpAddr)>) -> Option<ConfigError> {
    let (key, ip) = announced.into_iter().find(|(_, ip)| config.pool_containing(*ip).is_none())?;
    let name = key.to_string();
    Some(
        ConfigError::new(
            "Service",
            &name,
            "status.loadBalancer.ingress",
            format!("{ip} has no configuration under the new configuration; keeping the previous one until the service moves"),
        )
        .into_transient(),
    )
}

#[cfg(test)]
mod tests {
    use ferrolb_api::Resources;
    use ferrolb_config::Options;

    use super::*;

    fn config(cidr: &str) -> Config {
        let mut r = Resources::default();
        let yaml = format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: p}}\nspec: {{addresses: [{cidr}]}}\n"
        );
        ferrolb_api::load_str(&yaml, "t", &mut r).unwrap();
        ferrolb_config::parse(&r, &Options::default()).unwrap()
    }

    #[test]
    fn a_configuration_that_keeps_every_announced_address_in_a_pool_is_accepted() {
        let announced = vec![(ServiceKey::new("default", "web"), "10.0.0.5".parse().unwrap())];
        assert!(orphan(&config("10.0.0.0/24"), announced).is_none());
    }

    #[test]
    fn a_configuration_that_would_orphan_an_announced_address_is_refused() {
        let announced = vec![(ServiceKey::new("default", "web"), "10.0.0.5".parse().unwrap())];
        let err = orphan(&config("10.9.0.0/24"), announced).expect("refused");
        assert!(err.transient);
        assert!(
            err.to_string()
                .starts_with("Service/default/web: status.loadBalancer.ingress: 10.0.0.5 has no configuration")
        );
    }
}
