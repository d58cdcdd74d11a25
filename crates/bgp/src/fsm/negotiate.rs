//! OPEN checks (RFC 4271 §6.2) and what the exchange settles: hold time (§4.2), 4-octet AS
//! (RFC 6793), address families (RFC 4760), route refresh (RFC 2918) and graceful restart
//! (RFC 4724).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{FsmConfig, PeerAs};
use crate::{AfiSafi, Capability, ExtendedNextHop, GracefulRestart, GracefulRestartFamily, MessageError, Open};

/// What both sides agreed on; the driver and the Adj-RIB-Out shape every UPDATE by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// Our AS, as sent in the OPEN.
    pub local_asn: u32,
    /// The peer's real AS (from its 4-octet AS capability when present).
    pub peer_asn: u32,
    pub peer_id: Ipv4Addr,
    /// iBGP: the peer is in our AS (RFC 4271 §5.1.2, §5.1.5 decide AS_PATH and LOCAL_PREF).
    pub internal: bool,
    /// The smaller of both hold times; `None` when it is zero (no hold timer, no
    /// keepalives, RFC 4271 §4.2).
    pub hold_time: Option<Duration>,
    pub keepalive_interval: Option<Duration>,
    /// Both sides sent the 4-octet AS capability (RFC 6793 §4.1).
    pub four_octet_as: bool,
    /// Families both sides offered; a peer with no multiprotocol capability at all speaks
    /// IPv4 unicast only (RFC 4760 §8, RFC 4271).
    pub families: Vec<AfiSafi>,
    /// The peer may send ROUTE-REFRESH; we offered it, and it offered it too.
    pub route_refresh: bool,
    /// Both sides offered graceful restart (RFC 4724 §3): a connection we close without a
    /// NOTIFICATION leaves our routes with the peer, as stale, for our Restart Time. The
    /// peer's capability (its own restart time and families) is in `peer_open`.
    pub graceful_restart: bool,
    /// IPv4 unicast routes go with an IPv6 next hop in MP_REACH_NLRI (RFC 8950 §4): we
    /// offered the Extended Next Hop Encoding for them and so did the peer.
    pub extended_next_hop: bool,
    pub peer_open: Open,
}

impl Negotiated {
    pub fn has_family(&self, family: AfiSafi) -> bool {
        self.families.contains(&family)
    }
}

/// The longest Restart Time the 12-bit field holds (RFC 4724 §3).
pub const MAX_RESTART_TIME: u16 = 0x0fff;

/// `restarting` is the R bit of the graceful restart capability.
pub(super) fn capabilities(config: &FsmConfig, restarting: bool) -> Vec<Capability> {
    let mut caps: Vec<Capability> = config.families.iter().map(|&f| Capability::Multiprotocol(f)).collect();
    if config.extended_next_hop && config.families.contains(&AfiSafi::IPV4_UNICAST) {
        caps.push(Capability::ExtendedNextHop(vec![ExtendedNextHop::IPV4_UNICAST_OVER_IPV6]));
    }
    caps.push(Capability::RouteRefresh);
    if let Some(restart_time) = config.graceful_restart {
        let restart_time = u16::try_from(restart_time.as_secs()).unwrap_or(u16::MAX).min(MAX_RESTART_TIME);
        caps.push(Capability::GracefulRestart(GracefulRestart {
            restart_state: restarting,
            // RFC 8538 is not implemented: a NOTIFICATION ends graceful restart.
            notification: false,
            restart_time,
            // The node's data path is the kernel's and survives a speaker restart, so
            // forwarding state is preserved for every family we speak.
            families: config
                .families
                .iter()
                .map(|&family| GracefulRestartFamily { family, forwarding_state: true })
                .collect(),
        }));
    }
    caps.push(Capability::FourOctetAs(config.local_asn));
    caps
}

/// Checks the peer's OPEN in the order RFC 4271 §6.2 lists the errors, then negotiates.
/// The decoder has already rejected a wrong version, zero AS or identifier and a hold
/// time of 1 or 2 s; they are checked again here because an [`Open`] can be built in
/// memory.
pub(super) fn check_and_negotiate(
    config: &FsmConfig,
    open: &Open,
    local: SocketAddr,
    remote: SocketAddr,
) -> Result<Negotiated, MessageError> {
    let peer_asn = open.asn();
    let as_ok = peer_asn != 0
        && match config.peer_asn {
            PeerAs::Fixed(want) => peer_asn == want,
            PeerAs::Internal => peer_asn == config.local_asn,
            PeerAs::External => peer_asn != config.local_asn,
        };
    if !as_ok {
        return Err(MessageError::BadPeerAs { asn: peer_asn });
    }
    // RFC 6286 §2.2: zero is never valid; an iBGP peer must not share our identifier.
    if open.bgp_id.is_unspecified() || (peer_asn == config.local_asn && open.bgp_id == config.router_id) {
        return Err(MessageError::BadBgpIdentifier { id: open.bgp_id });
    }
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(MessageError::UnacceptableHoldTime { hold_time: open.hold_time });
    }

    let hold_secs = config.hold_time_secs().min(open.hold_time);
    let hold_time = (hold_secs > 0).then(|| Duration::from_secs(u64::from(hold_secs)));
    let keepalive_interval = hold_time.map(|hold| {
        let third = hold / 3;
        config.keepalive_time.filter(|k| !k.is_zero()).map_or(third, |k| k.min(third))
    });

    let peer_offers_mp = open.capabilities.iter().any(|c| matches!(c, Capability::Multiprotocol(_)));
    let families = config
        .families
        .iter()
        .copied()
        .filter(|&f| if peer_offers_mp { open.supports_family(f) } else { f == AfiSafi::IPV4_UNICAST })
        .collect();

    Ok(Negotiated {
        local,
        remote,
        local_asn: config.local_asn,
        peer_asn,
        peer_id: open.bgp_id,
        internal: peer_asn == config.local_asn,
        hold_time,
        keepalive_interval,
        four_octet_as: open.four_octet_as().is_some(),
        families,
        route_refresh: open.supports_route_refresh(),
        graceful_restart: config.graceful_restart.is_some() && open.graceful_restart().is_some(),
        extended_next_hop: extends_next_hop(config, open),
        peer_open: open.clone(),
    })
}

/// RFC 8950 §4: IPv4 unicast with an IPv6 next hop only when both sides offered that pair
/// (a capability is only in force when both advertise it, RFC 5492 §3).
pub(super) fn extends_next_hop(config: &FsmConfig, open: &Open) -> bool {
    config.extended_next_hop
        && config.families.contains(&AfiSafi::IPV4_UNICAST)
        && open.supports_extended_next_hop(ExtendedNextHop::IPV4_UNICAST_OVER_IPV6)
}
