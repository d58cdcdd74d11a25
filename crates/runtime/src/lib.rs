//! ferrolb's long-running roles as a library: the sources, the controller and the speaker,
//! and the wiring that runs them in one process.
//!
//! The binary (`crates/ferrolb`) parses its command line into a [`RuntimeConfig`] and calls
//! [`run`]; nothing here knows about the command line. Inside, one module per concern:
//!
//! - [`sources`]: where snapshots of the cluster come from: `dir` (a directory of manifests,
//!   with its state directory and controller lock) and `k8s` (the Kubernetes API).
//! - [`sink`]: where the roles write what they decided (the state directory or the API server).
//! - [`controller`] and [`speaker`]: each role is a pure reconcile core (snapshot in, effects
//!   out) and a thin executor that applies the effects; the speaker's executor owns its
//!   subsystems (Layer 2, BGP sessions, BFD, membership).
//! - [`observe`]: metrics and health endpoints; [`conditions`]: ConfigurationState.
//!
//! `docs/architecture.md` draws the crates and their dependencies; `docs/design.md` states
//! the rules (pure decisions, thin I/O).
#![forbid(unsafe_code)]

pub mod conditions;
pub mod config;
pub mod controller;
pub mod frr_stand_in;
pub mod observe;
mod process;
pub mod sink;
pub mod sources;
pub mod speaker;

pub use config::{Roles, RuntimeConfig, SourceSpec, WebhookMode};
pub use process::{run, run_until};
