//! BFD (Bidirectional Forwarding Detection, RFC 5880) for ferrolb's native BGP speaker, so a
//! BGPPeer with a `bfdProfile` (docs/compatibility.md §1.5, §1.6) loses its session as soon
//! as the forwarding path fails, not a hold time later.
//!
//! * [`packet`]: the Control packet codec and the reception checks of RFC 5880 §6.8.6,
//!   pure, never panicking, with a stable reason label per rejection.
//! * [`fsm`]: one session in Asynchronous mode, sans-IO (`process(Input) -> Vec<Output>`,
//!   timers as outputs): the RFC 5880 §6.2 state machine, timer negotiation with Poll
//!   Sequences, slow start, jitter, passive mode.
//! * [`echo`]: the Echo function's packets (RFC 5880 §6.4): ferrolb's echo payload and the
//!   Ethernet frame that carries it through the peer's forwarding plane, pure.
//! * [`Profile`]: a session's settings from its BFDProfile.
//! * `driver` (feature `driver`, default): the tokio task and UDP sockets for single-hop
//!   (RFC 5881, GTSM) and multi-hop (RFC 5883) sessions, and the AF_PACKET sockets echoes
//!   travel on.
//!
//! Authentication and Demand mode are not implemented; packets that carry authentication
//! are rejected, as RFC 5880 §6.8.6 requires when none is configured. The Echo function runs
//! on single-hop IPv4 sessions only; IPv6 and multi-hop sessions whose profile asks for it
//! run in Asynchronous mode alone.
#![forbid(unsafe_code)]

#[cfg(feature = "driver")]
pub mod driver;
pub mod echo;
pub mod fsm;
pub mod packet;
mod profile;

#[cfg(feature = "driver")]
pub use driver::{Bfd, BfdHandle, Counters, Error, SessionState};
pub use echo::{EchoDatagram, EchoError, EchoPayload};
pub use fsm::{Fsm, FsmConfig, Input, Output, Timer, Timers};
pub use packet::{ControlPacket, DecodeError, Diagnostic, State};
pub use profile::Profile;
