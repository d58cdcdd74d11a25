//! The `k8s` source's wiring: connect to the API server, start the watches, the status
//! writer and the event recorder, and elect the controller with a Lease.

use std::sync::Arc;
use std::time::Duration;

use ferrolb_kube::events::{EventRecorder, RecorderSettings, Reporter};
use ferrolb_kube::lease::{ElectionConfig, LeaderElector};
use ferrolb_kube::source::{self, Snapshot};
/// One-shot listing, for tools that read the cluster once (`ferrolb why`).
pub use ferrolb_kube::source::{Kind, list_all, list_once};
use ferrolb_kube::status::{self, Settings, StatusWriter};
/// Where the status objects live, for tools that read them (`ferrolb why`).
pub use ferrolb_kube::status::{ServiceStatusKind, configuration_state_resource};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Api;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::{KubernetesConfig, Roles};

/// How long the first contact with the API server may take before the process gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for the configured cluster, proven reachable. The error is one line for the user.
pub async fn connect(args: &KubernetesConfig) -> Result<kube::Client, String> {
    connect_with(args.kubeconfig.as_deref()).await
}

/// [`connect`] with only a kubeconfig: for tools that read the cluster as its user does.
pub async fn connect_with(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("cannot use kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            format!("no Kubernetes configuration found (not in a pod, no $KUBECONFIG, no ~/.kube/config): {e}")
        })?,
    };
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).map_err(|e| format!("cannot build a client for {url}: {e}"))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(version)) => {
            info!(server = %url, version = %version.git_version, "connected to the Kubernetes API server");
            Ok(client)
        }
        Ok(Err(e)) => Err(format!("cannot reach the Kubernetes API server at {url}: {e}")),
        Err(_) => Err(format!("cannot reach the Kubernetes API server at {url}: no answer in {CONNECT_TIMEOUT:?}")),
    }
}

/// This process's Pod as the owner of what it creates, so Kubernetes removes those objects
/// with it (MetalLB does the same). Without a pod name (running outside the cluster) there is
/// no owner.
pub async fn pod_owner(client: &kube::Client, namespace: &str, pod: Option<&str>) -> Option<OwnerReference> {
    let name = pod?;
    match Api::<Pod>::namespaced(client.clone(), namespace).get(name).await {
        Ok(pod) => Some(OwnerReference {
            api_version: "v1".into(),
            kind: "Pod".into(),
            name: name.into(),
            uid: pod.metadata.uid.unwrap_or_default(),
            ..OwnerReference::default()
        }),
        Err(e) => {
            warn!(pod = %name, error = %e, "cannot read this pod; objects created will have no owner");
            None
        }
    }
}

/// The kinds the given roles read.
fn kinds(roles: Roles) -> Vec<Kind> {
    match roles {
        Roles::Controller => source::Role::Controller.kinds().to_vec(),
        Roles::Speaker | Roles::Both => source::Role::Speaker.kinds().to_vec(),
    }
}

/// What the runtime gets from the cluster: snapshots and a way to write back.
#[derive(Debug)]
pub struct Started {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub writer: StatusWriter,
    pub events: EventRecorder,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Starts the watches, the status writer (and for speakers the watches of their status
/// objects) and the event recorder.
pub fn start(
    client: &kube::Client,
    namespace: &str,
    roles: Roles,
    node: Option<&str>,
    owner: Option<OwnerReference>,
) -> Started {
    let mut tasks = Vec::new();
    let (raw_tx, mut raw_rx) = watch::channel(None::<Arc<Snapshot>>);
    let kinds = kinds(roles);
    let (client_for_source, ns) = (client.clone(), namespace.to_owned());
    tasks.push(tokio::spawn(async move { source::run(client_for_source, ns, &kinds, raw_tx).await }));
    // The runtime's channel starts with a placeholder; only published snapshots are
    // forwarded (shared, not copied).
    let (tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
    tasks.push(tokio::spawn(async move {
        while raw_rx.changed().await.is_ok() {
            let next = raw_rx.borrow_and_update().clone();
            if let Some(snapshot) = next
                && tx.send(snapshot).is_err()
            {
                return;
            }
        }
    }));

    let writer = StatusWriter::new(Settings { namespace: namespace.to_owned(), owner });
    tasks.push(tokio::spawn(writer.clone().run(client.clone())));
    if matches!(roles, Roles::Speaker | Roles::Both) {
        for kind in [ServiceStatusKind::Layer2, ServiceStatusKind::Bgp] {
            tasks.push(tokio::spawn(status::watch_statuses(client.clone(), writer.clone(), kind)));
        }
    }
    let reporter = match (roles, node) {
        (Roles::Speaker | Roles::Both, Some(node)) => Reporter::speaker(node),
        _ => Reporter::controller(),
    };
    let (events, worker) = EventRecorder::new(client.clone(), reporter, RecorderSettings::default());
    tasks.push(tokio::spawn(worker.run()));
    Started { snapshots, writer, events, tasks }
}

/// Campaigns for the controller Lease; `leading` says when the controller may act.
pub fn elect(
    client: &kube::Client,
    namespace: &str,
    args: &KubernetesConfig,
    identity: &str,
    leading: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, String> {
    let config = ElectionConfig::new(namespace, &args.lease_name, identity, args.lease_duration);
    let elector = LeaderElector::new(client.clone(), config).map_err(|e| format!("invalid leader election: {e}"))?;
    Ok(tokio::spawn(async move { elector.run(leading, shutdown).await }))
}

/// Creates the membership key Secret when absent (as MetalLB's controller does), owned by
/// the controller Deployment; retried every 10 s until it exists.
pub async fn ensure_memberlist_secret(client: kube::Client, namespace: String, args: KubernetesConfig) {
    use ferrolb_kube::memberlist::{SecretOutcome, deployment_owner, ensure_secret};
    let mut warned = false;
    loop {
        let owner = match deployment_owner(client.clone(), &namespace, &args.deployment).await {
            Ok(owner) => Some(owner),
            Err(e) => {
                if !warned {
                    warn!(error = %e, "the memberlist Secret will have no owner");
                }
                None
            }
        };
        match ensure_secret(client.clone(), &namespace, &args.ml_secret_name, owner).await {
            Ok(SecretOutcome::Created) => {
                info!(secret = %args.ml_secret_name, "created the membership key Secret");
                return;
            }
            Ok(_) => return,
            Err(e) => {
                if !warned {
                    warn!(error = %e, "cannot ensure the membership key Secret; retrying every 10 s");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// How often the speaker pods are listed for membership discovery.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(30);

/// Publishes the names of the nodes running a speaker pod (pods in the namespace matching
/// `--ml-labels`, running and not being deleted), relisting every 30 s. A failed listing
/// keeps the last answer.
pub async fn discover_speakers(
    client: kube::Client,
    namespace: String,
    selector: String,
    tx: watch::Sender<Option<std::collections::BTreeSet<String>>>,
) {
    use ferrolb_kube::memberlist::{pod_nodes, speaker_pods};
    let mut failing = false;
    loop {
        match speaker_pods(client.clone(), &namespace, &selector).await {
            Ok(pods) => {
                let nodes = pod_nodes(&pods);
                if failing {
                    info!("speaker discovery works again");
                    failing = false;
                }
                tx.send_if_modified(|current| {
                    let changed = current.as_ref() != Some(&nodes);
                    if changed {
                        info!(speakers = nodes.len(), "speaker pods discovered");
                        *current = Some(nodes);
                    }
                    changed
                });
            }
            Err(e) if !failing => {
                warn!(error = %e, "cannot list the speaker pods; keeping the last answer");
                failing = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(DISCOVERY_INTERVAL) => {}
            () = tx.closed() => return,
        }
    }
}
