//! Validating a large configuration: 5,000 pools, 5,000 advertisements, 500 nodes
//! (docs/design.md, Performance targets: under 0.5 s). MetalLB checks overlaps and advertisement
//! pairs pairwise; here the cost must stay close to linear.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferrolb_api::metallb::{BGPAdvertisementSpec, BGPPeerSpec, IPAddressPoolSpec, L2AdvertisementSpec};
use ferrolb_api::{LabelSelector, Node, Object, ObjectMeta, Resources};
use ferrolb_config::{Options, parse};

const POOLS: usize = 5_000;
const NODES: usize = 500;

/// Each pool a /28 (or a v6 /120 for every tenth); half the advertisements name their pool,
/// half select it by label; advertisements alternate BGP and L2, with node selectors by rack
/// and a few local preferences to exercise the LOCAL_PREF grouping.
fn large_config() -> Resources {
    let mut r = Resources::default();
    for n in 0..NODES {
        r.nodes.push(Node {
            metadata: ObjectMeta::named(format!("node-{n:03}"))
                .with_label("rack", format!("r{}", n % 20))
                .with_label("zone", format!("z{}", n % 3)),
            ..Node::default()
        });
    }
    for p in 0..POOLS {
        let address = if p % 10 == 9 {
            format!("fd00:{:x}::/120", p)
        } else {
            format!("10.{}.{}.{}/28", p / 4096, (p / 16) % 256, (p % 16) * 16)
        };
        r.ip_address_pools.push(Object::new(
            ObjectMeta::named(format!("pool-{p:05}"))
                .with_label("pool-id", p.to_string())
                .with_label("tier", ["gold", "silver"][p % 2]),
            IPAddressPoolSpec { addresses: vec![address], ..IPAddressPoolSpec::default() },
        ));
    }
    for a in 0..POOLS {
        let by_name = a % 2 == 0;
        let pools = if by_name { vec![format!("pool-{a:05}")] } else { vec![] };
        let pool_selectors =
            if by_name { vec![] } else { vec![LabelSelector::labels([("pool-id", a.to_string().as_str())])] };
        let node_selectors = vec![LabelSelector::labels([("rack", format!("r{}", a % 20).as_str())])];
        if a % 2 == 0 {
            r.bgp_advertisements.push(Object::new(
                ObjectMeta::named(format!("bgp-{a:05}")),
                BGPAdvertisementSpec {
                    ip_address_pools: pools,
                    ip_address_pool_selectors: pool_selectors,
                    node_selectors,
                    local_pref: [0, 100, 200][a % 3],
                    communities: vec!["64500:100".into(), "large:64500:1:2".into()],
                    ..BGPAdvertisementSpec::default()
                },
            ));
        } else {
            r.l2_advertisements.push(Object::new(
                ObjectMeta::named(format!("l2-{a:05}")),
                L2AdvertisementSpec {
                    ip_address_pools: pools,
                    ip_address_pool_selectors: pool_selectors,
                    node_selectors,
                    ..L2AdvertisementSpec::default()
                },
            ));
        }
    }
    for p in 0..20 {
        r.bgp_peers.push(Object::new(
            ObjectMeta::named(format!("router-{p}")),
            BGPPeerSpec {
                my_asn: 64512,
                peer_asn: 64500,
                peer_address: format!("172.30.0.{}", p + 1),
                node_selectors: vec![LabelSelector::labels([("rack", format!("r{p}").as_str())])],
                ..BGPPeerSpec::default()
            },
        ));
    }
    r
}

fn bench(c: &mut Criterion) {
    let resources = large_config();
    let options = Options::default();
    let config = parse(&resources, &options).expect("the benchmark configuration is valid");
    assert_eq!(config.pools.len(), POOLS);
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    group.bench_function("5000 pools + 5000 advertisements + 500 nodes", |b| {
        b.iter(|| parse(black_box(&resources), &options).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
