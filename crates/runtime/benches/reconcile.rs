//! One reconcile step of each role with N Services loaded: with nothing new to do, on a
//! snapshot that does not say what changed (every Service is looked at: the `k8s` source,
//! or a change to a pool), and on one that names the one Service changed (the `dir:`
//! source after an edit); and the `dir:` source's reload of a manifest file of N Services
//! after one document changed (issue 16; docs/performance/scale.md). N: 10,000 and 50,000,
//! each Service with its EndpointSlice, announced by BGP from node1.
//!
//!   cargo bench -p ferrolb-runtime --bench reconcile

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ferrolb_api::files::ManifestCache;
use ferrolb_runtime::controller::core::ControllerCore;
use ferrolb_runtime::sources::Snapshot;
use ferrolb_runtime::speaker::core::{MembershipState, SpeakerCore};

const CONFIG: &str = "apiVersion: v1
kind: Node
metadata: {name: node1, labels: {kubernetes.io/hostname: node1}}
status: {addresses: [{type: InternalIP, address: 172.30.0.11}]}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: scale, namespace: metallb-system}
spec: {addresses: [10.60.0.0/15]}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: scale, namespace: metallb-system}
spec: {ipAddressPools: [scale]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bird, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64500, peerAddress: 172.30.0.1}
";

/// N Services with their address in status (10.60.0.0 + k) and one ready endpoint on node1;
/// `renamed` is called `x<k>`, `edited` has port 81.
fn services(n: u32, renamed: Option<u32>, edited: Option<u32>) -> String {
    let mut text = String::new();
    for k in 0..n {
        let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 60, 0, 0)) + k);
        let name = if renamed == Some(k) { format!("x{k}") } else { format!("s{k}") };
        let port = if edited == Some(k) { 81 } else { 80 };
        text.push_str(&format!(
            "---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: default}}
spec: {{type: LoadBalancer, clusterIP: 10.96.0.1, ports: [{{port: {port}, protocol: TCP}}]}}
status: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {name}-a, namespace: default, labels: {{kubernetes.io/service-name: {name}}}}}
addressType: IPv4
endpoints: [{{addresses: [10.128.0.1], conditions: {{ready: true}}, nodeName: node1}}]
"
        ));
    }
    text
}

fn snapshot(n: u32, edited: Option<u32>) -> Snapshot {
    let mut snapshot = Snapshot::default();
    ferrolb_api::load_str(CONFIG, "config", &mut snapshot.resources).unwrap();
    ferrolb_api::load_str(&services(n, None, edited), "services", &mut snapshot.resources).unwrap();
    snapshot
}

/// Two snapshots that differ in one Service (`s<n/2>`'s port), each naming it as the
/// change, to be handed out in turn with the next number.
struct Alternating {
    snapshots: [Snapshot; 2],
    seq: u64,
}

impl Alternating {
    fn new(n: u32) -> Self {
        let mut touched = ferrolb_api::touched::Touched::nothing();
        touched.service("default", &format!("s{}", n / 2));
        let mut snapshots = [snapshot(n, None), snapshot(n, Some(n / 2))];
        for snapshot in &mut snapshots {
            snapshot.changes.touched = touched.clone();
        }
        Self { snapshots, seq: 0 }
    }

    fn next(&mut self) -> &Snapshot {
        self.seq += 1;
        let snapshot = &mut self.snapshots[(self.seq % 2) as usize];
        snapshot.changes.seq = self.seq;
        snapshot
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("reconcile");
    group.sample_size(10);
    for n in [10_000u32, 50_000] {
        let snapshot = snapshot(n, None);
        let mut controller = ControllerCore::new("metallb-system".into(), None);
        controller.reconcile(&snapshot, None);
        group.bench_function(format!("controller, {n} services, nothing to do"), |b| {
            b.iter(|| black_box(controller.reconcile(&snapshot, None)))
        });

        let mut speaker = SpeakerCore::new("node1".into(), "metallb-system".into(), None, false);
        let membership = MembershipState::disabled();
        speaker.configure(&snapshot);
        assert!(speaker.plan(&snapshot, &membership).is_some_and(|p| p.tables["bird"].len() == n as usize));
        group.bench_function(format!("speaker, {n} services, nothing to do"), |b| {
            b.iter(|| {
                black_box(speaker.configure(&snapshot));
                black_box(speaker.plan(&snapshot, &membership))
            })
        });

        let mut alternating = Alternating::new(n);
        let mut controller = ControllerCore::new("metallb-system".into(), None);
        controller.reconcile(alternating.next(), None);
        group.bench_function(format!("controller, {n} services, one named as changed"), |b| {
            b.iter(|| black_box(controller.reconcile(alternating.next(), None)))
        });
        let mut speaker = SpeakerCore::new("node1".into(), "metallb-system".into(), None, false);
        speaker.configure(alternating.next());
        speaker.plan(alternating.next(), &membership);
        group.bench_function(format!("speaker, {n} services, one named as changed"), |b| {
            b.iter(|| {
                let snapshot = alternating.next();
                black_box(speaker.configure(snapshot));
                black_box(speaker.plan(snapshot, &membership))
            })
        });
        drop(alternating);

        let dir = std::env::temp_dir().join(format!("ferrolb-bench-reload-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file: PathBuf = dir.join("services.yaml");
        let texts = [services(n, None, None), services(n, Some(n / 2), None)];
        std::fs::write(&file, &texts[0]).unwrap();
        let mut cache = ManifestCache::new();
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        let mut turn = 0;
        group.bench_function(format!("dir: reload, {n} services in one file, one edited"), |b| {
            b.iter_batched(
                || {
                    turn = 1 - turn;
                    std::fs::write(&file, &texts[turn]).unwrap();
                },
                |()| {
                    let stats = cache.refresh(std::slice::from_ref(&dir)).unwrap();
                    assert_eq!(stats.pieces_parsed, 2, "the edited Service and its slice");
                    black_box(cache.resources())
                },
                BatchSize::PerIteration,
            )
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
