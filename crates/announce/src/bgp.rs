//! BGP: whether a node announces a service, and the prefixes each of its peers receives
//! (docs/compatibility.md §4.3).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ferrolb_api::{Node, Service, VecMap};
use ferrolb_config::community::Community;
use ferrolb_config::selector::any_matches;
use ferrolb_config::{BgpAdvertisement, Peer, localpref};
use ipnet::IpNet;
use serde::Serialize;

use crate::cluster::{self, Cluster, Target};
use crate::endpoints::Endpoints;
use crate::reason::Reason;

/// A BGPPeer's name.
pub type PeerName = String;

/// The path attributes ferrolb sets on an announced prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteAttrs {
    /// 0 when not sent: LOCAL_PREF goes to iBGP peers only.
    pub local_pref: u32,
    pub communities: BTreeSet<Community>,
}

/// Prefixes per peer, each with its attributes: one Service's, a peer or two and a prefix or
/// two, so sorted vectors rather than B-tree nodes (see [`VecMap`]).
pub type Routes = VecMap<PeerName, VecMap<IpNet, RouteAttrs>>;

/// One node's BGP decision for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BgpDecision {
    /// Announce these routes. Empty when no peer of the node is named by the advertisements.
    Announce {
        routes: Routes,
    },
    Skip(Reason),
}

/// The BGPPeers of `node` this speaker serves (a peer with no neighbour to dial gets no
/// routes and is not named in the Services' ServiceBGPStatus; a peer whose VRF or
/// unnumbered interface this node lacks is listed, as any peer whose session is down, and
/// the speaker reports why on the peer). Found once per node, not once per Service.
pub(crate) fn node_peers<'a>(cluster: &Cluster<'a>, node: &str) -> Vec<&'a Peer> {
    cluster.config.peers.iter().filter(|p| p.nodes.contains(node) && crate::sessions::neighbour(p).is_some()).collect()
}

/// `node`'s decision for the service, with the checks in MetalLB's order (docs/compatibility.md §4.3);
/// `None` when the pool has no BGPAdvertisement. `node_peers`: [`node_peers`].
pub(crate) fn decide(
    cluster: &Cluster<'_>,
    node: &str,
    node_peers: &[&Peer],
    node_object: Option<&Node>,
    service: &Service,
    target: &Target<'_>,
    endpoints: &Endpoints,
) -> Option<BgpDecision> {
    let pool = target.pool;
    if pool.bgp_advertisements.is_empty() {
        return None;
    }
    let skip = |reason| Some(BgpDecision::Skip(reason));
    if !pool.bgp_advertisements.iter().any(|ad| ad.nodes.contains(node)) {
        return skip(Reason::NotOwner);
    }
    let mut ads: Vec<&BgpAdvertisement> = pool
        .bgp_advertisements
        .iter()
        .map(|ad| &**ad)
        .filter(|ad| ad.nodes.contains(node))
        .filter(|ad| ad.service_selectors.is_empty() || any_matches(&ad.service_selectors, &service.metadata.labels))
        .collect();
    if ads.is_empty() {
        return skip(Reason::NoMatchingAdvertisement);
    }
    let (has_v4, has_v6) = (pool.has_ipv4(), pool.has_ipv6());
    let conflict =
        ads.iter().enumerate().any(|(i, a)| ads[..i].iter().any(|b| !localpref::compatible(a, b, has_v4, has_v6)));
    if conflict {
        return skip(Reason::ConflictingAdvertisements);
    }
    if let Some(reason) = cluster.node_exclusion(node_object) {
        return skip(reason);
    }
    if cluster::is_local(service) {
        if !endpoints.healthy_nodes.contains(node) {
            return skip(Reason::NoLocalEndpoints);
        }
    } else if !endpoints.healthy_anywhere {
        return skip(Reason::NoEndpoints);
    }
    ads.sort_by(|a, b| a.name.cmp(&b.name));
    Some(BgpDecision::Announce { routes: routes(node_peers, &ads, &target.ips) })
}

/// Every ingress IP × every advertisement, masked to the advertisement's aggregation length,
/// sent to the advertisement's peers (all of this node's when it names none) that carry the
/// IP's family (`dualStackAddressFamily`, [`Peer::carries`]) and that this speaker serves. LOCAL_PREF goes
/// to iBGP peers only. A prefix produced twice keeps the first advertisement's LOCAL_PREF and
/// the union of the communities, as MetalLB's native speaker does.
fn routes(node_peers: &[&Peer], ads: &[&BgpAdvertisement], ips: &[IpAddr]) -> Routes {
    let mut routes = Routes::new();
    for ad in ads {
        for &ip in ips {
            let prefix = aggregate(ip, ad);
            let to = |p: &&&Peer| (ad.peers.is_empty() || ad.peers.contains(&p.name)) && p.carries(ip);
            for peer in node_peers.iter().filter(to) {
                let attrs = RouteAttrs {
                    local_pref: if peer.is_ibgp() { ad.local_pref } else { 0 },
                    communities: ad.communities.clone(),
                };
                let table = routes.get_or_default(peer.name.clone());
                match table.get_mut(&prefix) {
                    Some(existing) => existing.communities.extend(attrs.communities),
                    None => {
                        table.insert(prefix, attrs);
                    }
                }
            }
        }
    }
    routes
}

/// Adds a route to a peer's table; an existing prefix keeps its LOCAL_PREF and gains the
/// new communities.
pub(crate) fn merge(table: &mut BTreeMap<IpNet, RouteAttrs>, prefix: IpNet, attrs: RouteAttrs) {
    match table.get_mut(&prefix) {
        Some(existing) => existing.communities.extend(attrs.communities),
        None => {
            table.insert(prefix, attrs);
        }
    }
}

/// `ip` masked to the advertisement's length for its family.
fn aggregate(ip: IpAddr, ad: &BgpAdvertisement) -> IpNet {
    let len = match ip {
        IpAddr::V4(_) => ad.aggregation_length,
        IpAddr::V6(_) => ad.aggregation_length_v6,
    };
    IpNet::new(ip, len).map(|net| net.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(v4: u8, v6: u8) -> BgpAdvertisement {
        BgpAdvertisement {
            name: "a".into(),
            aggregation_length: v4,
            aggregation_length_v6: v6,
            local_pref: 0,
            communities: BTreeSet::new(),
            peers: vec![],
            nodes: BTreeSet::new(),
            service_selectors: vec![],
        }
    }

    #[test]
    fn addresses_are_masked_to_the_aggregation_length_of_their_family() {
        let table = [
            ("10.1.2.3", 32, 128, "10.1.2.3/32"),
            ("10.1.2.3", 24, 128, "10.1.2.0/24"),
            ("10.1.2.200", 25, 128, "10.1.2.128/25"),
            ("2001:db8::1:2", 32, 128, "2001:db8::1:2/128"),
            ("2001:db8:1:2::5", 24, 64, "2001:db8:1:2::/64"),
        ];
        for (ip, v4, v6, expected) in table {
            assert_eq!(aggregate(ip.parse().unwrap(), &ad(v4, v6)).to_string(), expected);
        }
    }

    #[test]
    fn a_merged_prefix_keeps_the_first_local_pref_and_unions_communities() {
        let mut table = BTreeMap::new();
        let prefix: IpNet = "10.0.0.0/24".parse().unwrap();
        let first = RouteAttrs { local_pref: 100, communities: BTreeSet::from([Community::Standard(1)]) };
        let second = RouteAttrs { local_pref: 200, communities: BTreeSet::from([Community::Standard(2)]) };
        merge(&mut table, prefix, first);
        merge(&mut table, prefix, second);
        assert_eq!(table[&prefix].local_pref, 100);
        assert_eq!(table[&prefix].communities, BTreeSet::from([Community::Standard(1), Community::Standard(2)]));
    }
}
