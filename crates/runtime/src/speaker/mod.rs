//! The speaker role: what this node announces.
//!
//! [`core`] decides; [`Speaker`] is the executor, a small owner of the subsystems that carry
//! the decisions out: the Layer 2 data plane ([`layer2`]), the BGP sessions ([`bgp`]), BFD
//! ([`bfd`]) and membership ([`membership`]). Every snapshot (or membership change) is one
//! step: the core configures and plans, the executor applies the plan to the subsystems and
//! the writes to the sink, and tells the core what the data plane did.

mod bfd;
mod bgp;
mod connected;
pub mod core;
pub mod exclusions;
mod held_back;
mod layer2;
mod membership;
pub mod report;
pub mod unapplied;
mod unnumbered;
pub mod witness;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferrolb_announce::sessions;
use ferrolb_api::metallb::{InterfaceInfo, ServiceBGPStatusStatus, ServiceL2StatusStatus};
use ferrolb_l2::L2Announcer;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use self::bfd::BfdSessions;
use self::bgp::Sessions;
use self::core::{Event, MembershipState, Plan, SpeakerCore, Write};
use self::layer2::Layer2;
use self::membership::Members;
use crate::conditions::{SPEAKER_CONDITION, configuration_state, with_peer_notes, with_unapplied};
use crate::config::MembershipConfig;
use crate::observe::metrics::{AnnouncedLabels, Metrics};
use crate::sink::{ServiceRef, Sink};
use crate::sources::Snapshot;

/// How the speaker decides, beyond the configuration.
#[derive(Debug, Clone)]
pub struct SpeakerOptions {
    pub lb_class: Option<String>,
    pub ignore_exclude_lb: bool,
    pub membership: MembershipConfig,
    /// On SIGTERM, how long routes carry GRACEFUL_SHUTDOWN before they are withdrawn.
    pub graceful_shutdown_delay: Duration,
    /// Where the peers' own connections are accepted (0: nowhere).
    pub bgp_listen_port: u16,
}

#[derive(Debug)]
pub struct Speaker {
    core: SpeakerCore,
    node: String,
    namespace: String,
    sink: Sink,
    metrics: Arc<Metrics>,
    /// MetalLB configuration found at start and not applied (see [`unapplied`]).
    unapplied: Vec<unapplied::Unapplied>,
    layer2: Layer2,
    sessions: Sessions,
    bfd: BfdSessions,
    /// BGPPeer names whose BFD session went down.
    bfd_down: Option<mpsc::UnboundedReceiver<String>>,
    members: Members,
    /// The nodes that run a speaker, when discovery by pod label says so; `None` means
    /// every Node object (the `dir:` source, or no `--ml-labels`).
    speaker_nodes: watch::Receiver<Option<BTreeSet<String>>>,
    /// Whether fencing held this speaker back at the last step, to log transitions.
    fenced: bool,
    /// Whether it served without a quorum at the last step (the witness allowed it).
    serving_alone: bool,
    graceful_shutdown_delay: Duration,
    /// The digest of the configuration in force, for the report.
    config_digest: Option<String>,
    /// What the report publisher reads (nothing reads it without [`Self::with_report`]).
    facts: watch::Sender<report::Facts>,
}

impl Speaker {
    pub fn new(
        node: String,
        sink: Sink,
        namespace: String,
        options: SpeakerOptions,
        l2: Option<L2Announcer>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let core = SpeakerCore::new(node.clone(), namespace.clone(), options.lb_class, options.ignore_exclude_lb);
        let (bfd_down_tx, bfd_down) = mpsc::unbounded_channel();
        Self {
            core,
            layer2: Layer2::new(node.clone(), l2, Arc::clone(&metrics)),
            sessions: Sessions::new(node.clone(), Arc::clone(&metrics)).with_listen_port(options.bgp_listen_port),
            bfd: BfdSessions::new(Arc::clone(&metrics), bfd_down_tx),
            bfd_down: Some(bfd_down),
            members: Members::new(node.clone(), options.membership),
            speaker_nodes: watch::channel(None).1,
            fenced: false,
            serving_alone: false,
            graceful_shutdown_delay: options.graceful_shutdown_delay,
            config_digest: None,
            facts: watch::channel(report::Facts::default()).0,
            node,
            namespace,
            sink,
            metrics,
            unapplied: Vec::new(),
        }
    }

    /// Fences on evidence: reads the speakers' heartbeats from `witness`.
    pub fn with_witness(mut self, witness: watch::Receiver<ferrolb_gossip::Witness>) -> Self {
        self.members = self.members.with_witness(witness);
        self
    }

    /// Publishes the speaker's report to `target` (a task that lives as long as the speaker).
    pub fn with_report(self, target: report::Target) -> Self {
        tokio::spawn(report::publish(target, self.node.clone(), self.facts.subscribe()));
        self
    }

    /// MetalLB configuration found at start that is not applied: logged and put on its
    /// ConfigMap as a Warning event now, and in every ConfigurationState written.
    pub fn with_unapplied(mut self, unapplied: Vec<unapplied::Unapplied>) -> Self {
        for u in &unapplied {
            warn!(node = %self.node, config_map = u.config_map, "{}", u.message);
            let message = format!("speaker {}: {}", self.node, u.message);
            self.sink.object_warning(&self.namespace, "ConfigMap", u.config_map, "NotApplied", message);
        }
        self.unapplied = unapplied;
        self
    }

    /// Takes the set of nodes running a speaker from pod discovery: only they take part in
    /// membership and count toward its quorum.
    pub fn with_speaker_nodes(mut self, nodes: watch::Receiver<Option<BTreeSet<String>>>) -> Self {
        self.speaker_nodes = nodes;
        self
    }

    /// Reconciles every snapshot and membership change until the source ends, then
    /// withdraws everything.
    pub async fn run(mut self, mut snapshots: watch::Receiver<Arc<Snapshot>>) {
        // The channel's initial value is a placeholder, not the cluster: only published
        // snapshots count.
        let Some(mut bfd_down) = self.bfd_down.take() else { return };
        let mut seen_snapshot = false;
        // How often the sessions' statuses are read for the notes they give their peers.
        let mut sessions_tick = tokio::time::interval(Duration::from_secs(1));
        sessions_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                _ = sessions_tick.tick() => {
                    self.follow_sessions();
                    continue;
                }
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
            self.step(&snapshot).await;
            if self.core.rejected() {
                // A configuration refused because it would orphan an address may fit now that
                // the controller's move of that service has been applied.
                self.step(&snapshot).await;
            }
        }
        self.withdraw_everything().await;
    }

    /// One reconcile: configure, plan, apply.
    async fn step(&mut self, snapshot: &Snapshot) {
        self.core.set_interfaces(connected::networks(), connected::devices());
        let configured = self.core.configure(snapshot);
        self.metrics.config_result(configured.accepted);
        if configured.accepted && self.facts.receiver_count() > 0 {
            self.config_digest = Some(ferrolb_api::report::config_digest(&snapshot.resources));
        }
        self.apply(configured.writes, configured.events);
        if !self.core.configured() {
            self.report_facts();
            return;
        }
        let speaker_nodes = self.speaker_nodes.borrow_and_update().clone();
        self.members.update(&core::membership_nodes(&snapshot.resources, &self.node, speaker_nodes.as_ref()));
        self.follow_membership();
        let membership = MembershipState { liveness: self.members.liveness(), may_answer: self.members.may_answer() };
        if let Some(plan) = self.core.plan(snapshot, &membership) {
            self.carry_out(plan).await;
        }
        self.report_facts();
    }

    /// Turns the routes the running sessions hold back for want of a next hop into notes on
    /// their peers ([`held_back::notes`]): an event when one appears, the ConfigurationState
    /// condition and the metric kept current.
    fn follow_sessions(&mut self) {
        let statuses: Vec<(String, ferrolb_bgp::SessionStatus)> =
            self.sessions.statuses().into_iter().map(|(name, _, status)| (name, status.borrow().clone())).collect();
        let notes = held_back::notes(&statuses, self.core.session_notes());
        let (writes, events) = self.core.set_session_notes(notes);
        if writes.is_empty() && events.is_empty() {
            return;
        }
        self.count_peer_notes();
        self.apply(writes, events);
    }

    /// `ferrolb_bgp_peers_unserved` and `ferrolb_bgp_peers_served_in_part` from every note:
    /// a peer served in part is one with notes, none of which says it is not served.
    fn count_peer_notes(&self) {
        let notes = self.core.all_peer_notes();
        let unserved: BTreeSet<&str> = notes.iter().filter(|n| !n.served).map(|n| n.peer.as_str()).collect();
        let in_part: BTreeSet<&str> =
            notes.iter().filter(|n| n.served && !unserved.contains(n.peer.as_str())).map(|n| n.peer.as_str()).collect();
        self.metrics.bgp_peers_unserved.set(i64::try_from(unserved.len()).unwrap_or(i64::MAX));
        self.metrics.bgp_peers_served_in_part.set(i64::try_from(in_part.len()).unwrap_or(i64::MAX));
    }

    /// Hands the report publisher what this step knows.
    fn report_facts(&self) {
        if self.facts.receiver_count() == 0 {
            return;
        }
        let membership = self.members.view().map(|view| ferrolb_api::report::MembershipReport {
            members: view.members.iter().cloned().collect(),
            members_omitted: 0,
            quorum: view.quorum,
            fenced: self.fenced,
            serving_without_quorum: self.serving_alone,
        });
        self.facts.send_replace(report::Facts {
            config: self.config_digest.clone(),
            config_error: self.core.config_error().map(str::to_owned),
            membership,
            layer2_claims: self.core.claims().len(),
            sessions: self.sessions.statuses(),
        });
    }

    async fn carry_out(&mut self, plan: Plan) {
        let Plan {
            withdraw,
            announce,
            reannounce,
            sessions,
            bfd,
            tables,
            draining_changed,
            bgp_writes,
            bgp_events,
            bgp_announced,
            bgp_withdrawn,
        } = plan;
        self.layer2.apply(&mut self.core, withdraw, announce).await;
        if reannounce {
            self.layer2.reannounce(self.core.claims()).await;
        }
        let (writes, events) =
            self.core.layer2_settled(|key| !self.sink.has_l2_status(&key.namespace, &key.name, &self.node));
        self.apply(writes, events);

        self.sessions.reconcile(sessions).await;
        self.bfd.reconcile(bfd).await;
        if let Some(draining) = draining_changed {
            info!(node = %self.node, draining, "node schedulability changed: GRACEFUL_SHUTDOWN community {}", if draining { "added" } else { "removed" });
        }
        self.sessions.advertise(tables);
        for (key, ip) in &bgp_withdrawn {
            self.metrics.speaker_announced.remove(&AnnouncedLabels::bgp(key, &self.node, *ip));
        }
        for (key, ip) in &bgp_announced {
            self.metrics.speaker_announced.get_or_create(&AnnouncedLabels::bgp(key, &self.node, *ip)).set(1);
        }
        self.apply(bgp_writes, bgp_events);
    }

    /// Logs membership and fencing transitions and keeps their metrics current.
    fn follow_membership(&mut self) {
        if let Some(view) = self.members.view() {
            if let Some(before) = self.core.last_members() {
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
                warn!(node = %self.node, witness = ?self.members.witness_names(), "lost quorum: this speaker cannot see a majority of the speakers it knows, and their heartbeats show them alive; withdrawing its layer2 announcements");
            } else {
                info!(node = %self.node, "no longer fenced: layer2 announcements follow the election again");
            }
            self.fenced = fenced;
        }
        let alone = self.members.serving_without_quorum();
        if alone != self.serving_alone {
            if alone {
                warn!(node = %self.node, witness = ?self.members.witness_names(), "no quorum, but the speakers this one cannot hear are not renewing their heartbeats (or the heartbeats cannot be read): still serving");
            }
            self.serving_alone = alone;
        }
    }

    /// Hands the core's writes to the sink (which retries each until it lands) and records
    /// its events.
    fn apply(&mut self, writes: Vec<Write>, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Service { key, uid, warning, reason, message } => {
                    let service = ServiceRef { namespace: &key.namespace, name: &key.name, uid: uid.as_deref() };
                    self.sink.event(&service, warning, &reason, message);
                }
                Event::Configuration(error) => {
                    self.sink.configuration_event(&self.namespace, &error, &format!("speaker {}", self.node));
                }
                Event::Peer(note) => {
                    let reason = if note.served { "PeerServedInPart" } else { "PeerNotServed" };
                    let message = format!("speaker {}: {}", self.node, note.message);
                    self.sink.object_warning(&self.namespace, "BGPPeer", &note.peer, reason, message);
                }
            }
        }
        for write in writes {
            self.write(&write);
        }
    }

    fn write(&self, write: &Write) {
        let node = &self.node;
        match write {
            Write::L2Status { key, interfaces } => {
                let status = interfaces.as_ref().map(|interfaces| ServiceL2StatusStatus {
                    node: node.clone(),
                    service_name: key.name.clone(),
                    service_namespace: key.namespace.clone(),
                    interfaces: interfaces.iter().map(|name| InterfaceInfo { name: name.clone() }).collect(),
                });
                self.sink.write_l2_status(&key.namespace, &key.name, node, status.as_ref());
                if status.is_some() {
                    // Each status has one writer: the node that announces removes what the
                    // previous announcer left, unless that node is still alive (then it
                    // removes its own).
                    let live = self.core.last_members();
                    let alive = |n: &str| live.is_some_and(|m| m.contains(n));
                    match self.sink.remove_other_l2_statuses(&key.namespace, &key.name, node, alive) {
                        Ok(others) if !others.is_empty() => {
                            info!(service = %key, previous = ?others, "removed the previous announcer's ServiceL2Status");
                        }
                        Ok(_) => {}
                        Err(e) => warn!(service = %key, error = %e, "cannot remove other nodes' ServiceL2Status"),
                    }
                }
            }
            Write::BgpStatus { key, peers } => {
                let status = peers.as_ref().map(|peers| ServiceBGPStatusStatus {
                    node: node.clone(),
                    service_name: key.name.clone(),
                    service_namespace: key.namespace.clone(),
                    peers: peers.iter().cloned().collect(),
                });
                self.sink.write_bgp_status(&key.namespace, &key.name, node, status.as_ref());
            }
            Write::ConfigurationState { error } => {
                let notes = self.core.all_peer_notes();
                let status = with_peer_notes(configuration_state(SPEAKER_CONDITION, error.as_ref()), &notes);
                let status = with_unapplied(status, &self.unapplied);
                self.count_peer_notes();
                self.sink.write_configuration_state(&format!("speaker-{node}"), &status);
            }
        }
    }

    /// On shutdown: leave the membership first (the others elect new owners the moment they
    /// hear it, while this speaker still answers), then stop answering ARP/NDP, and end
    /// every BGP session with a CEASE so the routers withdraw at once instead of waiting for
    /// the hold timer.
    async fn withdraw_everything(&mut self) {
        self.members.leave().await;
        let (claims, bgp_writes) = self.core.withdraw_everything();
        self.layer2.apply(&mut self.core, claims, Vec::new()).await;
        let (writes, events) = self.core.layer2_settled(|_| false);
        self.apply(writes, events);
        let delay = self.graceful_shutdown_delay;
        let tables = self.sessions.tables();
        let draining = !delay.is_zero() && tables.values().any(|t| !t.is_empty());
        if draining {
            info!(node = %self.node, ?delay, "graceful shutdown: announcing GRACEFUL_SHUTDOWN (RFC 8326) before withdrawing");
            let tables = sessions::with_graceful_shutdown(tables);
            self.sessions.advertise(tables.into_iter().map(|(peer, table)| (peer, Arc::new(table))).collect());
            tokio::time::sleep(delay).await;
        }
        self.sessions.shutdown("ferrolb speaker shutting down", draining).await;
        self.bfd.shutdown().await;
        for write in bgp_writes {
            self.write(&write);
        }
    }
}
