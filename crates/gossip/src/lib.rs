//! Speaker membership: which speakers are alive, for the Layer 2 election
//! (docs/compatibility.md §4.2 step 5, §5) and for quorum fencing (docs/compatibility.md §9.11).
//!
//! - [`engine`]: the sans-IO SWIM engine with Lifeguard's refinements, tuned for sub-second
//!   detection; [`wire`] its messages.
//! - [`config`]: its timers and the detection-time formula.
//! - [`seal`]: datagram encryption and authentication; ferrolb speakers only talk to ferrolb
//!   speakers (no wire compatibility with Go memberlist).
//! - [`fence`]: the pure quorum rule; [`witness`]: fencing on evidence (heartbeats outside
//!   the gossip) rather than on absence.
//! - [`driver`] (feature `driver`): the tokio UDP driver and the view it publishes.
#![forbid(unsafe_code)]

mod broadcast;
pub mod config;
#[cfg(feature = "driver")]
pub mod driver;
pub mod engine;
pub mod fence;
mod health;
mod member;
pub mod seal;
pub mod wire;
pub mod witness;

pub use config::{DEFAULT_PORT, Timers, TimersError};
#[cfg(feature = "driver")]
pub use driver::{DriverConfig, DriverError, Membership, MembershipHandle, MembershipView, Stats};
pub use engine::{Boot, Counters, DropReason, Engine, EngineConfig, EngineError, Output, Timer};
pub use fence::{Fence, has_quorum};
pub use seal::{Key, KeyError, OpenError};
pub use witness::{FenceMode, GossipQuorum, Heartbeats, Renewals, Renewed, Witness, must_fence};
