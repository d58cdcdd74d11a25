//! The speaker's reconcile step, without I/O: a snapshot and what membership says in, what
//! this node should do out (Layer 2 claims to make and drop, the BGP sessions and their
//! tables, BFD sessions, status writes, events).
//!
//! A step has three parts, because the Layer 2 data plane answers back:
//! 1. [`SpeakerCore::configure`]: the configuration in this node's scope (peers and BGP
//!    advertisements for other nodes are dropped before validation, docs/compatibility.md
//!    §1.13), kept from the last good one when the new one is rejected.
//! 2. [`SpeakerCore::plan`]: the pure decisions for this node, as a [`Plan`].
//! 3. The executor applies the Layer 2 changes and tells the core what happened
//!    ([`SpeakerCore::claimed`], [`SpeakerCore::unclaimed`], [`SpeakerCore::no_interface`]);
//!    [`SpeakerCore::layer2_settled`] then gives the ServiceL2Status writes and the events.
//!
//! The winner of a Service writes its ServiceL2Status and every other node removes its own;
//! every node announcing a Service by BGP writes its ServiceBGPStatus.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

use ferrolb_announce::bfd::Wanted as BfdWanted;
use ferrolb_announce::claims::{self, Claim, Claims};
use ferrolb_announce::sessions::{self, NodeAddresses, PeerNote, Table};
use ferrolb_announce::{Cluster, Liveness, NodeDecisions, ServiceDecision, ServiceKey};
use ferrolb_api::{Node, Resources, VecSet};
use ferrolb_bgp::PeerSettings;
use ferrolb_config::{Config, ConfigError, Options, Scope};
use ferrolb_l2::InterfaceSelection;
use ipnet::IpNet;
use tracing::{error, info, warn};

use crate::sources::{Snapshot, parse_config};

/// A write the speaker wants; the executor applies it through the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// This node's ServiceL2Status of a Service: the interfaces it answers on (empty: all),
    /// or `None` to remove it.
    L2Status { key: ServiceKey, interfaces: Option<VecSet<String>> },
    /// This node's ServiceBGPStatus of a Service: the peers its prefixes go to, or `None`.
    BgpStatus { key: ServiceKey, peers: Option<VecSet<String>> },
    /// This speaker's ConfigurationState: accepted (`None`) or rejected, and why.
    ConfigurationState { error: Option<ConfigError> },
}

/// An event the speaker records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Service {
        key: ServiceKey,
        uid: Option<String>,
        warning: bool,
        reason: String,
        message: String,
    },
    /// A rejected configuration, on the object at fault.
    Configuration(ConfigError),
    /// A BGPPeer this node cannot serve (in full), on that peer; newly noted ones only.
    Peer(PeerNote),
}

/// What membership says at this step; the executor reads it off the membership driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipState {
    /// The election's candidates.
    pub liveness: Liveness,
    /// False before membership settles, and while fenced without quorum.
    pub may_answer: bool,
}

impl MembershipState {
    /// Membership off: every Node object is a live speaker and this one always answers.
    pub fn disabled() -> Self {
        Self { liveness: Liveness::Disabled, may_answer: true }
    }
}

/// What the configuration step decided.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Configured {
    /// Whether the snapshot's configuration is in force now.
    pub accepted: bool,
    pub writes: Vec<Write>,
    pub events: Vec<Event>,
}

/// What this node should do now, from the pure decisions.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Layer 2 claims to drop, first, so an address moving between interfaces is never
    /// answered twice.
    pub withdraw: Vec<Claim>,
    /// Layer 2 claims to make (new ones, and ones whose interfaces changed).
    pub announce: Vec<(Claim, InterfaceSelection)>,
    /// A speaker joined or came back: neighbours may have learnt another MAC for our
    /// addresses meanwhile (a healed partition), so send the gratuitous burst again.
    pub reannounce: bool,
    /// The BGP sessions this node keeps, by BGPPeer name.
    pub sessions: BTreeMap<String, PeerSettings>,
    /// The BFD sessions its peers ask for, by BGPPeer name.
    pub bfd: BTreeMap<String, BfdWanted>,
    /// Each peer's table (GRACEFUL_SHUTDOWN on every route while the node is cordoned),
    /// shared with the speaker's kept decisions.
    pub tables: BTreeMap<String, Arc<Table>>,
    /// `Some` when the node's schedulability changed: whether it drains now.
    pub draining_changed: Option<bool>,
    /// ServiceBGPStatus writes, and the events of the Services newly announced by BGP.
    pub bgp_writes: Vec<Write>,
    pub bgp_events: Vec<Event>,
    /// The addresses announced by BGP that came and went since the last step
    /// (`metallb_speaker_announced`).
    pub bgp_announced: Vec<(ServiceKey, IpAddr)>,
    pub bgp_withdrawn: Vec<(ServiceKey, IpAddr)>,
}

/// The speaker's memory between steps.
#[derive(Debug)]
pub struct SpeakerCore {
    node: String,
    options: Options,
    lb_class: Option<String>,
    ignore_exclude_lb: bool,
    config: Option<Arc<Config>>,
    condition_written: Option<Option<String>>,
    /// What the configuration in force cannot do on this node, peer by peer; part of the
    /// ConfigurationState written.
    peer_notes: Vec<PeerNote>,
    /// What the running BGP sessions cannot do, peer by peer ([`super::held_back::notes`]);
    /// part of the ConfigurationState written, after `peer_notes`.
    session_notes: Vec<PeerNote>,
    /// The rejection in the ConfigurationState last written (`None`: accepted), to write it
    /// again when only the session notes change.
    written_error: Option<ConfigError>,
    /// The networks this node is directly connected to, as the executor last read them
    /// (`None` until it does): they decide BFD's hop count and which eBGP peers a TTL-1
    /// session cannot reach.
    connected: Option<Vec<IpNet>>,
    /// This node's network devices (`None` until read): a peer's VRF must be one of them.
    devices: Option<BTreeSet<String>>,
    /// What the data plane answers for now, as the executor reported it.
    claims: Claims,
    /// The Services claimed when the Layer 2 changes began, and those whose interfaces do
    /// not exist here: what [`Self::layer2_settled`] reports on.
    claimed_before: BTreeSet<ServiceKey>,
    no_interface: BTreeSet<ServiceKey>,
    l2_statuses: BTreeMap<ServiceKey, VecSet<String>>,
    bgp_statuses: BTreeMap<ServiceKey, VecSet<String>>,
    /// Sorted, each once: compared whole with the next step's, which is nearly always equal.
    bgp_addresses: Vec<(ServiceKey, IpAddr)>,
    draining: bool,
    /// The live members at the last decision.
    last_members: Option<BTreeSet<String>>,
    /// The uids of the Services this step may record an event for (those it starts
    /// answering for by Layer 2; the BGP ones are named in the step itself): events name
    /// their object by it. Not every Service's: at 10,000 that map was a tenth of the
    /// speaker's memory, rebuilt on every step.
    uids: BTreeMap<ServiceKey, String>,
    /// The last step's decisions and what they were made under.
    decided: Option<Decided>,
}

/// Decisions kept for the next step: after a snapshot that follows theirs and names the
/// Services it changed (and nothing else moved: the membership, whether the configuration is
/// refused), only those are decided again. One edited Service among 100,000 is then one
/// decision, not 100,000.
#[derive(Debug)]
struct Decided {
    decisions: NodeDecisions,
    /// Each peer's table from them, before GRACEFUL_SHUTDOWN is added while draining.
    tables: BTreeMap<String, Arc<Table>>,
    /// The snapshot they were made on ([`ferrolb_kube::source::Changes::seq`]).
    seq: u64,
    liveness: Liveness,
    rejected: bool,
}

impl SpeakerCore {
    pub fn new(node: String, namespace: String, lb_class: Option<String>, ignore_exclude_lb: bool) -> Self {
        Self {
            options: Options { namespace, scope: Scope::Speaker { node: node.clone() } },
            node,
            lb_class,
            ignore_exclude_lb,
            config: None,
            condition_written: None,
            peer_notes: Vec::new(),
            session_notes: Vec::new(),
            written_error: None,
            connected: None,
            devices: None,
            claims: Claims::new(),
            claimed_before: BTreeSet::new(),
            no_interface: BTreeSet::new(),
            l2_statuses: BTreeMap::new(),
            bgp_statuses: BTreeMap::new(),
            bgp_addresses: Vec::new(),
            draining: false,
            last_members: None,
            uids: BTreeMap::new(),
            decided: None,
        }
    }

    /// Whether a configuration is in force (one was accepted once).
    pub fn configured(&self) -> bool {
        self.config.is_some()
    }

    /// The node's connected networks and network devices, read before each step.
    pub fn set_interfaces(&mut self, networks: Option<Vec<IpNet>>, devices: Option<BTreeSet<String>>) {
        self.connected = networks;
        self.devices = devices;
    }

    /// The notes on this node's peers under the configuration in force (ConfigurationState
    /// carries them as a condition).
    pub fn peer_notes(&self) -> &[PeerNote] {
        &self.peer_notes
    }

    /// Every note on this node's peers: the configuration's, then the running sessions'.
    pub fn all_peer_notes(&self) -> Vec<PeerNote> {
        self.peer_notes.iter().chain(&self.session_notes).cloned().collect()
    }

    /// The notes the running sessions give now ([`super::held_back::notes`] of their
    /// statuses, fed the ones given last, [`Self::session_notes`]): each new one is an
    /// event, and any change writes ConfigurationState again (it lists them) once one has
    /// been written.
    pub fn set_session_notes(&mut self, notes: Vec<PeerNote>) -> (Vec<Write>, Vec<Event>) {
        if notes == self.session_notes {
            return (Vec::new(), Vec::new());
        }
        let mut events = Vec::new();
        for note in notes.iter().filter(|n| !self.session_notes.contains(n)) {
            warn!(node = %self.node, peer = %note.peer, served = note.served, "{}", note.message);
            events.push(Event::Peer(note.clone()));
        }
        for note in self.session_notes.iter().filter(|n| !notes.contains(n)) {
            info!(node = %self.node, peer = %note.peer, "no longer: {}", note.message);
        }
        self.session_notes = notes;
        let writes = if self.condition_written.is_some() {
            vec![Write::ConfigurationState { error: self.written_error.clone() }]
        } else {
            Vec::new()
        };
        (writes, events)
    }

    /// The running sessions' notes as last set.
    pub fn session_notes(&self) -> &[PeerNote] {
        &self.session_notes
    }

    /// Why the last configuration step rejected the snapshot's configuration, if it did.
    pub fn config_error(&self) -> Option<&str> {
        self.condition_written.as_ref().and_then(|c| c.as_deref())
    }

    /// Whether the last configuration step rejected the snapshot's configuration.
    pub fn rejected(&self) -> bool {
        self.condition_written.as_ref().is_some_and(Option::is_some)
    }

    /// The Layer 2 claims the data plane holds.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The live members at the last decision (`None` before the first, or without
    /// membership): the previous announcer's ServiceL2Status may be removed only if it is
    /// not among them.
    pub fn last_members(&self) -> Option<&BTreeSet<String>> {
        self.last_members.as_ref()
    }

    /// The configuration in force after `snapshot`.
    pub fn configure(&mut self, snapshot: &Snapshot) -> Configured {
        let parsed = parse_config(snapshot, &self.options).and_then(|config| match orphan(&config, self.announced()) {
            None => Ok(config),
            Some(e) => Err(e),
        });
        let mut out = Configured::default();
        let error = match parsed {
            Ok(config) => {
                if self.rejected() {
                    info!(node = %self.node, "configuration valid again");
                }
                for warning in &config.warnings {
                    warn!(node = %self.node, "{warning}");
                }
                let notes = sessions::peer_notes(&config, &self.node, self.connected.as_deref(), self.devices.as_ref());
                if notes != self.peer_notes {
                    for note in notes.iter().filter(|n| !self.peer_notes.contains(n)) {
                        warn!(node = %self.node, peer = %note.peer, served = note.served, "{}", note.message);
                        out.events.push(Event::Peer(note.clone()));
                    }
                    self.peer_notes = notes;
                    // written again below, with the notes
                    self.condition_written = None;
                }
                self.config = Some(Arc::new(config));
                out.accepted = true;
                None
            }
            Err(e) => {
                if self.condition_written.as_ref().and_then(|c| c.as_deref()) != Some(e.to_string().as_str()) {
                    error!(node = %self.node, error = %e, "configuration rejected; keeping the last good configuration");
                    out.events.push(Event::Configuration(e.clone()));
                }
                Some(e)
            }
        };
        let key = error.as_ref().map(ToString::to_string);
        if self.condition_written.as_ref() != Some(&key) {
            self.condition_written = Some(key);
            self.written_error.clone_from(&error);
            out.writes.push(Write::ConfigurationState { error });
        }
        out
    }

    /// This node's decisions on `snapshot` under the configuration in force; `None` before
    /// any configuration was accepted.
    pub fn plan(&mut self, snapshot: &Snapshot, membership: &MembershipState) -> Option<Plan> {
        let config = self.config.clone()?;
        let resources = &snapshot.resources;
        let uids = Uids::of(resources);
        let mut cluster = Cluster::new(
            &config,
            &resources.services,
            &resources.endpoint_slices,
            &resources.nodes,
            &membership.liveness,
        );
        cluster.lb_class = self.lb_class.as_deref();
        cluster.ignore_exclude_lb = self.ignore_exclude_lb;
        let kept = self.decided.take();
        let (decisions, tables, redone) =
            decide(kept, snapshot, &cluster, &membership.liveness, self.rejected(), &self.node);

        let wanted = if membership.may_answer { claims::wanted(&decisions) } else { Claims::new() };
        let (withdraw, announce) = claims::changes(&self.claims, &wanted);
        self.uids = announce.iter().filter_map(|((key, _), _)| Some((key.clone(), uids.get(key)?))).collect();
        let reannounce = self.members_regrown(&membership.liveness);
        self.claimed_before = self.claimed_services();
        self.no_interface.clear();

        let this_node = resources.nodes.iter().find(|n| n.metadata.name == self.node);
        // A cordoned node (kubectl cordon/drain) keeps announcing, with RFC 8326's
        // GRACEFUL_SHUTDOWN, so routers move traffic away before its pods go.
        let draining = this_node.is_some_and(|n| n.spec.unschedulable);
        let draining_changed = (draining != self.draining).then_some(draining);
        self.draining = draining;
        let for_sessions = if draining {
            let plain = tables.iter().map(|(peer, table)| (peer.clone(), Table::clone(table))).collect();
            sessions::with_graceful_shutdown(plain).into_iter().map(|(peer, table)| (peer, Arc::new(table))).collect()
        } else {
            tables.clone()
        };
        let mut plan = Plan {
            withdraw,
            announce,
            reannounce,
            sessions: sessions::wanted_sessions(
                &config,
                &self.node,
                NodeAddresses::of(this_node),
                self.devices.as_ref(),
            ),
            bfd: ferrolb_announce::bfd::wanted(&config, &self.node, self.connected.as_deref(), self.devices.as_ref()),
            tables: for_sessions,
            draining_changed,
            bgp_writes: Vec::new(),
            bgp_events: Vec::new(),
            bgp_announced: Vec::new(),
            bgp_withdrawn: Vec::new(),
        };
        match redone {
            Redone::Everything => self.bgp_statuses(sessions::statuses(&decisions), &decisions, &uids, &mut plan),
            Redone::These(keys) => self.bgp_statuses_again(keys, &decisions, &uids, &mut plan),
            Redone::Nothing => {}
        }
        // kept only where the next snapshot can say what changed (the `dir:` source); on the
        // API server they would be memory held for nothing
        let (seq, liveness, rejected) = (snapshot.changes.seq, membership.liveness.clone(), self.rejected());
        self.decided = (seq != 0).then_some(Decided { decisions, tables, seq, liveness, rejected });
        Some(plan)
    }

    /// The data plane now answers for `claim` on `selection`.
    pub fn claimed(&mut self, claim: Claim, selection: InterfaceSelection) {
        self.claims.insert(claim, selection);
    }

    /// The data plane no longer answers for `claim` (withdrawn, or the withdrawal failed and
    /// nothing can be done about it).
    pub fn unclaimed(&mut self, claim: &Claim) {
        self.claims.remove(claim);
    }

    /// None of the interfaces the L2Advertisement names exist on this node.
    pub fn no_interface(&mut self, key: ServiceKey) {
        self.no_interface.insert(key);
    }

    /// After the Layer 2 changes were applied: the ServiceL2Status writes and the events
    /// (per Service, as MetalLB records them, however many addresses it has). `vanished`
    /// says whether a status this node wrote is gone from the store (an operator, or a node
    /// that briefly announced too), so it is written again.
    pub fn layer2_settled(&mut self, vanished: impl Fn(&ServiceKey) -> bool) -> (Vec<Write>, Vec<Event>) {
        let mut events = Vec::new();
        let after = self.claimed_services();
        for key in after.difference(&self.claimed_before) {
            let ips: Vec<String> = self.claims.keys().filter(|(k, _)| k == key).map(|(_, ip)| ip.to_string()).collect();
            info!(service = %key, ips = ?ips, node = %self.node, event = "nodeAssigned",
                "announcing from node {:?} with protocol \"layer2\"", self.node);
            let message = format!("announcing from node {:?} with protocol \"layer2\"", self.node);
            events.push(self.event(key, false, "nodeAssigned", message));
        }
        for key in self.claimed_before.difference(&after) {
            info!(service = %key, node = %self.node, "withdrawn: this node no longer announces the service by layer2");
        }
        for key in self.no_interface.difference(&after) {
            warn!(service = %key, node = %self.node, event = "announceFailed",
                "the interfaces of the L2Advertisement do not exist on this node; not announcing");
            let message = format!("the interfaces of the L2Advertisement do not exist on node {:?}", self.node);
            events.push(self.event(key, true, "announceFailed", message));
        }
        self.claimed_before = after;
        self.no_interface.clear();

        let now = claims::statuses(&self.claims);
        let mut writes = Vec::new();
        for gone in self.l2_statuses.keys().filter(|k| !now.contains_key(*k)) {
            writes.push(Write::L2Status { key: gone.clone(), interfaces: None });
        }
        self.l2_statuses.retain(|k, _| now.contains_key(k));
        for (key, interfaces) in now {
            if self.l2_statuses.get(&key) == Some(&interfaces) && !vanished(&key) {
                continue;
            }
            writes.push(Write::L2Status { key: key.clone(), interfaces: Some(interfaces.clone()) });
            self.l2_statuses.insert(key, interfaces);
        }
        (writes, events)
    }

    /// On shutdown: every claim to drop, and every ServiceBGPStatus to remove.
    pub fn withdraw_everything(&mut self) -> (Vec<Claim>, Vec<Write>) {
        self.claimed_before = self.claimed_services();
        let claims = self.claims.keys().cloned().collect();
        let bgp = std::mem::take(&mut self.bgp_statuses)
            .into_keys()
            .map(|key| Write::BgpStatus { key, peers: None })
            .collect();
        self.bgp_addresses.clear();
        (claims, bgp)
    }

    /// ServiceBGPStatus, one per (Service, node), and `metallb_speaker_announced` for BGP.
    ///
    /// `now`, the decisions and the statuses written are all in Service order: each is
    /// walked once beside the others, with no search per Service (at 100,000 Services the
    /// searches were most of a step that changed nothing).
    fn bgp_statuses(
        &mut self,
        now: BTreeMap<ServiceKey, VecSet<String>>,
        decisions: &NodeDecisions,
        uids: &Uids<'_>,
        plan: &mut Plan,
    ) {
        // in (Service, address) order: the Services come in order, each one's addresses sorted
        let mut addresses = Vec::with_capacity(self.bgp_addresses.len());
        let mut services = decisions.services.iter().peekable();
        for key in now.keys() {
            while services.next_if(|(k, _)| *k < key).is_some() {}
            if let Some((k, ServiceDecision::Evaluated { ips, .. })) = services.peek()
                && *k == key
            {
                let start = addresses.len();
                addresses.extend(ips.iter().map(|ip| (key.clone(), *ip)));
                addresses[start..].sort_unstable();
            }
        }
        if addresses != self.bgp_addresses {
            // only the new ones: a gauge per address, and 100,000 of them set again on every
            // step would be most of a small change's work
            (plan.bgp_withdrawn, plan.bgp_announced) = sorted_differences(&self.bgp_addresses, &addresses);
        }
        self.bgp_addresses = addresses;

        // compared in place; the new map then replaces the old one as it is
        let mut written = self.bgp_statuses.iter().peekable();
        let mut changed = Vec::new();
        for (key, peers) in &now {
            while let Some((gone, _)) = written.next_if(|(k, _)| *k < key) {
                plan.bgp_writes.push(Write::BgpStatus { key: gone.clone(), peers: None });
            }
            let same = written.next_if(|(k, _)| *k == key).is_some_and(|(_, before)| before == peers);
            if !same {
                plan.bgp_events.push(self.bgp_assigned(key, peers, uids));
                changed.push(Write::BgpStatus { key: key.clone(), peers: Some(peers.clone()) });
            }
        }
        plan.bgp_writes.extend(written.map(|(gone, _)| Write::BgpStatus { key: gone.clone(), peers: None }));
        plan.bgp_writes.extend(changed);
        self.bgp_statuses = now;
    }

    /// A Service this node now announces by BGP to `peers` (new, or to other peers): logged,
    /// and the event MetalLB records.
    fn bgp_assigned(&self, key: &ServiceKey, peers: &VecSet<String>, uids: &Uids<'_>) -> Event {
        info!(service = %key, node = %self.node, peers = ?peers, event = "nodeAssigned",
            "announcing from node {:?} with protocol \"bgp\"", self.node);
        let message = format!("announcing from node {:?} with protocol \"bgp\"", self.node);
        Event::Service { key: key.clone(), uid: uids.get(key), warning: false, reason: "nodeAssigned".into(), message }
    }

    /// [`Self::bgp_statuses`] for the Services named only, the others' being as they were.
    fn bgp_statuses_again(
        &mut self,
        keys: &BTreeSet<(String, String)>,
        decisions: &NodeDecisions,
        uids: &Uids<'_>,
        plan: &mut Plan,
    ) {
        let before: Vec<(ServiceKey, Option<VecSet<String>>)> = keys
            .iter()
            .map(|(namespace, name)| {
                let key = ServiceKey::new(namespace.as_str(), name.as_str());
                let peers = self.bgp_statuses.get(&key).cloned();
                (key, peers)
            })
            .collect();
        sessions::statuses_again(&mut self.bgp_statuses, decisions, keys);
        let mut changed = Vec::new();
        for (key, before) in before {
            let now = self.bgp_statuses.get(&key).cloned();
            // its addresses among those announced by BGP: sorted, as in the whole list
            let mut addresses: Vec<(ServiceKey, IpAddr)> = match (decisions.services.get(&key), &now) {
                (Some(ServiceDecision::Evaluated { ips, .. }), Some(_)) => {
                    ips.iter().map(|ip| (key.clone(), *ip)).collect()
                }
                _ => Vec::new(),
            };
            addresses.sort_unstable();
            let from = self.bgp_addresses.partition_point(|(k, _)| *k < key);
            let to = from + self.bgp_addresses[from..].iter().take_while(|(k, _)| *k == key).count();
            if self.bgp_addresses[from..to] != addresses[..] {
                let (withdrawn, announced) = sorted_differences(&self.bgp_addresses[from..to], &addresses);
                plan.bgp_withdrawn.extend(withdrawn);
                plan.bgp_announced.extend(announced);
                self.bgp_addresses.splice(from..to, addresses);
            }
            match now {
                None if before.is_some() => plan.bgp_writes.push(Write::BgpStatus { key, peers: None }),
                Some(peers) if before.as_ref() != Some(&peers) => {
                    plan.bgp_events.push(self.bgp_assigned(&key, &peers, uids));
                    changed.push(Write::BgpStatus { key, peers: Some(peers) });
                }
                _ => {}
            }
        }
        plan.bgp_writes.extend(changed);
    }

    /// True when a speaker joined or came back since the last decision.
    fn members_regrown(&mut self, liveness: &Liveness) -> bool {
        let Liveness::Members(now) = liveness else { return false };
        let grown = self.last_members.as_ref().is_some_and(|before| !now.is_subset(before));
        self.last_members = Some(now.clone());
        grown
    }

    fn claimed_services(&self) -> BTreeSet<ServiceKey> {
        self.claims.keys().map(|(k, _)| k.clone()).collect()
    }

    /// Every address this node announces now, by either protocol.
    fn announced(&self) -> impl Iterator<Item = &(ServiceKey, IpAddr)> {
        self.claims.keys().chain(self.bgp_addresses.iter())
    }

    fn event(&self, key: &ServiceKey, warning: bool, reason: &str, message: String) -> Event {
        Event::Service { key: key.clone(), uid: self.uids.get(key).cloned(), warning, reason: reason.into(), message }
    }
}

/// Which Services a step decided again.
enum Redone<'s> {
    /// None: the same snapshot again.
    Nothing,
    /// Those the snapshot names.
    These(&'s BTreeSet<(String, String)>),
    Everything,
}

/// `node`'s decisions on `cluster` and each peer's table from them: the `kept` ones of the
/// last step, brought up to date for the Services the snapshot says changed when they can
/// be, every Service's otherwise.
fn decide<'s>(
    kept: Option<Decided>,
    snapshot: &'s Snapshot,
    cluster: &Cluster<'_>,
    liveness: &Liveness,
    rejected: bool,
    node: &str,
) -> (NodeDecisions, BTreeMap<String, Arc<Table>>, Redone<'s>) {
    let kept = kept.filter(|d| d.liveness == *liveness && d.rejected == rejected);
    // (kept decisions that cannot be used are dropped before every Service is decided again:
    // the two sets are never held at once)
    let brought_up = kept.and_then(|mut d| {
        if d.seq != 0 && d.seq == snapshot.changes.seq {
            return Some((d.decisions, d.tables, Redone::Nothing));
        }
        let touched = snapshot.changes.since(d.seq)?;
        let replaced = ferrolb_announce::decide_again(cluster, &mut d.decisions, touched);
        sessions::tables_again(&mut d.tables, &d.decisions, &replaced, touched);
        Some((d.decisions, d.tables, Redone::These(touched)))
    });
    brought_up.unwrap_or_else(|| {
        let decisions = ferrolb_announce::decide(cluster, node);
        let tables = sessions::tables(&decisions).into_iter().map(|(peer, table)| (peer, Arc::new(table))).collect();
        (decisions, tables, Redone::Everything)
    })
}

/// What is in `before` and not in `after`, and what is in `after` and not in `before`; both
/// sorted and without repeats.
fn sorted_differences<T: Ord + Clone>(before: &[T], after: &[T]) -> (Vec<T>, Vec<T>) {
    let (mut gone, mut new) = (Vec::new(), Vec::new());
    let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
    loop {
        match (b.peek(), a.peek()) {
            (Some(x), Some(y)) => match x.cmp(y) {
                std::cmp::Ordering::Less => gone.extend(b.next().cloned()),
                std::cmp::Ordering::Greater => new.extend(a.next().cloned()),
                std::cmp::Ordering::Equal => {
                    b.next();
                    a.next();
                }
            },
            (Some(_), None) => gone.extend(b.next().cloned()),
            (None, Some(_)) => new.extend(a.next().cloned()),
            (None, None) => return (gone, new),
        }
    }
}

/// Each Service's uid by namespace and name, borrowed from the snapshot and indexed only when
/// a step first asks for one (most steps record no event).
struct Uids<'a> {
    resources: &'a Resources,
    index: std::cell::OnceCell<std::collections::HashMap<(&'a str, &'a str), &'a str>>,
}

impl<'a> Uids<'a> {
    fn of(resources: &'a Resources) -> Self {
        Self { resources, index: std::cell::OnceCell::new() }
    }

    fn get(&self, key: &ServiceKey) -> Option<String> {
        let index = self.index.get_or_init(|| {
            self.resources
                .services
                .iter()
                .filter_map(|s| {
                    let namespace = s.metadata.namespace.as_deref().unwrap_or("default");
                    Some(((namespace, s.metadata.name.as_str()), s.metadata.uid.as_deref()?))
                })
                .collect()
        });
        index.get(&(key.namespace.as_str(), key.name.as_str())).map(|uid| (*uid).to_owned())
    }
}

/// The Node objects that take part in membership: every one, or with pod discovery only the
/// nodes running a speaker (a node a nodeSelector keeps the speaker off would otherwise count
/// as a speaker that never answers), and always this one.
pub fn membership_nodes(resources: &Resources, node: &str, speaker_nodes: Option<&BTreeSet<String>>) -> Vec<Node> {
    match speaker_nodes {
        Some(names) => resources
            .nodes
            .iter()
            .filter(|n| n.metadata.name == node || names.contains(&n.metadata.name))
            .cloned()
            .collect(),
        None => resources.nodes.clone(),
    }
}

/// MetalLB's speaker refuses a configuration under which an address it announces belongs to
/// no pool (docs/compatibility.md §4.1): withdrawing it before the controller has moved the
/// service would cut traffic for nothing. The previous configuration stays until the move is
/// seen.
fn orphan<'a>(config: &Config, mut announced: impl Iterator<Item = &'a (ServiceKey, IpAddr)>) -> Option<ConfigError> {
    let (key, ip) = announced.find(|(_, ip)| config.pool_containing(*ip).is_none())?;
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
mod tests;
