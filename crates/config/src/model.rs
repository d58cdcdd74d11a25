//! The validated configuration: what the controller allocates from and the speakers announce.
//!
//! Everything here has passed every rule; names are resolved (pools to their
//! advertisements, selectors to node sets, aliases to community values, secrets to
//! passwords). Serialising a [`Config`] gives the `ferrolb validate -o json` document.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Serialize, Serializer};

use crate::addresses::{AddressEntry, is_buggy};
use crate::community::Community;
use crate::selector::Selector;

/// The whole validated configuration.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Sorted by name.
    pub pools: Vec<Pool>,
    /// Sorted by name.
    pub peers: Vec<Peer>,
    /// Sorted by name.
    pub bfd_profiles: Vec<BfdProfile>,
    /// Things that are accepted but deserve the user's attention (deprecated fields).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Config {
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.binary_search_by(|p| p.name.as_str().cmp(name)).ok().map(|i| &self.pools[i])
    }

    pub fn peer(&self, name: &str) -> Option<&Peer> {
        self.peers.binary_search_by(|p| p.name.as_str().cmp(name)).ok().map(|i| &self.peers[i])
    }

    /// The pool whose CIDRs contain `ip`, ignoring `avoidBuggyIPs` (the speaker's lookup,
    /// docs/compatibility.md §4.1). Pools never overlap, so there is at most one.
    pub fn pool_containing(&self, ip: IpAddr) -> Option<&Pool> {
        self.pools.iter().find(|p| p.cidrs.iter().any(|c| c.contains(&ip)))
    }
}

/// An IPAddressPool.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    pub name: String,
    /// The pool's labels, which advertisements' `ipAddressPoolSelectors` match.
    #[serde(skip)]
    pub labels: ferrolb_api::StringMap,
    /// The `addresses` entries as written, each with its CIDRs.
    #[serde(skip)]
    pub entries: Vec<AddressEntry>,
    /// Every entry's CIDRs, in spec order.
    pub cidrs: Vec<IpNet>,
    pub auto_assign: bool,
    #[serde(rename = "avoidBuggyIPs")]
    pub avoid_buggy_ips: bool,
    pub service_allocation: Option<ServiceAllocation>,
    pub bgp_advertisements: Vec<Arc<BgpAdvertisement>>,
    pub l2_advertisements: Vec<Arc<L2Advertisement>>,
}

impl Pool {
    pub fn has_ipv4(&self) -> bool {
        self.cidrs.iter().any(|c| matches!(c, IpNet::V4(_)))
    }

    pub fn has_ipv6(&self) -> bool {
        self.cidrs.iter().any(|c| matches!(c, IpNet::V6(_)))
    }

    /// Whether `ip` belongs to the pool: inside a CIDR and, with `avoidBuggyIPs`, not a
    /// .0/.255 address (docs/compatibility.md §1.2: such addresses are not members at all).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(&ip)) && !(self.avoid_buggy_ips && is_buggy(ip))
    }
}

/// `serviceAllocation`, with namespace selectors already resolved to names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAllocation {
    pub priority: i32,
    /// Explicit namespaces plus those matched by `namespaceSelectors` at parse time.
    pub namespaces: BTreeSet<String>,
    /// OR-ed; a lone "everything" selector when the spec named no namespaces and no
    /// selectors at all (priority only).
    pub service_selectors: Vec<Selector>,
}

/// An L2Advertisement as attached to a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L2Advertisement {
    pub name: String,
    /// Nodes allowed to announce, resolved from `nodeSelectors`.
    pub nodes: BTreeSet<String>,
    /// Sorted; empty when `all_interfaces`.
    pub interfaces: Vec<String>,
    pub all_interfaces: bool,
    pub service_selectors: Vec<Selector>,
    /// Weighted preferences, each resolved to the eligible nodes it matches.
    pub preferred_nodes: Vec<WeightedNodes>,
}

impl L2Advertisement {
    /// Two advertisements that would make every speaker decide the same way: reaching a
    /// pool twice, they are attached once (docs/compatibility.md §1.3). Preferences are never merged.
    pub(crate) fn same_effect(&self, other: &Self) -> bool {
        self.preferred_nodes.is_empty()
            && other.preferred_nodes.is_empty()
            && self.nodes == other.nodes
            && self.interfaces == other.interfaces
            && self.all_interfaces == other.all_interfaces
            && self.service_selectors == other.service_selectors
    }
}

/// One `preferredNodeSelectors` entry: `weight` added to the score of each node in `nodes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeightedNodes {
    pub weight: u32,
    pub nodes: BTreeSet<String>,
}

/// A BGPAdvertisement as attached to a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BgpAdvertisement {
    pub name: String,
    pub aggregation_length: u8,
    #[serde(rename = "aggregationLengthV6")]
    pub aggregation_length_v6: u8,
    /// 0 means not set.
    pub local_pref: u32,
    /// Aliases resolved; sorted as 96-bit values.
    pub communities: BTreeSet<Community>,
    /// BGPPeer names; empty means every peer.
    pub peers: Vec<String>,
    pub nodes: BTreeSet<String>,
    pub service_selectors: Vec<Selector>,
}

/// The peer's AS: a number, or accept any AS of one kind (RFC 4271 OPEN check relaxed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAsn {
    Fixed(u32),
    /// Accept only a peer AS equal to our own.
    DynamicInternal,
    /// Accept only a peer AS different from our own.
    DynamicExternal,
}

/// A BGPPeer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    pub name: String,
    #[serde(rename = "myASN")]
    pub my_asn: u32,
    #[serde(rename = "peerASN", serialize_with = "ser_peer_asn")]
    pub peer_asn: PeerAsn,
    /// The AS presented to the peer instead of `my_asn`.
    #[serde(rename = "localASN")]
    pub local_asn: Option<u32>,
    /// `None` for a BGP unnumbered peer, reached over `interface`.
    pub address: Option<IpAddr>,
    /// BGP unnumbered: the interface whose IPv6 link-local neighbour is the peer.
    pub interface: Option<String>,
    /// The Linux VRF the session (and its BFD) is bound to.
    pub vrf: Option<String>,
    pub port: u16,
    pub source_address: Option<IpAddr>,
    /// `None` means the default (90 s hold, keepalive a third of it).
    #[serde(serialize_with = "ser_opt_secs")]
    pub hold_time: Option<Duration>,
    #[serde(serialize_with = "ser_opt_secs")]
    pub keepalive_time: Option<Duration>,
    #[serde(serialize_with = "ser_opt_secs")]
    pub connect_time: Option<Duration>,
    #[serde(rename = "routerID")]
    pub router_id: Option<Ipv4Addr>,
    pub nodes: BTreeSet<String>,
    /// The TCP-MD5 key, from `password` or the referenced Secret. Never printed.
    #[serde(rename = "passwordSet", serialize_with = "ser_is_some")]
    pub password: Option<String>,
    pub bfd_profile: Option<String>,
    pub graceful_restart: bool,
    pub ebgp_multi_hop: bool,
    /// Both address families on the session; without it (MetalLB's FRR-mode default) the
    /// session negotiates and carries only the family of its peer address.
    pub dual_stack_address_family: bool,
}

impl Peer {
    /// iBGP when the peer's AS is (or must be) ours.
    pub fn is_ibgp(&self) -> bool {
        match self.peer_asn {
            PeerAsn::Fixed(asn) => asn == self.local_asn.unwrap_or(self.my_asn),
            PeerAsn::DynamicInternal => true,
            PeerAsn::DynamicExternal => false,
        }
    }

    /// Whether routes for `ip`'s family go to this peer: always with
    /// `dualStackAddressFamily`, else only those of the peer address's family (as FRR mode
    /// activates the neighbour in its own address family only).
    /// An unnumbered peer carries both, as MetalLB configures FRR for one.
    pub fn carries(&self, ip: IpAddr) -> bool {
        match self.address {
            Some(address) => self.dual_stack_address_family || ip.is_ipv4() == address.is_ipv4(),
            None => true,
        }
    }

    /// How logs and errors name the session's far end: `172.30.0.1`, `interface eth1`, each
    /// followed by ` in VRF red` when bound to one.
    pub fn target(&self) -> String {
        let far = match (&self.address, &self.interface) {
            (Some(address), _) => address.to_string(),
            (None, Some(interface)) => format!("interface {interface}"),
            (None, None) => "nothing".to_owned(),
        };
        match &self.vrf {
            Some(vrf) => format!("{far} in VRF {vrf}"),
            None => far,
        }
    }
}

/// A BFDProfile with every default filled in (RFC 5880 timers in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BfdProfile {
    pub name: String,
    pub receive_interval: u32,
    pub transmit_interval: u32,
    pub detect_multiplier: u32,
    pub echo_interval: u32,
    pub echo_mode: bool,
    pub passive_mode: bool,
    pub minimum_ttl: u32,
}

fn ser_peer_asn<S: Serializer>(asn: &PeerAsn, s: S) -> Result<S::Ok, S::Error> {
    match asn {
        PeerAsn::Fixed(n) => s.serialize_u32(*n),
        PeerAsn::DynamicInternal => s.serialize_str("internal"),
        PeerAsn::DynamicExternal => s.serialize_str("external"),
    }
}

fn ser_opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn ser_is_some<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(v.is_some())
}
