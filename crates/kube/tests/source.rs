//! The `k8s` source against a scripted API server: the first snapshot waits for the list,
//! watch events change it, and a broken watch is re-listed without losing the view.

use std::sync::Arc;
use std::time::Duration;

use ferrolb_kube::scripted::{self, Exchange};
use ferrolb_kube::source::{self, Kind, Snapshot};
use serde_json::{Value, json};
use tokio::sync::watch;

const POOLS: &str = "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools";

fn pool(name: &str, cidr: &str, version: &str) -> Value {
    json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
           "metadata": {"name": name, "namespace": "metallb-system", "resourceVersion": version},
           "spec": {"addresses": [cidr]}})
}

fn list(items: Vec<Value>, version: &str) -> Value {
    json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPoolList",
           "metadata": {"resourceVersion": version}, "items": items})
}

fn names(snapshot: &Snapshot) -> Vec<String> {
    snapshot.resources.ip_address_pools.iter().map(|p| p.metadata.name.clone()).collect()
}

/// Waits for the next published snapshot that satisfies `done`.
async fn until(rx: &mut watch::Receiver<Option<Arc<Snapshot>>>, done: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let wait = rx.wait_for(|s| s.as_deref().is_some_and(&done));
    let snapshot = tokio::time::timeout(Duration::from_secs(10), wait).await.expect("snapshot in time").expect("open");
    snapshot.clone().expect("published")
}

#[tokio::test]
async fn list_then_watch_events_become_snapshots() {
    let script = vec![
        Exchange::get(POOLS).returns(list(vec![pool("a", "10.0.0.0/24", "5")], "10")),
        Exchange::get(POOLS).query("watch=true").query("resourceVersion=10").streams(vec![
            json!({"type": "ADDED", "object": pool("b", "10.0.1.0/24", "11")}),
            json!({"type": "DELETED", "object": pool("a", "10.0.0.0/24", "12")}),
        ]),
    ];
    let ((), seen) = scripted::run(script, |client| async move {
        let (tx, mut rx) = watch::channel(None);
        let task =
            tokio::spawn(async move { source::run(client, "metallb-system".into(), &[Kind::IPAddressPool], tx).await });
        let first = until(&mut rx, |_| true).await;
        assert!(names(&first) == ["a"] || names(&first) == ["b"], "first snapshot {:?}", names(&first));
        let last = until(&mut rx, |s| names(s) == ["b"]).await;
        assert!(last.rejected.is_empty());
        task.abort();
    })
    .await;
    assert_eq!(seen.len(), 2);
}

#[tokio::test]
async fn a_watch_that_expires_is_relisted_and_deletions_meanwhile_are_seen() {
    let script = vec![
        Exchange::get(POOLS).returns(list(vec![pool("a", "10.0.0.0/24", "5"), pool("b", "10.0.1.0/24", "6")], "10")),
        // The resource version is too old: the API server ends the watch with a 410 Gone event.
        Exchange::get(POOLS).query("watch=true").streams(vec![json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired", "code": 410,
            "message": "too old resource version: 10 (15)"}})]),
        Exchange::get(POOLS).returns(list(vec![pool("b", "10.0.1.0/24", "6")], "20")),
    ];
    let ((), _) = scripted::run(script, |client| async move {
        let (tx, mut rx) = watch::channel(None);
        let task =
            tokio::spawn(async move { source::run(client, "metallb-system".into(), &[Kind::IPAddressPool], tx).await });
        until(&mut rx, |s| names(s) == ["a", "b"]).await;
        until(&mut rx, |s| names(s) == ["b"]).await;
        task.abort();
    })
    .await;
}

#[tokio::test]
async fn an_object_that_does_not_decode_is_reported_and_the_rest_served() {
    let bad = json!({"metadata": {"name": "bad", "namespace": "metallb-system", "resourceVersion": "3"},
                     "spec": {"addresses": [], "autoAssign": "yes"}});
    let script = vec![Exchange::get(POOLS).returns(list(vec![bad, pool("good", "10.0.0.0/24", "4")], "10"))];
    let ((), _) = scripted::run(script, |client| async move {
        let (tx, mut rx) = watch::channel(None);
        let task =
            tokio::spawn(async move { source::run(client, "metallb-system".into(), &[Kind::IPAddressPool], tx).await });
        let snapshot = until(&mut rx, |_| true).await;
        assert_eq!(names(&snapshot), ["good"]);
        assert_eq!(snapshot.rejected.len(), 1);
        assert!(
            snapshot.rejected[0].message.starts_with("IPAddressPool/bad: spec.autoAssign"),
            "{:?}",
            snapshot.rejected
        );
        task.abort();
    })
    .await;
}
