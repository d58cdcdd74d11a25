//! The speaker's decisions (docs/compatibility.md §4): for every service and every node, whether the
//! node announces it by Layer 2 and by BGP, and if not, MetalLB's reason.
//!
//! Pure and deterministic: the input is a [`Cluster`] snapshot (configuration, Services,
//! EndpointSlices, Nodes, [`Liveness`]), the output plain values. The Layer 2 election is
//! computed over the whole cluster, so every node, deciding alone, names the same winner.
//! The drivers (ARP/NDP responders, BGP sessions) and `ferrolb plan` consume these values.
#![forbid(unsafe_code)]

pub mod bfd;
mod bgp;
pub mod claims;
mod cluster;
mod decide;
pub mod election;
pub mod endpoints;
mod layer2;
mod liveness;
mod plan;
mod reason;
pub mod sessions;

pub use bgp::{BgpDecision, PeerName, RouteAttrs, Routes};
pub use cluster::{ANNOTATION_ALLOW_SHARED_IP, Cluster, EXCLUDE_LB_LABEL, ServiceKey};
pub use decide::{NodeDecisions, ServiceDecision, Snapshot, bgp_tables, decide, decide_again, l2_owner};
pub use layer2::{Interfaces, L2Decision};
pub use liveness::Liveness;
pub use plan::{Announcement, Protocol, ServiceAnnouncements, Skipped, plan_announcements};
pub use reason::Reason;
