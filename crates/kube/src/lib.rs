//! The Kubernetes edge of ferrolb: the `k8s` source and everything it writes back.
//!
//! Everything here moves objects between the API server and the pure crates; nothing decides
//! what to allocate or announce. Writes are level-based: callers state the status they want,
//! and a writer converges the API server to it, retrying with backoff, so a lost response or
//! a 409 never loses or duplicates a status.

#[cfg(feature = "testing")]
pub mod scripted;

pub mod access_review;
pub mod events;
pub mod lease;
pub mod memberlist;
pub mod source;
pub mod status;
