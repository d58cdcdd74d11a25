//! Allocation cost (docs/design.md, Performance targets): 100,000 services in one /14 pool; one allocation in an
//! empty pool against one at 90 % occupancy (must stay within 3x: no pool walk); one
//! allocation in a 2^64-address IPv6 pool.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ferrolb_api::core::{ServicePort, ServiceSpec};
use ferrolb_api::{ObjectMeta, Resources, Service, ServiceFields};
use ferrolb_config::{Config, Options, Scope};
use ferrolb_ipam::Allocator;

fn config(cidr: &str) -> Config {
    let yaml = format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: bench\n  namespace: metallb-system\nspec:\n  addresses: [\"{cidr}\"]\n"
    );
    let mut resources = Resources::default();
    ferrolb_api::load_str(&yaml, "bench", &mut resources).unwrap();
    ferrolb_config::parse(&resources, &Options { scope: Scope::Controller, ..Options::default() }).unwrap()
}

fn service(name: &str, ipv6: bool) -> Service {
    Service::new(ServiceFields {
        metadata: ObjectMeta::named(name).in_namespace("bench"),
        spec: ServiceSpec {
            type_: Some("LoadBalancer".into()),
            cluster_ips: vec![if ipv6 { "fd00:96::1" } else { "10.96.0.1" }.into()],
            ports: vec![ServicePort { name: None, protocol: Some("TCP".into()), port: 80 }],
            ..ServiceSpec::default()
        }
        .into(),
        ..Default::default()
    })
}

fn filled(cidr: &str, count: usize, ipv6: bool) -> Allocator {
    let mut allocator = Allocator::new(None);
    allocator.set_pools(&config(cidr));
    for i in 0..count {
        let out = allocator.reconcile(&service(&format!("s{i}"), ipv6));
        assert!(out.error.is_none());
    }
    allocator
}

fn benches(c: &mut Criterion) {
    let pool = config("10.0.0.0/14");
    let services: Vec<Service> = (0..100_000).map(|i| service(&format!("s{i}"), false)).collect();
    let mut group = c.benchmark_group("allocate");
    group.sample_size(10);
    group.bench_function("100k services in one /14", |b| {
        b.iter_batched(
            || {
                let mut allocator = Allocator::new(None);
                allocator.set_pools(&pool);
                allocator
            },
            |mut allocator| {
                for svc in &services {
                    black_box(allocator.reconcile(svc));
                }
                allocator
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();

    let probe = service("probe", false);
    let mut one = c.benchmark_group("one allocation in a /14");
    for (label, count) in [("empty", 0usize), ("90% full", 262_144 * 9 / 10)] {
        let mut allocator = filled("10.0.0.0/14", count, false);
        one.bench_function(label, |b| {
            b.iter(|| {
                black_box(allocator.reconcile(&probe));
                allocator.release_service("bench", "probe");
            });
        });
    }
    one.finish();

    let probe6 = service("probe", true);
    let mut allocator = filled("2001:db8::/64", 10_000, true);
    c.bench_function("one allocation in a 2^64 IPv6 pool with 10k in use", |b| {
        b.iter(|| {
            black_box(allocator.reconcile(&probe6));
            allocator.release_service("bench", "probe");
        });
    });
}

criterion_group!(allocate, benches);
criterion_main!(allocate);
