//! The numbers of the configuration over their extreme values: ASNs (YAML integers read as
//! u32), BGP communities (`A:B`, `large:A:B:C`, aliases), prefixes and CIDRs (pool entries,
//! aggregation lengths) and Go durations. Each property checks that what is written reads
//! back exactly, and that what is out of range is an error naming the field, on one line,
//! never a panic or a silently wrapped value. The fuzz target `config_numeric` explores the
//! same parsers coverage-guided (fuzz/README.md).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ferrolb_api::{ManifestError, Resources, load_str};
use ferrolb_config::addresses::parse_entry;
use ferrolb_config::community::{Community, LiteralError, parse_literal};
use ferrolb_config::duration::{self, MAX_NANOS};
use ferrolb_config::{Config, ConfigError, Options, PeerAsn, parse};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;

const NS: &str = "metallb-system";

enum Outcome {
    Loaded(Result<Config, ConfigError>),
    NotLoaded(ManifestError),
}

fn run(yaml: &str) -> Outcome {
    let mut resources = Resources::default();
    match load_str(yaml, "numeric.yaml", &mut resources) {
        Ok(_) => Outcome::Loaded(parse(&resources, &Options::default())),
        Err(e) => Outcome::NotLoaded(e),
    }
}

fn peer(fields: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: p, namespace: {NS}}}\nspec: {{peerAddress: 10.0.0.1, {fields}}}\n"
    )
}

#[track_caller]
fn accepted(yaml: &str) -> Config {
    match run(yaml) {
        Outcome::Loaded(Ok(config)) => config,
        Outcome::Loaded(Err(e)) => panic!("rejected by the rules: {e}\n{yaml}"),
        Outcome::NotLoaded(e) => panic!("not loaded: {e}\n{yaml}"),
    }
}

/// The one-line error, from the loader or the rules, for a configuration that must fail.
#[track_caller]
fn error(yaml: &str) -> String {
    let text = match run(yaml) {
        Outcome::Loaded(Ok(_)) => panic!("accepted, but must be rejected:\n{yaml}"),
        Outcome::Loaded(Err(e)) => e.to_string(),
        Outcome::NotLoaded(e) => e.to_string(),
    };
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

// ---- ASNs -----------------------------------------------------------------------------------

/// An ASN as YAML may spell an integer: decimal, hexadecimal, octal, with a plus sign.
fn spelled(asn: u32) -> impl Strategy<Value = String> {
    prop_oneof![Just(asn.to_string()), Just(format!("{asn:#x}")), Just(format!("0o{asn:o}")), Just(format!("+{asn}"))]
}

#[test]
fn asn_bounds_are_one_and_4294967295_and_zero_means_missing() {
    let config = accepted(&peer("myASN: 4294967295, peerASN: 1, localASN: 4294967295"));
    assert_eq!(
        (config.peers[0].my_asn, config.peers[0].peer_asn, config.peers[0].local_asn),
        (u32::MAX, PeerAsn::Fixed(1), Some(u32::MAX))
    );
    assert!(error(&peer("myASN: 0, peerASN: 1")).contains("spec.myASN: missing local ASN"));
    assert!(error(&peer("myASN: 1, peerASN: 0")).contains("spec.peerASN: missing peer ASN"));
    assert!(error(&peer("myASN: 4294967296, peerASN: 1")).contains("spec.myASN"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any 32-bit ASN, however YAML spells it, is the ASN the session uses.
    #[test]
    fn every_32_bit_asn_reads_back_exactly(
        (mine, text) in (1u32..).prop_flat_map(|a| (Just(a), spelled(a))),
        theirs in 1u32..,
        local in any::<u32>(),
    ) {
        let config = accepted(&peer(&format!("myASN: {text}, peerASN: {theirs}, localASN: {local}")));
        let p = &config.peers[0];
        prop_assert_eq!(p.my_asn, mine);
        prop_assert_eq!(p.peer_asn, PeerAsn::Fixed(theirs));
        prop_assert_eq!(p.local_asn, (local != 0).then_some(local));
    }

    /// Past 32 bits, negative, or of any size beyond: an error naming the field, not a
    /// truncated ASN.
    #[test]
    fn asns_outside_32_bits_are_rejected_naming_the_field(
        field in prop::sample::select(vec!["myASN", "peerASN", "localASN"]),
        value in prop_oneof![
            (u64::from(u32::MAX) + 1..=u64::MAX).prop_map(|v| v.to_string()),
            (i64::MIN..0).prop_map(|v| v.to_string()),
            "[1-9][0-9]{20,40}",
        ],
    ) {
        let others: Vec<String> = ["myASN", "peerASN"].iter().filter(|f| **f != field).map(|f| format!("{f}: 64500")).collect();
        let text = error(&peer(&format!("{field}: {value}, {}", others.join(", "))));
        prop_assert!(text.contains(&format!("spec.{field}")), "{}", text);
    }

    /// asdot (`1.10`, RFC 5396) is not an ASN format Kubernetes or MetalLB reads: as YAML it
    /// is a float, quoted it is a string, and both are refused.
    #[test]
    fn asdot_and_quoted_asns_are_rejected(high in any::<u16>(), low in any::<u16>(), quote in any::<bool>()) {
        let asdot = if quote { format!("'{high}.{low}'") } else { format!("{high}.{low}") };
        let text = error(&peer(&format!("myASN: {asdot}, peerASN: 64500")));
        prop_assert!(text.contains("spec.myASN"), "{}", text);
    }
}

// ---- communities ----------------------------------------------------------------------------

fn advertisement(communities: &str, aliases: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: pool, namespace: {NS}}}\nspec: {{addresses: [10.0.0.0/32, 'fd00::/128']}}\n---\n\
         apiVersion: metallb.io/v1beta1\nkind: Community\nmetadata: {{name: aliases, namespace: {NS}}}\nspec: {{communities: [{aliases}]}}\n---\n\
         apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: ad, namespace: {NS}}}\nspec: {{communities: [{communities}]}}\n"
    )
}

fn communities_of(config: &Config) -> Vec<String> {
    config.pools[0].bgp_advertisements[0].communities.iter().map(ToString::to_string).collect()
}

/// The well-known communities (RFC 1997, RFC 3765, RFC 7611, RFC 7999, RFC 8326) by the names
/// routers give them. MetalLB reads none of them: they are aliases like any other.
const WELL_KNOWN: [(&str, &str); 7] = [
    ("no-export", "65535:65281"),
    ("no-advertise", "65535:65282"),
    ("no-export-subconfed", "65535:65283"),
    ("nopeer", "65535:65284"),
    ("blackhole", "65535:666"),
    ("graceful-shutdown", "65535:0"),
    ("accept-own", "65535:1"),
];

#[test]
fn well_known_names_are_aliases_that_must_be_defined() {
    for (name, value) in WELL_KNOWN {
        assert_eq!(parse_literal(name), Err(LiteralError::Shape), "{name}");
        let text = error(&advertisement(&format!("'{name}'"), "{name: other, value: '1:1'}"));
        assert!(text.starts_with("BGPAdvertisement/ad: spec.communities[0]: "), "{text}");
        assert!(text.contains("neither a Community alias nor a community value"), "{text}");
        let config = accepted(&advertisement(&format!("'{name}'"), &format!("{{name: {name}, value: '{value}'}}")));
        assert_eq!(communities_of(&config), [value]);
    }
}

fn oversized(max: u64) -> impl Strategy<Value = String> {
    prop_oneof![(max + 1..=u64::MAX).prop_map(|v| v.to_string()), "[1-9][0-9]{20,40}"]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn standard_communities_read_back_exactly(a in any::<u16>(), b in any::<u16>()) {
        let text = format!("{a}:{b}");
        let c = parse_literal(&text).unwrap();
        prop_assert_eq!(c, Community::Standard((u32::from(a) << 16) | u32::from(b)));
        prop_assert_eq!(c.to_string(), text.clone());
        let config = accepted(&advertisement(&format!("'{text}'"), "{name: x, value: '1:1'}"));
        prop_assert_eq!(communities_of(&config), [text]);
    }

    #[test]
    fn large_communities_read_back_exactly(a in any::<u32>(), b in any::<u32>(), c in any::<u32>()) {
        let text = format!("large:{a}:{b}:{c}");
        let value = parse_literal(&text).unwrap();
        prop_assert_eq!(value, Community::Large(a, b, c));
        prop_assert_eq!(value.to_string(), text.clone());
        let config = accepted(&advertisement("gold", &format!("{{name: gold, value: '{text}'}}")));
        prop_assert_eq!(communities_of(&config), [text]);
    }

    /// A section past 16 bits (standard) or 32 bits (large), in any position: an error that
    /// names the section, in the advertisement and in a Community alias alike.
    #[test]
    fn an_oversized_section_is_an_error_naming_it(
        big16 in oversized(u64::from(u16::MAX)),
        big32 in oversized(u64::from(u32::MAX)),
        at in 0usize..3,
        small in any::<u16>(),
    ) {
        let standard = if at == 0 { format!("{big16}:{small}") } else { format!("{small}:{big16}") };
        let mut large = vec![small.to_string(); 3];
        large[at] = big32.clone();
        let large = format!("large:{}", large.join(":"));
        for (text, section) in [(standard, &big16), (large, &big32)] {
            let Err(LiteralError::Invalid(message)) = parse_literal(&text) else {
                return Err(TestCaseError::fail(format!("{text} is not refused")));
            };
            prop_assert!(message.contains(&format!("section \"{section}\"")), "{}", message);
            let in_ad = error(&advertisement(&format!("'{text}'"), "{name: x, value: '1:1'}"));
            prop_assert!(in_ad.starts_with("BGPAdvertisement/ad: spec.communities[0]: "), "{}", in_ad);
            let in_alias = error(&advertisement("x", &format!("{{name: x, value: '{text}'}}")));
            prop_assert!(in_alias.starts_with("Community/aliases: spec.communities[0].value: "), "{}", in_alias);
        }
    }
}

// ---- prefixes -------------------------------------------------------------------------------

fn pool(entry: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: p, namespace: {NS}}}\nspec: {{addresses: ['{entry}']}}\n"
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every prefix length a family has reads back as that network (host bits cleared).
    #[test]
    fn cidrs_of_every_length_read_back_as_their_network(v4 in any::<u32>(), v6 in any::<u128>(), l4 in 0u8..=32, l6 in 0u8..=128) {
        let net4 = Ipv4Net::new(Ipv4Addr::from(v4), l4).unwrap();
        let net6 = Ipv6Net::new(Ipv6Addr::from(v6), l6).unwrap();
        for (text, want) in [(net4.to_string(), IpNet::V4(net4.trunc())), (net6.to_string(), IpNet::V6(net6.trunc()))] {
            prop_assert_eq!(parse_entry(&text).unwrap().cidrs, vec![want]);
            let config = accepted(&pool(&text));
            prop_assert_eq!(&config.pools[0].entries[0].cidrs, &vec![want]);
        }
    }

    /// Past the family's width, or any number too large for any integer type: refused.
    #[test]
    fn prefix_lengths_past_the_family_are_rejected(
        v4 in any::<u32>(),
        v6 in any::<u128>(),
        l4 in prop_oneof![(33u64..).prop_map(|l| l.to_string()), "[1-9][0-9]{20,40}"],
        l6 in prop_oneof![(129u64..).prop_map(|l| l.to_string()), "[1-9][0-9]{20,40}"],
    ) {
        for text in [format!("{}/{l4}", Ipv4Addr::from(v4)), format!("{}/{l6}", Ipv6Addr::from(v6))] {
            let message = parse_entry(&text).unwrap_err();
            prop_assert!(message.starts_with("invalid CIDR"), "{}", message);
            let in_pool = error(&pool(&text));
            prop_assert!(in_pool.starts_with("IPAddressPool/p: spec.addresses"), "{}", in_pool);
        }
    }

    /// An IPv6 range covers exactly its addresses with aligned blocks; reversed, it is
    /// refused. (The IPv4 property is next to the code, crates/config/src/addresses.rs.)
    #[test]
    fn ipv6_ranges_are_covered_exactly(a in any::<u128>(), b in any::<u128>()) {
        let (s, e) = (a.min(b), a.max(b));
        let text = format!("{} - {}", Ipv6Addr::from(s), Ipv6Addr::from(e));
        let entry = parse_entry(&text).unwrap();
        let mut next = Some(s);
        for net in &entry.cidrs {
            let IpNet::V6(n) = net else { return Err(TestCaseError::fail("an IPv4 block in an IPv6 range")) };
            prop_assert_eq!(Some(u128::from(n.network())), next);
            prop_assert_eq!(n.trunc(), *n);
            next = u128::from(n.broadcast()).checked_add(1);
        }
        prop_assert_eq!(next, e.checked_add(1));
        prop_assert!(entry.cidrs.len() <= 254);
        if s != e {
            let reversed = format!("{} - {}", Ipv6Addr::from(e), Ipv6Addr::from(s));
            prop_assert!(parse_entry(&reversed).unwrap_err().contains("start is after end"));
        }
    }

    /// `aggregationLength` is 1-32 and `aggregationLengthV6` 1-128, whatever integer is
    /// written; past 32 bits the loader refuses the number itself.
    #[test]
    fn aggregation_lengths_are_bounded_by_the_family(v in any::<i64>(), v6 in any::<bool>()) {
        let (field, max) = if v6 { ("aggregationLengthV6", 128) } else { ("aggregationLength", 32) };
        let yaml = format!(
            "{}---\napiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: ad, namespace: {NS}}}\nspec: {{{field}: {v}}}\n",
            advertisement("'1:1'", "{name: x, value: '1:1'}").split("---\n").next().unwrap()
        );
        if (1..=max).contains(&v) {
            let config = accepted(&yaml);
            let ad = &config.pools[0].bgp_advertisements[0];
            prop_assert_eq!(i64::from(if v6 { ad.aggregation_length_v6 } else { ad.aggregation_length }), v);
        } else {
            let text = error(&yaml);
            prop_assert!(text.contains(&format!("spec.{field}")), "{}", text);
        }
    }
}

// ---- durations ------------------------------------------------------------------------------

/// The duration as Go's `time.Duration.String` writes it (`1h2m3.5s`, `0s`), without the
/// sub-second units Go picks for values under a second: seconds with a fraction read the same.
fn go_format(d: Duration) -> String {
    let (secs, nanos) = (d.as_secs(), d.subsec_nanos());
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if h > 0 || m > 0 {
        out += &format!("{m}m");
    }
    let frac = format!("{nanos:09}");
    let frac = frac.trim_end_matches('0');
    out += &if frac.is_empty() { format!("{s}s") } else { format!("{s}.{frac}s") };
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Anything up to Go's limit reads back from how Go prints it, and in any single unit.
    #[test]
    fn durations_up_to_the_limit_read_back_exactly(nanos in prop_oneof![0..=MAX_NANOS as u64, MAX_NANOS as u64 - 1000..=MAX_NANOS as u64]) {
        let d = Duration::from_nanos(nanos);
        prop_assert_eq!(duration::parse(&go_format(d)), Ok(d), "{}", go_format(d));
        prop_assert_eq!(duration::parse(&format!("{nanos}ns")), Ok(d));
        if nanos % 1000 == 0 {
            prop_assert_eq!(duration::parse(&format!("{}us", nanos / 1000)), Ok(d));
        }
    }

    /// One nanosecond past Go's limit, in any spelling, or a number of any size: an error,
    /// and in a BGPPeer an error naming the timer.
    #[test]
    fn durations_past_the_limit_are_rejected(extra in 1u64..=u64::MAX / 2, digits in "[1-9][0-9]{25,40}", unit in prop::sample::select(vec!["ns", "us", "ms", "s", "m", "h"])) {
        let past = Duration::from_nanos(MAX_NANOS as u64) + Duration::from_nanos(extra);
        for text in [go_format(past), format!("{}ns", MAX_NANOS + u128::from(extra)), format!("{digits}{unit}"), format!("{digits}.5{unit}")] {
            let message = duration::parse(&text).unwrap_err();
            prop_assert!(message.starts_with("invalid duration"), "{}", message);
            let in_peer = error(&peer(&format!("myASN: 1, peerASN: 2, holdTime: '{text}'")));
            prop_assert!(in_peer.starts_with("BGPPeer/p: spec.holdTime: "), "{}", in_peer);
        }
    }
}

#[test]
fn the_peer_timers_take_every_value_in_range_and_refuse_the_rest() {
    let hold = |text: &str| run(&peer(&format!("myASN: 1, peerASN: 2, holdTime: '{text}'")));
    for ok in ["0s", "3s", "65535s", "18h12m15s"] {
        assert!(matches!(hold(ok), Outcome::Loaded(Ok(_))), "{ok}");
    }
    for bad in ["1s", "2.999s", "65536s", "2562048h"] {
        assert!(matches!(hold(bad), Outcome::Loaded(Err(_))), "{bad}");
    }
    let config = accepted(&peer("myASN: 1, peerASN: 2, connectTime: 65535s"));
    assert_eq!(config.peers[0].connect_time, Some(Duration::from_secs(65535)));
}
