//! The watch stores against a model: whatever sequence of watch events arrives, the
//! snapshot holds exactly the objects the events leave, decoded or rejected, and a snapshot
//! already handed out never changes under its reader.

use std::collections::BTreeMap;

use ferrolb_kube::source::{Change, Kind, Stores};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A pool (valid or not, by `version`'s parity) or a namespace, named from a small set so
/// events collide.
fn object(kind: Kind, name: u8, version: u8) -> Value {
    match kind {
        Kind::IPAddressPool if version.is_multiple_of(3) => {
            json!({"metadata": {"name": format!("p{name}"), "namespace": "metallb-system"}, "spec": {"addresses": "broken"}})
        }
        Kind::IPAddressPool => json!({"metadata": {"name": format!("p{name}"), "namespace": "metallb-system"},
                                      "spec": {"addresses": [format!("10.{version}.0.0/24")]}}),
        _ => json!({"metadata": {"name": format!("n{name}"), "labels": {"v": version.to_string()}}}),
    }
}

#[derive(Debug, Clone)]
enum Step {
    Apply(Kind, u8, u8),
    Delete(Kind, u8),
    Relist(Kind, Vec<(u8, u8)>),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::IPAddressPool), Just(Kind::Namespace)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (kind(), 0u8..6, 0u8..9).prop_map(|(k, n, v)| Step::Apply(k, n, v)),
        2 => (kind(), 0u8..6).prop_map(|(k, n)| Step::Delete(k, n)),
        1 => (kind(), proptest::collection::vec((0u8..6, 0u8..9), 0..6)).prop_map(|(k, o)| Step::Relist(k, o)),
    ]
}

/// What the snapshot should hold: per kind and name, the last version.
type Model = BTreeMap<(Kind, u8), u8>;

/// The snapshot's content as (kind, name, version or "rejected"), sorted.
fn content(stores: &Stores) -> Vec<(Kind, String, String)> {
    let snapshot = stores.snapshot();
    let mut out: Vec<(Kind, String, String)> = snapshot
        .resources
        .ip_address_pools
        .iter()
        .map(|p| (Kind::IPAddressPool, p.metadata.name.clone(), p.spec.addresses[0].clone()))
        .chain(snapshot.resources.namespaces.iter().map(|n| {
            (Kind::Namespace, n.metadata.name.clone(), n.metadata.labels.get("v").cloned().unwrap_or_default())
        }))
        .chain(snapshot.rejected.iter().map(|r| (r.kind, r.name.clone(), "rejected".to_owned())))
        .collect();
    out.sort();
    out
}

fn expected(model: &Model) -> Vec<(Kind, String, String)> {
    let mut out: Vec<(Kind, String, String)> = model
        .iter()
        .map(|((kind, name), version)| match kind {
            Kind::IPAddressPool if version.is_multiple_of(3) => (*kind, format!("p{name}"), "rejected".to_owned()),
            Kind::IPAddressPool => (*kind, format!("p{name}"), format!("10.{version}.0.0/24")),
            _ => (*kind, format!("n{name}"), version.to_string()),
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #[test]
    fn the_snapshot_holds_exactly_what_the_events_leave(steps in proptest::collection::vec(step(), 1..60)) {
        let kinds = [Kind::IPAddressPool, Kind::Namespace];
        let mut stores = Stores::new(&kinds);
        let mut model = Model::new();
        for kind in kinds {
            stores.apply(Change::Listed(kind));
        }
        for step in steps {
            let before = stores.snapshot();
            let before_content = content(&stores);
            let changed = match step {
                Step::Apply(kind, name, version) => {
                    model.insert((kind, name), version);
                    stores.apply(Change::Apply(kind, object(kind, name, version)))
                }
                Step::Delete(kind, name) => {
                    model.remove(&(kind, name));
                    stores.apply(Change::Delete(kind, object(kind, name, 0)))
                }
                Step::Relist(kind, objects) => {
                    model.retain(|(k, _), _| *k != kind);
                    stores.apply(Change::Relist(kind));
                    for (name, version) in &objects {
                        model.insert((kind, *name), *version);
                        stores.apply(Change::Apply(kind, object(kind, *name, *version)));
                    }
                    stores.apply(Change::Listed(kind))
                }
            };
            let now = content(&stores);
            prop_assert_eq!(&now, &expected(&model));
            // A change is reported exactly when the content changed (a re-list may report a
            // change that only reordered objects).
            if !changed {
                prop_assert_eq!(&now, &before_content);
            }
            // The snapshot handed out before the step is untouched.
            let mut old: Vec<String> = before.resources.ip_address_pools.iter().map(|p| p.metadata.name.clone()).collect();
            old.sort();
            let mut old_expected: Vec<String> = before_content.iter().filter(|c| c.0 == Kind::IPAddressPool && c.2 != "rejected").map(|c| c.1.clone()).collect();
            old_expected.sort();
            prop_assert_eq!(old, old_expected);
        }
    }
}

#[test]
fn an_update_that_decodes_to_the_same_object_changes_nothing() {
    let mut stores = Stores::new(&[Kind::Namespace]);
    stores.apply(Change::Listed(Kind::Namespace));
    assert!(stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, 1, 1))));
    let first = stores.snapshot();
    // Only the resourceVersion moved: nothing ferrolb reads.
    let mut again = object(Kind::Namespace, 1, 1);
    again["metadata"]["resourceVersion"] = json!("42");
    assert!(!stores.apply(Change::Apply(Kind::Namespace, again)));
    assert!(std::sync::Arc::ptr_eq(&first, &stores.snapshot()), "not even copied");
    assert!(stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, 1, 2))));
    assert_eq!(first.resources.namespaces[0].metadata.labels["v"], "1", "the reader's copy is untouched");
    assert_eq!(stores.snapshot().resources.namespaces[0].metadata.labels["v"], "2");
}

/// The first listing goes straight into the snapshot (nothing to replace, nothing published
/// before it ends); a listing restarted before it ended still drops what the new one lacks.
#[test]
fn a_first_listing_restarted_midway_keeps_only_what_the_last_listing_has() {
    let mut stores = Stores::new(&[Kind::Namespace]);
    stores.apply(Change::Relist(Kind::Namespace));
    stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, 1, 1)));
    stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, 2, 1)));
    assert!(!stores.ready(), "not listed yet: nothing is published");
    // The watcher restarts its listing; object 2 was deleted meanwhile.
    stores.apply(Change::Relist(Kind::Namespace));
    stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, 1, 1)));
    assert!(stores.apply(Change::Listed(Kind::Namespace)));
    assert!(stores.ready());
    let names: Vec<String> = stores.snapshot().resources.namespaces.iter().map(|n| n.metadata.name.clone()).collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // An uninterrupted first listing: every object, ready once listed.
    let mut stores = Stores::new(&[Kind::Namespace]);
    stores.apply(Change::Relist(Kind::Namespace));
    for name in 1..=3 {
        stores.apply(Change::Apply(Kind::Namespace, object(Kind::Namespace, name, 1)));
    }
    assert!(stores.apply(Change::Listed(Kind::Namespace)));
    assert_eq!(stores.snapshot().resources.namespaces.len(), 3);
}
