//! The speaker's BGP side in the session driver's terms: which sessions this node keeps and
//! with which settings (router ID, next hops, timers), what each one advertises, and the
//! ServiceBGPStatus it reports. The runtime starts, updates and stops `ferrolb-bgp` sessions
//! to match.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ferrolb_api::{Node, VecSet};
use ferrolb_bgp::{AfiSafi, PeerAs, PeerSettings, RouteAttrs};
use ferrolb_config::community::Community;
use ferrolb_config::{Config, Peer, PeerAsn};
use ipnet::IpNet;

use crate::{BgpDecision, NodeDecisions, ServiceDecision, ServiceKey};

/// The hold time MetalLB's native speaker uses when the BGPPeer sets none.
const DEFAULT_HOLD_TIME: Duration = Duration::from_secs(90);

/// The restart time advertised with `enableGracefulRestart` (RFC 4724 §3): how long routers
/// keep our routes while the speaker restarts; FRR's default.
const GRACEFUL_RESTART_TIME: Duration = Duration::from_secs(120);

/// A table of routes for one peer, as the session driver takes it.
pub type Table = BTreeMap<IpNet, RouteAttrs>;

/// This node's own addresses, from its Node object: the router ID and the next hop of the
/// other address family (an IPv6 route over an IPv4 session needs a real IPv6 next hop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeAddresses {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

impl NodeAddresses {
    /// The first InternalIP of each family (ExternalIP when there is no InternalIP).
    pub fn of(node: Option<&Node>) -> Self {
        let mut out = Self::default();
        let Some(node) = node else { return out };
        for kind in ["InternalIP", "ExternalIP"] {
            for address in node.status.addresses.iter().filter(|a| a.type_ == kind) {
                match address.address.parse::<IpAddr>() {
                    Ok(IpAddr::V4(v4)) if out.ipv4.is_none() => out.ipv4 = Some(v4),
                    Ok(IpAddr::V6(v6)) if out.ipv6.is_none() => out.ipv6 = Some(v6),
                    _ => {}
                }
            }
        }
        out
    }
}

/// The configured address this speaker dials for `peer`: none for an unnumbered peer, whose
/// link-local address is learnt on its interface ([`Neighbour::Unnumbered`]).
pub fn dialable(peer: &Peer) -> Option<IpAddr> {
    peer.address.filter(|_| peer.interface.is_none())
}

/// Whom a session dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Neighbour {
    /// `peerAddress`.
    Address(IpAddr),
    /// BGP unnumbered (`interface`, no `peerAddress`): the router on that interface, at the
    /// link-local address its Router Advertisements come from (as FRR learns it for
    /// `neighbor IFNAME interface`).
    Unnumbered(String),
}

/// Whom `peer`'s session dials; `None` for a peer with neither (which validation refuses).
pub fn neighbour(peer: &Peer) -> Option<Neighbour> {
    match (&peer.interface, peer.address) {
        (Some(interface), _) => Some(Neighbour::Unnumbered(interface.clone())),
        (None, Some(address)) => Some(Neighbour::Address(address)),
        (None, None) => None,
    }
}

/// Whether an unnumbered `peer`'s interface exists on this node (true for a numbered peer,
/// and when the devices are unknown).
pub(crate) fn interface_present(peer: &Peer, devices: Devices<'_>) -> bool {
    match (&peer.interface, devices) {
        (Some(interface), Some(devices)) => devices.contains(interface),
        _ => true,
    }
}

/// The devices of this node (`/sys/class/net`), as the executor last read them; `None`
/// when unknown (then a peer's VRF is taken to exist).
pub type Devices<'a> = Option<&'a BTreeSet<String>>;

/// Whether `peer`'s VRF (if it has one) exists on this node.
pub(crate) fn vrf_present(peer: &Peer, devices: Devices<'_>) -> bool {
    match (&peer.vrf, devices) {
        (Some(vrf), Some(devices)) => devices.contains(vrf),
        _ => true,
    }
}

/// The session settings for `peer` on `node`; `None` when it is not [`dialable`].
///
/// The router ID is the peer's `routerID`, else the node's IPv4 address, else the session's
/// IPv4 source, else a stable non-zero number derived from the node name (MetalLB uses a
/// CRC of the name in that last case). A peer in a VRF is dialled from the VRF's device, and
/// the next hop of the other family comes from the session's interface (in that VRF), never
/// from the Node's addresses, which belong to the default VRF.
///
/// An unnumbered peer's session runs over IPv6 link-local on its interface and, as MetalLB's
/// FRR mode treats such a neighbour, is dual-stack: IPv4 and IPv6 unicast both offered, IPv4
/// routes with an IPv6 next hop (RFC 8950). Its next hops are the interface's own (its global
/// IPv6 address and its link-local), never the Node's, which may live on another interface.
pub fn settings(peer: &Peer, node: &str, addresses: NodeAddresses) -> Option<PeerSettings> {
    let (address, interface) = match neighbour(peer)? {
        Neighbour::Address(address) => (address, None),
        Neighbour::Unnumbered(interface) => (IpAddr::V6(Ipv6Addr::UNSPECIFIED), Some(interface)),
    };
    let own_next_hops = peer.vrf.is_none() && interface.is_none();
    let source_v4 = match peer.source_address {
        Some(IpAddr::V4(v4)) => Some(v4),
        _ => None,
    };
    let router_id = peer.router_id.or(addresses.ipv4).or(source_v4).unwrap_or_else(|| name_router_id(node));
    Some(PeerSettings {
        name: peer.name.clone(),
        local_asn: peer.local_asn.unwrap_or(peer.my_asn),
        peer_asn: match peer.peer_asn {
            PeerAsn::Fixed(asn) => PeerAs::Fixed(asn),
            PeerAsn::DynamicInternal => PeerAs::Internal,
            PeerAsn::DynamicExternal => PeerAs::External,
        },
        address,
        port: peer.port,
        source_address: peer.source_address,
        device: peer.vrf.clone(),
        router_id,
        hold_time: peer.hold_time.unwrap_or(DEFAULT_HOLD_TIME),
        keepalive_time: peer.keepalive_time,
        connect_time: peer.connect_time,
        password: peer.password.clone(),
        ebgp_multihop: peer.ebgp_multi_hop,
        ipv4_next_hop: addresses.ipv4.filter(|_| own_next_hops),
        ipv6_next_hop: addresses.ipv6.filter(|_| own_next_hops),
        graceful_restart: peer.graceful_restart.then_some(GRACEFUL_RESTART_TIME),
        families: families(peer.dual_stack_address_family || interface.is_some(), address),
        interface,
    })
}

/// The families the session negotiates: the peer address's own, or both with
/// `dualStackAddressFamily` (as MetalLB's FRR mode configures FRR).
fn families(dual_stack: bool, address: IpAddr) -> Vec<AfiSafi> {
    match (dual_stack, address) {
        (true, _) => vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
        (false, IpAddr::V4(_)) => vec![AfiSafi::IPV4_UNICAST],
        (false, IpAddr::V6(_)) => vec![AfiSafi::IPV6_UNICAST],
    }
}

/// FNV-1a of the node name, never zero (RFC 6286 forbids a zero BGP identifier).
fn name_router_id(node: &str) -> Ipv4Addr {
    let hash = node.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    Ipv4Addr::from(if hash == 0 { 1 } else { hash })
}

/// The peers this node keeps a session with: the configuration is already in this node's
/// scope, so every peer in it selects this node. A peer it cannot serve (unnumbered on an
/// interface, or in a VRF, this node does not have) is left out, and explained by [`peer_notes`]; the others
/// are unaffected.
pub fn wanted_sessions(
    config: &Config,
    node: &str,
    addresses: NodeAddresses,
    devices: Devices<'_>,
) -> BTreeMap<String, PeerSettings> {
    config
        .peers
        .iter()
        .filter(|p| p.nodes.contains(node) && vrf_present(p, devices) && interface_present(p, devices))
        .filter_map(|p| Some((p.name.clone(), settings(p, node, addresses)?)))
        .collect()
}

/// What the speaker must tell about one of this node's peers: that it opens no session with
/// it (`served: false`), or that it serves it with less than the configuration asks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeerNote {
    pub peer: String,
    pub served: bool,
    pub message: String,
}

/// The notes on this node's peers, in configuration order: valid MetalLB configuration that
/// this speaker does not carry out (yet), or cannot on this node, each isolated to its peer.
/// `connected` (the networks this node is directly on; `None` when unknown) finds the eBGP
/// peer that a TTL-1 session cannot reach.
pub fn peer_notes(config: &Config, node: &str, connected: Option<&[IpNet]>, devices: Devices<'_>) -> Vec<PeerNote> {
    let mut notes = Vec::new();
    for peer in config.peers.iter().filter(|p| p.nodes.contains(node)) {
        let note = |served: bool, message: String| PeerNote { peer: peer.name.clone(), served, message };
        if let Some(interface) = peer.interface.as_ref().filter(|_| !interface_present(peer, devices)) {
            notes.push(note(false, format!("interface {interface} does not exist on this node: no unnumbered BGP session with this peer until it does; the node's other peers are served")));
        } else if let Some(vrf) = peer.vrf.as_ref().filter(|_| !vrf_present(peer, devices)) {
            notes.push(note(false, format!("VRF {vrf} does not exist on this node (no device of that name): no session with this peer until it does; the node's other peers are served")));
        }
        if let (Some(profile), Some(_)) = (&peer.bfd_profile, &peer.interface) {
            notes.push(note(true, format!("BFD profile {profile} is not run for an unnumbered peer by this speaker yet: its session is watched by the BGP hold timer only")));
        }
        let echo = peer
            .bfd_profile
            .as_ref()
            .and_then(|name| config.bfd_profiles.iter().find(|b| &b.name == name && b.echo_mode));
        // Echo runs on single-hop IPv4 sessions only (FRR's rule; RFC 5883 §3 for multi-hop).
        if let (Some(profile), Some(address)) = (echo, dialable(peer)) {
            let why = if address.is_ipv6() {
                Some("an IPv6 session")
            } else if crate::bfd::multihop(peer, address, connected) {
                Some("a multi-hop session")
            } else {
                None
            };
            if let Some(why) = why {
                notes.push(note(true, format!("BFD profile {} asks for echo mode, which runs on single-hop IPv4 sessions only: this is {why}, so its BFD runs in asynchronous mode, detection from the profile's control packet intervals", profile.name)));
            }
        }
        let single_hop_ebgp = !peer.is_ibgp() && !peer.ebgp_multi_hop;
        let off_link = |address: IpAddr| connected.is_some_and(|nets| !crate::bfd::on_connected_network(address, nets));
        if let Some(address) = dialable(peer).filter(|&a| single_hop_ebgp && off_link(a)) {
            notes.push(note(true, format!("{address} is not on a network this node is connected to, and an eBGP session without ebgpMultiHop is sent with TTL 1 (as FRR sends it): it cannot come up through a router; set ebgpMultiHop: true")));
        }
    }
    notes
}

/// Each peer's table from this node's decisions, in the session driver's terms.
pub fn tables(decisions: &NodeDecisions) -> BTreeMap<String, Table> {
    crate::bgp_tables(decisions)
        .into_iter()
        .map(|(peer, routes)| {
            (peer, routes.into_iter().map(|(prefix, attrs)| (prefix, session_attrs(attrs))).collect())
        })
        .collect()
}

/// [`tables`] brought up to date after the Services named in `keys` were decided again
/// ([`crate::decide_again`], which gives back what they were decided before: `replaced`).
/// Only the prefixes those Services announced before or announce now are merged again, but
/// from every Service that announces one of them: a prefix several Services share keeps the
/// first one's LOCAL_PREF and the communities of all. A peer has a table, empty or not, while
/// some Service names it, as in [`tables`]. The tables are shared with the sessions: one that
/// changes is copied first.
pub fn tables_again(
    tables: &mut BTreeMap<String, Arc<Table>>,
    decisions: &NodeDecisions,
    replaced: &[ServiceDecision],
    keys: &BTreeSet<(String, String)>,
) {
    let now = keys.iter().filter_map(|(ns, name)| decisions.services.get(&ServiceKey::new(ns.as_str(), name.as_str())));
    let mut affected: BTreeMap<&str, BTreeSet<IpNet>> = BTreeMap::new();
    for routes in replaced.iter().chain(now).filter_map(announced) {
        for (peer, prefixes) in routes {
            affected.entry(peer.as_str()).or_default().extend(prefixes.keys().copied());
        }
    }
    if affected.is_empty() {
        return;
    }
    let mut merged: BTreeMap<&str, BTreeMap<IpNet, crate::RouteAttrs>> = BTreeMap::new();
    for routes in decisions.services.values().filter_map(announced) {
        for (peer, prefixes) in routes {
            let Some(wanted) = affected.get(peer.as_str()) else { continue };
            let table = merged.entry(peer.as_str()).or_default();
            for (prefix, attrs) in prefixes.iter().filter(|(prefix, _)| wanted.contains(*prefix)) {
                crate::bgp::merge(table, *prefix, attrs.clone());
            }
        }
    }
    for (peer, prefixes) in affected {
        let Some(routes) = merged.remove(peer) else {
            tables.remove(peer);
            continue;
        };
        let table = Arc::make_mut(tables.entry(peer.to_owned()).or_default());
        for prefix in &prefixes {
            table.remove(prefix);
        }
        table.extend(routes.into_iter().map(|(prefix, attrs)| (prefix, session_attrs(attrs))));
    }
}

fn announced(decision: &ServiceDecision) -> Option<&crate::Routes> {
    match decision {
        ServiceDecision::Evaluated { bgp: Some(BgpDecision::Announce { routes }), .. } => Some(routes),
        _ => None,
    }
}

/// A route's attributes in the session driver's terms.
fn session_attrs(attrs: crate::RouteAttrs) -> RouteAttrs {
    let mut out = RouteAttrs { local_pref: attrs.local_pref, communities: Vec::new(), large_communities: Vec::new() };
    for community in attrs.communities {
        match community {
            Community::Standard(value) => out.communities.push(value),
            Community::Large(a, b, c) => out.large_communities.push((a, b, c)),
        }
    }
    out
}

/// ServiceBGPStatus content: per service this node announces by BGP, the sorted names of
/// the peers its prefixes are configured to go to (whether or not the session is up, as
/// MetalLB reports it).
pub fn statuses(decisions: &NodeDecisions) -> BTreeMap<ServiceKey, VecSet<String>> {
    decisions.services.iter().filter_map(|(key, decision)| Some((key.clone(), status(decision)?))).collect()
}

/// [`statuses`] brought up to date after the Services named in `keys` were decided again.
pub fn statuses_again(
    statuses: &mut BTreeMap<ServiceKey, VecSet<String>>,
    decisions: &NodeDecisions,
    keys: &BTreeSet<(String, String)>,
) {
    for (namespace, name) in keys {
        let key = ServiceKey::new(namespace.as_str(), name.as_str());
        match decisions.services.get(&key).and_then(status) {
            Some(peers) => statuses.insert(key, peers),
            None => statuses.remove(&key),
        };
    }
}

/// One Service's ServiceBGPStatus peers ([`statuses`]), if it has one.
pub fn status(decision: &ServiceDecision) -> Option<VecSet<String>> {
    let peers: VecSet<String> =
        announced(decision)?.iter().filter(|(_, prefixes)| !prefixes.is_empty()).map(|(p, _)| p.clone()).collect();
    (!peers.is_empty()).then_some(peers)
}

/// RFC 8326 GRACEFUL_SHUTDOWN (65535:0): routers that honour it prefer other paths at once.
pub const GRACEFUL_SHUTDOWN: u32 = 0xFFFF_0000;

/// The same tables with GRACEFUL_SHUTDOWN on every route, to drain traffic before a
/// withdraw (on SIGTERM with `--graceful-shutdown-delay`, or while the node is cordoned).
pub fn with_graceful_shutdown(tables: BTreeMap<String, Table>) -> BTreeMap<String, Table> {
    tables
        .into_iter()
        .map(|(peer, table)| {
            let table = table
                .into_iter()
                .map(|(prefix, mut attrs)| {
                    if !attrs.communities.contains(&GRACEFUL_SHUTDOWN) {
                        attrs.communities.push(GRACEFUL_SHUTDOWN);
                        attrs.communities.sort_unstable();
                    }
                    (prefix, attrs)
                })
                .collect();
            (peer, table)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ferrolb_api::core::{NodeAddress, NodeStatus};

    use super::*;
    use ferrolb_config::BfdProfile;

    fn peer() -> Peer {
        Peer {
            name: "router".into(),
            my_asn: 64512,
            peer_asn: PeerAsn::Fixed(64500),
            local_asn: None,
            address: Some("172.30.0.1".parse().unwrap()),
            interface: None,
            vrf: None,
            port: 179,
            source_address: None,
            hold_time: None,
            keepalive_time: None,
            connect_time: None,
            router_id: None,
            nodes: BTreeSet::from(["node1".to_owned()]),
            password: None,
            bfd_profile: None,
            graceful_restart: false,
            ebgp_multi_hop: false,
            dual_stack_address_family: false,
        }
    }

    fn node(addresses: &[&str]) -> Node {
        Node {
            status: NodeStatus {
                addresses: addresses
                    .iter()
                    .map(|a| NodeAddress { type_: "InternalIP".into(), address: (*a).to_owned() })
                    .collect(),
                ..NodeStatus::default()
            },
            ..Node::default()
        }
    }

    #[test]
    fn node_addresses_give_one_address_per_family() {
        let n = node(&["172.30.0.11", "fd00:30::11", "172.30.0.99"]);
        let a = NodeAddresses::of(Some(&n));
        assert_eq!(a.ipv4, Some("172.30.0.11".parse().unwrap()));
        assert_eq!(a.ipv6, Some("fd00:30::11".parse().unwrap()));
        assert_eq!(NodeAddresses::of(None), NodeAddresses::default());
    }

    #[test]
    fn unset_timers_become_a_90_second_hold_and_the_node_address_is_the_router_id() {
        let addresses = NodeAddresses::of(Some(&node(&["172.30.0.11", "fd00:30::11"])));
        let s = settings(&peer(), "node1", addresses).unwrap();
        assert_eq!(s.hold_time, Duration::from_secs(90));
        assert_eq!(s.keepalive_time, None);
        assert_eq!(s.router_id, Ipv4Addr::new(172, 30, 0, 11));
        assert_eq!(s.ipv6_next_hop, Some("fd00:30::11".parse().unwrap()));
        assert_eq!(s.local_asn, 64512);
    }

    #[test]
    fn the_configured_router_id_and_local_asn_win() {
        let mut p = peer();
        p.router_id = Some(Ipv4Addr::new(10, 0, 0, 1));
        p.local_asn = Some(64500);
        let s = settings(&p, "node1", NodeAddresses::default()).unwrap();
        assert_eq!((s.router_id, s.local_asn), (Ipv4Addr::new(10, 0, 0, 1), 64500));
    }

    #[test]
    fn without_any_ipv4_address_the_router_id_is_derived_from_the_node_name() {
        let a = settings(&peer(), "node1", NodeAddresses::default()).unwrap().router_id;
        let b = settings(&peer(), "node2", NodeAddresses::default()).unwrap().router_id;
        assert_ne!(a, b);
        assert_ne!(a, Ipv4Addr::UNSPECIFIED);
        assert_eq!(
            a,
            settings(&peer(), "node1", NodeAddresses::default()).unwrap().router_id,
            "stable across restarts"
        );
    }

    #[test]
    fn graceful_shutdown_adds_the_rfc_8326_community_once_to_every_route() {
        let mut table = Table::new();
        table.insert(
            "10.0.0.1/32".parse().unwrap(),
            RouteAttrs { local_pref: 0, communities: vec![1], large_communities: vec![] },
        );
        table.insert(
            "10.0.0.2/32".parse().unwrap(),
            RouteAttrs { local_pref: 0, communities: vec![GRACEFUL_SHUTDOWN], large_communities: vec![] },
        );
        let drained = with_graceful_shutdown(BTreeMap::from([("r".to_owned(), table)]));
        for attrs in drained["r"].values() {
            assert_eq!(attrs.communities.iter().filter(|c| **c == GRACEFUL_SHUTDOWN).count(), 1);
        }
        assert_eq!(drained["r"][&"10.0.0.1/32".parse().unwrap()].communities, [1, GRACEFUL_SHUTDOWN]);
    }

    #[test]
    fn a_session_offers_its_peer_address_family_only_unless_dual_stack_is_asked_for() {
        let (v4, v6) = (AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST);
        let table = [
            ("172.30.0.1", false, vec![v4]),
            ("fd00:30::1", false, vec![v6]),
            ("172.30.0.1", true, vec![v4, v6]),
            ("fd00:30::1", true, vec![v4, v6]),
        ];
        for (address, dual_stack, expected) in table {
            let mut p = peer();
            p.address = Some(address.parse().unwrap());
            p.dual_stack_address_family = dual_stack;
            let s = settings(&p, "node1", NodeAddresses::default()).unwrap();
            assert_eq!(s.families, expected, "{address} dualStackAddressFamily={dual_stack}");
            assert_eq!(s.fsm_config().families, expected, "the OPEN offers exactly those");
        }
    }

    fn unnumbered(interface: &str) -> Peer {
        let mut p = peer();
        p.name = "unnumbered".into();
        p.address = None;
        p.interface = Some(interface.into());
        p
    }

    #[test]
    fn an_unnumbered_peer_is_dialled_on_its_interface_dual_stack_with_the_interface_next_hops() {
        let config = Config { peers: vec![unnumbered("eth1"), peer()], ..Config::default() };
        let addresses = NodeAddresses::of(Some(&node(&["172.30.0.11", "fd00:30::11"])));
        let devices = BTreeSet::from(["eth0".to_owned(), "eth1".to_owned()]);
        let wanted = wanted_sessions(&config, "node1", addresses, Some(&devices));
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["router", "unnumbered"]);
        let s = &wanted["unnumbered"];
        assert_eq!(s.interface.as_deref(), Some("eth1"));
        assert_eq!(s.address, IpAddr::V6(Ipv6Addr::UNSPECIFIED), "learnt from router advertisements");
        assert_eq!(s.families, [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST], "FRR mode: dual-stack");
        assert!(s.fsm_config().extended_next_hop, "IPv4 routes with an IPv6 next hop (RFC 8950)");
        assert_eq!((s.ipv4_next_hop, s.ipv6_next_hop), (None, None), "the interface's, not the Node's");
        assert_eq!(s.router_id, Ipv4Addr::new(172, 30, 0, 11));
        assert_eq!(s.peer_label(), "eth1:179");
        assert!(!wanted["router"].fsm_config().extended_next_hop, "a numbered peer is unchanged");
        assert!(peer_notes(&config, "node1", None, Some(&devices)).is_empty(), "nothing left unsaid");
        assert_eq!(neighbour(&config.peers[0]), Some(Neighbour::Unnumbered("eth1".into())));
        assert_eq!(dialable(&config.peers[0]), None, "no configured address");
    }

    #[test]
    fn an_unnumbered_peer_keeps_its_remote_as_setting() {
        for (asn, want) in [
            (PeerAsn::Fixed(64500), PeerAs::Fixed(64500)),
            (PeerAsn::DynamicExternal, PeerAs::External),
            (PeerAsn::DynamicInternal, PeerAs::Internal),
        ] {
            let p = Peer { peer_asn: asn, ..unnumbered("eth1") };
            assert_eq!(settings(&p, "node1", NodeAddresses::default()).unwrap().peer_asn, want);
        }
    }

    #[test]
    fn an_unnumbered_peer_on_a_missing_interface_gets_no_session_and_a_note_while_the_others_are_served() {
        let config = Config { peers: vec![unnumbered("eth9"), peer()], ..Config::default() };
        let devices = BTreeSet::from(["eth0".to_owned()]);
        let wanted = wanted_sessions(&config, "node1", NodeAddresses::default(), Some(&devices));
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["router"]);
        let notes = peer_notes(&config, "node1", None, Some(&devices));
        let brief: Vec<(&str, bool)> = notes.iter().map(|n| (n.peer.as_str(), n.served)).collect();
        assert_eq!(brief, [("unnumbered", false)]);
        assert!(notes[0].message.starts_with("interface eth9 does not exist on this node"), "{}", notes[0].message);
        assert!(peer_notes(&config, "node2", None, Some(&devices)).is_empty(), "only this node's peers");
        assert_eq!(
            wanted_sessions(&config, "node1", NodeAddresses::default(), None).len(),
            2,
            "devices unknown: dialled"
        );
    }

    /// The test peer, and the same peer named red in VRF red.
    fn with_red_vrf_peer() -> Config {
        let mut red = peer();
        red.name = "red".into();
        red.vrf = Some("red".into());
        Config { peers: vec![red, peer()], ..Config::default() }
    }

    #[test]
    fn a_vrf_peer_is_dialled_from_the_vrf_device_with_next_hops_from_its_interface() {
        let config = with_red_vrf_peer();
        let addresses = NodeAddresses::of(Some(&node(&["172.30.0.11", "fd00:30::11"])));
        let devices = BTreeSet::from(["eth0".to_owned(), "red".to_owned()]);
        let wanted = wanted_sessions(&config, "node1", addresses, Some(&devices));
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["red", "router"]);
        let (red, plain) = (&wanted["red"], &wanted["router"]);
        assert_eq!((red.device.as_deref(), plain.device.as_deref()), (Some("red"), None));
        assert_eq!((red.ipv4_next_hop, red.ipv6_next_hop), (None, None), "the Node's addresses are the default VRF's");
        assert_eq!(plain.ipv6_next_hop, Some("fd00:30::11".parse().unwrap()));
        assert_eq!(red.router_id, plain.router_id, "one router ID per node");
        assert!(peer_notes(&config, "node1", None, Some(&devices)).is_empty());
        assert_eq!(wanted_sessions(&config, "node1", addresses, None).len(), 2, "devices unknown: dialled");
    }

    #[test]
    fn a_vrf_the_node_does_not_have_isolates_its_peer_with_a_note() {
        let config = with_red_vrf_peer();
        let devices = BTreeSet::from(["eth0".to_owned()]);
        let wanted = wanted_sessions(&config, "node1", NodeAddresses::default(), Some(&devices));
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["router"]);
        let notes = peer_notes(&config, "node1", None, Some(&devices));
        assert_eq!((notes.len(), notes[0].peer.as_str(), notes[0].served), (1, "red", false));
        assert!(notes[0].message.starts_with("VRF red does not exist on this node"), "{}", notes[0].message);
    }

    #[test]
    fn bfd_for_a_vrf_peer_runs_in_the_vrf_and_not_when_the_vrf_is_missing() {
        let mut red = peer();
        red.vrf = Some("red".into());
        red.bfd_profile = Some("fast".into());
        let profile = BfdProfile {
            name: "fast".into(),
            receive_interval: 300,
            transmit_interval: 300,
            detect_multiplier: 3,
            echo_interval: 50,
            echo_mode: false,
            passive_mode: false,
            minimum_ttl: 254,
        };
        let config = Config { peers: vec![red], bfd_profiles: vec![profile], ..Config::default() };
        let wanted = crate::bfd::wanted(&config, "node1", None, None);
        assert_eq!(wanted["router"].vrf.as_deref(), Some("red"));
        assert!(peer_notes(&config, "node1", None, None).is_empty(), "nothing left unsaid");
        let without_red = BTreeSet::from(["eth0".to_owned()]);
        assert!(crate::bfd::wanted(&config, "node1", None, Some(&without_red)).is_empty());
    }

    #[test]
    fn a_single_hop_ipv4_peer_whose_bfd_profile_asks_for_echo_gets_echo_and_no_note() {
        let mut p = peer();
        p.bfd_profile = Some("echo".into());
        let config = Config { peers: vec![p], bfd_profiles: vec![echo_profile(true)], ..Config::default() };
        assert!(peer_notes(&config, "node1", None, None).is_empty(), "echo runs: nothing to say");
        let wanted = crate::bfd::wanted(&config, "node1", None, None);
        assert!(wanted["router"].profile.echo_mode);
        assert_eq!(wanted["router"].profile.echo_interval_ms, 50);
    }

    fn echo_profile(echo_mode: bool) -> BfdProfile {
        BfdProfile {
            name: "echo".into(),
            receive_interval: 300,
            transmit_interval: 300,
            detect_multiplier: 3,
            echo_interval: 50,
            echo_mode,
            passive_mode: false,
            minimum_ttl: 254,
        }
    }

    #[test]
    fn an_ipv6_or_multi_hop_peer_whose_bfd_profile_asks_for_echo_is_served_in_asynchronous_mode_with_a_note() {
        let mut v6 = peer();
        v6.bfd_profile = Some("echo".into());
        v6.address = Some("fd00:30::1".parse().unwrap());
        let mut multihop = peer();
        multihop.bfd_profile = Some("echo".into());
        multihop.ebgp_multi_hop = true;
        for (p, why) in [(v6, "an IPv6 session"), (multihop, "a multi-hop session")] {
            let config = Config { peers: vec![p.clone()], bfd_profiles: vec![echo_profile(true)], ..Config::default() };
            let notes = peer_notes(&config, "node1", None, None);
            assert_eq!(notes.len(), 1);
            assert!(notes[0].served);
            assert!(notes[0].message.contains(why), "{}", notes[0].message);
            assert!(notes[0].message.contains("its BFD runs in asynchronous mode"), "{}", notes[0].message);
            assert_eq!(wanted_sessions(&config, "node1", NodeAddresses::default(), None).len(), 1);
            assert_eq!(crate::bfd::wanted(&config, "node1", None, None).len(), 1, "BFD still runs");
            let config = Config { peers: vec![p], bfd_profiles: vec![echo_profile(false)], ..Config::default() };
            assert!(peer_notes(&config, "node1", None, None).is_empty());
        }
    }

    #[test]
    fn an_ebgp_peer_off_the_connected_networks_without_multihop_is_told_to_set_it() {
        let lan: Vec<IpNet> = vec!["172.30.0.0/24".parse().unwrap()];
        let mut p = peer();
        p.address = Some("10.9.9.9".parse().unwrap());
        let config = Config { peers: vec![p.clone()], ..Config::default() };
        let notes = peer_notes(&config, "node1", Some(&lan), None);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].served, "the session is still tried (a route may be added later)");
        assert!(notes[0].message.ends_with("set ebgpMultiHop: true"), "{}", notes[0].message);
        assert!(peer_notes(&config, "node1", None, None).is_empty(), "networks unknown: nothing said");
        for fixed in [
            Peer { ebgp_multi_hop: true, ..p.clone() },
            Peer { peer_asn: PeerAsn::Fixed(64512), ..p.clone() },
            Peer { address: Some("172.30.0.1".parse().unwrap()), ..p },
        ] {
            let config = Config { peers: vec![fixed], ..Config::default() };
            assert!(peer_notes(&config, "node1", Some(&lan), None).is_empty());
        }
    }

    #[test]
    fn only_peers_selecting_this_node_get_a_session() {
        let mut other = peer();
        other.name = "other".into();
        other.nodes = BTreeSet::from(["node2".to_owned()]);
        let config = Config { peers: vec![other, peer()], ..Config::default() };
        let wanted = wanted_sessions(&config, "node1", NodeAddresses::default(), None);
        assert_eq!(wanted.keys().collect::<Vec<_>>(), ["router"]);
    }
}
