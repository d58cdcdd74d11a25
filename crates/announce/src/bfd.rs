//! BFD for the BGP peers that name a `bfdProfile`, in the `ferrolb-bfd` driver's terms: one
//! session per such peer on this node, with the profile's timers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_bfd::Profile;
use ferrolb_config::{BfdProfile, Config, Peer};
use ipnet::IpNet;

/// The driver's profile for a validated BFDProfile.
pub fn profile(p: &BfdProfile) -> Profile {
    Profile {
        receive_interval_ms: p.receive_interval,
        transmit_interval_ms: p.transmit_interval,
        detect_multiplier: u8::try_from(p.detect_multiplier).unwrap_or(u8::MAX),
        passive: p.passive_mode,
        minimum_ttl: u8::try_from(p.minimum_ttl).unwrap_or(u8::MAX),
        echo_mode: p.echo_mode,
        echo_interval_ms: p.echo_interval,
    }
}

/// What one BFD session needs; a change restarts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub peer: IpAddr,
    /// The VRF the session runs in (its sockets bound to the VRF's device), as the BGP
    /// session's.
    pub vrf: Option<String>,
    pub local: Option<IpAddr>,
    pub multihop: bool,
    pub profile: Profile,
}

/// Whether `address` is on one of the networks this node is directly connected to.
pub fn on_connected_network(address: IpAddr, connected: &[IpNet]) -> bool {
    connected.iter().any(|net| net.contains(&address))
}

/// Whether BFD to `peer` at `address` is multi-hop (RFC 5883) rather than single-hop (RFC
/// 5881, TTL 255 both ways), as FRR decides it: multi-hop for an eBGP peer with
/// `ebgpMultiHop`, and for an iBGP peer that is not on a network connected to this node (a
/// route reflector behind a router); single-hop otherwise. `connected` is `None` when the
/// node's networks are not known: then only `ebgpMultiHop` counts.
pub fn multihop(peer: &Peer, address: IpAddr, connected: Option<&[IpNet]>) -> bool {
    let remote = connected.is_some_and(|nets| !on_connected_network(address, nets));
    peer.ebgp_multi_hop || (peer.is_ibgp() && remote)
}

/// The BFD sessions this node's peers ask for, by BGPPeer name (none for a peer this speaker
/// opens no BGP session with); `connected` as for [`multihop`], `devices` as for
/// [`crate::sessions::wanted_sessions`].
pub fn wanted(
    config: &Config,
    node: &str,
    connected: Option<&[IpNet]>,
    devices: crate::sessions::Devices<'_>,
) -> BTreeMap<String, Wanted> {
    config
        .peers
        .iter()
        .filter(|p| p.nodes.contains(node))
        .filter_map(|p| {
            let name = p.bfd_profile.as_ref()?;
            if !crate::sessions::vrf_present(p, devices) {
                return None;
            }
            let profile = config.bfd_profiles.iter().find(|b| &b.name == name)?;
            let address = crate::sessions::dialable(p)?;
            Some((
                p.name.clone(),
                Wanted {
                    peer: address,
                    vrf: p.vrf.clone(),
                    local: p.source_address,
                    multihop: multihop(p, address, connected),
                    profile: self::profile(profile),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_peers_of_this_node_that_name_a_known_profile_get_a_bfd_session() {
        let yaml = "apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 100, transmitInterval: 200, detectMultiplier: 5, echoMode: false}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: with-bfd, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1, bfdProfile: fast, ebgpMultiHop: true}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: without, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.2}
---
apiVersion: v1
kind: Node
metadata: {name: node1}
";
        let mut resources = ferrolb_api::Resources::default();
        ferrolb_api::load_str(yaml, "t", &mut resources).unwrap();
        let config = ferrolb_config::parse(&resources, &ferrolb_config::Options::default()).unwrap();
        let sessions = wanted(&config, "node1", None, None);
        assert_eq!(sessions.keys().collect::<Vec<_>>(), ["with-bfd"]);
        let w = &sessions["with-bfd"];
        assert_eq!(w.peer, "172.30.0.1".parse::<IpAddr>().unwrap());
        assert!(w.multihop);
        assert_eq!(
            (w.profile.receive_interval_ms, w.profile.transmit_interval_ms, w.profile.detect_multiplier),
            (100, 200, 5)
        );
        assert!(wanted(&config, "node2", None, None).is_empty(), "a node the peer does not select");
    }

    #[test]
    fn bfd_hops_are_decided_as_frr_decides_them() {
        let yaml = "apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: p, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1}
";
        let mut resources = ferrolb_api::Resources::default();
        ferrolb_api::load_str(yaml, "t", &mut resources).unwrap();
        let config = ferrolb_config::parse(&resources, &ferrolb_config::Options::default()).unwrap();
        let ebgp = config.peers[0].clone();
        let ebgp_multihop = Peer { ebgp_multi_hop: true, ..ebgp.clone() };
        let ibgp = Peer { peer_asn: ferrolb_config::PeerAsn::Fixed(64512), ..ebgp.clone() };
        let lan: Vec<IpNet> = vec!["172.30.0.0/24".parse().unwrap(), "fd00:30::/64".parse().unwrap()];
        let (near, far): (IpAddr, IpAddr) = ("172.30.0.1".parse().unwrap(), "10.9.9.9".parse().unwrap());
        // (peer, address, connected networks, multi-hop)
        let table: [(&Peer, IpAddr, Option<&[IpNet]>, bool); 8] = [
            (&ebgp, near, Some(&lan), false),
            (&ebgp, far, Some(&lan), false), // TTL 1: the BGP session cannot come up (a peer note says so)
            (&ebgp_multihop, near, Some(&lan), true),
            (&ebgp_multihop, far, Some(&lan), true),
            (&ibgp, near, Some(&lan), false),
            (&ibgp, far, Some(&lan), true), // a route reflector two hops away
            (&ibgp, far, None, false),      // networks unknown: only ebgpMultiHop counts
            (&ebgp_multihop, far, None, true),
        ];
        for (peer, address, connected, expected) in table {
            assert_eq!(multihop(peer, address, connected), expected, "{} {address} {connected:?}", peer.is_ibgp());
        }
    }
}
