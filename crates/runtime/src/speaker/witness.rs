//! The fencing witness's I/O: this speaker renews its heartbeat and reads everyone's, and
//! publishes which are fresh (the rule that uses them is `ferrolb_gossip::witness`).
//!
//! - `dir:` source: one file per node, `<state>/heartbeats/<node>`, rewritten (temporary
//!   file and rename, no fsync: a heartbeat need not survive a crash) every second, and all
//!   of them read four times a second (a speaker that lost its quorum learns within about a
//!   second whether the others renewed since).
//! - `k8s` source: one `coordination.k8s.io/v1` Lease per node, `ferrolb-speaker-<node>` in
//!   the speaker's namespace, labelled `app.kubernetes.io/component=speaker-heartbeat`, its
//!   `renewTime` moved every two seconds.
//!
//! A reading that fails (directory unreadable, API server unreachable or forbidden) publishes
//! [`Witness::Unreachable`]: no evidence, so a speaker without a gossip majority keeps serving.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use ferrolb_gossip::{Heartbeats, Witness};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

/// The label that marks heartbeat Leases (and only those are read).
pub const HEARTBEAT_LABEL: (&str, &str) = ("app.kubernetes.io/component", "speaker-heartbeat");

/// How often a `dir:` heartbeat is renewed.
pub const DIR_INTERVAL: Duration = Duration::from_secs(1);
/// How often a heartbeat Lease is renewed: a write per speaker every two seconds is what the
/// API server can take.
pub const LEASE_INTERVAL: Duration = Duration::from_secs(2);
/// A heartbeat goes stale after this many missed renewals.
pub const MISSED_RENEWALS: u32 = 3;

/// Where the heartbeats live.
#[derive(Clone)]
pub enum Backend {
    Dir(PathBuf),
    Leases { client: kube::Client, namespace: String },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            Backend::Leases { namespace, .. } => f.debug_struct("Leases").field("namespace", namespace).finish(),
        }
    }
}

impl Backend {
    /// How often the heartbeats are read: renewals are seen at most this late.
    fn reading_interval(&self) -> Duration {
        match self {
            Backend::Dir(_) => Duration::from_millis(250),
            // a list per speaker every two seconds is what the API server can take
            Backend::Leases { .. } => Duration::from_secs(2),
        }
    }

    /// How often the heartbeat is renewed; it goes stale after [`MISSED_RENEWALS`].
    fn interval(&self) -> Duration {
        match self {
            Backend::Dir(_) => DIR_INTERVAL,
            Backend::Leases { .. } => LEASE_INTERVAL,
        }
    }
}

/// The name of a node's heartbeat Lease.
pub fn lease_name(node: &str) -> String {
    format!("ferrolb-speaker-{node}")
}

/// Renews this node's heartbeat and publishes the fresh ones, until every receiver is gone.
pub async fn run(backend: Backend, node: String, tx: watch::Sender<Witness>) {
    let interval = backend.interval();
    let reading_interval = backend.reading_interval();
    // every live speaker renews once and this one reads it within the grace
    let grace = interval * 3 / 2 + reading_interval * 2;
    let mut heartbeats = Heartbeats::new(interval * MISSED_RENEWALS, grace, Instant::now().into_std());
    let mut renew_due = Instant::now();
    // what changes with each renewal: the boot and a counter
    let boot = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let mut beat: u64 = 0;
    let mut failing = false;
    let mut renewed = Ok(());
    loop {
        if Instant::now() >= renew_due {
            beat += 1;
            renewed = renew(&backend, &node, &format!("{boot}-{beat}")).await;
            renew_due = (renew_due + interval).max(Instant::now());
        }
        let reading = match &renewed {
            Ok(()) => read(&backend).await,
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        let witness = match reading {
            Ok(entries) => {
                if failing {
                    info!(node = %node, "the fencing witness is readable again");
                    failing = false;
                }
                let now = Instant::now().into_std();
                heartbeats.observe(entries, now);
                Witness::Alive(heartbeats.renewals(now))
            }
            Err(e) => {
                if !failing {
                    warn!(node = %node, backend = ?backend, error = %e, "cannot renew or read the speakers' heartbeats; without a quorum this speaker keeps serving");
                    failing = true;
                }
                Witness::Unreachable
            }
        };
        tx.send_if_modified(|current| {
            let changed = *current != witness;
            *current = witness;
            changed
        });
        tokio::select! {
            () = tokio::time::sleep(reading_interval) => {}
            () = tx.closed() => return,
        }
    }
}

async fn renew(backend: &Backend, node: &str, token: &str) -> io::Result<()> {
    match backend {
        Backend::Dir(dir) => {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{node}.tmp"));
            std::fs::write(&tmp, token)?;
            std::fs::rename(&tmp, dir.join(node))
        }
        Backend::Leases { client, namespace } => {
            let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
            let name = lease_name(node);
            let spec = LeaseSpec {
                holder_identity: Some(node.to_owned()),
                lease_duration_seconds: Some(6),
                renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
                ..LeaseSpec::default()
            };
            let existing = api.get_opt(&name).await.map_err(io::Error::other)?;
            let mut lease = existing.unwrap_or_else(|| Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(namespace.clone()),
                    labels: Some([(HEARTBEAT_LABEL.0.to_owned(), HEARTBEAT_LABEL.1.to_owned())].into()),
                    ..ObjectMeta::default()
                },
                spec: None,
            });
            let create = lease.metadata.resource_version.is_none();
            lease.spec = Some(spec);
            let pp = PostParams::default();
            let result = if create { api.create(&pp, &lease).await } else { api.replace(&name, &pp, &lease).await };
            result.map(|_| ()).map_err(io::Error::other)
        }
    }
}

/// Every heartbeat: node name and its current token.
async fn read(backend: &Backend) -> io::Result<Vec<(String, String)>> {
    match backend {
        Backend::Dir(dir) => {
            let mut entries = Vec::new();
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                if name.starts_with('.') {
                    continue;
                }
                match std::fs::read_to_string(entry.path()) {
                    Ok(token) => entries.push((name, token)),
                    // renamed over between listing and reading: read next time
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(entries)
        }
        Backend::Leases { client, namespace } => {
            let api: Api<Lease> = Api::namespaced(client.clone(), namespace);
            let selector = format!("{}={}", HEARTBEAT_LABEL.0, HEARTBEAT_LABEL.1);
            let leases = api.list(&ListParams::default().labels(&selector)).await.map_err(io::Error::other)?;
            Ok(leases.items.iter().filter_map(lease_token).collect())
        }
    }
}

/// A heartbeat Lease's node and what changes with each renewal.
fn lease_token(lease: &Lease) -> Option<(String, String)> {
    heartbeat_of(lease).map(|(node, renewed)| (node, renewed.to_string()))
}

/// A heartbeat Lease's node and when it was last renewed.
pub fn heartbeat_of(lease: &Lease) -> Option<(String, k8s_openapi::jiff::Timestamp)> {
    let spec = lease.spec.as_ref()?;
    Some((spec.holder_identity.clone()?, spec.renew_time.as_ref()?.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_without_a_holder_or_renewal_is_no_heartbeat() {
        let mut lease = Lease::default();
        assert_eq!(lease_token(&lease), None);
        lease.spec = Some(LeaseSpec { holder_identity: Some("node1".into()), ..LeaseSpec::default() });
        assert_eq!(lease_token(&lease), None);
        let at = k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap();
        lease.spec.as_mut().unwrap().renew_time = Some(MicroTime(at));
        assert_eq!(lease_token(&lease), Some(("node1".into(), at.to_string())));
    }

    #[tokio::test]
    async fn the_directory_heartbeats_are_renewed_and_read_back() {
        let dir = std::env::temp_dir().join(format!("ferrolb-witness-{}", std::process::id()));
        let backend = Backend::Dir(dir.clone());
        renew(&backend, "node1", "1-1").await.unwrap();
        renew(&backend, "node2", "1-1").await.unwrap();
        renew(&backend, "node1", "1-2").await.unwrap();
        let mut entries = read(&backend).await.unwrap();
        entries.sort();
        assert_eq!(entries, [("node1".to_owned(), "1-2".to_owned()), ("node2".to_owned(), "1-1".to_owned())]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read(&backend).await.is_err(), "a missing directory is no evidence");
    }

    mod leases {
        use ferrolb_kube::scripted::{self, Exchange};
        use serde_json::json;

        use super::*;

        const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/metallb-system/leases";

        fn lease(node: &str, renewed: &str, version: &str) -> serde_json::Value {
            json!({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": lease_name(node), "namespace": "metallb-system", "resourceVersion": version,
                             "labels": {"app.kubernetes.io/component": "speaker-heartbeat"}},
                "spec": {"holderIdentity": node, "leaseDurationSeconds": 6, "renewTime": renewed},
            })
        }

        fn backend(client: kube::Client) -> Backend {
            Backend::Leases { client, namespace: "metallb-system".into() }
        }

        #[tokio::test]
        async fn the_first_renewal_creates_the_labelled_lease_the_next_replace_it_and_reading_lists_by_label() {
            let own = format!("{LEASES}/ferrolb-speaker-node1");
            let script = vec![
                Exchange::get(&own).fails(404, "NotFound"),
                Exchange::post(LEASES)
                    .body(json!({
                        "metadata": {"name": "ferrolb-speaker-node1",
                                     "labels": {"app.kubernetes.io/component": "speaker-heartbeat"}},
                        "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 6},
                    }))
                    .returns(lease("node1", "2026-12-03T23:00:00.000000Z", "1")),
                Exchange::get(&own).returns(lease("node1", "2026-12-03T23:00:00.000000Z", "1")),
                Exchange::put(&own)
                    .body(json!({"metadata": {"resourceVersion": "1"}, "spec": {"holderIdentity": "node1"}}))
                    .returns(lease("node1", "2026-12-03T23:00:02.000000Z", "2")),
                Exchange::get(LEASES).query("labelSelector").returns(json!({
                    "apiVersion": "coordination.k8s.io/v1", "kind": "LeaseList", "metadata": {},
                    "items": [
                        lease("node1", "2026-12-03T23:00:02.000000Z", "2"),
                        lease("node2", "2026-12-03T23:00:01.500000Z", "7"),
                        // a Lease with the label but no holder is nobody's heartbeat
                        {"metadata": {"name": "stray", "namespace": "metallb-system"}, "spec": {}},
                    ],
                })),
            ];
            let (read_back, seen) = scripted::run(script, |client| async move {
                let backend = backend(client);
                renew(&backend, "node1", "x").await.unwrap();
                renew(&backend, "node1", "x").await.unwrap();
                read(&backend).await.unwrap()
            })
            .await;
            let renewed = seen[3].body["spec"]["renewTime"].as_str().unwrap_or_default().to_owned();
            assert!(!renewed.is_empty(), "the replace moves renewTime: {}", seen[3].body);
            assert!(seen[4].uri.contains("speaker-heartbeat"), "listed by label: {}", seen[4].uri);
            let nodes: Vec<&str> = read_back.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(nodes, ["node1", "node2"]);
            assert_eq!(read_back[1].1, "2026-12-03T23:00:01.5Z");
        }

        #[tokio::test(start_paused = true)]
        async fn an_api_server_that_refuses_is_no_evidence() {
            let own = format!("{LEASES}/ferrolb-speaker-node1");
            let script = vec![Exchange::get(&own).fails(403, "Forbidden")];
            let ((), _) = scripted::run(script, |client| async move {
                let (tx, mut rx) = watch::channel(Witness::Alive(Default::default()));
                let task = tokio::spawn(run(backend(client), "node1".into(), tx));
                rx.changed().await.unwrap();
                assert_eq!(*rx.borrow(), Witness::Unreachable);
                drop(rx);
                task.await.unwrap();
            })
            .await;
        }
    }
}
