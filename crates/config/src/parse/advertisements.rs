//! L2Advertisement and BGPAdvertisement (docs/compatibility.md §1.3, §1.4, §1.11): resolved to
//! nodes and pools, validated against each pool they reach, and attached to it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ferrolb_api::metallb::{BGPAdvertisementSpec, L2AdvertisementSpec};
use ferrolb_api::{LabelSelector, Object};

use super::communities::Aliases;
use super::{Context, reject_duplicates, selectors};
use crate::community::{LiteralError, parse_literal};
use crate::error::{ConfigError, kind};
use crate::localpref;
use crate::model::{BgpAdvertisement, L2Advertisement, Pool, WeightedNodes};
use crate::selector::Selector;

pub(super) const L2_KIND: &str = kind::L2_AD;
pub(super) const BGP_KIND: &str = kind::BGP_AD;

pub(super) fn attach_l2(
    ctx: &mut Context<'_>,
    objects: &[&Object<L2AdvertisementSpec>],
    pools: &mut [Pool],
) -> Result<(), ConfigError> {
    let index = PoolIndex::new(pools);
    for object in objects {
        ctx.check_namespace(L2_KIND, &object.metadata)?;
        let name = object.name();
        let spec = &object.spec;
        let targets = index.resolve(L2_KIND, name, &spec.ip_address_pools, &spec.ip_address_pool_selectors)?;
        let node_selectors = selectors(L2_KIND, name, "nodeSelectors", &spec.node_selectors)?;
        let nodes = ctx.nodes_matching(&node_selectors);
        let mut preferred_nodes = Vec::new();
        for (i, preferred) in spec.preferred_node_selectors.iter().enumerate() {
            let field = format!("spec.preferredNodeSelectors[{i}]");
            let weight = u32::try_from(preferred.weight).ok().filter(|w| (1..=100).contains(w)).ok_or_else(|| {
                ConfigError::new(
                    L2_KIND,
                    name,
                    format!("{field}.weight"),
                    format!("invalid weight {}: must be in 1-100 range", preferred.weight),
                )
            })?;
            let preference = Selector::parse(&preferred.preference)
                .map_err(|m| ConfigError::new(L2_KIND, name, format!("{field}.preference"), m))?;
            let matching = ctx.nodes_matching(std::slice::from_ref(&preference));
            preferred_nodes.push(WeightedNodes { weight, nodes: matching.intersection(&nodes).cloned().collect() });
        }
        let mut interfaces = spec.interfaces.clone();
        interfaces.sort();
        interfaces.dedup();
        let ad = Arc::new(L2Advertisement {
            name: name.to_owned(),
            nodes,
            all_interfaces: interfaces.is_empty(),
            interfaces,
            service_selectors: selectors(L2_KIND, name, "serviceSelectors", &spec.service_selectors)?,
            preferred_nodes,
        });
        for i in targets {
            let pool = &mut pools[i];
            if !pool.l2_advertisements.iter().any(|existing| existing.same_effect(&ad)) {
                pool.l2_advertisements.push(Arc::clone(&ad));
            }
        }
    }
    Ok(())
}

pub(super) fn attach_bgp(
    ctx: &mut Context<'_>,
    objects: &[&Object<BGPAdvertisementSpec>],
    aliases: &Aliases,
    pools: &mut [Pool],
) -> Result<(), ConfigError> {
    let index = PoolIndex::new(pools);
    for object in objects {
        ctx.check_namespace(BGP_KIND, &object.metadata)?;
        let ad = parse_bgp(ctx, object, aliases)?;
        if !ctx.concerns_this_speaker(&ad.nodes) {
            continue;
        }
        let spec = &object.spec;
        let targets = index.resolve(BGP_KIND, &ad.name, &spec.ip_address_pools, &spec.ip_address_pool_selectors)?;
        let ad = Arc::new(ad);
        for i in targets {
            let pool = &mut pools[i];
            check_aggregation(&ad, pool)?;
            pool.bgp_advertisements.push(Arc::clone(&ad));
        }
    }
    for pool in pools.iter() {
        if let Some((later, earlier)) =
            localpref::find_conflict(&pool.bgp_advertisements, pool.has_ipv4(), pool.has_ipv6())
        {
            return Err(ConfigError::new(
                BGP_KIND,
                &later.name,
                "spec.localPref",
                format!(
                    "invalid local preference {}: BGPAdvertisement {:?} already sets local preference {} for the same prefixes of pool {:?} (same aggregation length, overlapping nodes and peers)",
                    later.local_pref, earlier.name, earlier.local_pref, pool.name
                ),
            ));
        }
    }
    Ok(())
}

fn parse_bgp(
    ctx: &mut Context<'_>,
    object: &Object<BGPAdvertisementSpec>,
    aliases: &Aliases,
) -> Result<BgpAdvertisement, ConfigError> {
    let name = object.name();
    let spec = &object.spec;
    let err = |field: String, message: String| ConfigError::new(BGP_KIND, name, field, message);
    let length = |field: &str, value: Option<i32>, max: u8| -> Result<u8, ConfigError> {
        match value {
            None => Ok(max),
            Some(v) if (1..=max as i32).contains(&v) => Ok(v as u8),
            Some(v) => {
                Err(err(format!("spec.{field}"), format!("invalid aggregation length {v}: must be in 1-{max} range")))
            }
        }
    };
    let aggregation_length = length("aggregationLength", spec.aggregation_length, 32)?;
    let aggregation_length_v6 = length("aggregationLengthV6", spec.aggregation_length_v6, 128)?;

    reject_duplicates(BGP_KIND, name, "spec.communities", &spec.communities)?;
    let mut communities = BTreeSet::new();
    for (i, text) in spec.communities.iter().enumerate() {
        let field = format!("spec.communities[{i}]");
        let value = match aliases.get(text) {
            Some(value) => *value,
            None => parse_literal(text).map_err(|e| match e {
                LiteralError::Shape => err(
                    field,
                    format!("{text:?} is neither a Community alias nor a community value (A:B or large:A:B:C)"),
                )
                .into_transient(),
                LiteralError::Invalid(message) => err(field, message),
            })?,
        };
        communities.insert(value);
    }
    reject_duplicates(BGP_KIND, name, "spec.peers", &spec.peers)?;
    reject_duplicates(BGP_KIND, name, "spec.ipAddressPools", &spec.ip_address_pools)?;
    let service_selectors = selectors(BGP_KIND, name, "serviceSelectors", &spec.service_selectors)?;
    if !service_selectors.is_empty() && (aggregation_length != 32 || aggregation_length_v6 != 128) {
        return Err(err(
            "spec.serviceSelectors".into(),
            "serviceSelectors and aggregationLength(V6) are mutually exclusive: an aggregate covers services the selectors do not pick".into(),
        ));
    }
    let node_selectors = selectors(BGP_KIND, name, "nodeSelectors", &spec.node_selectors)?;
    Ok(BgpAdvertisement {
        name: name.to_owned(),
        aggregation_length,
        aggregation_length_v6,
        local_pref: spec.local_pref,
        communities,
        peers: spec.peers.clone(),
        nodes: ctx.nodes_matching(&node_selectors),
        service_selectors,
    })
}

/// An aggregate may not be wider than the widest CIDR of any address entry it covers
/// (docs/compatibility.md §1.4 rule 1): a /24 aggregate of a /28 pool would announce addresses the pool
/// does not own.
fn check_aggregation(ad: &BgpAdvertisement, pool: &Pool) -> Result<(), ConfigError> {
    for entry in &pool.entries {
        let (field, length) = if entry.is_ipv4() {
            ("spec.aggregationLength", ad.aggregation_length)
        } else {
            ("spec.aggregationLengthV6", ad.aggregation_length_v6)
        };
        let widest = entry.widest_prefix_len();
        if length < widest {
            return Err(ConfigError::new(
                BGP_KIND,
                &ad.name,
                field,
                format!(
                    "invalid aggregation length {length}: prefix /{widest} in pool {:?} is more specific than the aggregation length for addresses {:?}",
                    pool.name, entry.text
                ),
            ));
        }
    }
    Ok(())
}

/// Finds the pools an advertisement reaches: by name (unknown names ignored), by label
/// selector, or every pool when neither is given. Equality-only selectors are answered from
/// a label index instead of testing every pool.
struct PoolIndex {
    by_name: HashMap<String, usize>,
    by_label: HashMap<(String, String), Vec<usize>>,
    labels: Vec<ferrolb_api::StringMap>,
}

impl PoolIndex {
    fn new(pools: &[Pool]) -> Self {
        let mut by_label: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, pool) in pools.iter().enumerate() {
            for (k, v) in &pool.labels {
                by_label.entry((k.clone(), v.clone())).or_default().push(i);
            }
        }
        Self {
            by_name: pools.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect(),
            by_label,
            labels: pools.iter().map(|p| p.labels.clone()).collect(),
        }
    }

    fn resolve(
        &self,
        kind: &'static str,
        name: &str,
        names: &[String],
        raw_selectors: &[LabelSelector],
    ) -> Result<BTreeSet<usize>, ConfigError> {
        reject_duplicates(kind, name, "spec.ipAddressPools", names)?;
        let parsed = selectors(kind, name, "ipAddressPoolSelectors", raw_selectors)?;
        if names.is_empty() && parsed.is_empty() {
            return Ok((0..self.labels.len()).collect());
        }
        let mut out: BTreeSet<usize> = names.iter().filter_map(|n| self.by_name.get(n).copied()).collect();
        for selector in &parsed {
            match selector.equalities() {
                Some(pairs) if !pairs.is_empty() => {
                    let mut candidates: Option<BTreeSet<usize>> = None;
                    for (k, v) in pairs {
                        let hits: BTreeSet<usize> =
                            self.by_label.get(&(k.to_owned(), v.to_owned())).into_iter().flatten().copied().collect();
                        candidates = Some(match candidates {
                            None => hits,
                            Some(c) => c.intersection(&hits).copied().collect(),
                        });
                    }
                    out.extend(candidates.unwrap_or_default());
                }
                _ => out.extend((0..self.labels.len()).filter(|&i| selector.matches(&self.labels[i]))),
            }
        }
        Ok(out)
    }
}
