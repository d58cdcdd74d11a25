//! Pool status counters and allocator metric values, as plain data (docs/compatibility.md
//! §1.2 status, §7 `metallb_allocator_*`).

use ferrolb_config::Pool;
use ipnet::IpNet;
use serde::Serialize;

use crate::space::CidrSpace;

/// A pool's member count per family. CIDRs with 62 or more host bits make the count
/// `i64::MAX` ("never runs out"), as MetalLB reports them; sums saturate there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capacity {
    pub total: i64,
    pub ipv4: i64,
    pub ipv6: i64,
}

/// Member counts, arithmetically: buggy addresses excluded when `avoidBuggyIPs`.
pub fn capacity_of(pool: &Pool) -> Capacity {
    let mut capacity = Capacity::default();
    for net in &pool.cidrs {
        let host_bits = net.max_prefix_len() - net.prefix_len();
        let size = if host_bits >= 62 {
            i64::MAX
        } else {
            i64::try_from(CidrSpace::new(*net, pool.avoid_buggy_ips).capacity()).unwrap_or(i64::MAX)
        };
        capacity.total = capacity.total.saturating_add(size);
        match net {
            IpNet::V4(_) => capacity.ipv4 = capacity.ipv4.saturating_add(size),
            IpNet::V6(_) => capacity.ipv6 = capacity.ipv6.saturating_add(size),
        }
    }
    capacity
}

/// `IPAddressPool.status`: distinct addresses in use and left, per family. The API type
/// itself, so what the controller writes is exactly what the CRD holds.
pub type PoolCounters = ferrolb_api::metallb::IPAddressPoolStatus;

/// The status of a pool of `capacity` with these many distinct addresses in use.
pub(crate) fn pool_counters(capacity: &Capacity, in_use_v4: u64, in_use_v6: u64) -> PoolCounters {
    let (v4, v6) = (saturate(in_use_v4), saturate(in_use_v6));
    PoolCounters {
        assigned_ipv4: v4,
        assigned_ipv6: v6,
        available_ipv4: capacity.ipv4.saturating_sub(v4),
        available_ipv6: capacity.ipv6.saturating_sub(v6),
    }
}

/// The `metallb_allocator_*` gauges of one pool (label `pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PoolMetrics {
    /// `metallb_allocator_addresses_total`
    pub addresses_total: i64,
    /// `metallb_allocator_ipv4_addresses_total`
    pub ipv4_addresses_total: i64,
    /// `metallb_allocator_ipv6_addresses_total`
    pub ipv6_addresses_total: i64,
    /// `metallb_allocator_addresses_in_use_total`
    pub addresses_in_use_total: i64,
    /// `metallb_allocator_ipv4_addresses_in_use_total`
    pub ipv4_addresses_in_use_total: i64,
    /// `metallb_allocator_ipv6_addresses_in_use_total`
    pub ipv6_addresses_in_use_total: i64,
    /// `metallb_allocator_services_allocated_total`: services holding an address of the pool
    pub services_allocated_total: i64,
}

impl PoolMetrics {
    pub(crate) fn new(capacity: &Capacity, in_use_v4: u64, in_use_v6: u64, services: u64) -> Self {
        let (v4, v6) = (saturate(in_use_v4), saturate(in_use_v6));
        Self {
            addresses_total: capacity.total,
            ipv4_addresses_total: capacity.ipv4,
            ipv6_addresses_total: capacity.ipv6,
            addresses_in_use_total: v4.saturating_add(v6),
            ipv4_addresses_in_use_total: v4,
            ipv6_addresses_in_use_total: v6,
            services_allocated_total: saturate(services),
        }
    }
}

fn saturate(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
