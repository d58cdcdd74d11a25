//! Pool address entries: CIDRs and ranges, and the "buggy" IPv4 addresses.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One `addresses` entry of a pool, with the CIDRs it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressEntry {
    /// The entry as written.
    pub text: String,
    /// The minimal CIDRs covering the entry, host bits cleared, in address order.
    pub cidrs: Vec<IpNet>,
}

impl AddressEntry {
    pub fn is_ipv4(&self) -> bool {
        matches!(self.cidrs.first(), Some(IpNet::V4(_)))
    }

    /// The shortest prefix length among the entry's CIDRs: the widest block an aggregate
    /// may not exceed (docs/compatibility.md §1.4 rule 1).
    pub fn widest_prefix_len(&self) -> u8 {
        self.cidrs.iter().map(IpNet::prefix_len).min().unwrap_or(0)
    }
}

/// Parses a CIDR (`10.0.0.0/24`, host bits allowed and cleared) or a range
/// (`10.0.0.1 - 10.0.0.9`, blanks trimmed around the dash and each address).
///
/// MetalLB trims nothing in the CIDR form, so `" 10.0.0.0/8"` is invalid here too.
pub fn parse_entry(text: &str) -> Result<AddressEntry, String> {
    let cidrs = if let Some((start, end)) = text.split_once('-') {
        let start: IpAddr =
            start.trim().parse().map_err(|_| format!("invalid IP range {text:?}: bad start address"))?;
        let end: IpAddr = end.trim().parse().map_err(|_| format!("invalid IP range {text:?}: bad end address"))?;
        range_to_cidrs(start, end).map_err(|why| format!("invalid IP range {text:?}: {why}"))?
    } else {
        let net: IpNet = text.parse().map_err(|_| format!("invalid CIDR {text:?}"))?;
        vec![net.trunc()]
    };
    Ok(AddressEntry { text: text.to_owned(), cidrs })
}

/// The minimal list of CIDRs covering exactly `[start, end]`.
pub fn range_to_cidrs(start: IpAddr, end: IpAddr) -> Result<Vec<IpNet>, &'static str> {
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let (s, e) = (u32::from(s) as u128, u32::from(e) as u128);
            if s > e {
                return Err("start is after end");
            }
            Ok(summarize(s, e, 32)
                .into_iter()
                .map(|(addr, len)| IpNet::V4(Ipv4Net::new((addr as u32).into(), len).expect("prefix length <= 32")))
                .collect())
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            let (s, e) = (u128::from(s), u128::from(e));
            if s > e {
                return Err("start is after end");
            }
            Ok(summarize(s, e, 128)
                .into_iter()
                .map(|(addr, len)| IpNet::V6(Ipv6Net::new(addr.into(), len).expect("prefix length <= 128")))
                .collect())
        }
        _ => Err("start and end are of different address families"),
    }
}

/// Greedy CIDR cover of `[start, end]` in a `bits`-wide address space: at each step take the
/// largest aligned block that starts at `start` and does not pass `end`.
fn summarize(mut start: u128, end: u128, bits: u8) -> Vec<(u128, u8)> {
    let mut out = Vec::new();
    loop {
        let align = if start == 0 { bits as u32 } else { start.trailing_zeros().min(bits as u32) };
        let remaining = end - start;
        let fit = if remaining == u128::MAX { 128 } else { 127 - (remaining + 1).leading_zeros() };
        let host_bits = align.min(fit);
        out.push((start, bits - host_bits as u8));
        let size_minus_one = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
        match start.checked_add(size_minus_one) {
            Some(last) if last < end => start = last + 1,
            _ => return out,
        }
    }
}

/// An IPv4 address ending in .0 or .255, which some old client stacks mistake for a
/// network or broadcast address. Pools with `avoidBuggyIPs` never contain them.
pub fn is_buggy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(text: &str) -> Vec<String> {
        parse_entry(text).unwrap().cidrs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn cidr_with_host_bits_is_normalised_to_its_network() {
        assert_eq!(cidrs("10.20.30.40/24"), ["10.20.30.0/24"]);
        assert_eq!(cidrs("2001:db8::1/64"), ["2001:db8::/64"]);
    }

    #[test]
    fn range_is_summarised_into_minimal_cidrs() {
        assert_eq!(cidrs("10.0.0.0-10.0.0.255"), ["10.0.0.0/24"]);
        assert_eq!(
            cidrs("3.3.3.2-3.3.3.254"),
            [
                "3.3.3.2/31",
                "3.3.3.4/30",
                "3.3.3.8/29",
                "3.3.3.16/28",
                "3.3.3.32/27",
                "3.3.3.64/26",
                "3.3.3.128/26",
                "3.3.3.192/27",
                "3.3.3.224/28",
                "3.3.3.240/29",
                "3.3.3.248/30",
                "3.3.3.252/31",
                "3.3.3.254/32"
            ]
        );
        assert_eq!(cidrs("fd00::1-fd00::2"), ["fd00::1/128", "fd00::2/128"]);
    }

    #[test]
    fn range_blanks_are_trimmed_and_single_address_ranges_allowed() {
        assert_eq!(cidrs("10.0.0.210 - 10.0.0.211"), ["10.0.0.210/31"]);
        assert_eq!(cidrs(" 10.0.0.7 -10.0.0.7 "), ["10.0.0.7/32"]);
    }

    #[test]
    fn whole_address_spaces_summarise_to_one_block() {
        assert_eq!(cidrs("0.0.0.0-255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(cidrs(":: - ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), ["::/0"]);
    }

    #[test]
    fn bad_entries_are_rejected_with_the_reason() {
        for (text, why) in [
            ("10.0.0.0", "invalid CIDR"),
            (" 10.0.0.0/8", "invalid CIDR"),
            ("10.0.0.0/33", "invalid CIDR"),
            ("banana", "invalid CIDR"),
            ("10.0.0.9-10.0.0.1", "start is after end"),
            ("10.0.0.1-fd00::1", "different address families"),
            ("10.0.0.x-10.0.0.1", "bad start address"),
            ("10.0.0.1-", "bad end address"),
        ] {
            let err = parse_entry(text).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn buggy_ips_are_ipv4_dot_zero_and_dot_255_only() {
        assert!(is_buggy("10.0.1.0".parse().unwrap()));
        assert!(is_buggy("10.0.1.255".parse().unwrap()));
        assert!(!is_buggy("10.0.1.1".parse().unwrap()));
        assert!(!is_buggy("fd00::ff".parse().unwrap()));
    }

    #[test]
    fn widest_prefix_of_a_range_is_its_shortest_cidr() {
        assert_eq!(parse_entry("3.3.3.2-3.3.3.254").unwrap().widest_prefix_len(), 26);
    }

    proptest::proptest! {
        #[test]
        fn range_cover_is_exact_contiguous_and_aligned(a: u32, b: u32) {
            let (s, e) = (a.min(b), a.max(b));
            let nets = range_to_cidrs(IpAddr::V4(s.into()), IpAddr::V4(e.into())).unwrap();
            let mut next = s as u64;
            for net in &nets {
                let IpNet::V4(n) = net else { unreachable!() };
                let first = u32::from(n.network()) as u64;
                proptest::prop_assert_eq!(first, next);
                proptest::prop_assert_eq!(n.trunc(), *n);
                next = u32::from(n.broadcast()) as u64 + 1;
            }
            proptest::prop_assert_eq!(next, e as u64 + 1);
            proptest::prop_assert!(nets.len() <= 62);
        }
    }
}
