//! metallb.io objects (plus Nodes, Namespaces and Secrets) into a validated [`Config`].
//!
//! Implements every configuration rule of docs/compatibility.md §1 as one pure
//! function: [`parse`]. The first violation rejects the whole configuration with a
//! [`ConfigError`] naming the object, the field and the rule; callers keep their last good
//! configuration (docs/compatibility.md §1.13). Inputs are processed sorted by name, so the result and
//! the error reported do not depend on the order objects were listed in.
//!
//! Nothing here is pairwise over all objects: overlaps are found by sorting, advertisements
//! reach pools through a label index, and LOCAL_PREF conflicts are looked for only among
//! advertisements that share a pool and an aggregation length.
#![forbid(unsafe_code)]

pub mod addresses;
pub mod community;
pub mod duration;
mod error;
pub mod localpref;
pub mod model;
mod parse;
pub mod selector;

pub use error::ConfigError;
pub use model::{
    BfdProfile, BgpAdvertisement, Config, L2Advertisement, Peer, PeerAsn, Pool, ServiceAllocation, WeightedNodes,
};
pub use parse::parse;
pub use selector::Selector;

/// The namespace MetalLB's configuration lives in unless told otherwise.
pub const DEFAULT_NAMESPACE: &str = "metallb-system";

/// Which part of the configuration a component reads (docs/compatibility.md §1.13).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Everything, as `ferrolb validate` and the webhooks check it.
    #[default]
    Full,
    /// Pools, communities and namespaces only: the controller never needs peers or
    /// advertisements, so a bad peer cannot stop allocation.
    Controller,
    /// A speaker: BGPPeers and BGPAdvertisements whose node selectors do not match this
    /// node are dropped before validation, so a bad peer only breaks the speakers it
    /// targets. L2Advertisements are kept whole: every speaker needs the full candidate set.
    Speaker { node: String },
}

/// How to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The only namespace metallb.io objects and password Secrets are read from.
    pub namespace: String,
    pub scope: Scope,
}

impl Default for Options {
    fn default() -> Self {
        Self { namespace: DEFAULT_NAMESPACE.to_owned(), scope: Scope::Full }
    }
}
