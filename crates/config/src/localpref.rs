//! The LOCAL_PREF compatibility rule between two BGPAdvertisements of one pool
//! (docs/compatibility.md §1.11).
//!
//! Two advertisements that would send the same prefix to the same peer from the same node
//! must agree on LOCAL_PREF. They cannot produce the same prefix when their aggregation
//! lengths differ, but only the lengths of the address families the pool holds count:
//! MetalLB up to 0.13.11 required both lengths to differ, rejecting an IPv4-only pool
//! advertised at /32 with localPref 100 and at /27 without.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::BgpAdvertisement;

/// Whether `a` and `b` may both be attached to a pool with the given families.
pub fn compatible(a: &BgpAdvertisement, b: &BgpAdvertisement, has_v4: bool, has_v6: bool) -> bool {
    if a.local_pref == b.local_pref {
        return true;
    }
    let v4_differs = a.aggregation_length != b.aggregation_length;
    let v6_differs = a.aggregation_length_v6 != b.aggregation_length_v6;
    let lengths_differ = match (has_v4, has_v6) {
        (false, false) => true,
        (true, false) => v4_differs,
        (false, true) => v6_differs,
        (true, true) => v4_differs && v6_differs,
    };
    if lengths_differ {
        return true;
    }
    let disjoint_peers = !a.peers.is_empty() && !b.peers.is_empty() && !a.peers.iter().any(|p| b.peers.contains(p));
    // An empty node set (no node matches) is disjoint from everything, as in MetalLB.
    disjoint_peers || a.nodes.is_disjoint(&b.nodes)
}

/// An advertisement with its position in the pool's list (processing order).
type Indexed<'a> = (usize, &'a Arc<BgpAdvertisement>);

/// The first incompatible pair among `ads` (in order), as `(later, earlier)`.
///
/// Advertisements with serviceSelectors take no part (they never aggregate). Only ads that
/// share an aggregation length of a family the pool holds can conflict, so they are grouped
/// by that length and compared within groups.
pub fn find_conflict(
    ads: &[Arc<BgpAdvertisement>],
    has_v4: bool,
    has_v6: bool,
) -> Option<(Arc<BgpAdvertisement>, Arc<BgpAdvertisement>)> {
    if !has_v4 && !has_v6 {
        return None;
    }
    let candidates: Vec<Indexed<'_>> =
        ads.iter().enumerate().filter(|(_, ad)| ad.service_selectors.is_empty()).collect();
    let mut groups: BTreeMap<(bool, u8), Vec<Indexed<'_>>> = BTreeMap::new();
    for &(i, ad) in &candidates {
        if has_v4 {
            groups.entry((false, ad.aggregation_length)).or_default().push((i, ad));
        }
        if has_v6 {
            groups.entry((true, ad.aggregation_length_v6)).or_default().push((i, ad));
        }
    }
    let mut best: Option<(usize, usize)> = None;
    for group in groups.values() {
        let first_pref = group[0].1.local_pref;
        if group.iter().all(|(_, ad)| ad.local_pref == first_pref) {
            continue;
        }
        'later: for (j, &(later_index, later)) in group.iter().enumerate() {
            if best.is_some_and(|(b, _)| b <= later_index) {
                break;
            }
            for &(earlier_index, earlier) in &group[..j] {
                if !compatible(later, earlier, has_v4, has_v6) {
                    best = Some((later_index, earlier_index));
                    break 'later;
                }
            }
        }
    }
    best.map(|(later, earlier)| (Arc::clone(&ads[later]), Arc::clone(&ads[earlier])))
}
