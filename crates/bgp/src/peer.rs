//! A BGPPeer as one session sees it, after config parsing (docs/compatibility.md §1.5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::AfiSafi;
use crate::fsm::{DEFAULT_CONNECT_TIME, FsmConfig, PeerAs};

/// Everything a session needs to dial and speak to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    /// BGPPeer name, for logs.
    pub name: String,
    /// The AS we present (`localASN` if set, else `myASN`).
    pub local_asn: u32,
    pub peer_asn: PeerAs,
    pub address: IpAddr,
    pub port: u16,
    /// Bound before connecting; must be a local address.
    pub source_address: Option<IpAddr>,
    /// The device the socket is bound to before connecting (SO_BINDTODEVICE): a Linux VRF's
    /// master device, so that the session is routed in that VRF (`BGPPeer.spec.vrf`).
    pub device: Option<String>,
    pub router_id: Ipv4Addr,
    /// 90 s when unset in config (MetalLB's native default).
    pub hold_time: Duration,
    pub keepalive_time: Option<Duration>,
    pub connect_time: Option<Duration>,
    /// TCP-MD5 key (RFC 2385), at most 80 octets.
    pub password: Option<String>,
    /// eBGP only: TTL 255 when set, else 1 so the peer must be directly connected
    /// (RFC 4271 §5.1.3's single-hop default, as FRR and BIRD do).
    pub ebgp_multihop: bool,
    /// NEXT_HOP of IPv4 routes when the session runs over IPv6; unset, the first IPv4
    /// address of the session's interface.
    pub ipv4_next_hop: Option<Ipv4Addr>,
    /// Global IPv6 next hop of IPv6 routes when the session runs over IPv4; unset, the first
    /// global IPv6 address of the session's interface.
    pub ipv6_next_hop: Option<Ipv6Addr>,
    /// Graceful restart (RFC 4724, `enableGracefulRestart`): the Restart Time we advertise
    /// (whole seconds, at most 4095; longer is sent as 4095). Our OPEN then carries the
    /// capability with the F bit for IPv4 and IPv6 unicast and, until the first session is
    /// established, the R bit; [`crate::Session::shutdown_graceful`] closes without a CEASE.
    /// `None` (the default): not offered.
    pub graceful_restart: Option<Duration>,
    /// The address families offered in our OPEN (RFC 4760 multiprotocol capabilities);
    /// routes of a family the session does not carry are held back. Which families a
    /// BGPPeer gets is the configuration's decision (`dualStackAddressFamily`); this crate
    /// only carries them out.
    pub families: Vec<AfiSafi>,
    /// BGP unnumbered (`BGPPeer.spec.interface`): the session runs over IPv6 link-local on
    /// this interface, to the neighbour learnt there from its router advertisements
    /// (`address` is unspecified until then), and IPv4 routes go with an IPv6 next hop
    /// (RFC 8950).
    pub interface: Option<String>,
}

impl PeerSettings {
    /// Port 179, 90 s hold, IPv4 and IPv6 unicast offered, everything optional unset.
    pub fn new(
        name: impl Into<String>,
        local_asn: u32,
        peer_asn: PeerAs,
        address: IpAddr,
        router_id: Ipv4Addr,
    ) -> Self {
        Self {
            name: name.into(),
            local_asn,
            peer_asn,
            address,
            port: 179,
            source_address: None,
            device: None,
            router_id,
            hold_time: Duration::from_secs(90),
            keepalive_time: None,
            connect_time: None,
            password: None,
            ebgp_multihop: false,
            ipv4_next_hop: None,
            ipv6_next_hop: None,
            graceful_restart: None,
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            interface: None,
        }
    }

    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// `"addr:port"` (`"[v6]:port"`), MetalLB's `peer` metric label; `"IFNAME:port"` for an
    /// unnumbered peer, whose address is learnt (and may change) while the session lives.
    pub fn peer_label(&self) -> String {
        match &self.interface {
            Some(interface) => format!("{interface}:{}", self.port),
            None => self.peer_addr().to_string(),
        }
    }

    /// Whether the session is eBGP as far as configuration tells: a fixed peer AS other
    /// than ours, or dynamic external.
    pub fn is_external(&self) -> bool {
        match self.peer_asn {
            PeerAs::Fixed(asn) => asn != self.local_asn,
            PeerAs::Internal => false,
            PeerAs::External => true,
        }
    }

    pub fn fsm_config(&self) -> FsmConfig {
        let mut config = FsmConfig::new(self.local_asn, self.peer_asn, self.router_id);
        config.hold_time = self.hold_time;
        config.keepalive_time = self.keepalive_time;
        config.connect_time = self.connect_time.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_CONNECT_TIME);
        config.graceful_restart = self.graceful_restart;
        config.families = self.families.clone();
        config.extended_next_hop = self.interface.is_some();
        config
    }
}
