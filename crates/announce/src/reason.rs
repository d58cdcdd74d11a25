//! Why a speaker does not announce a service: MetalLB's reason strings, which users see in
//! logs, in `ferrolb plan` and in status, so they are kept word for word.

use std::fmt;

use serde::Serialize;

/// One reason not to announce. The text of each is MetalLB's (docs/compatibility.md §4.1-§4.3), except
/// [`Reason::NoPeers`] and [`Reason::PeersNotServed`], which only ferrolb's `plan` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// The service is gone (docs/compatibility.md §4.1); for drivers that withdraw on deletion.
    ServiceDeleted,
    /// `spec.type` is not `LoadBalancer`.
    NotLoadBalancer,
    /// No `status.loadBalancer.ingress[].ip` yet.
    NoIpAllocated,
    /// An ingress IP does not parse.
    InvalidIp,
    /// The ingress IPs are not all inside one pool of the configuration.
    IpNotAllowed,
    /// Layer 2: not the elected node, or no serving endpoint at all. BGP: no advertisement
    /// of the pool includes this node.
    NotOwner,
    /// No advertisement that selects this service includes this node.
    NoMatchingAdvertisement,
    /// Layer 2: the service carries `allow-shared-ip` and an advertisement that would carry it
    /// has serviceSelectors.
    SharedIpWithServiceSelector,
    /// BGP: two advertisements for this service on this node disagree on LOCAL_PREF
    /// (docs/compatibility.md §1.11).
    ConflictingAdvertisements,
    /// BGP: this node has condition `NetworkUnavailable=True`.
    NodeNetworkUnavailable,
    /// BGP: this node carries `node.kubernetes.io/exclude-from-external-load-balancers`.
    NodeLabeledExcludeBalancers,
    /// BGP, `externalTrafficPolicy: Cluster`: no serving endpoint anywhere.
    NoEndpoints,
    /// BGP, `externalTrafficPolicy: Local`: no serving endpoint on this node.
    NoLocalEndpoints,
    /// BGP: the node would announce, but no BGPPeer of this node takes the prefix: none is
    /// named by the matching advertisements and carries the address's family. MetalLB says
    /// nothing here; `plan` does, so the user sees why no router learns the prefix.
    NoPeers,
    /// BGP: the node would announce, but no BGPPeer of this node names a neighbour the
    /// speaker can dial: it opens no session and reports it on the peer.
    PeersNotServed,
}

impl Reason {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServiceDeleted => "serviceDeleted",
            Self::NotLoadBalancer => "notLoadBalancer",
            Self::NoIpAllocated => "noIPAllocated",
            Self::InvalidIp => "invalidIP",
            Self::IpNotAllowed => "ipNotAllowed",
            Self::NotOwner => "notOwner",
            Self::NoMatchingAdvertisement => "noMatchingAdvertisement",
            Self::SharedIpWithServiceSelector => "sharedIPWithServiceSelector",
            Self::ConflictingAdvertisements => "conflictingAdvertisements",
            Self::NodeNetworkUnavailable => "nodeNetworkUnavailable",
            Self::NodeLabeledExcludeBalancers => "nodeLabeledExcludeBalancers",
            Self::NoEndpoints => "noEndpoints",
            Self::NoLocalEndpoints => "noLocalEndpoints",
            Self::NoPeers => "noPeers",
            Self::PeersNotServed => "peersNotServed",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_print_as_metallb_spells_them() {
        let table = [
            (Reason::ServiceDeleted, "serviceDeleted"),
            (Reason::NotLoadBalancer, "notLoadBalancer"),
            (Reason::NoIpAllocated, "noIPAllocated"),
            (Reason::InvalidIp, "invalidIP"),
            (Reason::IpNotAllowed, "ipNotAllowed"),
            (Reason::NotOwner, "notOwner"),
            (Reason::NoMatchingAdvertisement, "noMatchingAdvertisement"),
            (Reason::SharedIpWithServiceSelector, "sharedIPWithServiceSelector"),
            (Reason::ConflictingAdvertisements, "conflictingAdvertisements"),
            (Reason::NodeNetworkUnavailable, "nodeNetworkUnavailable"),
            (Reason::NodeLabeledExcludeBalancers, "nodeLabeledExcludeBalancers"),
            (Reason::NoEndpoints, "noEndpoints"),
            (Reason::NoLocalEndpoints, "noLocalEndpoints"),
        ];
        for (reason, text) in table {
            assert_eq!(reason.to_string(), text);
            assert_eq!(serde_json::to_string(&reason).unwrap(), format!("\"{text}\""));
        }
    }
}
