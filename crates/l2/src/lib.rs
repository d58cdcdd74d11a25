//! ferrolb's Layer 2 data plane: the speaker answers ARP (RFC 826) and IPv6 Neighbor
//! Discovery (RFC 4861) for the service IPs this node won, and announces takeovers with
//! gratuitous ARP and unsolicited Neighbor Advertisements, as MetalLB's speaker does
//! (docs/compatibility.md §4.2, §8.4).
//!
//! Layers, each testable alone (sans-IO, docs/design.md, Pure core, thin shell):
//! * codec: [`ethernet`], [`arp`], [`ndp`] parse and build frames; decoding never panics
//!   and reports a typed [`DecodeError`];
//! * decisions: [`eligibility`] (which interfaces get responders), [`responder`] (the
//!   announced-IP table and what to answer), [`gratuitous`] (burst timers as deadlines);
#![cfg_attr(feature = "driver", doc = "* I/O: [`driver`] moves frames between AF_PACKET sockets and the decisions;")]
#![cfg_attr(
    feature = "driver",
    doc = "  the system calls themselves live in `ferrolb-sys`, the one crate with `unsafe`."
)]
#![forbid(unsafe_code)]

pub mod arp;
pub mod eligibility;
pub mod error;
pub mod ethernet;
pub mod gratuitous;
pub mod ndp;
pub mod responder;
pub mod router_advert;

#[cfg(all(feature = "driver", target_os = "linux"))]
pub mod driver;
#[cfg(all(feature = "driver", target_os = "linux"))]
mod netlink;
#[cfg(all(feature = "driver", target_os = "linux"))]
use ferrolb_sys as sys;

pub use arp::{ArpOperation, ArpPacket};
pub use eligibility::{DEFAULT_EXCLUDED, Eligibility, Exclusion, InterfaceInfo, InterfaceSelection};
pub use error::DecodeError;
pub use ethernet::{EthernetFrame, MacAddr};
pub use gratuitous::{GratuitousConfig, GratuitousSchedule};
pub use ndp::{NdpMessage, NdpPacket, solicited_node};
pub use responder::{Announced, Counters, IpCounters, Membership, MembershipChange, Responder};
pub use router_advert::{LinkNeighbour, RouterAdvert};

#[cfg(all(feature = "driver", target_os = "linux"))]
pub use driver::{L2Announcer, L2Config, L2Error};
