//! What ferrolb's tests share, in one place: the hex of annotated wire fixtures, the BGP
//! messages several suites build alike, the YAML a user would apply (as builders), the
//! loaders of the `examples/` scenarios, the interface a Layer 2 test answers on, and
//! (feature `netns`) a scratch network namespace.
//!
//! Dev-only: no crate depends on it outside its tests, benches and fuzz targets.
#![forbid(unsafe_code)]

pub mod bgp;
pub mod examples;
pub mod hex;
pub mod interfaces;
pub mod manifests;
#[cfg(all(feature = "netns", target_os = "linux"))]
pub mod netns;

pub use hex::hex;
