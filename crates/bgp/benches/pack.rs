//! Packing 100,000 IPv4 /32 with one attribute set into UPDATEs, and decoding them back
//! (docs/design.md, Performance targets: at most 200 UPDATEs; the push to a real router is measured in the lab).

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrolb_bgp::{AsPath, Community, DecodeContext, EncodeContext, Message, Origin, PathAttributes, UpdatePacker};
use ipnet::{IpNet, Ipv4Net};

const ROUTES: u32 = 100_000;

fn packer() -> UpdatePacker {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence([64512])),
        next_hop: Some(Ipv4Addr::new(10, 255, 0, 1)),
        communities: vec![Community::new(64512, 100)],
        ..PathAttributes::default()
    };
    UpdatePacker::new(attributes, None, EncodeContext { four_octet_as: true })
}

fn prefixes() -> Vec<IpNet> {
    (0..ROUTES).map(|i| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap())).collect()
}

fn pack(c: &mut Criterion) {
    let packer = packer();
    let prefixes = prefixes();
    let messages = packer.announce(&prefixes).unwrap();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    println!(
        "{ROUTES} /32 -> {} UPDATEs, {bytes} octets ({:.1} routes per UPDATE)",
        messages.len(),
        f64::from(ROUTES) / messages.len() as f64
    );

    let mut group = c.benchmark_group("pack_100k_ipv4_host_routes");
    group.throughput(Throughput::Elements(u64::from(ROUTES)));
    group.bench_function("encode", |b| b.iter(|| packer.announce(black_box(&prefixes)).unwrap()));
    let ctx = DecodeContext { four_octet_as: true };
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut routes = 0;
            for wire in &messages {
                match ferrolb_bgp::decode(black_box(wire), &ctx) {
                    Ok(Message::Update(u)) => routes += u.nlri.len(),
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(routes, ROUTES as usize);
        })
    });
    group.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
