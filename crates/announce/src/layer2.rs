//! Layer 2: which single node answers ARP/NDP for a service, and on which interfaces
//! (docs/compatibility.md §4.2).
//!
//! The election is held once per service over the whole cluster; each node's decision is
//! read from it, so every node agrees on the winner by construction.

use std::collections::{BTreeMap, BTreeSet};

use ferrolb_api::{Node, Service};
use ferrolb_config::L2Advertisement;
use ferrolb_config::selector::any_matches;
use serde::Serialize;

use crate::cluster::{self, Cluster, Target};
use crate::election;
use crate::endpoints::Endpoints;
use crate::reason::Reason;

/// Where the winner answers for the service's addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interfaces {
    /// Every eligible interface of the node. Serialises as `[]`, as an advertisement
    /// without `interfaces` is written.
    All,
    /// Only these (the union over the matching advertisements that include the node).
    Only(BTreeSet<String>),
}

impl Serialize for Interfaces {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => serializer.collect_seq(std::iter::empty::<&str>()),
            Self::Only(names) => serializer.collect_seq(names),
        }
    }
}

/// One node's Layer 2 decision for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum L2Decision {
    Announce { interfaces: Interfaces },
    Skip(Reason),
}

/// The outcome of one service's election.
#[derive(Debug, Clone)]
pub(crate) struct Election<'a> {
    /// The pool's advertisements that select the service (docs/compatibility.md §4.2 step 2).
    ads: Vec<&'a L2Advertisement>,
    /// Why nobody announces, whatever the node (steps 1 and 3).
    blocked: Option<Reason>,
    /// Candidates best first; the first one wins (steps 5 to 8).
    ranking: Vec<&'a str>,
}

impl<'a> Election<'a> {
    /// `None` when the pool has no L2Advertisement: Layer 2 is not in play at all.
    pub fn hold(
        cluster: &Cluster<'a>,
        nodes: &BTreeMap<&'a str, &'a Node>,
        service: &Service,
        target: &Target<'a>,
        endpoints: &Endpoints,
    ) -> Option<Self> {
        if target.pool.l2_advertisements.is_empty() {
            return None;
        }
        let ads: Vec<&L2Advertisement> = target
            .pool
            .l2_advertisements
            .iter()
            .map(|ad| &**ad)
            .filter(|ad| {
                ad.service_selectors.is_empty() || any_matches(&ad.service_selectors, &service.metadata.labels)
            })
            .collect();
        let mut election = Self { ads, blocked: None, ranking: Vec::new() };
        if !endpoints.any_serving {
            election.blocked = Some(Reason::NotOwner);
        } else if cluster::shares_ip(service) && election.ads.iter().any(|ad| !ad.service_selectors.is_empty()) {
            election.blocked = Some(Reason::SharedIpWithServiceSelector);
        } else {
            let local = cluster::is_local(service);
            let candidates = cluster
                .liveness
                .live(nodes.keys().copied())
                .into_iter()
                .filter(|node| cluster.node_exclusion(nodes.get(node).copied()).is_none())
                .filter(|node| election.ads.iter().any(|ad| ad.nodes.contains(*node)))
                .filter(|node| !local || endpoints.serving_nodes.contains(*node))
                .map(|node| (node, election.score(node)));
            election.ranking = election::rank(candidates, target.ips[0]);
        }
        Some(election)
    }

    /// The sum of the weights of every preference, of every matching advertisement, that
    /// includes `node` (docs/compatibility.md §1.3).
    fn score(&self, node: &str) -> u64 {
        self.ads
            .iter()
            .flat_map(|ad| &ad.preferred_nodes)
            .filter(|pref| pref.nodes.contains(node))
            .map(|pref| u64::from(pref.weight))
            .sum()
    }

    pub fn winner(&self) -> Option<&'a str> {
        self.ranking.first().copied()
    }

    /// `node`'s decision, with MetalLB's reasons in MetalLB's order (docs/compatibility.md §4.2).
    pub fn decide(&self, node: &str) -> L2Decision {
        if let Some(reason) = self.blocked {
            return L2Decision::Skip(reason);
        }
        let own: Vec<&L2Advertisement> = self.ads.iter().copied().filter(|ad| ad.nodes.contains(node)).collect();
        if own.is_empty() {
            return L2Decision::Skip(Reason::NoMatchingAdvertisement);
        }
        if self.winner() != Some(node) {
            return L2Decision::Skip(Reason::NotOwner);
        }
        let interfaces = if own.iter().any(|ad| ad.all_interfaces) {
            Interfaces::All
        } else {
            Interfaces::Only(own.iter().flat_map(|ad| ad.interfaces.iter().cloned()).collect())
        };
        L2Decision::Announce { interfaces }
    }
}
