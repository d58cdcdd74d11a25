//! Where a service's endpoints can take traffic (docs/compatibility.md §2.5).
//!
//! Layer 2 and BGP read the same EndpointSlices a little differently, as MetalLB does:
//! Layer 2 counts endpoints, BGP counts addresses, and an address that is not serving in any
//! slice is not serving at all.

use std::collections::BTreeMap;

use ferrolb_api::core::EndpointConditions;
use ferrolb_api::{EndpointSlice, VecSet};

/// `ready` unknown or true, or `serving` true: terminating endpoints that still serve count.
pub fn can_serve(conditions: &EndpointConditions) -> bool {
    conditions.ready.unwrap_or(true) || conditions.serving == Some(true)
}

/// A service's endpoints, summarised once for every node's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Endpoints {
    /// Layer 2: some endpoint anywhere can serve.
    pub any_serving: bool,
    /// Layer 2 with `externalTrafficPolicy: Local`: nodes hosting an endpoint that can serve.
    pub serving_nodes: VecSet<String>,
    /// BGP with `Cluster`: some address anywhere is serving.
    pub healthy_anywhere: bool,
    /// BGP with `Local`: nodes on which some address is serving.
    pub healthy_nodes: VecSet<String>,
}

impl Endpoints {
    pub fn of<'a>(slices: impl IntoIterator<Item = &'a EndpointSlice>) -> Self {
        let mut summary = Self::default();
        let mut anywhere = AddressHealth::default();
        let mut per_node: BTreeMap<&str, AddressHealth<'_>> = BTreeMap::new();
        for endpoint in slices.into_iter().flat_map(|s| &s.endpoints) {
            let serving = can_serve(&endpoint.conditions);
            if serving {
                summary.any_serving = true;
                if let Some(node) = &endpoint.node_name {
                    summary.serving_nodes.insert(node.clone());
                }
            }
            for address in &endpoint.addresses {
                anywhere.record(address, serving);
                if let Some(node) = &endpoint.node_name {
                    per_node.entry(node).or_default().record(address, serving);
                }
            }
        }
        summary.healthy_anywhere = anywhere.any_healthy();
        summary.healthy_nodes =
            per_node.into_iter().filter(|(_, health)| health.any_healthy()).map(|(n, _)| n.to_owned()).collect();
        summary
    }
}

/// MetalLB's `hasHealthyEndpoint`: an address is healthy only if no endpoint listing it is
/// unable to serve.
#[derive(Debug, Default)]
struct AddressHealth<'a>(BTreeMap<&'a str, bool>);

impl<'a> AddressHealth<'a> {
    fn record(&mut self, address: &'a str, serving: bool) {
        if serving {
            self.0.entry(address).or_insert(true);
        } else {
            self.0.insert(address, false);
        }
    }

    fn any_healthy(&self) -> bool {
        self.0.values().any(|&healthy| healthy)
    }
}

#[cfg(test)]
mod tests {
    use ferrolb_api::core::Endpoint;
    use ferrolb_api::{EndpointSliceFields, ObjectMeta};

    use super::*;

    fn conditions(ready: Option<bool>, serving: Option<bool>, terminating: Option<bool>) -> EndpointConditions {
        EndpointConditions { ready, serving, terminating }
    }

    fn endpoint(address: &str, node: Option<&str>, ready: Option<bool>) -> Endpoint {
        Endpoint {
            addresses: vec![address.to_owned()],
            conditions: conditions(ready, None, None),
            node_name: node.map(str::to_owned),
        }
    }

    fn slice(endpoints: Vec<Endpoint>) -> EndpointSlice {
        EndpointSlice::new(EndpointSliceFields {
            metadata: ObjectMeta::named("s"),
            address_type: "IPv4".into(),
            endpoints,
        })
    }

    #[test]
    fn an_endpoint_serves_when_ready_is_unknown_or_true_or_serving_is_true() {
        let table = [
            (conditions(None, None, None), true),
            (conditions(Some(true), None, None), true),
            (conditions(Some(false), None, None), false),
            (conditions(Some(false), Some(false), None), false),
            (conditions(Some(false), Some(true), Some(true)), true),
            (conditions(Some(false), None, Some(true)), false),
        ];
        for (c, expected) in table {
            assert_eq!(can_serve(&c), expected, "{c:?}");
        }
    }

    #[test]
    fn local_serving_nodes_are_those_with_a_serving_endpoint() {
        let e = Endpoints::of(&[slice(vec![
            endpoint("10.1.0.1", Some("a"), Some(true)),
            endpoint("10.1.0.2", Some("b"), Some(false)),
            endpoint("10.1.0.3", None, None),
        ])]);
        assert!(e.any_serving);
        assert_eq!(e.serving_nodes, VecSet::from(["a".to_owned()]));
        assert!(e.healthy_anywhere);
        assert_eq!(e.healthy_nodes, VecSet::from(["a".to_owned()]));
    }

    #[test]
    fn an_address_unready_in_any_slice_is_not_healthy_for_bgp() {
        let e = Endpoints::of(&[
            slice(vec![endpoint("10.1.0.1", Some("a"), Some(true))]),
            slice(vec![endpoint("10.1.0.1", Some("a"), Some(false))]),
        ]);
        assert!(e.any_serving);
        assert!(!e.healthy_anywhere);
        assert!(e.healthy_nodes.is_empty());
    }

    #[test]
    fn an_endpoint_without_addresses_serves_layer2_but_not_bgp() {
        let e = Endpoints::of(&[slice(vec![Endpoint {
            addresses: vec![],
            conditions: EndpointConditions::default(),
            node_name: Some("a".into()),
        }])]);
        assert!(e.any_serving);
        assert!(!e.healthy_anywhere);
    }

    #[test]
    fn no_endpoints_serve_nothing() {
        assert_eq!(Endpoints::of(&[]), Endpoints::default());
    }
}
