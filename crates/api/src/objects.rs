//! Typed objects and the bundle of everything ferrolb reads from a cluster or a directory.

use serde::{Deserialize, Serialize};

use crate::core::{Endpoint, NodeSpec, NodeStatus, SecretBody, ServiceSpec, ServiceStatus};
use crate::meta::ObjectMeta;
use crate::metallb::{
    BFDProfileSpec, BGPAdvertisementSpec, BGPPeerSpec, CommunitySpec, IPAddressPoolSpec, L2AdvertisementSpec,
};
use crate::shared::Shared;

/// A metallb.io configuration object: metadata and spec. Status is never an input.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object<S> {
    pub metadata: ObjectMeta,
    pub spec: S,
}

impl<S> Object<S> {
    pub fn new(metadata: ObjectMeta, spec: S) -> Self {
        Self { metadata, spec }
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}

/// `v1.Node`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: NodeSpec,
    #[serde(default)]
    pub status: NodeStatus,
}

impl Node {
    /// True when the node carries condition `NetworkUnavailable=True`.
    pub fn network_unavailable(&self) -> bool {
        self.status.conditions.iter().any(|c| c.type_ == "NetworkUnavailable" && c.status == "True")
    }
}

/// `v1.Namespace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub metadata: ObjectMeta,
}

/// `v1.Secret`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub metadata: ObjectMeta,
    #[serde(flatten)]
    pub body: SecretBody,
}

/// `v1.Service`, held once by every snapshot that has it and copied on write ([`Shared`]).
pub type Service = Shared<ServiceFields>;

/// The fields of a `v1.Service` ferrolb reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceFields {
    pub metadata: ObjectMeta,
    /// Shared on its own: what the `dir:` source writes into a Service (its status and the
    /// pool annotation, from the state directory) copies the metadata and status only, not
    /// the spec, the larger part (about half of the 800 bytes a copy cost).
    #[serde(default)]
    pub spec: Shared<ServiceSpec>,
    #[serde(default)]
    pub status: ServiceStatus,
}

impl ServiceFields {
    /// The non-empty `status.loadBalancer.ingress[].ip` texts, in order: what the controller
    /// handed to the speakers.
    pub fn ingress_ips(&self) -> impl Iterator<Item = &str> {
        self.status.load_balancer.ingress.iter().filter_map(|i| i.ip.as_deref()).filter(|ip| !ip.is_empty())
    }
}

/// `discovery.k8s.io/v1.EndpointSlice`, shared as [`Service`] is.
pub type EndpointSlice = Shared<EndpointSliceFields>;

/// The fields of a `discovery.k8s.io/v1.EndpointSlice` ferrolb reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSliceFields {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub address_type: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

impl EndpointSliceFields {
    /// The service this slice belongs to, from the `kubernetes.io/service-name` label.
    pub fn service_name(&self) -> Option<&str> {
        self.metadata.labels.get("kubernetes.io/service-name").map(String::as_str)
    }
}

/// Every object ferrolb reads, as a cluster or a manifest directory holds them.
///
/// BGPPeers are stored in the v1beta2 shape whatever version they were written in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub ip_address_pools: Vec<Object<IPAddressPoolSpec>>,
    pub l2_advertisements: Vec<Object<L2AdvertisementSpec>>,
    pub bgp_advertisements: Vec<Object<BGPAdvertisementSpec>>,
    pub bgp_peers: Vec<Object<BGPPeerSpec>>,
    pub bfd_profiles: Vec<Object<BFDProfileSpec>>,
    pub communities: Vec<Object<CommunitySpec>>,
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub secrets: Vec<Secret>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
}

impl Resources {
    /// Drops unused capacity. A store holding one object per `Resources` (the `k8s` source's
    /// watch stores) would otherwise keep room for four of each.
    pub fn shrink_to_fit(&mut self) {
        self.ip_address_pools.shrink_to_fit();
        self.l2_advertisements.shrink_to_fit();
        self.bgp_advertisements.shrink_to_fit();
        self.bgp_peers.shrink_to_fit();
        self.bfd_profiles.shrink_to_fit();
        self.communities.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.namespaces.shrink_to_fit();
        self.secrets.shrink_to_fit();
        self.services.shrink_to_fit();
        self.endpoint_slices.shrink_to_fit();
    }

    /// Appends every object of `other`.
    /// How many objects of each kind, in field order: what [`Self::reserve_exact`] takes.
    pub fn lens(&self) -> [usize; 11] {
        [
            self.ip_address_pools.len(),
            self.l2_advertisements.len(),
            self.bgp_advertisements.len(),
            self.bgp_peers.len(),
            self.bfd_profiles.len(),
            self.communities.len(),
            self.nodes.len(),
            self.namespaces.len(),
            self.secrets.len(),
            self.services.len(),
            self.endpoint_slices.len(),
        ]
    }

    /// Room for `more` objects of each kind ([`Self::lens`]'s order), exactly: a snapshot
    /// put together from many small parts would otherwise grow each list by doubling, and
    /// at its peak hold half as much again as it needs.
    pub fn reserve_exact(&mut self, more: [usize; 11]) {
        self.ip_address_pools.reserve_exact(more[0]);
        self.l2_advertisements.reserve_exact(more[1]);
        self.bgp_advertisements.reserve_exact(more[2]);
        self.bgp_peers.reserve_exact(more[3]);
        self.bfd_profiles.reserve_exact(more[4]);
        self.communities.reserve_exact(more[5]);
        self.nodes.reserve_exact(more[6]);
        self.namespaces.reserve_exact(more[7]);
        self.secrets.reserve_exact(more[8]);
        self.services.reserve_exact(more[9]);
        self.endpoint_slices.reserve_exact(more[10]);
    }

    pub fn extend(&mut self, other: Resources) {
        self.ip_address_pools.extend(other.ip_address_pools);
        self.l2_advertisements.extend(other.l2_advertisements);
        self.bgp_advertisements.extend(other.bgp_advertisements);
        self.bgp_peers.extend(other.bgp_peers);
        self.bfd_profiles.extend(other.bfd_profiles);
        self.communities.extend(other.communities);
        self.nodes.extend(other.nodes);
        self.namespaces.extend(other.namespaces);
        self.secrets.extend(other.secrets);
        self.services.extend(other.services);
        self.endpoint_slices.extend(other.endpoint_slices);
    }
}
