//! IPAddressPool (docs/compatibility.md §1.2): addresses, service allocation, and overlaps.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ferrolb_api::Object;
use ferrolb_api::metallb::IPAddressPoolSpec;
use ipnet::IpNet;

use super::{Context, reject_duplicates, selectors};
use crate::addresses::parse_entry;
use crate::error::{ConfigError, kind};
use crate::model::{Pool, ServiceAllocation};
use crate::selector::{Selector, any_matches};

pub(super) const KIND: &str = kind::POOL;

pub(super) fn parse(ctx: &Context<'_>, objects: &[&Object<IPAddressPoolSpec>]) -> Result<Vec<Pool>, ConfigError> {
    let pools = objects.iter().map(|o| parse_one(ctx, o)).collect::<Result<Vec<_>, _>>()?;
    check_overlaps(&pools)?;
    Ok(pools)
}

fn parse_one(ctx: &Context<'_>, object: &Object<IPAddressPoolSpec>) -> Result<Pool, ConfigError> {
    ctx.check_namespace(KIND, &object.metadata)?;
    let name = object.name();
    let spec = &object.spec;
    if spec.addresses.is_empty() {
        return Err(ConfigError::new(KIND, name, "spec.addresses", "pool has no prefixes defined"));
    }
    let entries = spec
        .addresses
        .iter()
        .enumerate()
        .map(|(i, text)| parse_entry(text).map_err(|m| ConfigError::new(KIND, name, format!("spec.addresses[{i}]"), m)))
        .collect::<Result<Vec<_>, _>>()?;
    let service_allocation = match &spec.service_allocation {
        None => None,
        Some(sa) => {
            reject_duplicates(KIND, name, "spec.serviceAllocation.namespaces", &sa.namespaces)?;
            let ns_selectors = selectors(KIND, name, "serviceAllocation.namespaceSelectors", &sa.namespace_selectors)?;
            let mut service_selectors =
                selectors(KIND, name, "serviceAllocation.serviceSelectors", &sa.service_selectors)?;
            let mut namespaces: BTreeSet<String> = sa.namespaces.iter().cloned().collect();
            if !ns_selectors.is_empty() {
                namespaces.extend(
                    ctx.resources
                        .namespaces
                        .iter()
                        .filter(|ns| any_matches(&ns_selectors, &ns.metadata.labels))
                        .map(|ns| ns.metadata.name.clone()),
                );
            }
            // A serviceAllocation naming nothing (priority only) matches every service.
            if sa.namespaces.is_empty() && sa.namespace_selectors.is_empty() && sa.service_selectors.is_empty() {
                service_selectors.push(Selector::everything());
            }
            Some(ServiceAllocation { priority: sa.priority, namespaces, service_selectors })
        }
    };
    Ok(Pool {
        name: name.to_owned(),
        labels: object.metadata.labels.clone(),
        cidrs: entries.iter().flat_map(|e| e.cidrs.iter().copied()).collect(),
        entries,
        auto_assign: spec.auto_assign.unwrap_or(true),
        avoid_buggy_ips: spec.avoid_buggy_ips,
        service_allocation,
        bgp_advertisements: Vec::new(),
        l2_advertisements: Vec::new(),
    })
}

/// No two CIDRs may overlap, in one pool or across pools. Sorting by start address finds
/// every overlap against the running furthest end, in O(n log n).
///
/// Of all overlaps found, the one reported is the one whose later CIDR comes first in
/// processing order (pools by name, CIDRs in spec order), which is where MetalLB's pool by
/// pool check would stop.
fn check_overlaps(pools: &[Pool]) -> Result<(), ConfigError> {
    struct Span {
        v6: bool,
        start: u128,
        end: u128,
        order: usize,
        pool: usize,
        cidr: IpNet,
    }
    let mut spans = Vec::new();
    for (pool_index, pool) in pools.iter().enumerate() {
        for cidr in &pool.cidrs {
            let (v6, start, end) = match (cidr.network(), cidr.broadcast()) {
                (IpAddr::V4(s), IpAddr::V4(e)) => (false, u32::from(s) as u128, u32::from(e) as u128),
                (IpAddr::V6(s), IpAddr::V6(e)) => (true, u128::from(s), u128::from(e)),
                _ => unreachable!("a CIDR's network and broadcast share its family"),
            };
            spans.push(Span { v6, start, end, order: spans.len(), pool: pool_index, cidr: *cidr });
        }
    }
    spans.sort_unstable_by_key(|s| (s.v6, s.start, s.order));
    let mut worst: Option<(&Span, &Span)> = None;
    let mut reach: Option<&Span> = None;
    for span in &spans {
        if let Some(holder) = reach.filter(|h| h.v6 == span.v6 && span.start <= h.end) {
            let (earlier, later) = if holder.order < span.order { (holder, span) } else { (span, holder) };
            if worst.is_none_or(|(_, w)| later.order < w.order) {
                worst = Some((earlier, later));
            }
        }
        if reach.is_none_or(|h| h.v6 != span.v6 || span.end > h.end) {
            reach = Some(span);
        }
    }
    match worst {
        None => Ok(()),
        Some((earlier, later)) => {
            let other = &pools[earlier.pool].name;
            let owner = &pools[later.pool].name;
            Err(ConfigError::new(
                KIND,
                owner,
                "spec.addresses",
                format!(
                    "CIDR {} in pool {owner:?} overlaps with already defined CIDR {} in pool {other:?}",
                    later.cidr, earlier.cidr
                ),
            ))
        }
    }
}
