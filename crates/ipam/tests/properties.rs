//! Allocator invariants over random service populations (docs/design.md, Testing).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Svc, allocator, lb, pool};
use ferrolb_ipam::{Allocator, plan};
use proptest::prelude::*;

/// A random service: sharing key (0 = none), ports, Local selector, optional request.
#[derive(Debug, Clone)]
struct Spec {
    name: u8,
    key: u8,
    ports: Vec<u16>,
    local: Option<u8>,
    request: Option<u8>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..24,
        0u8..3,
        proptest::collection::vec(1u16..4, 1..3),
        proptest::option::of(0u8..2),
        proptest::option::weighted(0.3, 0u8..8),
    )
        .prop_map(|(name, key, ports, local, request)| Spec { name, key, ports, local, request })
}

fn service(s: &Spec) -> Svc {
    let mut svc =
        lb(&format!("default/s{}", s.name)).ports(&s.ports.iter().map(|p| ("TCP", i32::from(*p))).collect::<Vec<_>>());
    if s.key > 0 {
        svc = svc.shared(&format!("k{}", s.key));
    }
    if let Some(sel) = s.local {
        svc = svc.local(&[("app", if sel == 0 { "a" } else { "b" })]);
    }
    if let Some(r) = s.request {
        svc = svc.spec_ip(&format!("10.0.0.{r}"));
    }
    svc
}

const POOLS: &str = "p";

fn small_pool() -> String {
    pool(POOLS, &["10.0.0.0/29"], "")
}

/// Whether two services may hold the same address (docs/compatibility.md §3.3).
fn may_share(a: &Spec, b: &Spec) -> bool {
    let ports_a: BTreeSet<_> = a.ports.iter().collect();
    a.key > 0 && a.key == b.key && a.local == b.local && b.ports.iter().all(|p| !ports_a.contains(p))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_address_is_ever_held_by_two_services_that_may_not_share(
        ops in proptest::collection::vec((spec(), any::<bool>()), 1..60)
    ) {
        let mut a = allocator(&small_pool());
        let mut live: BTreeMap<u8, Spec> = BTreeMap::new();
        for (s, delete) in ops {
            if delete {
                a.release_service("default", &format!("s{}", s.name));
                live.remove(&s.name);
            } else {
                a.reconcile(service(&s).build());
                live.insert(s.name, s);
            }
            let mut holders: BTreeMap<String, Vec<&Spec>> = BTreeMap::new();
            for s in live.values() {
                for ip in a.ips(&format!("default/s{}", s.name)) {
                    holders.entry(ip.to_string()).or_default().push(s);
                }
            }
            for (ip, specs) in holders {
                for (i, x) in specs.iter().enumerate() {
                    for y in &specs[i + 1..] {
                        prop_assert!(may_share(x, y) && may_share(y, x), "{ip} held by {x:?} and {y:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn allocating_then_releasing_returns_the_pool_to_its_starting_state(
        before in proptest::collection::vec(spec(), 0..6),
        during in proptest::collection::vec(spec(), 1..12),
    ) {
        let mut a = allocator(&pool(POOLS, &["10.0.0.0/28", "fd00::/126"], ""));
        for s in &before {
            a.reconcile(service(s).build());
        }
        let probe = |a: &mut Allocator| {
            let out = a.reconcile(lb("probe/probe").shared("k1").ports(&[("TCP", 9)]).build());
            a.release_service("probe", "probe");
            out.ips
        };
        let start = (a.counters(POOLS), a.metrics(POOLS), probe(&mut a));
        let names: BTreeSet<u8> = before.iter().map(|s| s.name).collect();
        let mut added = BTreeSet::new();
        for s in during.iter().filter(|s| !names.contains(&s.name)) {
            a.reconcile(service(s).build());
            added.insert(s.name);
        }
        for n in added {
            a.release_service("default", &format!("s{n}"));
        }
        prop_assert_eq!(start, (a.counters(POOLS), a.metrics(POOLS), probe(&mut a)));
    }

    #[test]
    fn services_with_valid_addresses_keep_them_in_any_arrival_order(
        picks in proptest::collection::vec((0u8..16, any::<bool>()), 1..16),
        extra in 0usize..4,
        seed in any::<u64>(),
    ) {
        let config = common::config(&pool(POOLS, &["10.0.0.0/28"], ""));
        let mut services = Vec::new();
        let mut used = BTreeSet::new();
        for (i, (octet, assigned)) in picks.iter().enumerate() {
            let svc = lb(&format!("ns{}/s{i}", i % 3));
            services.push(if *assigned && used.insert(*octet) {
                svc.ingress(&[&format!("10.0.0.{octet}")]).build().clone()
            } else {
                svc.build().clone()
            });
        }
        for i in 0..extra {
            services.push(lb(&format!("zz/new{i}")).build().clone());
        }
        let reference = plan(&config, &services, None);
        let mut shuffled = services.clone();
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(&reference, &plan(&config, &shuffled, None));
        for r in &reference {
            let original = services.iter().find(|s| s.metadata.name == r.name).unwrap();
            if let Some(ip) = original.status.load_balancer.ingress.first().and_then(|i| i.ip.clone()) {
                prop_assert_eq!(&r.ips, &vec![ip]);
            }
        }
    }
}
