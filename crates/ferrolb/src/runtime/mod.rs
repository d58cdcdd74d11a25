//! The long-running processes: `controller`, `speaker`, and `run` (both in one process).
//!
//! Wiring only: a source publishes snapshots on a watch channel; the controller (once
//! elected) and the speaker each reconcile every snapshot with pure decisions and write
//! status through the state directory. Neither knows where the snapshots come from.

mod bfd;
mod bgp;
mod cluster;
mod conditions;
mod controller;
mod exclusions;
mod http;
mod layer2;
mod leader;
mod membership;
mod metrics;
mod sink;
mod source;
mod speaker;
mod state;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::cli::{RuntimeArgs, SourceSpec, WebhookMode};
use metrics::Metrics;
use sink::{KubeSink, Sink};
use source::{DirSource, Snapshot};
use state::{Leader, StateDir};

/// Which roles this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    Controller,
    Speaker,
    Both,
}

/// How often a standby controller tries the lock: the takeover delay after the leader dies.
const LEADER_POLL: Duration = Duration::from_millis(100);

pub fn run(roles: Roles, args: &RuntimeArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run_async(roles, args));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run_async(roles: Roles, args: &RuntimeArgs) -> ExitCode {
    // Listened for before anything starts, so an early signal still means an orderly stop.
    let shutdown = shutdown_signal();
    match run_until(roles, args, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::from(2)
        }
    }
}

/// Starts the source and the roles, waits for `shutdown`, stops in order. An error is a
/// start-up failure, one line for the user (exit code 2).
async fn run_until(roles: Roles, args: &RuntimeArgs, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let node = args.node.clone();
    if matches!(roles, Roles::Speaker | Roles::Both) && node.is_none() {
        return Err("the speaker needs --node".into());
    }
    let metrics = Arc::new(Metrics::new());
    let mut backend = match &args.source {
        SourceSpec::Dir(manifests) => start_dir(manifests, args, roles, &metrics)?,
        SourceSpec::Kubernetes => start_kubernetes(args, roles).await?,
    };
    serve_http(args, &metrics, &backend.snapshots);
    let (stopping_tx, stopping) = watch::channel(false);
    let election = start_controller(roles, args, &backend, &metrics, stopping)?;
    let speaker = match node {
        Some(node) if matches!(roles, Roles::Speaker | Roles::Both) => {
            Some(start_speaker(node, args, &mut backend, &metrics).await?)
        }
        _ => None,
    };

    shutdown.await;
    info!("shutting down");
    let _ = stopping_tx.send(true);
    stop(args, backend, speaker, election).await;
    Ok(())
}

/// What a source gives the roles: snapshots, where to write, and how to elect the controller.
struct Backend {
    sink: Sink,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    leadership: Leadership,
    /// The API server's status writer, flushed on shutdown.
    writer: Option<ferrolb_kube::status::StatusWriter>,
    /// Tasks that live as long as the process.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How the controller role is elected: a lock on the state directory, or a Lease.
enum Leadership {
    Lock(StateDir),
    Lease(kube::Client),
}

fn start_dir(manifests: &Path, args: &RuntimeArgs, roles: Roles, metrics: &Arc<Metrics>) -> Result<Backend, String> {
    if !manifests.is_dir() {
        return Err(format!("the source directory does not exist: {}", manifests.display()));
    }
    let state = StateDir::new(args.state_dir.clone().unwrap_or_else(|| manifests.join(".ferrolb")));
    state.create().map_err(|e| format!("cannot create the state directory {}: {e}", state.root().display()))?;
    let (tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
    let source = DirSource::new(manifests.to_owned(), state.clone());
    info!(source = %manifests.display(), state = %state.root().display(), node = ?args.node, roles = ?roles, "starting");
    Ok(Backend {
        sink: Sink::Dir(state.clone()),
        snapshots,
        leadership: Leadership::Lock(state),
        writer: None,
        tasks: vec![tokio::spawn(source.watch(tx, Arc::clone(metrics)))],
    })
}

async fn start_kubernetes(args: &RuntimeArgs, roles: Roles) -> Result<Backend, String> {
    let k8s = &args.kubernetes;
    let client = cluster::connect(k8s).await?;
    let owner = cluster::pod_owner(&client, &args.namespace, k8s.pod_name.as_deref()).await;
    let started = cluster::start(&client, &args.namespace, roles, args.node.as_deref(), owner);
    info!(namespace = %args.namespace, node = ?args.node, roles = ?roles, "starting on the Kubernetes API");
    let mut tasks = started.tasks;
    if matches!(roles, Roles::Controller | Roles::Both) {
        let (client, namespace) = (client.clone(), args.namespace.clone());
        tasks.push(tokio::spawn(cluster::ensure_memberlist_secret(client, namespace, k8s.clone())));
    }
    // Webhooks run beside the controller (every replica serves them; the Lease only decides
    // who reconciles); `onlywebhook` runs them without the reconcilers.
    if roles == Roles::Controller && k8s.webhook_mode != WebhookMode::Disabled {
        let settings = cluster::webhook_settings(&args.namespace, k8s);
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = ferrolb_webhook::serve(client, settings).await {
                error!(error = %e, "the webhook server stopped");
            }
        }));
    }
    Ok(Backend {
        sink: Sink::Kube(KubeSink { writer: started.writer.clone(), events: started.events }),
        snapshots: started.snapshots,
        leadership: Leadership::Lease(client),
        writer: Some(started.writer),
        tasks,
    })
}

/// `/metrics`, `/healthz` and `/readyz`; ready once the first snapshot is published.
fn serve_http(args: &RuntimeArgs, metrics: &Arc<Metrics>, snapshots: &watch::Receiver<Arc<Snapshot>>) {
    let health = Arc::new(http::Health::default());
    let router = http::router(Arc::clone(metrics), Arc::clone(&health));
    if args.port != 0 {
        tokio::spawn(http::serve(SocketAddr::new(args.bind_address, args.port), router.clone()));
    }
    if args.health_probe_port != 0 {
        tokio::spawn(http::serve(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), args.health_probe_port), router));
    }
    let mut first = snapshots.clone();
    tokio::spawn(async move {
        if first.changed().await.is_ok() {
            health.ready.store(true, Ordering::Relaxed);
        }
    });
}

/// The controller, once elected: by the state directory's lock, or by the Lease (then the
/// returned task is the election, which releases the Lease when `stopping` turns true).
fn start_controller(
    roles: Roles,
    args: &RuntimeArgs,
    backend: &Backend,
    metrics: &Arc<Metrics>,
    stopping: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    if !matches!(roles, Roles::Controller | Roles::Both) || args.kubernetes.webhook_mode == WebhookMode::Onlywebhook {
        return Ok(None);
    }
    let identity =
        args.kubernetes.pod_name.clone().or_else(|| args.node.clone()).unwrap_or_else(|| "controller".into());
    let make = {
        let (sink, namespace, lb_class, metrics) = (
            backend.sink.clone(),
            args.namespace.clone(),
            args.lb_class.clone().filter(|c| !c.is_empty()),
            Arc::clone(metrics),
        );
        move || controller::Controller::new(sink.clone(), namespace.clone(), lb_class.clone(), Arc::clone(&metrics))
    };
    match &backend.leadership {
        Leadership::Lock(state) => {
            let task =
                lead_then_control(state.clone(), identity, make(), backend.snapshots.clone(), Arc::clone(metrics));
            tokio::spawn(task);
            Ok(None)
        }
        Leadership::Lease(client) => {
            let (leading_tx, leading) = watch::channel(false);
            let mut stopping = stopping;
            let stopped = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            let election = cluster::elect(client, &args.namespace, &args.kubernetes, &identity, leading_tx, stopped)?;
            tokio::spawn(control_while_leading(make, backend.snapshots.clone(), leading, Arc::clone(metrics)));
            Ok(Some(election))
        }
    }
}

/// This node's speaker: the Layer 2 data plane (unless disabled), membership, and on the
/// API server discovery of the other speakers by pod label.
async fn start_speaker(
    node: String,
    args: &RuntimeArgs,
    backend: &mut Backend,
    metrics: &Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let l2 = if args.disable_layer2 {
        info!("layer 2 data plane disabled (--disable-layer2): decisions are made and reported, nothing is answered");
        None
    } else {
        let mut l2_config = ferrolb_l2::L2Config::default();
        let (exclusion, origin) = exclusions::load(&args.exclude_interfaces_file)?;
        info!(file = %args.exclude_interfaces_file.display(), ?origin, "interfaces excluded from layer 2");
        l2_config.exclusion = exclusion;
        l2_config.gratuitous.refresh =
            (args.l2_refresh_interval > 0).then(|| Duration::from_secs(args.l2_refresh_interval));
        match ferrolb_l2::L2Announcer::start(l2_config).await {
            Ok(l2) => {
                tokio::spawn(copy_layer2_counters(l2.clone(), Arc::clone(metrics)));
                Some(l2)
            }
            Err(e) => {
                error!(error = %e, "cannot start the layer 2 data plane (raw sockets need CAP_NET_RAW); ARP/NDP will not be answered");
                None
            }
        }
    };
    let decide = speaker::SpeakerOptions {
        lb_class: args.lb_class.clone().filter(|c| !c.is_empty()),
        ignore_exclude_lb: args.ignore_exclude_lb,
        membership: membership_options(args)?,
        graceful_shutdown_delay: Duration::from_secs(args.graceful_shutdown_delay),
    };
    let mut speaker =
        speaker::Speaker::new(node, backend.sink.clone(), args.namespace.clone(), decide, l2, Arc::clone(metrics));
    if let (Leadership::Lease(client), Some(selector)) = (&backend.leadership, args.kubernetes.ml_labels.clone()) {
        let (tx, speaker_nodes) = watch::channel(None);
        let task = cluster::discover_speakers(client.clone(), args.namespace.clone(), selector, tx);
        backend.tasks.push(tokio::spawn(task));
        speaker = speaker.with_speaker_nodes(speaker_nodes);
    }
    Ok(tokio::spawn(speaker.run(backend.snapshots.clone())))
}

/// The orderly stop: the speaker withdraws (and drains, with --graceful-shutdown-delay), the
/// last statuses reach the API server, the Lease is released, then everything else ends.
async fn stop(
    args: &RuntimeArgs,
    backend: Backend,
    speaker: Option<tokio::task::JoinHandle<()>>,
    election: Option<tokio::task::JoinHandle<()>>,
) {
    let Backend { snapshots, writer, tasks, .. } = backend;
    // Closing the snapshot channel ends the speaker's loop, which withdraws everything it
    // announces before returning.
    drop(snapshots);
    if writer.is_none() {
        // Nothing to flush: the directory source can stop at once.
        tasks.iter().for_each(|t| t.abort());
    }
    // With --graceful-shutdown-delay the speaker first drains for that long: wait for all of
    // it, with 2 s to spare.
    let budget = Duration::from_secs(args.graceful_shutdown_delay) + Duration::from_secs(2);
    if let Some(task) = speaker
        && tokio::time::timeout(budget, task).await.is_err()
    {
        warn!(?budget, "the speaker did not finish withdrawing in time");
    }
    if let Some(writer) = writer
        && !writer.flush(Duration::from_secs(2)).await
    {
        warn!("some status writes did not reach the API server before shutdown");
    }
    if let Some(task) = election {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    for task in tasks {
        task.abort();
    }
}

/// Runs a fresh controller whenever this replica holds the Lease, and stops it the moment
/// the Lease is lost, before another replica can take over (the elector's timing invariant).
async fn control_while_leading(
    make: impl Fn() -> controller::Controller,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    mut leading: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    loop {
        if leading.wait_for(|l| *l).await.is_err() {
            return;
        }
        metrics.is_leader.set(1);
        info!("controller: leading");
        let controller = make();
        tokio::select! {
            () = controller.run(snapshots.clone()) => return,
            lost = leading.wait_for(|l| !*l) => {
                metrics.is_leader.set(0);
                if lost.is_err() {
                    return;
                }
                warn!("controller: lost the Lease; standing by");
            }
        }
    }
}

/// Waits for the controller lock, announces the role, then reconciles while holding it.
async fn lead_then_control(
    state: StateDir,
    identity: String,
    controller: controller::Controller,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    metrics: Arc<Metrics>,
) {
    let lock_path = state.lock_path();
    let mut warned = false;
    let leadership = loop {
        match leader::try_acquire(&lock_path) {
            Ok(Some(held)) => break held,
            Ok(None) => {}
            Err(e) if !warned => {
                warn!(path = %lock_path.display(), error = %e, "cannot take the controller lock; retrying");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::time::sleep(LEADER_POLL).await;
    };
    metrics.is_leader.set(1);
    if let Err(e) = state.write_leader(&Leader { node: identity.clone(), pid: std::process::id() }) {
        warn!(error = %e, "cannot write leader.json");
    }
    info!(node = %identity, "controller: leading");
    controller.run(snapshots).await;
    drop(leadership);
}

/// Resolves on SIGTERM or SIGINT. Created before anything else starts, so a signal that
/// arrives early still leads to the orderly shutdown (withdraw, CEASE) instead of the
/// default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            (term, int) => {
                let e = term.err().or(int.err()).map(|e| e.to_string()).unwrap_or_default();
                warn!(error = %e, "cannot listen for SIGTERM/SIGINT");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Parses `--source`: `k8s` or `dir:PATH`.
pub fn parse_source(text: &str) -> Result<SourceSpec, String> {
    match text {
        "k8s" => Ok(SourceSpec::Kubernetes),
        _ => match text.strip_prefix("dir:") {
            Some(path) if !path.is_empty() => Ok(SourceSpec::Dir(PathBuf::from(path))),
            _ => Err(format!("invalid source {text:?}: expected k8s or dir:PATH")),
        },
    }
}

/// Copies the data plane's counters into the metrics every second.
async fn copy_layer2_counters(l2: ferrolb_l2::L2Announcer, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        match l2.counters().await {
            Ok(counters) => metrics.layer2_counters(&counters),
            Err(_) => return,
        }
    }
}

/// The membership settings from the command line; a key file that cannot be read is fatal:
/// running unauthenticated by accident would let any host on the LAN join.
fn membership_options(args: &RuntimeArgs) -> Result<membership::MembershipOptions, String> {
    let key = match &args.membership_key_file {
        None => None,
        Some(path) => Some(
            ferrolb_gossip::Key::from_file(path)
                .map_err(|e| format!("cannot use membership key file {}: {e}", path.display()))?,
        ),
    };
    let mut timers = ferrolb_gossip::Timers::default();
    if let Some(ms) = args.membership_probe_interval_ms {
        timers.probe_period = Duration::from_millis(ms);
    }
    if let Some(ms) = args.membership_probe_timeout_ms {
        timers.probe_timeout = Duration::from_millis(ms);
    }
    if let Some(m) = args.membership_suspicion_multiplier {
        timers.suspicion_multiplier = m;
    }
    Ok(membership::MembershipOptions {
        enabled: !args.no_membership,
        bind: args.membership_bind,
        key,
        timers,
        fencing: !args.no_fencing,
    })
}
