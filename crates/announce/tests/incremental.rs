//! Deciding again for the Services that changed gives what deciding everything anew gives:
//! the decisions, each peer's table (prefixes several Services share included) and the
//! ServiceBGPStatus of each Service.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::*;
use ferrolb_announce::sessions::{self, Table, statuses, tables};
use ferrolb_announce::{Liveness, NodeDecisions};
use proptest::prelude::*;

/// A Service: the last octet of its address (few, so that Services share one), whether
/// its endpoint is ready, and which advertisement selects it by its `tier` label.
type Svc = (u8, bool, u8);

fn services() -> impl Strategy<Value = Vec<Option<Svc>>> {
    proptest::collection::vec(proptest::option::of((1u8..4, any::<bool>(), 0u8..3)), 1..7)
}

/// Two peers on both nodes and an advertisement per tier, each with its own LOCAL_PREF and
/// community (the last one to the iBGP peer only), so a prefix merged from Services of
/// several tiers differs by which Services share it.
fn world(svcs: &[Option<Svc>]) -> World {
    let mut docs = vec![
        pool("p", &["10.0.0.0/24"]),
        peer("ibgp", 64500, 64500, "192.0.2.1", ""),
        peer("ebgp", 64500, 64501, "192.0.2.2", ""),
        bgpad("t0", "  localPref: 100\n  serviceSelectors: [{matchLabels: {tier: \"0\"}}]\n"),
        bgpad(
            "t1",
            "  localPref: 200\n  communities: [\"65000:1\"]\n  serviceSelectors: [{matchLabels: {tier: \"1\"}}]\n",
        ),
        bgpad(
            "t2",
            "  localPref: 300\n  communities: [\"65000:2\"]\n  peers: [ibgp]\n  serviceSelectors: [{matchLabels: {tier: \"2\"}}]\n",
        ),
    ];
    docs.extend(nodes(&["node1", "node2"]));
    for (i, svc) in svcs.iter().enumerate() {
        let Some((last, ready, tier)) = svc else { continue };
        let name = format!("s{i}");
        let labels = format!("  labels: {{tier: \"{tier}\"}}");
        docs.push(service(&name, &[&format!("10.0.0.{last}")], false, &labels));
        docs.push(slice(&name, &[("node2", *ready)]));
    }
    World::new(&docs)
}

fn decide(world: &World, node: &str) -> NodeDecisions {
    let liveness = Liveness::Disabled;
    ferrolb_announce::decide(&world.cluster(&liveness), node)
}

proptest! {
    #[test]
    fn tables_and_statuses_brought_up_to_date_are_those_made_anew(before in services(), after in services()) {
        let (old, new) = (world(&before), world(&after));
        let count = before.len().max(after.len());
        let touched: BTreeSet<(String, String)> = (0..count)
            .filter(|&i| before.get(i).copied().flatten() != after.get(i).copied().flatten())
            .map(|i| ("default".to_owned(), format!("s{i}")))
            .collect();
        let liveness = Liveness::Disabled;
        for node in ["node1", "node2"] {
            let mut decisions = decide(&old, node);
            let mut kept_tables: BTreeMap<String, Arc<Table>> =
                tables(&decisions).into_iter().map(|(peer, table)| (peer, Arc::new(table))).collect();
            let mut kept_statuses = statuses(&decisions);
            let replaced = ferrolb_announce::decide_again(&new.cluster(&liveness), &mut decisions, &touched);
            sessions::tables_again(&mut kept_tables, &decisions, &replaced, &touched);
            sessions::statuses_again(&mut kept_statuses, &decisions, &touched);
            let anew = decide(&new, node);
            prop_assert_eq!(&decisions, &anew);
            let kept_tables: BTreeMap<String, Table> =
                kept_tables.into_iter().map(|(peer, table)| (peer, Table::clone(&table))).collect();
            prop_assert_eq!(kept_tables, tables(&anew));
            prop_assert_eq!(kept_statuses, statuses(&anew));
        }
    }
}

#[test]
fn the_worlds_announce_and_share_prefixes() {
    // what the property above is about: two Services on one address, each bringing its own
    // advertisement's community to the shared prefix
    let shared = world(&[Some((1, true, 1)), Some((1, true, 2))]);
    let decided = decide(&shared, "node1");
    let table = tables(&decided).remove("ibgp").unwrap_or_else(|| panic!("{decided:?}"));
    let attrs = &table[&"10.0.0.1/32".parse().unwrap()];
    assert_eq!(attrs.communities, [0xFDE8_0001, 0xFDE8_0002], "{attrs:?}");
    assert_eq!(statuses(&decide(&shared, "node1")).len(), 2);
}
