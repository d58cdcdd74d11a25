//! Every service's decision for a node: the speaker's `ShouldAnnounce`, for both protocols
//! (docs/compatibility.md §4.1-§4.3).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ferrolb_api::{EndpointSlice, Node, Service};
use ipnet::IpNet;

use crate::bgp::{self, BgpDecision, PeerName, RouteAttrs};
use crate::cluster::{self, Cluster, ServiceKey, Target};
use crate::endpoints::Endpoints;
use crate::layer2::{Election, L2Decision};
use crate::reason::Reason;

/// What one node does with one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceDecision {
    /// The common checks failed: neither protocol announces (docs/compatibility.md §4.1).
    Withdraw(Reason),
    /// The addresses are valid; each protocol decided on its own. A protocol is `None` when
    /// the pool has no advertisement of that kind. Both may announce.
    Evaluated { ips: Vec<IpAddr>, pool: String, l2: Option<L2Decision>, bgp: Option<BgpDecision> },
}

/// One node's decisions for every service this speaker handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDecisions {
    pub node: String,
    pub services: BTreeMap<ServiceKey, ServiceDecision>,
}

/// The node-independent part of every decision, computed once: addresses, endpoints and
/// the Layer 2 election of each service. Deciding for many nodes (as `plan` does) reuses it.
#[derive(Debug)]
pub struct Snapshot<'a> {
    cluster: Cluster<'a>,
    nodes: BTreeMap<&'a str, &'a Node>,
    services: Vec<(ServiceKey, &'a Service, Result<Prepared<'a>, Reason>)>,
}

#[derive(Debug)]
struct Prepared<'a> {
    target: Target<'a>,
    endpoints: Endpoints,
    election: Option<Election<'a>>,
}

impl<'a> Snapshot<'a> {
    pub fn new(cluster: &Cluster<'a>) -> Self {
        Self::of(
            cluster,
            cluster.services.len(),
            cluster.services.iter(),
            cluster.slices_by_service(cluster.endpoint_slices.len(), |_| true),
        )
    }

    /// [`Self::new`] for the Services named in `keys` only (namespace, name).
    pub fn of_these(cluster: &Cluster<'a>, keys: &BTreeSet<(String, String)>) -> Self {
        let wanted: BTreeSet<(&str, &str)> = keys.iter().map(|(ns, name)| (ns.as_str(), name.as_str())).collect();
        let services = cluster.services.iter().filter(|svc| {
            wanted.contains(&(cluster::namespace_of(svc.metadata.namespace.as_deref()), svc.metadata.name.as_str()))
        });
        Self::of(cluster, wanted.len(), services, cluster.slices_by_service(wanted.len(), |key| wanted.contains(&key)))
    }

    fn of(
        cluster: &Cluster<'a>,
        room: usize,
        chosen: impl Iterator<Item = &'a Service>,
        slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    ) -> Self {
        let nodes: BTreeMap<&str, &Node> = cluster.nodes.iter().map(|n| (n.metadata.name.as_str(), n)).collect();
        // Sized up front: grown by doubling, the list of 10,000 Services would take the room
        // of 16,384 at the step's peak.
        let mut services = Vec::with_capacity(room);
        services.extend(chosen.filter(|svc| cluster.handles(svc)).map(|svc| {
            let key = ServiceKey::of(svc);
            let prepared = cluster::target(cluster.config, svc).map(|target| {
                let own = slices.get(&(key.namespace.as_str(), key.name.as_str()));
                let endpoints = Endpoints::of(own.into_iter().flatten().copied());
                let election = Election::hold(cluster, &nodes, svc, &target, &endpoints);
                Prepared { target, endpoints, election }
            });
            (key, svc, prepared)
        }));
        services.sort_by(|a, b| a.0.cmp(&b.0));
        Self { cluster: *cluster, nodes, services }
    }

    /// `node`'s decision for every service.
    pub fn decide(&self, node: &str) -> NodeDecisions {
        let node_object = self.nodes.get(node).copied();
        let node_peers = bgp::node_peers(&self.cluster, node);
        // Inserted one by one, in key order: collecting would first gather every decision in
        // a temporary list as large as the map itself, at the step's peak.
        let mut services = BTreeMap::new();
        for (key, svc, prepared) in &self.services {
            let decision = match prepared {
                Err(reason) => ServiceDecision::Withdraw(*reason),
                Ok(p) => ServiceDecision::Evaluated {
                    ips: p.target.ips.clone(),
                    pool: p.target.pool.name.clone(),
                    l2: p.election.as_ref().map(|e| e.decide(node)),
                    bgp: bgp::decide(&self.cluster, node, &node_peers, node_object, svc, &p.target, &p.endpoints),
                },
            };
            services.insert(key.clone(), decision);
        }
        NodeDecisions { node: node.to_owned(), services }
    }

    /// The node that announces the service by Layer 2, if any.
    pub fn l2_owner(&self, key: &ServiceKey) -> Option<&'a str> {
        let index = self.services.binary_search_by(|(k, _, _)| k.cmp(key)).ok()?;
        self.services[index].2.as_ref().ok()?.election.as_ref()?.winner()
    }

    /// The Node objects' names, sorted.
    pub fn node_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.nodes.keys().copied()
    }
}

/// `node`'s decision for every service of the cluster.
pub fn decide(cluster: &Cluster<'_>, node: &str) -> NodeDecisions {
    Snapshot::new(cluster).decide(node)
}

/// `decisions` brought up to date after the Services named in `keys` (namespace, name), or
/// their EndpointSlices, changed and nothing else did (no configuration, Node or membership
/// change): those Services' decisions are made again, every other one is kept. The result
/// is what [`decide`] gives for the cluster now, at the cost of the Services named; the
/// decisions they replaced are given back.
pub fn decide_again(
    cluster: &Cluster<'_>,
    decisions: &mut NodeDecisions,
    keys: &BTreeSet<(String, String)>,
) -> Vec<ServiceDecision> {
    let replaced = keys
        .iter()
        .filter_map(|(namespace, name)| decisions.services.remove(&ServiceKey::new(namespace.as_str(), name.as_str())))
        .collect();
    let fresh = Snapshot::of_these(cluster, keys).decide(&decisions.node);
    decisions.services.extend(fresh.services);
    replaced
}

/// The node that announces `service` by Layer 2 (docs/compatibility.md §4.2), if any.
pub fn l2_owner(cluster: &Cluster<'_>, service: &Service) -> Option<String> {
    Snapshot::new(cluster).l2_owner(&ServiceKey::of(service)).map(str::to_owned)
}

/// What each of the node's BGP peers receives: the union over services (in namespace/name
/// order) of their routes; a prefix announced for several services keeps the first one's
/// LOCAL_PREF and the union of the communities (docs/compatibility.md §4.3).
pub fn bgp_tables(decisions: &NodeDecisions) -> BTreeMap<PeerName, BTreeMap<IpNet, RouteAttrs>> {
    let mut tables: BTreeMap<PeerName, BTreeMap<IpNet, RouteAttrs>> = BTreeMap::new();
    for decision in decisions.services.values() {
        let ServiceDecision::Evaluated { bgp: Some(BgpDecision::Announce { routes }), .. } = decision else {
            continue;
        };
        for (peer, prefixes) in routes {
            let table = tables.entry(peer.clone()).or_default();
            for (prefix, attrs) in prefixes {
                bgp::merge(table, *prefix, attrs.clone());
            }
        }
    }
    tables
}
