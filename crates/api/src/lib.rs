//! The API surface ferrolb shares with MetalLB: the `metallb.io` resource types, the
//! Kubernetes objects both read, BGPPeer version conversion, and a loader that turns
//! multi-document YAML manifests into typed objects.
//!
//! By default this crate has no dependency on kube or k8s-openapi: the pure crates
//! (config, ipam, announce) build and test against these plain types, and only the binary's
//! Kubernetes source converts to and from the API server's representation. The `kube`
//! feature adds the kube wrapper types of the `metallb.io` kinds and the CRDs (`crds`).
#![forbid(unsafe_code)]

pub mod conversion;
pub mod core;
#[cfg(feature = "kube")]
pub mod crds;
pub mod documents;
pub mod files;
pub mod install;
pub mod manifest;
pub mod meta;
pub mod metallb;
pub mod objects;
pub mod report;
pub mod shared;
pub mod string_map;
pub mod touched;
pub mod vec_map;

pub use manifest::{LoadReport, ManifestError, load_str, load_value};
pub use meta::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
pub use objects::{
    EndpointSlice, EndpointSliceFields, Namespace, Node, Object, Resources, Secret, Service, ServiceFields,
};
pub use shared::Shared;
pub use string_map::StringMap;
pub use vec_map::{VecMap, VecSet};
