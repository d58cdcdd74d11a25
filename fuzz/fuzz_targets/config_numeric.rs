//! The text parsers of numbers in the configuration, each a separate entry point: Go
//! durations (`holdTime`, `keepaliveTime`, `connectTime`; crates/config/src/duration.rs),
//! community literals (`A:B`, `large:A:B:C`; crates/config/src/community.rs) and pool
//! address entries (CIDRs and ranges; crates/config/src/addresses.rs). ASNs have no text
//! parser of their own: they are YAML integers, covered by `manifest_yaml` and the property
//! tests in crates/config/tests/numeric.rs.
//!
//! Beyond "never panics": a duration is at most Go's limit and reads back from its exact
//! nanoseconds; a community prints to a literal that parses to itself; an address entry
//! covers a non-empty run of aligned, contiguous CIDRs of one family, each of which parses
//! back to itself; every error is one line.
#![no_main]

use std::net::IpAddr;

use ferrolb_config::addresses::parse_entry;
use ferrolb_config::community::{LiteralError, parse_literal};
use ferrolb_config::duration::{self, MAX_NANOS};
use ferrolb_fuzz::assert_one_line;
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

fn span(net: &IpNet) -> (bool, u128, u128) {
    match (net.network(), net.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (false, u128::from(u32::from(a)), u128::from(u32::from(b))),
        (IpAddr::V6(a), IpAddr::V6(b)) => (true, u128::from(a), u128::from(b)),
        _ => unreachable!("a network and its broadcast are of one family"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    match duration::parse(text) {
        Ok(d) => {
            assert!(d.as_nanos() <= MAX_NANOS, "{text:?} is {d:?}, past Go's limit");
            assert_eq!(duration::parse(&format!("{}ns", d.as_nanos())), Ok(d), "{text:?}");
        }
        Err(e) => assert_one_line("the error", &e),
    }

    match parse_literal(text) {
        Ok(c) => assert_eq!(parse_literal(&c.to_string()), Ok(c), "{text:?}"),
        Err(LiteralError::Invalid(e)) => assert_one_line("the error", &e),
        Err(LiteralError::Shape) => {}
    }

    match parse_entry(text) {
        Ok(entry) => {
            assert!(!entry.cidrs.is_empty(), "{text:?} covers nothing");
            let mut next: Option<(bool, u128)> = None;
            for net in &entry.cidrs {
                assert_eq!(net.trunc(), *net, "{text:?}: {net} has host bits");
                assert_eq!(net.to_string().parse::<IpNet>(), Ok(*net));
                let (v6, first, last) = span(net);
                if let Some((family, expected)) = next {
                    assert_eq!((v6, first), (family, expected), "{text:?}: {net} does not follow on");
                }
                next = last.checked_add(1).map(|n| (v6, n));
            }
        }
        Err(e) => assert_one_line("the error", &e),
    }
});
