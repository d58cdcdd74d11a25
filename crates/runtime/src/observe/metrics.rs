//! Prometheus metrics under MetalLB's names (docs/compatibility.md §7), so existing dashboards and
//! alerts keep working.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabel {
    pub pool: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct AnnouncedLabels {
    pub service: String,
    pub protocol: String,
    pub node: String,
    pub ip: String,
}

impl AnnouncedLabels {
    pub fn layer2(service: &impl std::fmt::Display, node: &str, ip: std::net::IpAddr) -> Self {
        Self { service: service.to_string(), protocol: "layer2".into(), node: node.into(), ip: ip.to_string() }
    }

    pub fn bgp(service: &impl std::fmt::Display, node: &str, ip: std::net::IpAddr) -> Self {
        Self { service: service.to_string(), protocol: "bgp".into(), node: node.into(), ip: ip.to_string() }
    }
}

/// MetalLB labels BGP metrics with the peer's `address:port` (`[v6]:port` for IPv6).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

impl PeerLabel {
    pub fn of(address: std::net::IpAddr, port: u16) -> Self {
        Self { peer: std::net::SocketAddr::new(address, port).to_string() }
    }

    /// The session's own label: `addr:port`, or `IFNAME:port` for an unnumbered peer.
    pub fn of_settings(settings: &ferrolb_bgp::PeerSettings) -> Self {
        Self { peer: settings.peer_label() }
    }
}

/// A session's label and an address family (`ipv4-unicast`, `ipv6-unicast`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerFamilyLabel {
    pub peer: String,
    pub family: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IpLabel {
    pub ip: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub updates: Counter,
    pub update_errors: Counter,
    pub config_loaded: Gauge,
    pub config_stale: Gauge,
    pub addresses_total: Family<PoolLabel, Gauge>,
    pub ipv4_addresses_total: Family<PoolLabel, Gauge>,
    pub ipv6_addresses_total: Family<PoolLabel, Gauge>,
    pub addresses_in_use: Family<PoolLabel, Gauge>,
    pub ipv4_addresses_in_use: Family<PoolLabel, Gauge>,
    pub ipv6_addresses_in_use: Family<PoolLabel, Gauge>,
    pub services_allocated: Family<PoolLabel, Gauge>,
    pub is_leader: Gauge,
    pub source_errors: Counter,
    pub speaker_announced: Family<AnnouncedLabels, Gauge>,
    /// MetalLB's Layer 2 counters are named without `_total`, and prometheus-client adds
    /// that suffix to every counter; dashboards query the names, so these are exposed under
    /// the exact names, as gauges holding the running count.
    pub layer2_requests_received: Family<IpLabel, Gauge>,
    pub layer2_responses_sent: Family<IpLabel, Gauge>,
    pub layer2_gratuitous_sent: Family<IpLabel, Gauge>,
    pub bgp_session_up: Family<PeerLabel, Gauge>,
    pub bgp_updates: Family<PeerLabel, Counter>,
    pub bgp_announced_prefixes: Family<PeerLabel, Gauge>,
    pub bgp_pending_prefixes: Family<PeerLabel, Gauge>,
    pub bfd_session_up: Family<PeerLabel, Gauge>,
    pub bfd_control_packet_input: Family<PeerLabel, Gauge>,
    pub bfd_control_packet_output: Family<PeerLabel, Gauge>,
    pub bfd_session_up_events: Family<PeerLabel, Gauge>,
    pub bfd_session_down_events: Family<PeerLabel, Gauge>,
    pub bfd_echo_packet_input: Family<PeerLabel, Gauge>,
    pub bfd_echo_packet_output: Family<PeerLabel, Gauge>,
    pub bfd_dropped: Family<ReasonLabel, Gauge>,
    pub membership_members: Gauge,
    pub membership_quorum: Gauge,
    pub membership_dropped_bad_key: Gauge,
    pub membership_dropped_replayed: Gauge,
    pub membership_suspicions: Gauge,
    pub membership_refutations: Gauge,
    pub membership_health: Gauge,
    pub membership_transitions: Family<TransitionLabel, Gauge>,
    pub bgp_peers_unserved: Gauge,
    /// This node's BGPPeers with a session that does less than asked (notes with
    /// `served: true`, from the configuration or from the running session).
    pub bgp_peers_served_in_part: Gauge,
    /// Desired prefixes an established session does not send for want of a next hop of
    /// their family, by family. Not those of a family the session does not offer (an IPv4
    /// session without `dualStackAddressFamily` carries no IPv6, by design).
    pub bgp_prefixes_without_next_hop: Family<PeerFamilyLabel, Gauge>,
    pub bgp_inbound_refused: Gauge,
    /// BGP unnumbered: router advertisements taken, ignored (not link-local, our own,
    /// another router while the first still advertises, undecodable) and sent, and the
    /// times an unnumbered peer's interface could not be used (missing, no socket).
    pub unnumbered_adverts_received: Counter,
    pub unnumbered_adverts_ignored: Counter,
    pub unnumbered_adverts_sent: Counter,
    pub unnumbered_interface_errors: Counter,
}

/// Why a packet was dropped, as the driver that dropped it labels it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransitionLabel {
    pub kind: String,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let updates = Counter::default();
        let update_errors = Counter::default();
        let config_loaded = Gauge::default();
        let config_stale = Gauge::default();
        let is_leader = Gauge::default();
        let source_errors = Counter::default();
        // prometheus-client appends `_total` to counters.
        registry.register(
            "metallb_k8s_client_updates",
            "Number of configuration and object updates processed",
            updates.clone(),
        );
        registry.register(
            "metallb_k8s_client_update_errors",
            "Number of updates that failed to process",
            update_errors.clone(),
        );
        registry.register(
            "metallb_k8s_client_config_loaded_bool",
            "1 once a good configuration has been loaded",
            config_loaded.clone(),
        );
        registry.register(
            "metallb_k8s_client_config_stale_bool",
            "1 while the last configuration update failed and an older one is in force",
            config_stale.clone(),
        );
        registry.register(
            "ferrolb_controller_leader_bool",
            "1 while this process holds the controller role",
            is_leader.clone(),
        );
        registry.register(
            "ferrolb_source_load_errors",
            "Number of times the source's objects failed to load",
            source_errors.clone(),
        );
        let mut family = |name: &str, help: &str| {
            let f = Family::<PoolLabel, Gauge>::default();
            registry.register(name, help, f.clone());
            f
        };
        let addresses_total = family("metallb_allocator_addresses_total", "Number of usable IP addresses, per pool");
        let ipv4_addresses_total =
            family("metallb_allocator_ipv4_addresses_total", "Number of usable IPv4 addresses, per pool");
        let ipv6_addresses_total =
            family("metallb_allocator_ipv6_addresses_total", "Number of usable IPv6 addresses, per pool");
        let addresses_in_use =
            family("metallb_allocator_addresses_in_use_total", "Number of IP addresses in use, per pool");
        let ipv4_addresses_in_use =
            family("metallb_allocator_ipv4_addresses_in_use_total", "Number of IPv4 addresses in use, per pool");
        let ipv6_addresses_in_use =
            family("metallb_allocator_ipv6_addresses_in_use_total", "Number of IPv6 addresses in use, per pool");
        let services_allocated =
            family("metallb_allocator_services_allocated_total", "Number of services allocated, per pool");
        let speaker_announced = Family::<AnnouncedLabels, Gauge>::default();
        registry.register(
            "metallb_speaker_announced",
            "1 while this node announces the service's IP with the protocol",
            speaker_announced.clone(),
        );
        let mut counter_family = |name: &str, help: &str| {
            let f = Family::<IpLabel, Gauge>::default();
            registry.register(name, help, f.clone());
            f
        };
        let layer2_requests_received = counter_family(
            "metallb_layer2_requests_received",
            "ARP requests and neighbor solicitations received for owned IPs",
        );
        let layer2_responses_sent = counter_family(
            "metallb_layer2_responses_sent",
            "ARP replies and neighbor advertisements sent for owned IPs",
        );
        let layer2_gratuitous_sent = counter_family(
            "metallb_layer2_gratuitous_sent",
            "Gratuitous ARP and unsolicited neighbor advertisements sent",
        );
        let bgp_session_up = Family::<PeerLabel, Gauge>::default();
        registry.register(
            "metallb_bgp_session_up",
            "1 while the BGP session with the peer is established",
            bgp_session_up.clone(),
        );
        let bgp_updates = Family::<PeerLabel, Counter>::default();
        registry.register("metallb_bgp_updates", "Number of BGP UPDATE messages sent to the peer", bgp_updates.clone());
        let bgp_announced_prefixes = Family::<PeerLabel, Gauge>::default();
        registry.register(
            "metallb_bgp_announced_prefixes_total",
            "Number of prefixes currently advertised to the peer",
            bgp_announced_prefixes.clone(),
        );
        let bgp_pending_prefixes = Family::<PeerLabel, Gauge>::default();
        registry.register(
            "metallb_bgp_pending_prefixes_total",
            "Number of prefixes waiting to be advertised to the peer",
            bgp_pending_prefixes.clone(),
        );
        // MetalLB's FRR-mode BFD metrics, same names; the counts are exposed as gauges for the
        // same reason as the layer 2 counters.
        let mut bfd_family = |name: &str, help: &str| {
            let f = Family::<PeerLabel, Gauge>::default();
            registry.register(name, help, f.clone());
            f
        };
        let bfd_session_up = bfd_family("metallb_bfd_session_up", "1 while the BFD session with the peer is up");
        let bfd_control_packet_input =
            bfd_family("metallb_bfd_control_packet_input", "BFD control packets received from the peer");
        let bfd_control_packet_output =
            bfd_family("metallb_bfd_control_packet_output", "BFD control packets sent to the peer");
        let bfd_session_up_events = bfd_family("metallb_bfd_session_up_events", "Times the BFD session came up");
        let bfd_session_down_events = bfd_family("metallb_bfd_session_down_events", "Times the BFD session went down");
        let bfd_echo_packet_input = bfd_family(
            "metallb_bfd_echo_packet_input",
            "BFD echo packets of ours back from the peer's forwarding plane",
        );
        let bfd_echo_packet_output = bfd_family("metallb_bfd_echo_packet_output", "BFD echo packets sent to the peer");
        let bfd_dropped = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "ferrolb_bfd_dropped_packets",
            "BFD control and echo packets dropped (or echoes not sent), by reason, all sessions together",
            bfd_dropped.clone(),
        );
        let membership_members = Gauge::default();
        registry.register(
            "ferrolb_membership_members",
            "Live speakers this speaker sees, itself included",
            membership_members.clone(),
        );
        let membership_quorum = Gauge::default();
        registry.register(
            "ferrolb_membership_quorum_bool",
            "1 while this speaker sees a quorum of the speakers it knows",
            membership_quorum.clone(),
        );
        // Running counts copied from the membership driver, exposed as gauges (see the
        // layer 2 counters above for why the names carry `_total` themselves).
        let membership_dropped_bad_key = Gauge::default();
        registry.register(
            "ferrolb_membership_dropped_bad_key_total",
            "Gossip datagrams dropped because they were not sealed with our key",
            membership_dropped_bad_key.clone(),
        );
        let membership_dropped_replayed = Gauge::default();
        registry.register(
            "ferrolb_membership_dropped_replayed_total",
            "Gossip datagrams dropped because they had been received before (replays)",
            membership_dropped_replayed.clone(),
        );
        let membership_suspicions = Gauge::default();
        registry.register(
            "ferrolb_membership_suspicions_total",
            "Suspicions this speaker raised: a member did not answer its probe, directly or through others",
            membership_suspicions.clone(),
        );
        let membership_refutations = Gauge::default();
        registry.register(
            "ferrolb_membership_refutations_total",
            "Suspicions about this speaker that it refuted",
            membership_refutations.clone(),
        );
        let membership_health = Gauge::default();
        registry.register(
            "ferrolb_membership_local_health",
            "How much this speaker stretches its probe timeouts because it misses answers (1: healthy)",
            membership_health.clone(),
        );
        let membership_transitions = Family::<TransitionLabel, Gauge>::default();
        registry.register(
            "ferrolb_membership_transitions_total",
            "Members seen coming up, going down or leaving",
            membership_transitions.clone(),
        );
        let bgp_peers_unserved = Gauge::default();
        registry.register(
            "ferrolb_bgp_peers_unserved",
            "This node's BGPPeers it opens no session with (valid configuration it cannot serve; ConfigurationState and the peers' events say why)",
            bgp_peers_unserved.clone(),
        );
        let bgp_peers_served_in_part = Gauge::default();
        registry.register(
            "ferrolb_bgp_peers_served_in_part",
            "This node's BGPPeers served with less than asked, such as a family whose routes are not sent for want of a next hop of that family (ConfigurationState and the peers' events say why)",
            bgp_peers_served_in_part.clone(),
        );
        let bgp_prefixes_without_next_hop = Family::<PeerFamilyLabel, Gauge>::default();
        registry.register(
            "ferrolb_bgp_prefixes_without_next_hop",
            "Prefixes an established session carries the family of and does not send, for want of a next hop of that family (give the Node an address of that family, or the interface towards the peer one)",
            bgp_prefixes_without_next_hop.clone(),
        );
        let bgp_inbound_refused = Gauge::default();
        registry.register(
            "ferrolb_bgp_inbound_refused_total",
            "BGP connections to the listen port closed at once because they came from no configured peer",
            bgp_inbound_refused.clone(),
        );
        let unnumbered_adverts_received = Counter::default();
        registry.register(
            "ferrolb_bgp_unnumbered_router_adverts_received",
            "Router advertisements taken on the interfaces of unnumbered BGPPeers (their source is the peer's link-local address)",
            unnumbered_adverts_received.clone(),
        );
        let unnumbered_adverts_ignored = Counter::default();
        registry.register(
            "ferrolb_bgp_unnumbered_router_adverts_ignored",
            "ICMPv6 messages on the interfaces of unnumbered BGPPeers not taken as the peer's advertisement (undecodable, not from a link-local address, our own, a second router)",
            unnumbered_adverts_ignored.clone(),
        );
        let unnumbered_adverts_sent = Counter::default();
        registry.register(
            "ferrolb_bgp_unnumbered_router_adverts_sent",
            "Router advertisements (router lifetime 0) and solicitations sent on the interfaces of unnumbered BGPPeers",
            unnumbered_adverts_sent.clone(),
        );
        let unnumbered_interface_errors = Counter::default();
        registry.register(
            "ferrolb_bgp_unnumbered_interface_errors",
            "Failed attempts to use the interface of an unnumbered BGPPeer (it does not exist, or its ICMPv6 socket cannot be opened)",
            unnumbered_interface_errors.clone(),
        );
        Self {
            unnumbered_adverts_received,
            unnumbered_adverts_ignored,
            unnumbered_adverts_sent,
            unnumbered_interface_errors,
            bgp_inbound_refused,
            bgp_peers_unserved,
            bgp_peers_served_in_part,
            bgp_prefixes_without_next_hop,
            bfd_session_up,
            bfd_control_packet_input,
            bfd_control_packet_output,
            bfd_session_up_events,
            bfd_session_down_events,
            bfd_echo_packet_input,
            bfd_echo_packet_output,
            bfd_dropped,
            membership_members,
            membership_quorum,
            membership_dropped_bad_key,
            membership_dropped_replayed,
            membership_suspicions,
            membership_refutations,
            membership_health,
            membership_transitions,
            bgp_session_up,
            bgp_updates,
            bgp_announced_prefixes,
            bgp_pending_prefixes,
            speaker_announced,
            layer2_requests_received,
            layer2_responses_sent,
            layer2_gratuitous_sent,
            registry,
            updates,
            update_errors,
            config_loaded,
            config_stale,
            addresses_total,
            ipv4_addresses_total,
            ipv6_addresses_total,
            addresses_in_use,
            ipv4_addresses_in_use,
            ipv6_addresses_in_use,
            services_allocated,
            is_leader,
            source_errors,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    pub fn source_failed(&self) {
        self.source_errors.inc();
        self.update_errors.inc();
    }

    /// A configuration was accepted (`true`) or rejected with an older one kept (`false`).
    pub fn config_result(&self, accepted: bool) {
        self.updates.inc();
        if accepted {
            self.config_loaded.set(1);
            self.config_stale.set(0);
        } else {
            self.update_errors.inc();
            self.config_stale.set(1);
        }
    }

    /// Copies the data plane's per-IP counters.
    pub fn layer2_counters(&self, counters: &ferrolb_l2::Counters) {
        for (ip, c) in &counters.per_ip {
            let label = IpLabel { ip: ip.to_string() };
            let value = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            self.layer2_requests_received.get_or_create(&label).set(value(c.requests_received));
            self.layer2_responses_sent.get_or_create(&label).set(value(c.responses_sent));
            self.layer2_gratuitous_sent.get_or_create(&label).set(value(c.gratuitous_sent));
        }
    }

    /// Copies one BFD session's counters.
    pub fn bfd_counters(&self, label: &PeerLabel, c: &ferrolb_bfd::Counters) {
        let value = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.bfd_control_packet_input.get_or_create(label).set(value(c.control_packets_in));
        self.bfd_control_packet_output.get_or_create(label).set(value(c.control_packets_out));
        self.bfd_session_up_events.get_or_create(label).set(value(c.up_events));
        self.bfd_session_down_events.get_or_create(label).set(value(c.down_events));
        self.bfd_echo_packet_input.get_or_create(label).set(value(c.echo_packets_in));
        self.bfd_echo_packet_output.get_or_create(label).set(value(c.echo_packets_out));
    }

    /// Copies a BFD driver's drop counters (every session's, by reason).
    pub fn bfd_dropped(&self, dropped: &std::collections::BTreeMap<&'static str, u64>) {
        for (reason, count) in dropped {
            let label = ReasonLabel { reason: (*reason).to_owned() };
            self.bfd_dropped.get_or_create(&label).set(i64::try_from(*count).unwrap_or(i64::MAX));
        }
    }

    /// Copies the membership driver's counters.
    pub fn membership(&self, stats: &ferrolb_gossip::Stats) {
        let value = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.membership_dropped_bad_key.set(value(stats.counters.dropped_bad_key));
        self.membership_dropped_replayed.set(value(stats.counters.dropped_replayed));
        self.membership_suspicions.set(value(stats.counters.suspicions));
        self.membership_refutations.set(value(stats.counters.refutations));
        self.membership_health.set(i64::from(stats.health));
        for (kind, count) in [
            ("up", stats.counters.member_up),
            ("down", stats.counters.member_down),
            ("left", stats.counters.member_left),
        ] {
            self.membership_transitions.get_or_create(&TransitionLabel { kind: kind.into() }).set(value(count));
        }
    }

    /// Drops a peer's BGP series when its session is removed, as MetalLB does: a stale
    /// `session_up 1` for a peer that is gone would mislead every alert.
    pub fn forget_peer(&self, label: &PeerLabel) {
        self.bgp_session_up.remove(label);
        self.bgp_updates.remove(label);
        self.bgp_announced_prefixes.remove(label);
        self.bgp_pending_prefixes.remove(label);
        for family in [ferrolb_bgp::AfiSafi::IPV4_UNICAST, ferrolb_bgp::AfiSafi::IPV6_UNICAST] {
            self.bgp_prefixes_without_next_hop
                .remove(&PeerFamilyLabel { peer: label.peer.clone(), family: family.to_string() });
        }
    }

    /// Drops a BFD session's series when the peer no longer asks for BFD.
    pub fn forget_bfd_peer(&self, label: &PeerLabel) {
        for family in [
            &self.bfd_session_up,
            &self.bfd_control_packet_input,
            &self.bfd_control_packet_output,
            &self.bfd_session_up_events,
            &self.bfd_session_down_events,
            &self.bfd_echo_packet_input,
            &self.bfd_echo_packet_output,
        ] {
            family.remove(label);
        }
    }

    pub fn forget_pool(&self, pool: &str) {
        let label = PoolLabel { pool: pool.to_owned() };
        for family in [
            &self.addresses_total,
            &self.ipv4_addresses_total,
            &self.ipv6_addresses_total,
            &self.addresses_in_use,
            &self.ipv4_addresses_in_use,
            &self.ipv6_addresses_in_use,
            &self.services_allocated,
        ] {
            family.remove(&label);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
