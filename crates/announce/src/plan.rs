//! The speaker half of `ferrolb plan` (docs/design.md, The command-line contract): for every
//! LoadBalancer service with addresses, what every node announces and why the others do not.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::bgp::{BgpDecision, RouteAttrs};
use crate::cluster::{self, Cluster, ServiceKey};
use crate::decide::{ServiceDecision, Snapshot, bgp_tables};
use crate::layer2::{Interfaces, L2Decision};
use crate::reason::Reason;

/// A protocol, as `plan` names it. BGP sorts before Layer 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Bgp,
    Layer2,
}

/// Something a node announces for the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// `{"node","protocol":"layer2","interfaces":[...]}`; `[]` means every interface.
    Layer2 { node: String, interfaces: Interfaces },
    /// `{"node","protocol":"bgp","peer","prefix","localPref","communities"}`: one prefix to
    /// one peer, with the attributes the peer receives (merged with other services that
    /// announce the same prefix).
    Bgp { node: String, peer: String, prefix: IpNet, attrs: RouteAttrs },
}

impl Announcement {
    pub fn node(&self) -> &str {
        match self {
            Self::Layer2 { node, .. } | Self::Bgp { node, .. } => node,
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Layer2 { .. } => Protocol::Layer2,
            Self::Bgp { .. } => Protocol::Bgp,
        }
    }

    fn sort_key(&self) -> (&str, Protocol, Option<(&str, &IpNet)>) {
        let route = match self {
            Self::Layer2 { .. } => None,
            Self::Bgp { peer, prefix, .. } => Some((peer.as_str(), prefix)),
        };
        (self.node(), self.protocol(), route)
    }
}

impl Serialize for Announcement {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Layer2 { node, interfaces } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("node", node)?;
                map.serialize_entry("protocol", &Protocol::Layer2)?;
                map.serialize_entry("interfaces", interfaces)?;
                map.end()
            }
            Self::Bgp { node, peer, prefix, attrs } => {
                let mut map = serializer.serialize_map(Some(6))?;
                map.serialize_entry("node", node)?;
                map.serialize_entry("protocol", &Protocol::Bgp)?;
                map.serialize_entry("peer", peer)?;
                map.serialize_entry("prefix", prefix)?;
                map.serialize_entry("localPref", &attrs.local_pref)?;
                map.serialize_entry("communities", &attrs.communities)?;
                map.end()
            }
        }
    }
}

/// A node that does not announce the service by a protocol, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub node: String,
    pub protocol: Protocol,
    pub reason: Reason,
}

/// The speakers' side of one service's plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServiceAnnouncements {
    /// Sorted by node, protocol, then peer and prefix.
    pub announcements: Vec<Announcement>,
    /// Sorted by node, then protocol. Only protocols the pool has an advertisement for.
    pub skipped: Vec<Skipped>,
    /// Set when the common checks fail (`invalidIP`, `ipNotAllowed`, ...): no node announces
    /// anything and no per-node entry is listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// Why a node that would announce sends to no peer: [`Reason::PeersNotServed`] when it has
/// peers and the speaker serves none of them, else [`Reason::NoPeers`].
fn no_peer_reason(cluster: &Cluster<'_>, node: &str) -> Reason {
    let mut peers = cluster.config.peers.iter().filter(|p| p.nodes.contains(node)).peekable();
    let has_peers = peers.peek().is_some();
    if has_peers && peers.all(|p| crate::sessions::neighbour(p).is_none()) {
        Reason::PeersNotServed
    } else {
        Reason::NoPeers
    }
}

/// For every LoadBalancer service with at least one ingress IP: every node's announcements
/// and skips. Nodes are the Node objects; liveness only changes the Layer 2 candidates.
pub fn plan_announcements(cluster: &Cluster<'_>) -> BTreeMap<ServiceKey, ServiceAnnouncements> {
    let snapshot = Snapshot::new(cluster);
    let mut plan: BTreeMap<ServiceKey, ServiceAnnouncements> = cluster
        .services
        .iter()
        .filter(|svc| cluster.handles(svc) && svc.spec.type_.as_deref() == Some("LoadBalancer"))
        .filter(|svc| svc.status.load_balancer.ingress.iter().any(|i| i.ip.as_deref().is_some_and(|ip| !ip.is_empty())))
        .map(|svc| {
            let reason = cluster::target(cluster.config, svc).err();
            (ServiceKey::of(svc), ServiceAnnouncements { reason, ..ServiceAnnouncements::default() })
        })
        .collect();
    for node in snapshot.node_names() {
        let decisions = snapshot.decide(node);
        let tables = bgp_tables(&decisions);
        for (key, decision) in &decisions.services {
            let Some(entry) = plan.get_mut(key) else { continue };
            let (l2, bgp) = match decision {
                ServiceDecision::Withdraw(_) => continue,
                ServiceDecision::Evaluated { l2, bgp, .. } => (l2, bgp),
            };
            let skip = |protocol, reason| Skipped { node: node.to_owned(), protocol, reason };
            match bgp {
                Some(BgpDecision::Skip(reason)) => entry.skipped.push(skip(Protocol::Bgp, *reason)),
                Some(BgpDecision::Announce { routes }) if routes.is_empty() => {
                    entry.skipped.push(skip(Protocol::Bgp, no_peer_reason(cluster, node)));
                }
                Some(BgpDecision::Announce { routes }) => {
                    for (peer, prefixes) in routes {
                        for prefix in prefixes.keys() {
                            entry.announcements.push(Announcement::Bgp {
                                node: node.to_owned(),
                                peer: peer.clone(),
                                prefix: *prefix,
                                attrs: tables[peer][prefix].clone(),
                            });
                        }
                    }
                }
                None => {}
            }
            match l2 {
                Some(L2Decision::Skip(reason)) => entry.skipped.push(skip(Protocol::Layer2, *reason)),
                Some(L2Decision::Announce { interfaces }) => entry
                    .announcements
                    .push(Announcement::Layer2 { node: node.to_owned(), interfaces: interfaces.clone() }),
                None => {}
            }
        }
    }
    for entry in plan.values_mut() {
        entry.announcements.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        entry.skipped.sort_by(|a, b| (&a.node, a.protocol).cmp(&(&b.node, b.protocol)));
    }
    plan
}
