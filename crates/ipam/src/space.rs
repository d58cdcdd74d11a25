//! One CIDR as a dense, ordered index space of its allocatable addresses, and the set of
//! free indexes in it.
//!
//! MetalLB walks a CIDR address by address, skipping `.0`/`.255` when `avoidBuggyIPs` is set
//! and anything already taken (docs/compatibility.md §3.5). Here the member addresses of a CIDR are
//! numbered `0..count` in address order, so "the lowest free member" is the first key of an
//! interval map: O(log n) whatever the occupancy, and a 2^64-address IPv6 CIDR costs one
//! map entry until it is used.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// The member addresses of one CIDR of a pool, numbered in address order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CidrSpace {
    net: IpNet,
    /// The network address as a number.
    first: u128,
    /// The last address as a number.
    last: u128,
    layout: Layout,
}

/// How member addresses map onto indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every address is a member: index = address - first.
    Plain,
    /// `avoidBuggyIPs` on an IPv4 CIDR of /24 or wider: 254 members per /24 block,
    /// `.1` to `.254`.
    BuggyBlocks,
    /// `avoidBuggyIPs` on an IPv4 CIDR narrower than /24: contiguous members from `lo` to
    /// `hi` (the CIDR minus a `.0` first or `.255` last address); empty when `lo > hi`.
    BuggyInside { lo: u128, hi: u128 },
}

impl CidrSpace {
    pub(crate) fn new(net: IpNet, avoid_buggy_ips: bool) -> Self {
        let net = net.trunc();
        let (first, last) = (to_u128(net.network()), to_u128(net.broadcast()));
        let layout = match net {
            IpNet::V4(_) if avoid_buggy_ips && net.prefix_len() <= 24 => Layout::BuggyBlocks,
            IpNet::V4(_) if avoid_buggy_ips => Layout::BuggyInside {
                lo: first + u128::from(first & 0xff == 0),
                hi: last - u128::from(last & 0xff == 0xff),
            },
            _ => Layout::Plain,
        };
        Self { net, first, last, layout }
    }

    pub(crate) fn is_ipv4(&self) -> bool {
        matches!(self.net, IpNet::V4(_))
    }

    /// The first and last address of the CIDR, members or not.
    pub(crate) fn bounds(&self) -> (IpAddr, IpAddr) {
        (self.net.network(), self.net.broadcast())
    }

    /// The highest index, or `None` when the CIDR has no member at all (a lone buggy
    /// address with `avoidBuggyIPs`).
    pub(crate) fn last_index(&self) -> Option<u128> {
        match self.layout {
            Layout::Plain => Some(self.last - self.first),
            Layout::BuggyBlocks => Some(((self.last - self.first + 1) >> 8) * 254 - 1),
            Layout::BuggyInside { lo, hi } => (lo <= hi).then(|| hi - lo),
        }
    }

    /// Members in the CIDR, saturating (a `::/0` has 2^128 of them).
    pub(crate) fn capacity(&self) -> u128 {
        self.last_index().map_or(0, |i| i.saturating_add(1))
    }

    /// The index of `ip`, if it is a member of this CIDR.
    pub(crate) fn index_of(&self, ip: IpAddr) -> Option<u128> {
        if !self.net.contains(&ip) {
            return None;
        }
        let a = to_u128(ip);
        match self.layout {
            Layout::Plain => Some(a - self.first),
            Layout::BuggyBlocks => {
                let octet = a & 0xff;
                (1..=254).contains(&octet).then(|| ((a - self.first) >> 8) * 254 + octet - 1)
            }
            Layout::BuggyInside { lo, hi } => (lo..=hi).contains(&a).then(|| a - lo),
        }
    }

    /// The member address at `index` (which must be at most [`Self::last_index`]).
    pub(crate) fn addr_at(&self, index: u128) -> IpAddr {
        let a = match self.layout {
            Layout::Plain => self.first + index,
            Layout::BuggyBlocks => self.first + ((index / 254) << 8) + index % 254 + 1,
            Layout::BuggyInside { lo, .. } => lo + index,
        };
        from_u128(a, self.is_ipv4())
    }
}

/// Free indexes of one [`CidrSpace`] as disjoint, non-adjacent inclusive intervals
/// (start -> end). Taking and giving back one index touches at most two intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FreeSet {
    intervals: BTreeMap<u128, u128>,
}

impl FreeSet {
    /// Every index from 0 to `last` free; nothing free for `None`.
    pub(crate) fn full(last: Option<u128>) -> Self {
        Self { intervals: last.map(|last| (0, last)).into_iter().collect() }
    }

    /// The lowest free index.
    pub(crate) fn lowest(&self) -> Option<u128> {
        self.intervals.first_key_value().map(|(start, _)| *start)
    }

    pub(crate) fn is_free(&self, index: u128) -> bool {
        self.intervals.range(..=index).next_back().is_some_and(|(_, end)| *end >= index)
    }

    /// Marks `index` used; false when it was not free.
    pub(crate) fn take(&mut self, index: u128) -> bool {
        let Some((&start, &end)) = self.intervals.range(..=index).next_back() else {
            return false;
        };
        if end < index {
            return false;
        }
        self.intervals.remove(&start);
        if start < index {
            self.intervals.insert(start, index - 1);
        }
        if index < end {
            self.intervals.insert(index + 1, end);
        }
        true
    }

    /// Marks `index` free again; false when it already was.
    pub(crate) fn give(&mut self, index: u128) -> bool {
        if self.is_free(index) {
            return false;
        }
        let mut start = index;
        let mut end = index;
        if let Some(before) = index.checked_sub(1)
            && let Some((&s, &e)) = self.intervals.range(..=before).next_back()
            && e == before
        {
            self.intervals.remove(&s);
            start = s;
        }
        if let Some(after) = index.checked_add(1)
            && let Some(e) = self.intervals.remove(&after)
        {
            end = e;
        }
        self.intervals.insert(start, end);
        true
    }

    /// Number of intervals: memory use, for tests.
    #[cfg(test)]
    pub(crate) fn fragments(&self) -> usize {
        self.intervals.len()
    }
}

pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(a: u128, ipv4: bool) -> IpAddr {
    if ipv4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(a).expect("IPv4 addresses fit in 32 bits")))
    } else {
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(net: &str, avoid: bool) -> CidrSpace {
        CidrSpace::new(net.parse().unwrap(), avoid)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn plain_cidr_numbers_network_and_broadcast_addresses_too() {
        let s = space("10.0.0.0/24", false);
        assert_eq!(s.capacity(), 256);
        assert_eq!(s.addr_at(0), ip("10.0.0.0"));
        assert_eq!(s.addr_at(255), ip("10.0.0.255"));
        assert_eq!(s.index_of(ip("10.0.0.7")), Some(7));
        assert_eq!(s.index_of(ip("10.0.1.7")), None);
    }

    #[test]
    fn avoid_buggy_ips_skips_every_dot_zero_and_dot_255_of_a_wide_cidr() {
        let s = space("10.0.0.0/23", true);
        assert_eq!(s.capacity(), 508);
        assert_eq!(s.addr_at(0), ip("10.0.0.1"));
        assert_eq!(s.addr_at(253), ip("10.0.0.254"));
        assert_eq!(s.addr_at(254), ip("10.0.1.1"));
        assert_eq!(s.index_of(ip("10.0.1.0")), None);
        assert_eq!(s.index_of(ip("10.0.0.255")), None);
        assert_eq!(s.index_of(ip("10.0.1.254")), Some(507));
    }

    #[test]
    fn avoid_buggy_ips_trims_only_the_buggy_ends_of_a_narrow_cidr() {
        assert_eq!(space("10.0.0.0/30", true).capacity(), 3);
        assert_eq!(space("10.0.0.0/30", true).addr_at(0), ip("10.0.0.1"));
        assert_eq!(space("10.0.0.252/30", true).capacity(), 3);
        assert_eq!(space("10.0.0.8/30", true).capacity(), 4);
        assert_eq!(space("10.0.0.0/32", true).capacity(), 0);
        assert_eq!(space("10.0.0.255/32", true).last_index(), None);
    }

    #[test]
    fn avoid_buggy_ips_has_no_effect_on_ipv6() {
        assert_eq!(space("fd00::/120", true).capacity(), 256);
        assert_eq!(space("fd00::/120", true).addr_at(0), ip("fd00::"));
    }

    #[test]
    fn the_whole_ipv6_space_is_one_interval() {
        let s = space("::/0", false);
        assert_eq!(s.last_index(), Some(u128::MAX));
        assert_eq!(s.capacity(), u128::MAX);
        let mut free = FreeSet::full(s.last_index());
        assert!(free.take(u128::MAX));
        assert!(free.take(0));
        assert_eq!(free.lowest(), Some(1));
        assert!(free.give(u128::MAX));
        assert!(free.give(0));
        assert_eq!(free.fragments(), 1);
    }

    #[test]
    fn free_set_takes_and_gives_back_to_the_same_intervals() {
        let mut free = FreeSet::full(Some(9));
        assert!(free.take(0));
        assert!(free.take(5));
        assert!(!free.take(5));
        assert_eq!(free.lowest(), Some(1));
        assert_eq!(free.fragments(), 2);
        assert!(free.give(5));
        assert!(!free.give(5));
        assert!(free.give(0));
        assert_eq!(free, FreeSet::full(Some(9)));
    }

    proptest::proptest! {
        #[test]
        fn index_and_address_are_inverse_for_every_layout(len in 16u8..=32, avoid: bool, pick: u32) {
            let s = CidrSpace::new(IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), len).unwrap()), avoid);
            if let Some(last) = s.last_index() {
                let i = u128::from(pick) % (last + 1);
                let a = s.addr_at(i);
                proptest::prop_assert_eq!(s.index_of(a), Some(i));
                proptest::prop_assert!(!(avoid && ferrolb_config::addresses::is_buggy(a)));
            }
        }
    }
}
