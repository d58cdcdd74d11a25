//! Random and mutated input never panics the loader or the validator, and whatever the
//! validator accepts satisfies the invariants the allocator and speakers rely on.

use std::net::IpAddr;

use ferrolb_api::{Resources, load_str};
use ferrolb_config::{Options, parse};
use proptest::prelude::*;

/// Valid manifests the mutations start from: every kind, most fields.
const SEEDS: &[&str] = &[
    include_str!("../../../examples/bgp/config.yaml"),
    include_str!("../../../examples/dual-stack/config.yaml"),
    include_str!("../../../examples/communities/config.yaml"),
    include_str!("../../../examples/service-allocation/config.yaml"),
    include_str!("../../../examples/mixed/metallb.yaml"),
    "apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: f}\nspec: {receiveInterval: 100, detectMultiplier: 3}\n---\n\
     apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata: {name: old}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, holdTime: 30s, nodeSelectors: [{matchExpressions: [{key: a, operator: In, values: [b]}]}]}\n---\n\
     apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l}\nspec: {preferredNodeSelectors: [{weight: 3, preference: {matchLabels: {a: b}}}], interfaces: [eth0]}\n---\n\
     apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: {a: b}}\nstatus: {conditions: [{type: NetworkUnavailable, status: 'False'}]}\n",
];

/// Loads and validates; the only acceptable outcomes are a Config or an error value.
fn load_and_validate(text: &str) {
    let mut resources = Resources::default();
    if load_str(text, "fuzz.yaml", &mut resources).is_ok() {
        let _ = parse(&resources, &Options::default());
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Splice(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), prop::sample::select(b" :-[]{}\n'\"#&*!|>0123456789.,/".to_vec()))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Splice(a, b)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let n = bytes.len();
        match *m {
            Mutation::Flip(i, b) => bytes[i % n] ^= b,
            Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Mutation::Delete(i) => {
                bytes.remove(i % n);
            }
            Mutation::Truncate(i) => bytes.truncate(i % n),
            Mutation::Splice(a, b) => {
                let (a, b) = (a % n, b % n);
                let chunk: Vec<u8> = bytes[a.min(b)..a.max(b)].to_vec();
                bytes.splice(a..a, chunk);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_and_validate(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_manifests_never_panic(seed in prop::sample::select(SEEDS), mutations in prop::collection::vec(mutation(), 1..8)) {
        let bytes = apply(seed.as_bytes().to_vec(), &mutations);
        load_and_validate(&String::from_utf8_lossy(&bytes));
    }
}

// ---- structured random configurations ------------------------------------------------------

fn address_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..4, 0u8..=255, 20u8..=32).prop_map(|(b, c, len)| format!("10.{b}.{c}.0/{len}")),
        (0u8..4, 0u8..=255, 0u8..=255, 0u8..=255).prop_map(|(b, c, x, y)| format!(
            "10.{b}.{c}.{} - 10.{b}.{c}.{}",
            x.min(y),
            x.max(y)
        )),
        (0u16..8, 100u8..=128).prop_map(|(h, len)| format!("fd00:{h:x}::/{len}")),
        prop::sample::select(vec!["bogus".to_owned(), "10.0.0.0".to_owned(), "10.0.0.9-10.0.0.1".to_owned()]),
    ]
}

fn community() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("{a}:{b}")),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c)| format!("large:{a}:{b}:{c}")),
        Just("gold".to_owned()),
        Just("70000:1".to_owned()),
    ]
}

#[derive(Debug, Clone)]
struct AdSpec {
    pools: Vec<usize>,
    agg: Option<u8>,
    agg_v6: Option<u8>,
    local_pref: u32,
    communities: Vec<String>,
    rack: Option<char>,
}

fn ad_spec(pools: usize) -> impl Strategy<Value = AdSpec> {
    (
        prop::collection::vec(0..pools, 0..3),
        prop::option::of(16u8..=33),
        prop::option::of(96u8..=129),
        prop::sample::select(vec![0u32, 100, 200]),
        prop::collection::vec(community(), 0..3),
        prop::option::of(prop::sample::select(vec!['a', 'b'])),
    )
        .prop_map(|(pools, agg, agg_v6, local_pref, communities, rack)| AdSpec {
            pools,
            agg,
            agg_v6,
            local_pref,
            communities,
            rack,
        })
}

fn render(pools: &[Vec<String>], ads: &[AdSpec]) -> String {
    let mut yaml = String::from(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {rack: a}}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n2, labels: {rack: b}}\n---\n\
         apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {name: c}\nspec: {communities: [{name: gold, value: '1:1'}]}\n---\n",
    );
    for (i, addresses) in pools.iter().enumerate() {
        let list: Vec<String> = addresses.iter().map(|a| format!("'{a}'")).collect();
        yaml += &format!(
            "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: p{i}}}\nspec: {{addresses: [{}]}}\n---\n",
            list.join(", ")
        );
    }
    for (i, ad) in ads.iter().enumerate() {
        let mut fields = vec![format!("localPref: {}", ad.local_pref)];
        if !ad.pools.is_empty() {
            let names: Vec<String> = ad.pools.iter().map(|p| format!("p{p}")).collect();
            fields.push(format!("ipAddressPools: [{}]", names.join(", ")));
        }
        if let Some(a) = ad.agg {
            fields.push(format!("aggregationLength: {a}"));
        }
        if let Some(a) = ad.agg_v6 {
            fields.push(format!("aggregationLengthV6: {a}"));
        }
        if !ad.communities.is_empty() {
            let list: Vec<String> = ad.communities.iter().map(|c| format!("'{c}'")).collect();
            fields.push(format!("communities: [{}]", list.join(", ")));
        }
        if let Some(rack) = ad.rack {
            fields.push(format!("nodeSelectors: [{{matchLabels: {{rack: {rack}}}}}]"));
        }
        yaml += &format!(
            "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: ad{i}}}\nspec: {{{}}}\n---\n",
            fields.join(", ")
        );
    }
    yaml
}

fn span(net: &ipnet::IpNet) -> (bool, u128, u128) {
    match (net.network(), net.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (false, u32::from(a) as u128, u32::from(b) as u128),
        (IpAddr::V6(a), IpAddr::V6(b)) => (true, u128::from(a), u128::from(b)),
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn accepted_configurations_satisfy_the_invariants(
        pools in prop::collection::vec(prop::collection::vec(address_entry(), 1..3), 1..5),
        ads in prop::collection::vec(ad_spec(4), 0..5),
    ) {
        let yaml = render(&pools, &ads);
        let mut resources = Resources::default();
        load_str(&yaml, "gen.yaml", &mut resources).unwrap();
        let Ok(config) = parse(&resources, &Options::default()) else { return Ok(()) };

        // No two CIDRs anywhere overlap.
        let mut spans: Vec<_> = config.pools.iter().flat_map(|p| p.cidrs.iter().map(span)).collect();
        spans.sort();
        for w in spans.windows(2) {
            prop_assert!(w[0].0 != w[1].0 || w[0].2 < w[1].1, "overlap {:?} {:?}", w[0], w[1]);
        }
        for pool in &config.pools {
            for ad in &pool.bgp_advertisements {
                // No aggregate is wider than an entry it covers.
                for entry in &pool.entries {
                    let len = if entry.is_ipv4() { ad.aggregation_length } else { ad.aggregation_length_v6 };
                    prop_assert!(len >= entry.widest_prefix_len());
                }
                prop_assert!((1..=32).contains(&ad.aggregation_length) && (1..=128).contains(&ad.aggregation_length_v6));
            }
            // Every pair of advertisements on a pool passes the LOCAL_PREF rule.
            for (i, a) in pool.bgp_advertisements.iter().enumerate() {
                for b in &pool.bgp_advertisements[..i] {
                    prop_assert!(ferrolb_config_localpref_compatible(a, b, pool.has_ipv4(), pool.has_ipv6()));
                }
            }
        }
    }
}

/// The rule restated independently of the implementation (docs/compatibility.md §1.11).
fn ferrolb_config_localpref_compatible(
    a: &ferrolb_config::BgpAdvertisement,
    b: &ferrolb_config::BgpAdvertisement,
    v4: bool,
    v6: bool,
) -> bool {
    let lengths_differ = match (v4, v6) {
        (true, true) => {
            a.aggregation_length != b.aggregation_length && a.aggregation_length_v6 != b.aggregation_length_v6
        }
        (true, false) => a.aggregation_length != b.aggregation_length,
        (false, true) => a.aggregation_length_v6 != b.aggregation_length_v6,
        (false, false) => true,
    };
    let peers_disjoint = !a.peers.is_empty() && !b.peers.is_empty() && a.peers.iter().all(|p| !b.peers.contains(p));
    a.local_pref == b.local_pref
        || lengths_differ
        || peers_disjoint
        || a.nodes.is_disjoint(&b.nodes)
        || !a.service_selectors.is_empty()
        || !b.service_selectors.is_empty()
}
