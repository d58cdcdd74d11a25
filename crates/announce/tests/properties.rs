//! Properties of the Layer 2 election (docs/compatibility.md §4.2): stability when candidates come and
//! go, and agreement between nodes deciding alone.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ferrolb_announce::election::rank;
use ferrolb_announce::{Cluster, L2Decision, Liveness, ServiceDecision, ServiceKey, Snapshot};
use ferrolb_api::core::{Endpoint, EndpointConditions, LoadBalancerIngress, NodeCondition};
use ferrolb_api::{EndpointSlice, EndpointSliceFields, Node, ObjectMeta, Service, ServiceFields};
use ferrolb_config::{Config, L2Advertisement, Pool, WeightedNodes};
use proptest::prelude::*;

const NODES: usize = 6;

fn name(i: usize) -> String {
    format!("node-{i}")
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

proptest! {
    #[test]
    fn adding_a_node_moves_the_winner_only_to_that_node(
        scores in proptest::collection::btree_map(0usize..16, 0u64..3, 1..10),
        new in 16usize..20,
        new_score in 0u64..3,
        last in any::<u8>(),
    ) {
        let names: Vec<(String, u64)> = scores.iter().map(|(i, s)| (name(*i), *s)).collect();
        let before = rank(names.iter().map(|(n, s)| (n.as_str(), *s)), ip(last))[0];
        let added = name(new);
        let with_new = names.iter().map(|(n, s)| (n.as_str(), *s)).chain([(added.as_str(), new_score)]);
        let after = rank(with_new, ip(last))[0];
        prop_assert!(after == before || after == added);
    }

    #[test]
    fn removing_a_node_that_is_not_the_winner_never_moves_the_winner(
        scores in proptest::collection::btree_map(0usize..16, 0u64..3, 2..10),
        pick in any::<prop::sample::Index>(),
        last in any::<u8>(),
    ) {
        let names: Vec<(String, u64)> = scores.iter().map(|(i, s)| (name(*i), *s)).collect();
        let winner = rank(names.iter().map(|(n, s)| (n.as_str(), *s)), ip(last))[0].to_owned();
        let removed = &names[pick.index(names.len())].0;
        prop_assume!(*removed != winner);
        let rest = names.iter().filter(|(n, _)| n != removed).map(|(n, s)| (n.as_str(), *s));
        prop_assert_eq!(rank(rest, ip(last))[0], winner.as_str());
    }

    #[test]
    fn every_node_deciding_alone_agrees_on_at_most_one_announcer_per_service(world in worlds()) {
        let Built { config, services, slices, nodes, liveness } = world.build();
        let cluster = Cluster::new(&config, &services, &slices, &nodes, &liveness);
        let snapshot = Snapshot::new(&cluster);
        for svc in &services {
            let key = ServiceKey::of(svc);
            let announcers: Vec<String> = (0..NODES)
                .map(name)
                .filter(|n| {
                    let decisions = ferrolb_announce::decide(&cluster, n);
                    matches!(
                        &decisions.services[&key],
                        ServiceDecision::Evaluated { l2: Some(L2Decision::Announce { .. }), .. }
                    )
                })
                .collect();
            prop_assert!(announcers.len() <= 1, "{key}: {announcers:?}");
            prop_assert_eq!(announcers.first().map(String::as_str), snapshot.l2_owner(&key));
        }
    }
}

proptest! {
    #[test]
    fn deciding_again_for_the_services_that_changed_is_deciding_everything_anew(
        world in worlds(),
        later in proptest::collection::vec(
            (any::<u8>(), any::<bool>(), proptest::collection::vec((0..NODES, any::<bool>()), 0..4)),
            0..5,
        ),
    ) {
        let before = world.build();
        let after_world = World { services: later, ..world.clone() };
        let after = after_world.build();
        // the Services whose object or slice differ, came or went
        let count = world.services.len().max(after_world.services.len());
        let touched: BTreeSet<(String, String)> = (0..count)
            .filter(|&i| world.services.get(i) != after_world.services.get(i))
            .map(|i| ("default".to_owned(), format!("s{i}")))
            .collect();
        let old = Cluster::new(&before.config, &before.services, &before.slices, &before.nodes, &before.liveness);
        let new = Cluster::new(&after.config, &after.services, &after.slices, &after.nodes, &after.liveness);
        for node in (0..NODES).map(name) {
            let mut decisions = ferrolb_announce::decide(&old, &node);
            ferrolb_announce::decide_again(&new, &mut decisions, &touched);
            prop_assert_eq!(decisions, ferrolb_announce::decide(&new, &node));
        }
    }
}

/// Node indices an advertisement selects, and its weighted preferences.
type Ad = (BTreeSet<usize>, Vec<(u32, BTreeSet<usize>)>);
/// Last octet of the address, Local policy, and endpoints as (node index, ready).
type Svc = (u8, bool, Vec<(usize, bool)>);

struct Built {
    config: Config,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    nodes: Vec<Node>,
    liveness: Liveness,
}

#[derive(Debug, Clone)]
struct World {
    unavailable: Vec<bool>,
    excluded: Vec<bool>,
    ads: Vec<Ad>,
    services: Vec<Svc>,
    members: Option<BTreeSet<usize>>,
}

fn node_set() -> impl Strategy<Value = BTreeSet<usize>> {
    proptest::collection::btree_set(0..NODES, 0..=NODES)
}

fn worlds() -> impl Strategy<Value = World> {
    (
        proptest::collection::vec(proptest::bool::weighted(0.2), NODES),
        proptest::collection::vec(proptest::bool::weighted(0.2), NODES),
        proptest::collection::vec((node_set(), proptest::collection::vec((1u32..100, node_set()), 0..3)), 1..4),
        proptest::collection::vec(
            (any::<u8>(), any::<bool>(), proptest::collection::vec((0..NODES, any::<bool>()), 0..4)),
            1..4,
        ),
        proptest::option::of(node_set()),
    )
        .prop_map(|(unavailable, excluded, ads, services, members)| World {
            unavailable,
            excluded,
            ads,
            services,
            members,
        })
}

impl World {
    fn build(&self) -> Built {
        let names = |set: &BTreeSet<usize>| set.iter().map(|i| name(*i)).collect::<BTreeSet<_>>();
        let l2_advertisements = self
            .ads
            .iter()
            .enumerate()
            .map(|(i, (nodes, prefs))| {
                Arc::new(L2Advertisement {
                    name: format!("ad{i}"),
                    nodes: names(nodes),
                    interfaces: vec![],
                    all_interfaces: true,
                    service_selectors: vec![],
                    preferred_nodes: prefs
                        .iter()
                        .map(|(weight, set)| WeightedNodes {
                            weight: *weight,
                            nodes: names(&set.intersection(nodes).copied().collect()),
                        })
                        .collect(),
                })
            })
            .collect();
        let pool = Pool {
            name: "p".into(),
            labels: Default::default(),
            entries: vec![],
            cidrs: vec!["10.0.0.0/24".parse().unwrap()],
            auto_assign: true,
            avoid_buggy_ips: false,
            service_allocation: None,
            bgp_advertisements: vec![],
            l2_advertisements,
        };
        let config = Config { pools: vec![pool], ..Config::default() };
        let nodes = (0..NODES)
            .map(|i| {
                let mut metadata = ObjectMeta::named(name(i));
                if self.excluded[i] {
                    metadata.labels.insert(ferrolb_announce::EXCLUDE_LB_LABEL.into(), String::new());
                }
                let mut node = Node { metadata, ..Node::default() };
                if self.unavailable[i] {
                    node.status
                        .conditions
                        .push(NodeCondition { type_: "NetworkUnavailable".into(), status: "True".into() });
                }
                node
            })
            .collect();
        let mut services = Vec::new();
        let mut slices = Vec::new();
        for (i, (last, local, endpoints)) in self.services.iter().enumerate() {
            let mut svc =
                Service::new(ServiceFields { metadata: ObjectMeta::named(format!("s{i}")), ..Default::default() });
            svc.spec.type_ = Some("LoadBalancer".into());
            if *local {
                svc.spec.external_traffic_policy = Some("Local".into());
            }
            svc.status.load_balancer.ingress =
                vec![LoadBalancerIngress { ip: Some(ip(*last).to_string()), hostname: None }];
            services.push(svc);
            slices.push(EndpointSlice::new(EndpointSliceFields {
                metadata: ObjectMeta::named(format!("s{i}-x"))
                    .with_label("kubernetes.io/service-name", format!("s{i}")),
                address_type: "IPv4".into(),
                endpoints: endpoints
                    .iter()
                    .enumerate()
                    .map(|(j, (node, ready))| Endpoint {
                        addresses: vec![format!("10.244.{i}.{j}")],
                        conditions: EndpointConditions { ready: Some(*ready), ..EndpointConditions::default() },
                        node_name: Some(name(*node)),
                    })
                    .collect(),
            }));
        }
        let liveness = match &self.members {
            None => Liveness::Disabled,
            Some(set) => Liveness::Members(names(set)),
        };
        Built { config, services, slices, nodes, liveness }
    }
}
