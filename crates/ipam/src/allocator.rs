//! The allocator: which service holds which address of which pool (docs/compatibility.md §3.2-§3.5).
//!
//! State per service (pool, addresses, ports, keys) and per address (users, ports, sharing
//! key), as MetalLB keeps it, plus two indexes MetalLB does not have so that choosing an
//! address never walks the pool: per CIDR the free member addresses as intervals
//! ([`FreeSet`]), and per allocation key the shareable addresses grouped by the ports they
//! already serve. The lowest usable address of a CIDR is then the lower of the lowest free
//! one and the lowest shareable one, each an O(log n) lookup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use ferrolb_api::{VecMap, VecSet};
use ferrolb_config::{Config, Pool};

use crate::family::{Family, Policy, quote_ips};
use crate::service::{AllocKey, Port};
use crate::space::{CidrSpace, FreeSet};
use crate::stats::{PoolCounters, PoolMetrics, capacity_of, pool_counters};

/// What one service asks for, independent of how it was written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim<'a> {
    pub key: &'a str,
    pub namespace: &'a str,
    pub labels: &'a ferrolb_api::StringMap,
    /// Sorted, without duplicates.
    pub ports: &'a [Port],
    pub alloc_key: &'a AllocKey,
}

/// A service's current allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    pool: usize,
    ips: Vec<IpAddr>,
    ports: Vec<Port>,
    key: AllocKey,
}

/// Everyone using one address. All users carry the same key, except right after the sole
/// user changed its key in place (the latest assignment's key is kept, as MetalLB does).
/// An address has one user or a few sharing it, so the users and their ports are sorted
/// vectors, not B-tree nodes (a kilobyte per address).
#[derive(Debug, Clone)]
struct AddressUse {
    pool: usize,
    key: AllocKey,
    ports: VecMap<Port, String>,
    services: VecSet<String>,
}

#[derive(Debug, Clone)]
struct PoolState {
    config: Pool,
    cidrs: Vec<(CidrSpace, FreeSet)>,
    in_use_v4: u64,
    in_use_v6: u64,
    /// Services holding an address of this pool.
    services: u64,
}

/// The best addresses one pool offers a claim, per family (MetalLB's `Allocation`).
#[derive(Debug, Clone, Copy)]
struct Offer {
    pool: usize,
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
}

impl Offer {
    fn get(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
            Family::Dual => None,
        }
    }
}

/// Shareable addresses of one allocation key, grouped by the exact set of ports in use on
/// them: a claim skips a whole group when its ports overlap.
type ShareIndex = HashMap<Vec<Port>, BTreeSet<IpAddr>>;

/// The controller's allocation state. Pure: no I/O, no clock; the same calls in the same
/// order give the same result.
#[derive(Debug, Clone, Default)]
pub struct Allocator {
    /// The `--lb-class` setting: `None` handles only services without a class.
    pub(crate) lb_class: Option<String>,
    /// Whether a configuration was ever set: without one MetalLB does nothing at all.
    pub(crate) configured: bool,
    pools: Vec<PoolState>,
    /// Network address of every CIDR -> (pool, CIDR position). Pools never overlap.
    cidr_index: BTreeMap<IpAddr, (usize, usize)>,
    /// Pools with a serviceAllocation, by (priority rank, name).
    pinned_order: Vec<usize>,
    /// Pools with autoAssign and no serviceAllocation, by name.
    generic_order: Vec<usize>,
    services: HashMap<String, Assignment>,
    addresses: HashMap<IpAddr, AddressUse>,
    shareable: HashMap<AllocKey, ShareIndex>,
}

impl Allocator {
    /// An allocator without pools. `lb_class` is the `--lb-class` flag (empty = none).
    pub fn new(lb_class: Option<String>) -> Self {
        Self { lb_class: lb_class.filter(|c| !c.is_empty()), ..Self::default() }
    }

    /// Installs a new configuration and re-homes every allocation (docs/compatibility.md §3.4): an
    /// allocation whose addresses all belong to one pool of the new configuration stays
    /// (under that pool's name); any other is released. Returns the released services,
    /// sorted; the caller then reprocesses every service.
    pub fn set_pools(&mut self, config: &Config) -> Vec<String> {
        let mut old: Vec<(String, Assignment)> = std::mem::take(&mut self.services).into_iter().collect();
        old.sort_by(|a, b| a.0.cmp(&b.0));
        self.addresses.clear();
        self.shareable.clear();
        self.cidr_index.clear();
        self.configured = true;
        self.pools = config
            .pools
            .iter()
            .map(|p| PoolState {
                config: p.clone(),
                cidrs: p
                    .cidrs
                    .iter()
                    .map(|net| {
                        let space = CidrSpace::new(*net, p.avoid_buggy_ips);
                        let free = FreeSet::full(space.last_index());
                        (space, free)
                    })
                    .collect(),
                in_use_v4: 0,
                in_use_v6: 0,
                services: 0,
            })
            .collect();
        for (p, pool) in self.pools.iter().enumerate() {
            for (c, (space, _)) in pool.cidrs.iter().enumerate() {
                self.cidr_index.insert(space.bounds().0, (p, c));
            }
        }
        let rank = |p: &PoolState| {
            let priority = p.config.service_allocation.as_ref().map_or(0, |sa| sa.priority);
            (priority <= 0, priority.max(0))
        };
        let mut pinned: Vec<usize> =
            (0..self.pools.len()).filter(|&i| self.pools[i].config.service_allocation.is_some()).collect();
        pinned.sort_by(|&a, &b| {
            (rank(&self.pools[a]), &self.pools[a].config.name).cmp(&(rank(&self.pools[b]), &self.pools[b].config.name))
        });
        self.pinned_order = pinned;
        self.generic_order = (0..self.pools.len())
            .filter(|&i| self.pools[i].config.auto_assign && self.pools[i].config.service_allocation.is_none())
            .collect();

        let mut released = Vec::new();
        for (svc, mut assignment) in old {
            match self.pool_for(&assignment.ips) {
                Some(pool) => {
                    assignment.pool = pool;
                    self.insert(&svc, assignment);
                }
                None => released.push(svc),
            }
        }
        released
    }

    pub fn has_pools(&self) -> bool {
        !self.pools.is_empty()
    }

    /// The addresses `svc` (`namespace/name`) holds, in assignment order.
    pub fn ips(&self, svc: &str) -> &[IpAddr] {
        self.services.get(svc).map_or(&[], |a| &a.ips)
    }

    /// The pool `svc` holds its addresses from.
    pub fn pool(&self, svc: &str) -> Option<&str> {
        self.services.get(svc).map(|a| self.pools[a.pool].config.name.as_str())
    }

    /// The pool that owns every one of `ips` (avoidBuggyIPs respected), by name.
    pub fn pool_for_ips(&self, ips: &[IpAddr]) -> Option<&str> {
        self.pool_for(ips).map(|p| self.pools[p].config.name.as_str())
    }

    /// Number of services holding an address.
    pub fn allocated_services(&self) -> usize {
        self.services.len()
    }

    /// `IPAddressPool.status` of pool `name` (docs/compatibility.md §1.2).
    pub fn counters(&self, name: &str) -> Option<PoolCounters> {
        let pool = self.pool_state(name)?;
        let capacity = capacity_of(&pool.config);
        Some(pool_counters(&capacity, pool.in_use_v4, pool.in_use_v6))
    }

    /// The `metallb_allocator_*` gauge values of pool `name` (docs/compatibility.md §7).
    pub fn metrics(&self, name: &str) -> Option<PoolMetrics> {
        let pool = self.pool_state(name)?;
        Some(PoolMetrics::new(&capacity_of(&pool.config), pool.in_use_v4, pool.in_use_v6, pool.services))
    }

    /// Names of the configured pools, sorted.
    pub fn pool_names(&self) -> impl Iterator<Item = &str> {
        self.pools.iter().map(|p| p.config.name.as_str())
    }

    fn pool_state(&self, name: &str) -> Option<&PoolState> {
        self.pools.binary_search_by(|p| p.config.name.as_str().cmp(name)).ok().map(|i| &self.pools[i])
    }

    pub(crate) fn pool_index(&self, name: &str) -> Option<usize> {
        self.pools.binary_search_by(|p| p.config.name.as_str().cmp(name)).ok()
    }

    /// The pool and CIDR position where `ip` is a member.
    fn locate(&self, ip: IpAddr) -> Option<(usize, usize, u128)> {
        let (_, &(p, c)) = self.cidr_index.range(..=ip).next_back()?;
        let index = self.pools[p].cidrs[c].0.index_of(ip)?;
        Some((p, c, index))
    }

    fn pool_for(&self, ips: &[IpAddr]) -> Option<usize> {
        let mut pools = ips.iter().map(|ip| self.locate(*ip).map(|(p, _, _)| p));
        let first = pools.next()??;
        pools.all(|p| p == Some(first)).then_some(first)
    }

    /// Whether the pool's serviceAllocation admits the service (docs/compatibility.md §3.2).
    fn compatible(&self, pool: usize, claim: &Claim<'_>) -> bool {
        let Some(sa) = &self.pools[pool].config.service_allocation else {
            return true;
        };
        if !sa.namespaces.is_empty() && !sa.namespaces.contains(claim.namespace) {
            return false;
        }
        sa.service_selectors.is_empty() || sa.service_selectors.iter().any(|s| s.matches(claim.labels))
    }

    /// Records `ips` for the claim after every check MetalLB's `Assign` makes: the
    /// addresses belong to one pool, the pool admits the service, at most one address per
    /// family, and each address is free or shareable with this claim.
    pub(crate) fn assign(&mut self, claim: &Claim<'_>, ips: &[IpAddr]) -> Result<(), String> {
        let pool = self.pool_for(ips).ok_or_else(|| format!("{} is not allowed in config", quote_ips(ips)))?;
        if !self.compatible(pool, claim) {
            return Err(format!("pool {} not compatible for ip assignment", self.pools[pool].config.name));
        }
        if ips.len() > 2 {
            return Err(format!("more than two addresses {}", quote_ips(ips)));
        }
        if let [a, b] = ips
            && a.is_ipv4() == b.is_ipv4()
        {
            return Err(format!("{:?} {:?} has the same family", a.to_string(), b.to_string()));
        }
        for ip in ips {
            self.check_sharing(claim, *ip)?;
        }
        self.release(claim.key);
        let assignment =
            Assignment { pool, ips: ips.to_vec(), ports: claim.ports.to_vec(), key: claim.alloc_key.clone() };
        self.insert(claim.key, assignment);
        Ok(())
    }

    /// MetalLB's `checkSharing` (docs/compatibility.md §3.3), with its messages (the current form, which
    /// appends why the keys are incompatible).
    fn check_sharing(&self, claim: &Claim<'_>, ip: IpAddr) -> Result<(), String> {
        let Some(used) = self.addresses.get(&ip) else {
            return Ok(());
        };
        if let Err(why) = sharing_ok(&used.key, claim.alloc_key) {
            let others: Vec<&str> = used.services.iter().map(String::as_str).filter(|s| *s != claim.key).collect();
            if !others.is_empty() {
                return Err(format!(
                    "can't change sharing key for {:?}, address also in use by {}: {why}",
                    claim.key,
                    others.join(",")
                ));
            }
        }
        for port in claim.ports {
            if used.ports.get(port).is_some_and(|owner| owner != claim.key) {
                return Err(format!("port {port} is already in use on {:?}", ip.to_string()));
            }
        }
        Ok(())
    }

    /// Frees every address of `svc`; false when it held none.
    /// The Services holding addresses, as `namespace/name`.
    pub fn holders(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    pub(crate) fn release(&mut self, svc: &str) -> bool {
        let Some(assignment) = self.services.remove(svc) else {
            return false;
        };
        self.pools[assignment.pool].services -= 1;
        for ip in &assignment.ips {
            let Some(mut used) = self.addresses.remove(ip) else { continue };
            self.unindex(*ip, &used);
            used.ports.retain(|_, owner| owner != svc);
            used.services.remove(svc);
            if used.services.is_empty() {
                if let Some((p, c, index)) = self.locate(*ip) {
                    self.pools[p].cidrs[c].1.give(index);
                }
                let pool = &mut self.pools[used.pool];
                if ip.is_ipv4() {
                    pool.in_use_v4 -= 1;
                } else {
                    pool.in_use_v6 -= 1;
                }
            } else {
                self.index(*ip, &used);
                self.addresses.insert(*ip, used);
            }
        }
        true
    }

    /// Records an assignment known to be valid.
    fn insert(&mut self, svc: &str, assignment: Assignment) {
        self.release(svc);
        self.pools[assignment.pool].services += 1;
        for ip in &assignment.ips {
            let mut used = match self.addresses.remove(ip) {
                Some(used) => {
                    self.unindex(*ip, &used);
                    used
                }
                None => {
                    if let Some((p, c, index)) = self.locate(*ip) {
                        self.pools[p].cidrs[c].1.take(index);
                    }
                    let pool = &mut self.pools[assignment.pool];
                    if ip.is_ipv4() {
                        pool.in_use_v4 += 1;
                    } else {
                        pool.in_use_v6 += 1;
                    }
                    AddressUse {
                        pool: assignment.pool,
                        key: assignment.key.clone(),
                        ports: VecMap::new(),
                        services: VecSet::new(),
                    }
                }
            };
            used.key = assignment.key.clone();
            for port in &assignment.ports {
                used.ports.insert(port.clone(), svc.to_owned());
            }
            used.services.insert(svc.to_owned());
            self.index(*ip, &used);
            self.addresses.insert(*ip, used);
        }
        self.services.insert(svc.to_owned(), assignment);
    }

    fn index(&mut self, ip: IpAddr, used: &AddressUse) {
        if used.key.sharing.is_empty() {
            return;
        }
        let signature: Vec<Port> = used.ports.keys().cloned().collect();
        self.shareable.entry(used.key.clone()).or_default().entry(signature).or_default().insert(ip);
    }

    fn unindex(&mut self, ip: IpAddr, used: &AddressUse) {
        if used.key.sharing.is_empty() {
            return;
        }
        let Some(groups) = self.shareable.get_mut(&used.key) else { return };
        let signature: Vec<Port> = used.ports.keys().cloned().collect();
        if let Some(set) = groups.get_mut(&signature) {
            set.remove(&ip);
            if set.is_empty() {
                groups.remove(&signature);
            }
        }
        if groups.is_empty() {
            self.shareable.remove(&used.key);
        }
    }

    /// The lowest address of CIDR `c` of pool `p` the claim may use: free, or in use by
    /// services it can share with. The claim must not hold an address of this family.
    fn lowest_usable(&self, p: usize, c: usize, claim: &Claim<'_>) -> Option<IpAddr> {
        let (space, free) = &self.pools[p].cidrs[c];
        let free_candidate = free.lowest().map(|i| space.addr_at(i));
        let shared_candidate = if claim.alloc_key.sharing.is_empty() {
            None
        } else {
            let (lo, hi) = space.bounds();
            self.shareable
                .get(claim.alloc_key)
                .into_iter()
                .flat_map(|groups| groups.iter())
                .filter(|(signature, _)| disjoint(signature, claim.ports))
                .filter_map(|(_, set)| set.range(lo..=hi).next().copied())
                .min()
        };
        match (free_candidate, shared_candidate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The lowest usable address of each family in the pool, CIDRs in configuration order
    /// (MetalLB's `getFreeIPsFromPool`).
    fn offer(&self, pool: usize, claim: &Claim<'_>) -> Offer {
        let mut offer = Offer { pool, v4: None, v6: None };
        for (c, (space, _)) in self.pools[pool].cidrs.iter().enumerate() {
            let slot = if space.is_ipv4() { &mut offer.v4 } else { &mut offer.v6 };
            if slot.is_none() {
                *slot = self.lowest_usable(pool, c, claim);
            }
            if offer.v4.is_some() && offer.v6.is_some() {
                break;
            }
        }
        offer
    }

    /// The first suitable pool of `pools` (MetalLB's `findBestPoolForService`): one
    /// offering the service's family, or both families; for PreferDualStack with dual
    /// cluster IPs, failing that, the first pool offering the primary family, then the
    /// first offering the other.
    fn best_offer(
        &self,
        pools: &[usize],
        claim: &Claim<'_>,
        family: Family,
        policy: Policy,
        primary: Family,
    ) -> Option<Offer> {
        let mut primary_candidate = None;
        let mut secondary_candidate = None;
        for &pool in pools {
            let offer = self.offer(pool, claim);
            if offer.get(family).is_some() {
                return Some(offer);
            }
            let (first, second) = (offer.get(primary), offer.get(primary.other()));
            if first.is_some() && second.is_some() {
                return Some(offer);
            }
            if !(policy == Policy::PreferDualStack && family == Family::Dual) {
                continue;
            }
            if first.is_some() && primary_candidate.is_none() {
                primary_candidate = Some(offer);
            }
            if second.is_some() && secondary_candidate.is_none() {
                secondary_candidate = Some(offer);
            }
        }
        primary_candidate.or(secondary_candidate)
    }

    /// The addresses of an offer the service takes (MetalLB's `selectIPsForFamilyAndPolicy`).
    fn select(&self, offer: &Offer, family: Family, policy: Policy) -> Result<Vec<IpAddr>, String> {
        let chosen = match (family, policy) {
            (Family::V4 | Family::V6, _) => offer.get(family).map(|ip| vec![ip]),
            (Family::Dual, Policy::SingleStack) => None,
            (Family::Dual, Policy::RequireDualStack) => offer.v4.zip(offer.v6).map(|(a, b)| vec![a, b]),
            (Family::Dual, Policy::PreferDualStack) => match (offer.v4, offer.v6) {
                (Some(a), Some(b)) => Some(vec![a, b]),
                (a, b) => a.or(b).map(|ip| vec![ip]),
            },
        };
        chosen.ok_or_else(|| {
            format!("no available IPs in pool {} for {family} IPFamily", self.pools[offer.pool].config.name)
        })
    }

    fn allocate_from_pools(
        &mut self,
        pools: &[usize],
        claim: &Claim<'_>,
        family: Family,
        policy: Policy,
        primary: Family,
    ) -> Option<Vec<IpAddr>> {
        let offer = self.best_offer(pools, claim, family, policy, primary)?;
        let ips = self.select(&offer, family, policy).ok()?;
        self.assign(claim, &ips).ok()?;
        Some(ips)
    }

    /// Automatic allocation (docs/compatibility.md §3.2): pinned pools admitting the service by
    /// priority, then pools without serviceAllocation. Equal candidates go by name.
    pub(crate) fn allocate(
        &mut self,
        claim: &Claim<'_>,
        family: Family,
        policy: Policy,
        primary: Family,
    ) -> Result<Vec<IpAddr>, String> {
        let pinned: Vec<usize> = self
            .pinned_order
            .iter()
            .copied()
            .filter(|&p| {
                let pool = &self.pools[p].config;
                let sa = pool.service_allocation.as_ref().expect("pinned pools have a serviceAllocation");
                pool.auto_assign
                    && (sa.namespaces.contains(claim.namespace) || !sa.service_selectors.is_empty())
                    && self.compatible(p, claim)
            })
            .collect();
        if let Some(ips) = self.allocate_from_pools(&pinned, claim, family, policy, primary) {
            return Ok(ips);
        }
        let generic = self.generic_order.clone();
        self.allocate_from_pools(&generic, claim, family, policy, primary).ok_or_else(|| "no available IPs".to_owned())
    }

    /// Allocation from the pool the service names (autoAssign ignored; the pool must still
    /// admit the service).
    pub(crate) fn allocate_from_pool(
        &mut self,
        claim: &Claim<'_>,
        pool_name: &str,
        family: Family,
        policy: Policy,
    ) -> Result<Vec<IpAddr>, String> {
        let pool = self.pool_index(pool_name).ok_or_else(|| format!("unknown pool {pool_name:?}"))?;
        let offer = self.offer(pool, claim);
        let ips = self.select(&offer, family, policy)?;
        self.assign(claim, &ips)?;
        Ok(ips)
    }

    /// PreferDualStack top-up (docs/compatibility.md §2.3): adds the missing family from the pool the
    /// service already uses, keeping its address.
    pub(crate) fn allocate_additional(&mut self, claim: &Claim<'_>, existing: IpAddr) -> Result<IpAddr, String> {
        let pool = self.services.get(claim.key).map(|a| a.pool).ok_or_else(|| "unknown pool \"\"".to_owned())?;
        let offer = self.offer(pool, claim);
        let additional = self.select(&offer, Family::of(existing).other(), Policy::SingleStack)?[0];
        self.assign(claim, &[existing, additional])?;
        Ok(additional)
    }
}

/// MetalLB's `sharingOK` (docs/compatibility.md §3.3), with its messages.
pub(crate) fn sharing_ok(existing: &AllocKey, new: &AllocKey) -> Result<(), String> {
    if existing.sharing.is_empty() {
        return Err("existing service does not allow sharing".to_owned());
    }
    if new.sharing.is_empty() {
        return Err("new service does not allow sharing".to_owned());
    }
    if existing.sharing != new.sharing {
        return Err(format!(
            "sharing key {:?} does not match existing sharing key {:?}",
            new.sharing, existing.sharing
        ));
    }
    if existing.backend != new.backend {
        return Err(format!(
            "backend key {:?} does not match existing sharing key {:?}",
            new.backend, existing.backend
        ));
    }
    Ok(())
}

/// Both sorted.
fn disjoint(a: &[Port], b: &[Port]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return false,
        }
    }
    true
}
