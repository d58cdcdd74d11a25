//! BFD for the BGP peers that name a `bfdProfile`, in the `ferrolb-bfd` driver's terms: one
//! session per such peer on this node, with the profile's timers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferrolb_bfd::Profile;
use ferrolb_config::{BfdProfile, Config};

/// The driver's profile for a validated BFDProfile.
pub fn profile(p: &BfdProfile) -> Profile {
    Profile {
        receive_interval_ms: p.receive_interval,
        transmit_interval_ms: p.transmit_interval,
        detect_multiplier: u8::try_from(p.detect_multiplier).unwrap_or(u8::MAX),
        passive: p.passive_mode,
        minimum_ttl: u8::try_from(p.minimum_ttl).unwrap_or(u8::MAX),
    }
}

/// What one BFD session needs; a change restarts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub multihop: bool,
    pub profile: Profile,
}

/// The BFD sessions this node's peers ask for, by BGPPeer name (none for a peer this speaker
/// opens no BGP session with).
pub fn wanted(config: &Config, node: &str) -> BTreeMap<String, Wanted> {
    config
        .peers
        .iter()
        .filter(|p| p.nodes.contains(node))
        .filter_map(|p| {
            let name = p.bfd_profile.as_ref()?;
            let profile = config.bfd_profiles.iter().find(|b| &b.name == name)?;
            Some((
                p.name.clone(),
                Wanted {
                    peer: crate::sessions::dialable(p)?,
                    local: p.source_address,
                    multihop: p.ebgp_multi_hop,
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
        let sessions = wanted(&config, "node1");
        assert_eq!(sessions.keys().collect::<Vec<_>>(), ["with-bfd"]);
        let w = &sessions["with-bfd"];
        assert_eq!(w.peer, "172.30.0.1".parse::<IpAddr>().unwrap());
        assert!(w.multihop);
        assert_eq!(
            (w.profile.receive_interval_ms, w.profile.transmit_interval_ms, w.profile.detect_multiplier),
            (100, 200, 5)
        );
        assert!(wanted(&config, "node2").is_empty(), "a node the peer does not select");
    }
}
