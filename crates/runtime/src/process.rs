//! The long-running processes: `controller`, `speaker`, and `run` (both in one process).
//!
//! Wiring only: a source publishes snapshots on a watch channel; the controller (once
//! elected) and the speaker each reconcile every snapshot and write status through the
//! sink. Neither knows where the snapshots come from.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::config::{DirConfig, MetricsServing, RuntimeConfig, SourceConfig, SpeakerConfig, WebhookMode};
use crate::controller;
use crate::observe::metrics::Metrics;
use crate::observe::{health, scrape_auth, secure_metrics};
use crate::sink::{KubeSink, Sink};
use crate::sources::dir::DirSource;
use crate::sources::state_dir::{Leader, StateDir};
use crate::sources::state_writer::StateWriter;
use crate::sources::{Snapshot, k8s, lock};
use crate::speaker::{self, exclusions};

/// How often a standby controller tries the lock: the takeover delay after the leader dies.
const LEADER_POLL: Duration = Duration::from_millis(100);

/// Runs the configured roles until SIGTERM or SIGINT; exit code 2 on a start-up failure,
/// whose one line has been logged.
pub fn run(config: &RuntimeConfig) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(run_async(config));
    runtime.shutdown_timeout(Duration::from_millis(200));
    code
}

async fn run_async(config: &RuntimeConfig) -> ExitCode {
    // Listened for before anything starts, so an early signal still means an orderly stop.
    let shutdown = shutdown_signal();
    match run_until(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            ExitCode::from(2)
        }
    }
}

/// Starts the source and the roles, waits for `shutdown`, stops in order. An error is a
/// start-up failure, one line for the user (exit code 2).
pub async fn run_until(config: &RuntimeConfig, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new());
    // Before anything starts: an unusable --metrics-cert-dir is a start-up error.
    let certificate = match (&config.http.metrics, &config.http.serving) {
        (Some(_), MetricsServing::Tls { certificate, .. }) => Some(secure_metrics::certificate(certificate)?),
        _ => None,
    };
    let mut backend = match &config.source {
        SourceConfig::Dir(dir) => start_dir(dir, config, &metrics)?,
        SourceConfig::Kubernetes(_) => start_kubernetes(config).await?,
    };
    serve_http(config, &metrics, &backend, certificate);
    let (stopping_tx, stopping) = watch::channel(false);
    let election = start_controller(config, &backend, &metrics, stopping)?;
    let speaker = match &config.speaker {
        Some(speaker) => Some(start_speaker(speaker, config, &mut backend, &metrics).await?),
        None => None,
    };

    shutdown.await;
    info!("shutting down");
    let _ = stopping_tx.send(true);
    stop(config, backend, speaker, election).await;
    Ok(())
}

/// What a source gives the roles: snapshots, where to write, and how to elect the controller.
struct Backend {
    sink: Sink,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    leadership: Leadership,
    /// The API server's status writer, flushed on shutdown.
    writer: Option<ferrolb_kube::status::StatusWriter>,
    /// The state directory's writer, flushed on shutdown.
    state_writer: Option<StateWriter>,
    /// Tasks that live as long as the process.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How the controller role is elected: a lock on the state directory, or a Lease.
enum Leadership {
    Lock(StateDir),
    Lease(kube::Client),
}

impl Backend {
    /// The API server's client, on the `k8s` source.
    fn client(&self) -> Option<&kube::Client> {
        match &self.leadership {
            Leadership::Lease(client) => Some(client),
            Leadership::Lock(_) => None,
        }
    }
}

fn start_dir(dir: &DirConfig, config: &RuntimeConfig, metrics: &Arc<Metrics>) -> Result<Backend, String> {
    let manifests = &dir.manifests;
    if !manifests.is_dir() {
        return Err(format!("the source directory does not exist: {}", manifests.display()));
    }
    let state = StateDir::new(dir.state_dir.clone());
    state.create().map_err(|e| format!("cannot create the state directory {}: {e}", state.root().display()))?;
    let state_writer = StateWriter::start(state.clone(), metrics.update_errors.clone())
        .map_err(|e| format!("cannot start the state directory's writer thread: {e}"))?;
    let (tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
    let source = DirSource::new(manifests.to_owned(), state.clone());
    info!(source = %manifests.display(), state = %state.root().display(), node = ?config.node, roles = ?config.roles, "starting");
    Ok(Backend {
        sink: Sink::Dir(state_writer.clone()),
        snapshots,
        leadership: Leadership::Lock(state),
        writer: None,
        state_writer: Some(state_writer),
        tasks: vec![tokio::spawn(source.watch(tx, Arc::clone(metrics)))],
    })
}

async fn start_kubernetes(config: &RuntimeConfig) -> Result<Backend, String> {
    let Some(k8s) = config.kubernetes() else { return Err("not a Kubernetes source".into()) };
    let (namespace, roles) = (&config.namespace, config.roles);
    let client = k8s::connect(k8s).await?;
    let owner = k8s::pod_owner(&client, namespace, k8s.pod_name.as_deref()).await;
    let started = k8s::start(&client, namespace, roles, config.node.as_deref(), owner);
    info!(namespace = %namespace, node = ?config.node, roles = ?roles, "starting on the Kubernetes API");
    let mut tasks = started.tasks;
    if roles.controller() {
        let (client, namespace) = (client.clone(), namespace.clone());
        tasks.push(tokio::spawn(k8s::ensure_memberlist_secret(client, namespace, k8s.clone())));
    }
    // Webhooks run beside the controller (every replica serves them; the Lease only decides
    // who reconciles); `onlywebhook` runs them without the reconcilers.
    if roles == crate::Roles::Controller && k8s.webhook_mode != WebhookMode::Disabled {
        let settings = k8s.webhook.clone();
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
        state_writer: None,
        tasks,
    })
}

/// `/metrics`, `/healthz` and `/readyz`; ready once the first snapshot is published. The
/// health port serves `/metrics` too only while the metrics port does so openly.
fn serve_http(
    config: &RuntimeConfig,
    metrics: &Arc<Metrics>,
    backend: &Backend,
    certificate: Option<Arc<ferrolb_webhook::tls::CertStore>>,
) {
    let health = Arc::new(health::Health::default());
    let open = health::router(Arc::clone(metrics), Arc::clone(&health));
    if let Some(addr) = config.http.metrics {
        info!("{}", config.http.serving.summary(config.kubernetes().is_some()));
        match (&config.http.serving, certificate, backend.client()) {
            // Never served unchecked for want of a client.
            (MetricsServing::Tls { authenticated: true, .. }, _, None) => {
                error!("/metrics needs the API server to check tokens, and there is none")
            }
            (MetricsServing::Tls { certificate, min_version, authenticated }, Some(store), client) => {
                let auth = client
                    .filter(|_| *authenticated)
                    .map(|c| Arc::new(secure_metrics::ScrapeAuth::new(c.clone(), scrape_auth::Ttls::default())));
                let router = secure_metrics::router(Arc::clone(metrics), Arc::clone(&health), auth);
                tokio::spawn(secure_metrics::serve(addr, router, store, *min_version, certificate.dir()));
            }
            _ => {
                tokio::spawn(health::serve(addr, open.clone(), "/metrics, /healthz and /readyz"));
            }
        }
    }
    if let Some(addr) = config.http.health {
        if config.http.serving == MetricsServing::Plain {
            tokio::spawn(health::serve(addr, open, "/metrics, /healthz and /readyz"));
        } else {
            tokio::spawn(health::serve(addr, health::probes(Arc::clone(&health)), "/healthz and /readyz"));
        }
    }
    let snapshots = &backend.snapshots;
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
    config: &RuntimeConfig,
    backend: &Backend,
    metrics: &Arc<Metrics>,
    stopping: watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    if !config.reconciles_as_controller() {
        return Ok(None);
    }
    let identity = config.identity();
    let make = {
        let (sink, namespace, lb_class, metrics) =
            (backend.sink.clone(), config.namespace.clone(), config.lb_class.clone(), Arc::clone(metrics));
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
            let Some(k8s) = config.kubernetes() else { return Err("not a Kubernetes source".into()) };
            let election = k8s::elect(client, &config.namespace, k8s, &identity, leading_tx, stopped)?;
            tokio::spawn(control_while_leading(make, backend.snapshots.clone(), leading, Arc::clone(metrics)));
            Ok(Some(election))
        }
    }
}

/// This node's speaker: the Layer 2 data plane (unless disabled), membership, and on the
/// API server discovery of the other speakers by pod label.
async fn start_speaker(
    speaker_config: &SpeakerConfig,
    config: &RuntimeConfig,
    backend: &mut Backend,
    metrics: &Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let layer2 = &speaker_config.layer2;
    let l2 = if !layer2.data_plane {
        info!("layer 2 data plane disabled (--disable-layer2): decisions are made and reported, nothing is answered");
        None
    } else {
        let mut l2_config = ferrolb_l2::L2Config::default();
        let (exclusion, origin) = exclusions::load(&layer2.exclude_interfaces_file)?;
        info!(file = %layer2.exclude_interfaces_file.display(), ?origin, "interfaces excluded from layer 2");
        l2_config.exclusion = exclusion;
        l2_config.gratuitous.refresh = layer2.refresh;
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
        lb_class: config.lb_class.clone(),
        ignore_exclude_lb: speaker_config.ignore_exclude_lb,
        membership: speaker_config.membership.clone(),
        graceful_shutdown_delay: speaker_config.graceful_shutdown_delay,
        bgp_listen_port: speaker_config.bgp_listen_port,
    };
    let node = speaker_config.node.clone();
    let extras = match &backend.leadership {
        Leadership::Lease(client) => speaker::unapplied::bgp_extras(client, &config.namespace).await,
        Leadership::Lock(_) => None,
    };
    let memberlist_keys = speaker::unapplied::mounted_keys(std::path::Path::new(speaker::unapplied::MEMBERLIST_DIR));
    let unapplied = speaker::unapplied::unapplied(extras.as_deref(), &memberlist_keys);
    let mut speaker =
        speaker::Speaker::new(node, backend.sink.clone(), config.namespace.clone(), decide, l2, Arc::clone(metrics))
            .with_unapplied(unapplied);
    let report_target = match (&backend.leadership, &backend.sink) {
        (Leadership::Lease(client), _) => {
            Some(speaker::report::Target::ConfigMap { client: client.clone(), namespace: config.namespace.clone() })
        }
        (Leadership::Lock(_), crate::sink::Sink::Dir(writer)) => Some(speaker::report::Target::Dir(writer.clone())),
        (Leadership::Lock(_), crate::sink::Sink::Kube(_)) => None,
    };
    if let Some(target) = report_target {
        speaker = speaker.with_report(target);
    }
    if speaker_config.membership.enabled && speaker_config.membership.fencing {
        // the speakers' heartbeats, for fencing on evidence
        let witness = match &backend.leadership {
            Leadership::Lease(client) => {
                speaker::witness::Backend::Leases { client: client.clone(), namespace: config.namespace.clone() }
            }
            Leadership::Lock(state) => speaker::witness::Backend::Dir(state.heartbeats_dir()),
        };
        let (tx, rx) = watch::channel(ferrolb_gossip::Witness::Unreachable);
        backend.tasks.push(tokio::spawn(speaker::witness::run(witness, speaker_config.node.clone(), tx)));
        speaker = speaker.with_witness(rx);
    }
    let selector = config.kubernetes().and_then(|k| k.ml_labels.clone());
    if let (Leadership::Lease(client), Some(selector)) = (&backend.leadership, selector) {
        let (tx, speaker_nodes) = watch::channel(None);
        let task = k8s::discover_speakers(client.clone(), config.namespace.clone(), selector, tx);
        backend.tasks.push(tokio::spawn(task));
        speaker = speaker.with_speaker_nodes(speaker_nodes);
    }
    Ok(tokio::spawn(speaker.run(backend.snapshots.clone())))
}

/// The orderly stop: the speaker withdraws (and drains, with --graceful-shutdown-delay), the
/// last statuses reach the API server, the Lease is released, then everything else ends.
async fn stop(
    config: &RuntimeConfig,
    backend: Backend,
    speaker: Option<tokio::task::JoinHandle<()>>,
    election: Option<tokio::task::JoinHandle<()>>,
) {
    let Backend { snapshots, writer, state_writer, tasks, .. } = backend;
    // Closing the snapshot channel ends the speaker's loop, which withdraws everything it
    // announces before returning.
    drop(snapshots);
    if writer.is_none() {
        // The directory source has nothing more to read.
        tasks.iter().for_each(|t| t.abort());
    }
    // With --graceful-shutdown-delay the speaker first drains for that long: wait for all of
    // it, with 2 s to spare.
    let budget = config.stop_budget();
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
    if let Some(state_writer) = state_writer {
        let flushed = tokio::task::spawn_blocking(move || state_writer.flush(Duration::from_secs(2)));
        if !flushed.await.unwrap_or(false) {
            warn!("some status writes did not reach the state directory before shutdown");
        }
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
        match lock::try_acquire(&lock_path) {
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
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
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
