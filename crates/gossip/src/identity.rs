//! Who a member is on the wire.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// A member's identity: its Kubernetes node name, the address peers reach it at, and a
/// generation that grows with every process start (and every rejoin after being declared
/// down). SWIM declares an identity down for good (§4.2: "dead" is final), so a restarted
/// or wrongly-evicted speaker comes back as a new identity at the same address, and the
/// higher generation wins the address (foca's `Identity::renew`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeId {
    pub(crate) addr: SocketAddr,
    pub(crate) name: String,
    pub(crate) generation: u64,
}

impl NodeId {
    /// The identity announced to a seed, whose name and generation are not known yet: foca
    /// accepts an announce addressed to any identity at its own address.
    pub(crate) fn seed(addr: SocketAddr) -> Self {
        Self { addr, name: String::new(), generation: 0 }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl foca::Identity for NodeId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Self { generation: self.generation.wrapping_add(1), ..self.clone() })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}
