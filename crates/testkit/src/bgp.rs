//! BGP messages that several test suites build the same way: the crate's fixtures and
//! property tests, the session and FSM tests, the zettabgp cross-check and the fuzz seeds
//! (`fuzz/seeds/make_seeds.rs`).

use std::net::Ipv4Addr;

use ferrolb_bgp::{AfiSafi, AsPath, Capability, GracefulRestart, GracefulRestartFamily, Open, Origin, Update};

/// The OPEN of a MetalLB-like speaker, as the fixtures lay it out: hold time 90, BGP
/// Identifier 10.0.0.1, multiprotocol IPv4 and IPv6 unicast, and the 4-octet AS capability
/// carrying `asn` (My AS is AS_TRANS when `asn` does not fit 2 octets).
pub fn metallb_open(asn: u32) -> Open {
    Open::new(
        asn,
        90,
        Ipv4Addr::new(10, 0, 0, 1),
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::FourOctetAs(asn),
        ],
    )
}

/// A graceful restart capability's value (RFC 4724 §3) for IPv4 and IPv6 unicast, in that
/// order, with the F bits `forwarding` for those two families.
pub fn graceful_restart(
    restart_state: bool,
    notification: bool,
    restart_time: u16,
    forwarding: [bool; 2],
) -> GracefulRestart {
    let [v4, v6] = forwarding;
    GracefulRestart {
        restart_state,
        notification,
        restart_time,
        families: vec![
            GracefulRestartFamily { family: AfiSafi::IPV4_UNICAST, forwarding_state: v4 },
            GracefulRestartFamily { family: AfiSafi::IPV6_UNICAST, forwarding_state: v6 },
        ],
    }
}

/// Makes a generated UPDATE a valid one (RFC 4271 §5): an announcement (NLRI, or
/// MP_REACH_NLRI) carries ORIGIN and AS_PATH, given IGP and an empty path where missing, and
/// NLRI in the IPv4 field needs a NEXT_HOP, given 192.0.2.1. Without them the decoder rightly
/// answers treat-as-withdraw (RFC 7606 §3.d), so a round-trip property would not hold.
pub fn with_mandatory_attributes(mut update: Update) -> Update {
    let attributes = &mut update.attributes;
    if !update.nlri.is_empty() || attributes.mp_reach.is_some() {
        attributes.origin.get_or_insert(Origin::Igp);
        attributes.as_path.get_or_insert_with(AsPath::default);
    }
    if !update.nlri.is_empty() {
        attributes.next_hop.get_or_insert(Ipv4Addr::new(192, 0, 2, 1));
    }
    update
}
