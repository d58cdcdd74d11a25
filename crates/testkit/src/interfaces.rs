//! The interface Layer 2 tests answer on: `eth0`, up, broadcast, ARP on, with a link-local
//! address, as a node's uplink looks to the responder.

use std::net::Ipv6Addr;

use ferrolb_l2::{InterfaceInfo, MacAddr};

/// The node's MAC on `eth0`.
pub const ETH0_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 0x11]);

/// `eth0`, index 2, [`ETH0_MAC`], link-local `fe80::11`.
pub fn eth0() -> InterfaceInfo {
    InterfaceInfo {
        name: "eth0".to_string(),
        index: 2,
        mac: ETH0_MAC,
        up: true,
        broadcast: true,
        noarp: false,
        has_master: false,
        link_local: Some(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11)),
    }
}
