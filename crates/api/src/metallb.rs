//! The `metallb.io` kinds, field for field as MetalLB serves them (docs/compatibility.md §1).
//!
//! Specs reject unknown fields: on a cluster the API server would refuse them (kubectl's
//! strict field validation), and in a `dir:` source a misspelt `autoassign` silently ignored
//! is exactly the kind of surprise ferrolb exists to remove. Optional scalars stay `Option`
//! where MetalLB distinguishes "unset" from a zero value.
//!
//! The `#[schemars(...)]` attributes carry MetalLB's CRD schema rules (required fields,
//! defaults, ranges, enums, CEL rules), so the CRDs ferrolb installs (`crate::crds`, feature
//! `kube`) enforce on the API server what MetalLB's do. With the `kube` feature each spec
//! also derives its kube wrapper type (`IPAddressPool`, `BGPPeer`, ...); those derives allow
//! `clippy::duplicated_attributes` because every printer column repeats its `type_`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{Condition, LabelSelector};

/// The API group of every kind in this module.
pub const GROUP: &str = "metallb.io";

/// `IPAddressPool.spec` (v1beta1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "IPAddressPool",
        plural = "ipaddresspools",
        namespaced,
        status = "IPAddressPoolStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "IPAddressPool represents a pool of IP addresses that can be allocated to LoadBalancer services.",
        printcolumn(name = "Auto Assign", type_ = "boolean", json_path = ".spec.autoAssign"),
        printcolumn(name = "Avoid Buggy IPs", type_ = "boolean", json_path = ".spec.avoidBuggyIPs"),
        printcolumn(name = "Addresses", type_ = "string", json_path = ".spec.addresses")
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("required" = ["addresses"]))]
pub struct IPAddressPoolSpec {
    /// CIDRs (`10.0.0.0/24`) or ranges (`10.0.0.10-10.0.0.20`) handed out to services.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub addresses: Vec<String>,
    /// Whether the pool is used for automatic allocation; unset means true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub auto_assign: Option<bool>,
    /// Never hand out IPv4 addresses ending in .0 or .255.
    #[serde(default, rename = "avoidBuggyIPs")]
    pub avoid_buggy_ips: bool,
    /// Restricts the pool to some namespaces or services and sets its priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_allocation: Option<ServiceAllocation>,
}

/// `IPAddressPool.spec.serviceAllocation`: restricts and prioritises a pool.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAllocation {
    /// Lower is preferred; 0 or unset is tried after every positive priority.
    #[serde(default)]
    pub priority: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

/// `IPAddressPool.status`, written by the controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IPAddressPoolStatus {
    #[serde(rename = "assignedIPv4")]
    pub assigned_ipv4: i64,
    #[serde(rename = "assignedIPv6")]
    pub assigned_ipv6: i64,
    #[serde(rename = "availableIPv4")]
    pub available_ipv4: i64,
    #[serde(rename = "availableIPv6")]
    pub available_ipv6: i64,
}

/// `L2Advertisement.spec` (v1beta1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "L2Advertisement",
        plural = "l2advertisements",
        namespaced,
        status = "EmptyStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "L2Advertisement allows to advertise the LoadBalancer IPs provided by the selected pools via L2.",
        printcolumn(name = "IPAddressPools", type_ = "string", json_path = ".spec.ipAddressPools"),
        printcolumn(name = "IPAddressPool Selectors", type_ = "string", json_path = ".spec.ipAddressPoolSelectors"),
        printcolumn(name = "Interfaces", type_ = "string", json_path = ".spec.interfaces"),
        printcolumn(name = "Node Selectors", type_ = "string", json_path = ".spec.nodeSelectors", priority = 10)
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L2AdvertisementSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred_node_selectors: Vec<PreferredNodeSelector>,
}

/// A weighted soft preference for the Layer 2 election.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferredNodeSelector {
    /// 1..=100.
    #[schemars(range(min = 1, max = 100))]
    pub weight: i32,
    #[serde(default)]
    pub preference: LabelSelector,
}

/// `BGPAdvertisement.spec` (v1beta1).
///
/// Selecting services while aggregating would announce one aggregate on behalf of services
/// that are not selected, hence the CEL rule (docs/compatibility.md §1.4).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "BGPAdvertisement",
        plural = "bgpadvertisements",
        namespaced,
        status = "EmptyStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "BGPAdvertisement allows to advertise the IPs coming from the selected IPAddressPools via BGP, setting the parameters of the BGP Advertisement.",
        printcolumn(name = "IPAddressPools", type_ = "string", json_path = ".spec.ipAddressPools"),
        printcolumn(name = "IPAddressPool Selectors", type_ = "string", json_path = ".spec.ipAddressPoolSelectors"),
        printcolumn(name = "Peers", type_ = "string", json_path = ".spec.peers"),
        printcolumn(name = "Node Selectors", type_ = "string", json_path = ".spec.nodeSelectors", priority = 10)
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    description = "How the IPs of the selected pools are advertised over BGP. serviceSelectors cannot be combined with a non-default aggregationLength or aggregationLengthV6."
)]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.serviceSelectors) || size(self.serviceSelectors) == 0 || ((!has(self.aggregationLength) || self.aggregationLength == 32) && (!has(self.aggregationLengthV6) || self.aggregationLengthV6 == 128))",
    "message": "serviceSelectors and aggregationLength(V6) are mutually exclusive"
}]))]
pub struct BGPAdvertisementSpec {
    /// IPv4 prefix length each address is masked to; unset means 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = 32))]
    pub aggregation_length: Option<i32>,
    /// IPv6 prefix length each address is masked to; unset means 128.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "aggregationLengthV6")]
    #[schemars(extend("default" = 128))]
    pub aggregation_length_v6: Option<i32>,
    /// LOCAL_PREF for iBGP peers; 0 means not set.
    #[serde(default)]
    pub local_pref: u32,
    /// `A:B`, `large:A:B:C` or the name of a Community alias.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_address_pool_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    /// BGPPeer object names; empty means every peer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_selectors: Vec<LabelSelector>,
}

/// `BGPPeer.spec` in the storage version, v1beta2.
///
/// The v1beta1 schema is served from the same CRD ([`v1beta1`]); the API server converts
/// between the two through the controller's `/convert` webhook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta2",
        kind = "BGPPeer",
        plural = "bgppeers",
        namespaced,
        status = "EmptyStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "BGPPeer is the Schema for the peers API.",
        printcolumn(name = "Address", type_ = "string", json_path = ".spec.peerAddress"),
        printcolumn(name = "ASN", type_ = "string", json_path = ".spec.peerASN"),
        printcolumn(name = "BFD Profile", type_ = "string", json_path = ".spec.bfdProfile"),
        printcolumn(name = "Multi Hops", type_ = "string", json_path = ".spec.ebgpMultiHop")
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(description = "A BGP session opened from the selected nodes.")]
#[schemars(extend("required" = ["myASN"]))]
pub struct BGPPeerSpec {
    /// AS number of the local end of the session.
    #[serde(default, rename = "myASN")]
    pub my_asn: u32,
    /// AS number expected from the peer; exactly one of `peerASN` and `dynamicASN` is set.
    #[serde(default, rename = "peerASN")]
    pub peer_asn: u32,
    /// `internal` or `external`; empty when `peerASN` is set.
    #[serde(default, rename = "dynamicASN", skip_serializing_if = "String::is_empty")]
    #[schemars(extend("enum" = ["internal", "external"]))]
    pub dynamic_asn: String,
    /// The ASN presented to the peer instead of `myASN`.
    #[serde(default, rename = "localASN", skip_serializing_if = "is_zero")]
    #[schemars(range(min = 1, max = 4_294_967_295_u32))]
    pub local_asn: u32,
    /// Address to dial; exactly one of `peerAddress` and `interface` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub peer_address: String,
    /// BGP unnumbered over this interface: IPv6 link-local, the neighbour learnt from its
    /// router advertisements, IPv4 routes with an IPv6 next hop (RFC 8950).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface: String,
    /// Source address of the session; must exist on a local interface.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_address: String,
    /// Unset means 179.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 16384), extend("default" = 179))]
    pub peer_port: Option<u16>,
    /// Requested hold time (RFC 4271 §4.2), a Go duration such as `90s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_time: Option<String>,
    /// Requested keepalive interval (RFC 4271 §4.4), a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keepalive_time: Option<String>,
    /// Time between connection attempts (RFC 4271 ConnectRetryTime), a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [
        {
            "rule": "duration(self).getSeconds() >= 1 && duration(self).getSeconds() <= 65535",
            "message": "connect time should be between 1 seconds to 65535"
        },
        {
            "rule": "duration(self).getMilliseconds() % 1000 == 0",
            "message": "connect time should contain a whole number of seconds"
        }
    ]))]
    pub connect_time: Option<String>,
    #[serde(default, rename = "routerID", skip_serializing_if = "String::is_empty")]
    pub router_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<SecretReference>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bfd_profile: String,
    /// Immutable: changing it needs the session torn down (RFC 4724 capability).
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "EnableGracefulRestart cannot be changed after creation"
    }]))]
    pub enable_graceful_restart: bool,
    #[serde(default)]
    pub ebgp_multi_hop: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vrf: String,
    #[serde(default, rename = "disableMP")]
    pub disable_mp: bool,
    #[serde(default)]
    pub dual_stack_address_family: bool,
}

/// `core/v1.SecretReference`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

pub use v1beta1::{BGPPeerV1Beta1Spec, LegacyMatchExpression, LegacyNodeSelector};

/// The deprecated `metallb.io/v1beta1` BGPPeer, in its own module so that its kube wrapper
/// type is `v1beta1::BGPPeer`, beside the storage version's `BGPPeer`.
pub mod v1beta1 {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// `BGPPeer.spec` in the deprecated v1beta1, still served and converted on read.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[cfg_attr(
        feature = "kube",
        derive(kube::CustomResource),
        allow(clippy::duplicated_attributes),
        kube(
            group = "metallb.io",
            version = "v1beta1",
            kind = "BGPPeer",
            plural = "bgppeers",
            namespaced,
            status = "super::EmptyStatus",
            derive = "PartialEq",
            derive = "Default",
            served = true,
            storage = false,
            deprecated = "v1beta1 is deprecated, please use v1beta2",
            doc = "BGPPeer is the Schema for the peers API.",
            printcolumn(name = "Address", type_ = "string", json_path = ".spec.peerAddress"),
            printcolumn(name = "ASN", type_ = "string", json_path = ".spec.peerASN"),
            printcolumn(name = "BFD Profile", type_ = "string", json_path = ".spec.bfdProfile"),
            printcolumn(name = "Multi Hops", type_ = "string", json_path = ".spec.ebgpMultiHop")
        )
    )]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[schemars(extend("required" = ["myASN", "peerASN", "peerAddress"]))]
    pub struct BGPPeerV1Beta1Spec {
        /// AS number of the local end of the session.
        #[serde(default, rename = "myASN")]
        pub my_asn: u32,
        /// AS number expected from the peer.
        #[serde(default, rename = "peerASN")]
        pub peer_asn: u32,
        /// Address to dial.
        #[serde(default)]
        pub peer_address: String,
        /// Source address of the session.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub source_address: String,
        /// Port to dial; v1beta1 has no default and allowed 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(min = 0, max = 16384))]
        pub peer_port: Option<u16>,
        /// Requested hold time (RFC 4271 §4.2), a Go duration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub hold_time: Option<String>,
        /// Requested keepalive interval (RFC 4271 §4.4), a Go duration.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub keepalive_time: Option<String>,
        #[serde(default, rename = "routerID", skip_serializing_if = "String::is_empty")]
        pub router_id: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub node_selectors: Vec<LegacyNodeSelector>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub password: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub bfd_profile: String,
        #[serde(default)]
        pub ebgp_multi_hop: bool,
    }

    /// The v1beta1 node selector, a predecessor of `metav1.LabelSelector`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct LegacyNodeSelector {
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        pub match_labels: std::collections::BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub match_expressions: Vec<LegacyMatchExpression>,
    }

    /// A v1beta1 match expression; `values` must not be empty.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct LegacyMatchExpression {
        pub key: String,
        pub operator: String,
        #[schemars(length(min = 1))]
        pub values: Vec<String>,
    }
}

/// `BFDProfile.spec` (v1beta1). Every field is optional: unset means the protocol default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "BFDProfile",
        plural = "bfdprofiles",
        namespaced,
        status = "EmptyStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "BFDProfile represents the settings of the bfd session that can be optionally associated with a BGP session.",
        printcolumn(name = "Passive Mode", type_ = "boolean", json_path = ".spec.passiveMode"),
        printcolumn(name = "Transmit Interval", type_ = "integer", json_path = ".spec.transmitInterval"),
        printcolumn(name = "Receive Interval", type_ = "integer", json_path = ".spec.receiveInterval"),
        printcolumn(name = "Multiplier", type_ = "integer", json_path = ".spec.detectMultiplier")
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BFDProfileSpec {
    /// Milliseconds, 10..=60000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub receive_interval: Option<u32>,
    /// Milliseconds, 10..=60000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub transmit_interval: Option<u32>,
    /// 2..=255.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 2, max = 255))]
    pub detect_multiplier: Option<u32>,
    /// Milliseconds, 10..=60000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 60000))]
    pub echo_interval: Option<u32>,
    /// Echo packets (RFC 5880 §6.4); not allowed on peers that receive IPv6 prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_mode: Option<bool>,
    /// Wait for the peer to start the session instead of sending control packets first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_mode: Option<bool>,
    /// 1..=254, multi-hop sessions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 254))]
    pub minimum_ttl: Option<u32>,
}

/// `Community.spec` (v1beta1): a table of named community values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "Community",
        plural = "communities",
        namespaced,
        status = "EmptyStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "Community is a collection of aliases for communities. Users can define named aliases to be used in the BGPAdvertisement."
    )
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommunitySpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<CommunityAlias>,
}

/// One alias: `name` stands for `value` in BGPAdvertisements.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommunityAlias {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// `ServiceL2Status.status`: which node answers ARP/NDP for a service.
///
/// The identifying fields are immutable: a different node or service is a different object
/// (the speakers delete and recreate rather than retarget one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceL2StatusStatus {
    /// The node that answers ARP/NDP for the service.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub node: String,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub service_name: String,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub service_namespace: String,
    /// Listed only when the announcing advertisement restricts interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<InterfaceInfo>,
}

/// An interface name in ServiceL2Status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InterfaceInfo {
    pub name: String,
}

/// `ServiceBGPStatus.status`: the peers a node is configured to send a service's prefixes to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceBGPStatusStatus {
    /// The node announcing the service.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub node: String,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub service_name: String,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "Value is immutable"
    }]))]
    pub service_namespace: String,
    /// Sorted BGPPeer names the prefixes are configured to go to, whether or not the session
    /// is up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<String>,
}

/// `ConfigurationState.status`: whether a component accepted the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStateStatus {
    /// `Valid`, `Invalid` or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Valid", "Invalid", "Unknown"]))]
    pub result: Option<String>,
    /// The failing components' messages, one per line; empty when `result` is `Valid`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error_summary: String,
    /// One condition per reconciler, each server-side-applied by its own field manager,
    /// hence a list-map keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(description = "One condition per reconciler of the component, keyed by type.")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// The (empty) spec of the status-only kinds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EmptySpec {}

/// The status of the configuration kinds, which MetalLB never fills in: kept so that the
/// `status` subresource exists as on MetalLB's CRDs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(description = "Unused.")]
pub struct EmptyStatus {}

/// `ServiceL2Status.spec`: always empty; each kind needs its own spec type for its kube
/// wrapper.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "ServiceL2Status",
        plural = "servicel2statuses",
        namespaced,
        status = "ServiceL2StatusStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "ServiceL2Status reveals the actual traffic status of loadbalancer services in layer2 mode.",
        printcolumn(name = "Allocated Node", type_ = "string", json_path = ".status.node"),
        printcolumn(name = "Service Name", type_ = "string", json_path = ".status.serviceName"),
        printcolumn(name = "Service Namespace", type_ = "string", json_path = ".status.serviceNamespace")
    )
)]
#[schemars(description = "Always empty: the state is in status.")]
pub struct ServiceL2StatusSpec {}

/// `ServiceBGPStatus.spec`: always empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "ServiceBGPStatus",
        plural = "servicebgpstatuses",
        namespaced,
        status = "ServiceBGPStatusStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "ServiceBGPStatus exposes the BGP peers a service is configured to be advertised to, per relevant node.",
        printcolumn(name = "Node", type_ = "string", json_path = ".status.node"),
        printcolumn(name = "Service Name", type_ = "string", json_path = ".status.serviceName"),
        printcolumn(name = "Service Namespace", type_ = "string", json_path = ".status.serviceNamespace")
    )
)]
#[schemars(description = "Always empty: the state is in status.")]
pub struct ServiceBGPStatusSpec {}

/// The root fields of ConfigurationState besides metadata and status: none. MetalLB's
/// ConfigurationState has no `spec` at all, hence `no_spec`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "kube",
    derive(kube::CustomResource),
    allow(clippy::duplicated_attributes),
    kube(
        group = "metallb.io",
        version = "v1beta1",
        kind = "ConfigurationState",
        plural = "configurationstates",
        namespaced,
        no_spec,
        status = "ConfigurationStateStatus",
        derive = "PartialEq",
        derive = "Default",
        doc = "ConfigurationState is a status-only CRD that reports configuration validation results from MetalLB components.",
        printcolumn(name = "Result", type_ = "string", json_path = ".status.result"),
        printcolumn(name = "ErrorSummary", type_ = "string", json_path = ".status.errorSummary"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
pub struct ConfigurationStateFields {}

/// MetalLB omits a zero `localASN`; writing `0` back would fail the schema's minimum of 1.
fn is_zero(value: &u32) -> bool {
    *value == 0
}
