//! The sans-IO ARP/NDP responder: the table of announced IPs and the decision, for every
//! received frame, whether and what to answer (docs/compatibility.md §4.2, Responders).
//!
//! Nothing here touches a socket or a clock: the driver hands in frames and interface
//! scans and carries out the returned replies and multicast membership changes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use crate::arp::{ArpOperation, ArpPacket};
use crate::eligibility::{Eligibility, Exclusion, InterfaceInfo, InterfaceSelection};
use crate::error::DecodeError;
use crate::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV6, EthernetFrame, MacAddr};
use crate::ndp::{ALL_NODES, NdpMessage, NdpPacket, solicited_node};

/// MetalLB's per-IP Layer 2 counters (`metallb_layer2_requests_received`,
/// `metallb_layer2_responses_sent`, `metallb_layer2_gratuitous_sent`, label `ip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpCounters {
    /// ARP requests and Neighbor Solicitations for this IP that we answer.
    pub requests_received: u64,
    pub responses_sent: u64,
    /// Each gratuitous ARP (request and reply form count apart) and unsolicited NA.
    pub gratuitous_sent: u64,
}

/// Everything the responder counted. Per-IP counters outlive a withdrawal, as Prometheus
/// counters do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    pub per_ip: BTreeMap<IpAddr, IpCounters>,
    /// Frames received and not answered, by reason: a [`DecodeError::reason`] for
    /// malformed or foreign frames, or one of the [`Ignored`] labels.
    pub dropped: BTreeMap<&'static str, u64>,
}

/// Why a well-formed frame got no answer; mirrors MetalLB's `dropReason`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// The interface has no responder of that kind (unknown, down, excluded, enslaved).
    InterfaceNotEligible,
    /// ARP replies (and our own gratuitous traffic) are never answered.
    ArpReply,
    /// An ARP request sent unicast to another host.
    EthernetDestination,
    /// A Neighbor Advertisement.
    NotSolicitation,
    /// An NS whose IPv6 destination is neither the target nor its solicited-node group.
    NdpDestination,
    /// The target is not announced on this interface: never answer for IPs we do not own.
    NotAnnounced,
}

impl Ignored {
    /// The drop-counter label.
    pub fn reason(self) -> &'static str {
        match self {
            Ignored::InterfaceNotEligible => "interface_not_eligible",
            Ignored::ArpReply => "arp_reply",
            Ignored::EthernetDestination => "ethernet_destination",
            Ignored::NotSolicitation => "not_solicitation",
            Ignored::NdpDestination => "ndp_destination",
            Ignored::NotAnnounced => "not_announced",
        }
    }
}

/// A solicited-node multicast group (RFC 4291 §2.7.1) that the NDP socket of an
/// interface must receive, as its Ethernet address (RFC 2464 §7).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Membership {
    pub interface: String,
    pub index: u32,
    pub group: MacAddr,
}

/// A membership to add (PACKET_ADD_MEMBERSHIP) or drop on the interface's NDP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    Join(Membership),
    Leave(Membership),
}

/// The result of [`Responder::announce`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Announced {
    /// The interfaces that now answer for the IP. Empty means MetalLB's `announceFailed`
    /// ("none of the listed interfaces exists"); the IP stays in the table so that an
    /// interface appearing later is picked up by the next rescan.
    pub interfaces: Vec<String>,
    pub memberships: Vec<MembershipChange>,
}

#[derive(Debug, Clone)]
struct Interface {
    info: InterfaceInfo,
    eligibility: Eligibility,
}

/// The announced-IP table and the answering rules.
#[derive(Debug, Clone)]
pub struct Responder {
    exclusion: Exclusion,
    interfaces: BTreeMap<String, Interface>,
    /// IP → (owner, usually `namespace/service`) → interfaces it asked for. The number of
    /// owners is MetalLB's `ipRefcnt`: a shared IP stays until its last service withdraws.
    announced: BTreeMap<IpAddr, BTreeMap<String, InterfaceSelection>>,
    /// Group → number of announced IPs mapping to it (distinct IPs can share the low 24 bits).
    memberships: BTreeMap<Membership, usize>,
    counters: Counters,
}

impl Responder {
    pub fn new(exclusion: Exclusion) -> Self {
        Responder {
            exclusion,
            interfaces: BTreeMap::new(),
            announced: BTreeMap::new(),
            memberships: BTreeMap::new(),
            counters: Counters::default(),
        }
    }

    /// Replaces the interface list with a fresh scan and returns the membership changes it
    /// implies (groups of vanished or renumbered interfaces are left, new ones joined).
    pub fn set_interfaces(&mut self, scan: Vec<InterfaceInfo>) -> Vec<MembershipChange> {
        self.interfaces = scan
            .into_iter()
            .map(|info| {
                let eligibility = info.eligibility(&self.exclusion);
                (info.name.clone(), Interface { info, eligibility })
            })
            .collect();
        let mut wanted: BTreeMap<Membership, usize> = BTreeMap::new();
        for ip in self.announced.keys() {
            for m in self.groups_of(*ip) {
                *wanted.entry(m).or_default() += 1;
            }
        }
        let mut changes: Vec<MembershipChange> =
            self.memberships.keys().filter(|m| !wanted.contains_key(m)).cloned().map(MembershipChange::Leave).collect();
        changes
            .extend(wanted.keys().filter(|m| !self.memberships.contains_key(m)).cloned().map(MembershipChange::Join));
        self.memberships = wanted;
        changes
    }

    /// The current interfaces with the responders each one gets.
    pub fn interfaces(&self) -> impl Iterator<Item = (&InterfaceInfo, Eligibility)> {
        self.interfaces.values().map(|i| (&i.info, i.eligibility))
    }

    /// Adds (or updates) `owner`'s announcement of `ip`.
    pub fn announce(&mut self, owner: &str, ip: IpAddr, selection: InterfaceSelection) -> Announced {
        let before = self.groups_of(ip);
        self.announced.entry(ip).or_default().insert(owner.to_string(), selection);
        let after = self.groups_of(ip);
        let memberships = self.apply_group_change(before, after);
        Announced { interfaces: self.interfaces_answering(ip), memberships }
    }

    /// Removes `owner`'s announcement of `ip`; the IP stays announced while another owner
    /// holds it. No goodbye packets are sent (docs/compatibility.md §4.2).
    pub fn withdraw(&mut self, owner: &str, ip: IpAddr) -> Vec<MembershipChange> {
        let before = self.groups_of(ip);
        if let Some(owners) = self.announced.get_mut(&ip) {
            owners.remove(owner);
            if owners.is_empty() {
                self.announced.remove(&ip);
            }
        }
        let after = self.groups_of(ip);
        self.apply_group_change(before, after)
    }

    /// True while any owner announces `ip`.
    pub fn is_announced(&self, ip: IpAddr) -> bool {
        self.announced.contains_key(&ip)
    }

    /// The announced IPs with their number of owners.
    pub fn announced(&self) -> impl Iterator<Item = (IpAddr, usize)> + '_ {
        self.announced.iter().map(|(ip, owners)| (*ip, owners.len()))
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts a frame the driver could not hand in (e.g. a failed send) under `reason`.
    pub fn count_drop(&mut self, reason: &'static str) {
        *self.counters.dropped.entry(reason).or_default() += 1;
    }

    /// The interfaces whose responders answer for `ip`: eligible for the IP's family and
    /// selected by at least one owner.
    pub fn interfaces_answering(&self, ip: IpAddr) -> Vec<String> {
        let Some(owners) = self.announced.get(&ip) else { return Vec::new() };
        self.interfaces
            .values()
            .filter(|i| if ip.is_ipv4() { i.eligibility.arp } else { i.eligibility.ndp })
            .filter(|i| owners.values().any(|s| s.includes(&i.info.name)))
            .map(|i| i.info.name.clone())
            .collect()
    }

    /// Answers one frame received on `interface`, or returns `None` and counts why not.
    pub fn handle(&mut self, interface: &str, frame: &[u8]) -> Option<Vec<u8>> {
        match self.decide(interface, frame) {
            Ok(reply) => Some(reply),
            Err(reason) => {
                self.count_drop(reason);
                None
            }
        }
    }

    fn decide(&mut self, interface: &str, frame: &[u8]) -> Result<Vec<u8>, &'static str> {
        let eth = EthernetFrame::decode(frame).map_err(|e| e.reason())?;
        let iface = self.interfaces.get(interface).ok_or(Ignored::InterfaceNotEligible.reason())?;
        let (mac, eligibility) = (iface.info.mac, iface.eligibility);
        match eth.ethertype {
            ETHERTYPE_ARP if eligibility.arp => {
                let request = ArpPacket::decode(eth.payload).map_err(|e| e.reason())?;
                if request.operation != ArpOperation::Request {
                    return Err(Ignored::ArpReply.reason());
                }
                if eth.destination != MacAddr::BROADCAST && eth.destination != mac {
                    return Err(Ignored::EthernetDestination.reason());
                }
                let ip = IpAddr::V4(request.target_ip);
                if !self.answers(ip, interface) {
                    return Err(Ignored::NotAnnounced.reason());
                }
                let counters = self.counters.per_ip.entry(ip).or_default();
                counters.requests_received += 1;
                counters.responses_sent += 1;
                Ok(request.reply(mac).encode_frame(mac, request.sender_mac))
            }
            ETHERTYPE_IPV6 if eligibility.ndp => {
                let packet = NdpPacket::decode(eth.payload).map_err(|e| e.reason())?;
                let NdpMessage::Solicitation { target, source_lla } = packet.message else {
                    return Err(Ignored::NotSolicitation.reason());
                };
                if packet.destination != target && packet.destination != solicited_node(target) {
                    return Err(Ignored::NdpDestination.reason());
                }
                let ip = IpAddr::V6(target);
                if !self.answers(ip, interface) {
                    return Err(Ignored::NotAnnounced.reason());
                }
                let counters = self.counters.per_ip.entry(ip).or_default();
                counters.requests_received += 1;
                counters.responses_sent += 1;
                let (destination, destination_mac, solicited) =
                    advertisement_destination(packet.source, source_lla, eth.source);
                let answer = NdpPacket {
                    source: target,
                    destination,
                    message: NdpMessage::Advertisement {
                        router: false,
                        solicited,
                        override_flag: false,
                        target,
                        target_lla: Some(mac),
                    },
                };
                Ok(answer.encode_frame(mac, destination_mac))
            }
            ETHERTYPE_ARP | ETHERTYPE_IPV6 => Err(Ignored::InterfaceNotEligible.reason()),
            other => Err(DecodeError::ForeignEtherType(other).reason()),
        }
    }

    /// One gratuitous burst for `ip` on every interface that answers for it (docs/compatibility.md §4.2):
    /// IPv4 a broadcast ARP request and reply with sender IP = target IP = `ip`; IPv6 an
    /// unsolicited NA (S=0, O=1, RFC 4861 §7.2.6) to all-nodes. Empty once withdrawn.
    ///
    /// Every advertisement we send, solicited or not, has the target as its IPv6 source, as
    /// Linux does for its own addresses (`ndisc_send_na`): `ndisc6` discards a solicited NA
    /// from a link-local source when it asked for a global target (seen in the netns test).
    pub fn gratuitous(&mut self, ip: IpAddr) -> Vec<(String, Vec<u8>)> {
        let mut frames = Vec::new();
        for name in self.interfaces_answering(ip) {
            let Some(iface) = self.interfaces.get(&name) else { continue };
            let mac = iface.info.mac;
            match ip {
                IpAddr::V4(v4) => {
                    for operation in [ArpOperation::Request, ArpOperation::Reply] {
                        let packet = ArpPacket::gratuitous(operation, mac, v4);
                        frames.push((name.clone(), packet.encode_frame(mac, MacAddr::BROADCAST)));
                    }
                }
                IpAddr::V6(v6) => {
                    let packet = unsolicited_advertisement(v6, mac);
                    frames.push((name.clone(), packet.encode_frame(mac, MacAddr::ipv6_multicast(ALL_NODES))));
                }
            }
        }
        self.counters.per_ip.entry(ip).or_default().gratuitous_sent += frames.len() as u64;
        frames
    }

    fn answers(&self, ip: IpAddr, interface: &str) -> bool {
        self.announced.get(&ip).is_some_and(|owners| owners.values().any(|s| s.includes(interface)))
    }

    /// The solicited-node groups `ip` needs: one per NDP interface answering for it.
    fn groups_of(&self, ip: IpAddr) -> Vec<Membership> {
        let IpAddr::V6(v6) = ip else { return Vec::new() };
        let group = MacAddr::ipv6_multicast(solicited_node(v6));
        self.interfaces_answering(ip)
            .into_iter()
            .filter_map(|name| self.interfaces.get(&name).map(|i| (name, i.info.index)))
            .map(|(interface, index)| Membership { interface, index, group })
            .collect()
    }

    /// Refcounts `after` in before releasing `before`, so an unchanged group is neither
    /// left nor re-joined.
    fn apply_group_change(&mut self, before: Vec<Membership>, after: Vec<Membership>) -> Vec<MembershipChange> {
        let mut changes = Vec::new();
        for m in after {
            let count = self.memberships.entry(m.clone()).or_default();
            *count += 1;
            if *count == 1 {
                changes.push(MembershipChange::Join(m));
            }
        }
        for m in before {
            if let Some(count) = self.memberships.get_mut(&m) {
                *count -= 1;
                if *count == 0 {
                    self.memberships.remove(&m);
                    changes.push(MembershipChange::Leave(m));
                }
            }
        }
        changes
    }
}

/// Where the answer to a valid Neighbor Solicitation goes, and its Solicited flag
/// (RFC 4861 §7.2.4): (IPv6 destination, Ethernet destination, S).
///
/// - From a unicast source: back to that source, S=1, at its source link-layer address
///   option, or, where the option is absent, at the frame's Ethernet source. RFC 4861 §7.2.2
///   lets a router leave the option out of the unicast probes of neighbour unreachability
///   detection; MetalLB drops those (its issue #2920), so the router's entry for the service
///   address fails every reachable-time cycle. Answering them keeps it REACHABLE.
/// - From the unspecified address (duplicate address detection, which the decoder only lets
///   through without the option and to the solicited-node group): to all-nodes, S=0, so the
///   host probing learns that the address is taken.
pub fn advertisement_destination(
    source: Ipv6Addr,
    source_lla: Option<MacAddr>,
    frame_source: MacAddr,
) -> (Ipv6Addr, MacAddr, bool) {
    if source.is_unspecified() {
        (ALL_NODES, MacAddr::ipv6_multicast(ALL_NODES), false)
    } else {
        (source, source_lla.unwrap_or(frame_source), true)
    }
}

/// An unsolicited Neighbor Advertisement announcing that `target` now lives at `mac`.
pub fn unsolicited_advertisement(target: Ipv6Addr, mac: MacAddr) -> NdpPacket {
    NdpPacket {
        source: target,
        destination: ALL_NODES,
        message: NdpMessage::Advertisement {
            router: false,
            solicited: false,
            override_flag: true,
            target,
            target_lla: Some(mac),
        },
    }
}
