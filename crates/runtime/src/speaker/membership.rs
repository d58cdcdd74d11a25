//! Which speakers are alive: the Layer 2 election's candidate set and the fence.
//!
//! With membership on (the default), speakers gossip over UDP (`ferrolb-gossip`, SWIM) and
//! the live members are the election's candidates, so a dead owner is replaced in well under
//! a second. With `--no-membership` every Node object counts as a live speaker, as MetalLB
//! does with memberlist disabled (docs/compatibility.md §5), and failover follows Node changes only.
//!
//! Speakers find each other through the Node objects' addresses (InternalIP, else
//! ExternalIP), as MetalLB's speakers find each other through their pods' host-network IPs.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

use ferrolb_announce::Liveness;
use ferrolb_api::Node;
use ferrolb_gossip::{DriverConfig, GossipQuorum, Membership, MembershipHandle, MembershipView, Witness, must_fence};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::MembershipConfig;

/// The first address of a Node object usable to reach its speaker.
pub fn node_address(node: &Node) -> Option<IpAddr> {
    ["InternalIP", "ExternalIP"].iter().find_map(|kind| {
        node.status.addresses.iter().filter(|a| a.type_ == *kind).find_map(|a| a.address.parse::<IpAddr>().ok())
    })
}

/// The other speakers' gossip addresses: every Node but this one, on the gossip port.
pub fn seeds(nodes: &[Node], own: &str, port: u16) -> Vec<SocketAddr> {
    let mut seeds: Vec<SocketAddr> = nodes
        .iter()
        .filter(|n| n.metadata.name != own)
        .filter_map(|n| node_address(n).map(|ip| SocketAddr::new(ip, port)))
        .collect();
    seeds.sort();
    seeds.dedup();
    seeds
}

/// The membership of this speaker, started once its own Node object (and so its own address)
/// is known.
#[derive(Debug)]
pub struct Members {
    node: String,
    options: MembershipConfig,
    handle: Option<MembershipHandle>,
    view: Option<watch::Receiver<MembershipView>>,
    seeds: Vec<SocketAddr>,
    nodes: BTreeSet<String>,
    failed: bool,
    /// Until then (or until every known speaker is seen) this speaker answers nothing: right
    /// after start it sees only itself and would win every election.
    settle_until: Option<Instant>,
    /// The heartbeats outside the gossip (`super::witness`): fencing on evidence.
    witness: watch::Receiver<Witness>,
    /// Whether this speaker had to fence when [`Self::changed`] last resolved: what a new
    /// witness reading is compared with. Kept here, not in the future, because the speaker
    /// drops that future whenever another of its events comes first (a timer every second):
    /// a reading taken in by a dropped future must still count as a change.
    fence_reported: bool,
}

impl Members {
    pub fn new(node: String, options: MembershipConfig) -> Self {
        Self {
            node,
            options,
            handle: None,
            view: None,
            seeds: Vec::new(),
            nodes: BTreeSet::new(),
            failed: false,
            settle_until: None,
            witness: watch::channel(Witness::Unreachable).1,
            fence_reported: false,
        }
    }

    /// Reads the fencing witness from `witness` (without one there is no evidence, and a
    /// speaker without quorum keeps serving unless fencing is strict).
    pub fn with_witness(mut self, witness: watch::Receiver<Witness>) -> Self {
        self.witness = witness;
        self
    }

    /// How long a starting speaker waits for the others before it may answer alone: several
    /// probe periods, and at least a second, so that speakers started one after the other
    /// (a DaemonSet rollout) find each other before anyone answers.
    fn settle_time(&self) -> Duration {
        (self.options.timers.probe_period * 10).max(Duration::from_secs(1))
    }

    fn settled(&self) -> bool {
        let Some(view) = &self.view else { return false };
        let view = view.borrow();
        view.known.is_subset(&view.members) || self.settle_until.is_some_and(|t| Instant::now() >= t)
    }

    /// Starts the driver on the first call that finds this node's address, then keeps the
    /// seeds and the known speakers in step with the Node objects.
    pub fn update(&mut self, nodes: &[Node]) {
        if !self.options.enabled || self.failed {
            return;
        }
        let seeds = seeds(nodes, &self.node, self.options.bind.port());
        let names: BTreeSet<String> = nodes.iter().map(|n| n.metadata.name.clone()).collect();
        match &self.handle {
            None => self.start(nodes, seeds, names),
            Some(handle) => {
                if seeds != self.seeds {
                    handle.join(seeds.clone());
                    self.seeds = seeds;
                }
                for gone in self.nodes.difference(&names) {
                    handle.forget(gone.clone());
                }
                self.nodes = names;
            }
        }
    }

    fn start(&mut self, nodes: &[Node], seeds: Vec<SocketAddr>, names: BTreeSet<String>) {
        let own = nodes.iter().find(|n| n.metadata.name == self.node).and_then(node_address);
        let advertise = match (self.options.bind.ip().is_unspecified(), own) {
            (false, _) => Some(self.options.bind),
            (true, Some(ip)) => Some(SocketAddr::new(ip, self.options.bind.port())),
            (true, None) => {
                warn!(node = %self.node, "membership waits for this node's Node object with an InternalIP address");
                return;
            }
        };
        let config = DriverConfig {
            name: self.node.clone(),
            bind: self.options.bind,
            advertise,
            seeds: seeds.clone(),
            key: self.options.key.clone(),
            timers: self.options.timers.clone(),
            expected: names.iter().cloned().collect(),
        };
        match Membership::start(config) {
            Ok((handle, view)) => {
                info!(node = %self.node, bind = %self.options.bind, advertise = ?advertise, seeds = seeds.len(), "membership started");
                if self.options.key.is_none() {
                    warn!("membership runs without a key file: gossip is neither encrypted nor authenticated");
                }
                self.handle = Some(handle);
                self.view = Some(view);
                self.settle_until = Some(Instant::now() + self.settle_time());
                self.seeds = seeds;
                self.nodes = names;
            }
            Err(e) => {
                // Without membership every Node would count as alive, which is the unfenced
                // mode: say so loudly rather than pretend.
                error!(node = %self.node, error = %e, "cannot start membership; every Node object counts as a live speaker");
                self.failed = true;
            }
        }
    }

    /// The election's candidates now.
    pub fn liveness(&self) -> Liveness {
        match &self.view {
            Some(view) => Liveness::Members(view.borrow().members.clone()),
            None if self.options.enabled && !self.failed => Liveness::Members(BTreeSet::from([self.node.clone()])),
            None => Liveness::Disabled,
        }
    }

    /// Whether this speaker may answer ARP/NDP: not before membership has settled, and, when
    /// fencing is on, not while it is fenced.
    pub fn may_answer(&self) -> bool {
        if !self.options.enabled || self.failed {
            return true;
        }
        self.settled() && !self.must_fence()
    }

    /// True while fencing holds this speaker back: settled, fencing on, no quorum, and (unless
    /// strict) the witness shows a live majority elsewhere. (Before settling it answers
    /// nothing either, but that is start-up, not a lost quorum.)
    pub fn fenced(&self) -> bool {
        self.active() && self.settled() && self.must_fence()
    }

    fn active(&self) -> bool {
        self.options.enabled && !self.failed
    }

    fn must_fence(&self) -> bool {
        if !self.options.fencing {
            return false;
        }
        let Some(view) = &self.view else { return true };
        let view = view.borrow();
        let gossip = GossipQuorum {
            known: &view.known,
            reachable: &view.reachable,
            quorum: view.quorum,
            lost_at: view.quorum_lost_at,
        };
        must_fence(self.options.fence_mode, gossip, &self.witness.borrow(), Instant::now().into_std())
    }

    /// Whether this speaker lacks a gossip quorum but keeps serving because the witness shows
    /// the speakers it cannot hear are not alive (or cannot be read).
    pub fn serving_without_quorum(&self) -> bool {
        self.active()
            && self.options.fencing
            && self.view.as_ref().is_some_and(|v| !v.borrow().quorum)
            && !self.must_fence()
    }

    /// The speakers whose heartbeat is fresh (`None`: the witness cannot be read), for logs.
    pub fn witness_names(&self) -> Option<BTreeSet<String>> {
        match &*self.witness.borrow() {
            Witness::Unreachable => None,
            Witness::Alive(renewals) => Some(renewals.names()),
        }
    }

    pub fn view(&self) -> Option<MembershipView> {
        self.view.as_ref().map(|v| v.borrow().clone())
    }

    pub fn stats(&self) -> Option<ferrolb_gossip::Stats> {
        self.handle.as_ref().map(MembershipHandle::stats)
    }

    /// Resolves when the membership view changes or the start-up settling ends; never when
    /// membership is off.
    /// The witness is read several times a second and each renewal changes it: a reading
    /// that does not change whether this speaker is fenced is no change.
    pub async fn changed(&mut self) {
        let settle = self.settle_until.filter(|t| *t > Instant::now());
        loop {
            let Some(view) = &mut self.view else { return std::future::pending().await };
            let witness = &mut self.witness;
            tokio::select! {
                Ok(()) = witness.changed() => {
                    if self.must_fence() == self.fence_reported {
                        continue;
                    }
                }
                changed = view.changed() => {
                    if changed.is_err() {
                        self.view = None;
                        std::future::pending::<()>().await;
                    }
                }
                () = async {
                    match settle {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            self.fence_reported = self.must_fence();
            return;
        }
    }

    /// Tells the other speakers this one is leaving, so they take over at once.
    pub async fn leave(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), handle.leave()).await;
            info!(node = %self.node, "left the membership");
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrolb_api::ObjectMeta;
    use ferrolb_api::core::{NodeAddress, NodeStatus};
    use ferrolb_gossip::{FenceMode, Timers};

    use super::*;

    fn node(name: &str, addresses: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta::named(name),
            status: NodeStatus {
                addresses: addresses
                    .iter()
                    .map(|(t, a)| NodeAddress { type_: (*t).to_owned(), address: (*a).to_owned() })
                    .collect(),
                ..NodeStatus::default()
            },
            ..Node::default()
        }
    }

    #[test]
    fn seeds_are_the_other_nodes_internal_addresses_on_the_gossip_port() {
        let nodes = [
            node("node1", &[("InternalIP", "172.30.0.11")]),
            node("node2", &[("Hostname", "node2"), ("InternalIP", "172.30.0.12")]),
            node("node3", &[("ExternalIP", "198.51.100.13")]),
            node("node4", &[]),
        ];
        let s = seeds(&nodes, "node1", 7946);
        assert_eq!(s, ["172.30.0.12:7946".parse().unwrap(), "198.51.100.13:7946".parse().unwrap()]);
    }

    #[test]
    fn internal_addresses_win_over_external_ones() {
        let n = node("n", &[("ExternalIP", "198.51.100.1"), ("InternalIP", "10.0.0.1")]);
        assert_eq!(node_address(&n), Some("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn without_membership_every_node_is_live_and_nothing_is_fenced() {
        let options = MembershipConfig {
            enabled: false,
            bind: "0.0.0.0:7946".parse().unwrap(),
            key: None,
            timers: Timers::default(),
            fencing: true,
            fence_mode: FenceMode::Witnessed,
        };
        let members = Members::new("node1".into(), options);
        assert_eq!(members.liveness(), Liveness::Disabled);
        assert!(members.may_answer());
    }

    #[test]
    fn before_membership_starts_this_speaker_answers_nothing() {
        let options = MembershipConfig {
            enabled: true,
            bind: "0.0.0.0:7946".parse().unwrap(),
            key: None,
            timers: Timers::default(),
            fencing: true,
            fence_mode: FenceMode::Witnessed,
        };
        let members = Members::new("node1".into(), options);
        assert_eq!(members.liveness(), Liveness::Members(BTreeSet::from(["node1".to_owned()])));
        assert!(!members.may_answer());
    }
}
