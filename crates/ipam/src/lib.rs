//! IP address management for the ferrolb controller (docs/compatibility.md §2-§3), pure: no I/O, no
//! clock, no Kubernetes client.
//!
//! [`Allocator`] holds the assignments and answers MetalLB's questions with MetalLB's
//! semantics and messages: [`Allocator::set_pools`] on every configuration change,
//! [`Allocator::reconcile`] per service event, [`Allocator::release_service`] on deletion,
//! [`Allocator::reconcile_all`] for a full reprocess. [`plan`] runs a whole reprocess from
//! scratch, as a restarted controller would, and is what `ferrolb plan` prints.
//!
//! Two deliberate differences (docs/compatibility.md §9.5, §9.6): equally good pools are tried in a fixed order
//! (priority, then name) instead of Go map order, and choosing an address costs O(log n)
//! in the number of allocations instead of a walk over the pool.
#![forbid(unsafe_code)]

mod allocator;
pub mod family;
mod plan;
mod reconcile;
pub mod service;
mod space;
mod stats;

pub use allocator::Allocator;
pub use family::{Family, Policy};
pub use plan::{ServiceResult, plan};
pub use reconcile::{Event, EventType, Outcome};
pub use service::{AllocKey, Port};
pub use stats::{Capacity, PoolCounters, PoolMetrics, capacity_of};
