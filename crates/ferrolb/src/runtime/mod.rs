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

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
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
    let shutdown = shutdown_signal();
    let (stopping_tx, stopping) = watch::channel(false);
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(http::Health::default());
    let node = args.node.clone();
    if matches!(roles, Roles::Speaker | Roles::Both) && node.is_none() {
        error!("the speaker needs --node");
        return ExitCode::from(2);
    }
    let mut background = Vec::new();
    let mut writer = None;
    let (sink, rx, leadership) = match &args.source {
        SourceSpec::Dir(manifests) => {
            if !manifests.is_dir() {
                error!(path = %manifests.display(), "the source directory does not exist");
                return ExitCode::from(2);
            }
            let state = StateDir::new(args.state_dir.clone().unwrap_or_else(|| manifests.join(".ferrolb")));
            if let Err(e) = state.create() {
                error!(path = %state.root().display(), error = %e, "cannot create the state directory");
                return ExitCode::from(2);
            }
            let (tx, rx) = watch::channel(Arc::new(Snapshot::default()));
            let source = DirSource::new(manifests.clone(), state.clone());
            info!(source = %manifests.display(), state = %state.root().display(), node = ?node, roles = ?roles, "starting");
            background.push(tokio::spawn(source.watch(tx, Arc::clone(&metrics))));
            (Sink::Dir(state.clone()), rx, Leadership::Lock(state))
        }
        SourceSpec::Kubernetes => {
            let k8s = &args.kubernetes;
            let client = match cluster::connect(k8s).await {
                Ok(client) => client,
                Err(message) => {
                    error!("{message}");
                    return ExitCode::from(2);
                }
            };
            let owner = cluster::pod_owner(&client, &args.namespace, k8s.pod_name.as_deref()).await;
            let started = cluster::start(&client, &args.namespace, roles, node.as_deref(), owner);
            info!(namespace = %args.namespace, node = ?node, roles = ?roles, "starting on the Kubernetes API");
            background.extend(started.tasks);
            if matches!(roles, Roles::Controller | Roles::Both) {
                let (client, namespace) = (client.clone(), args.namespace.clone());
                background.push(tokio::spawn(cluster::ensure_memberlist_secret(client, namespace, k8s.clone())));
            }
            writer = Some(started.writer.clone());
            let sink = Sink::Kube(KubeSink { writer: started.writer, events: started.events });
            (sink, started.snapshots, Leadership::Lease(client))
        }
    };

    let router = http::router(Arc::clone(&metrics), Arc::clone(&health));
    if args.port != 0 {
        tokio::spawn(http::serve(SocketAddr::new(args.bind_address, args.port), router.clone()));
    }
    if args.health_probe_port != 0 {
        tokio::spawn(http::serve(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), args.health_probe_port), router));
    }

    let mut first = rx.clone();
    let ready = Arc::clone(&health);
    tokio::spawn(async move {
        if first.changed().await.is_ok() {
            ready.ready.store(true, Ordering::Relaxed);
        }
    });

    // Webhooks run beside the controller on the API server (every replica serves them, the
    // Lease only decides who reconciles); `onlywebhook` runs them without the reconcilers.
    let webhook_mode = args.kubernetes.webhook_mode;
    if let (Leadership::Lease(client), Roles::Controller, true) =
        (&leadership, roles, webhook_mode != WebhookMode::Disabled)
    {
        let settings = cluster::webhook_settings(&args.namespace, &args.kubernetes);
        let client = client.clone();
        background.push(tokio::spawn(async move {
            if let Err(e) = ferrolb_webhook::serve(client, settings).await {
                error!(error = %e, "the webhook server stopped");
            }
        }));
    }
    let kube_client = match &leadership {
        Leadership::Lease(client) => Some(client.clone()),
        Leadership::Lock(_) => None,
    };
    let mut election = None;
    if matches!(roles, Roles::Controller | Roles::Both) && webhook_mode != WebhookMode::Onlywebhook {
        let identity = args.kubernetes.pod_name.clone().or_else(|| node.clone()).unwrap_or_else(|| "controller".into());
        let make = {
            let (sink, namespace, lb_class, metrics) = (
                sink.clone(),
                args.namespace.clone(),
                args.lb_class.clone().filter(|c| !c.is_empty()),
                Arc::clone(&metrics),
            );
            move || controller::Controller::new(sink.clone(), namespace.clone(), lb_class.clone(), Arc::clone(&metrics))
        };
        match leadership {
            Leadership::Lock(state) => {
                tokio::spawn(lead_then_control(state, identity, make(), rx.clone(), Arc::clone(&metrics)));
            }
            Leadership::Lease(client) => {
                let (leading_tx, leading) = watch::channel(false);
                let mut stop = stopping.clone();
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                match cluster::elect(&client, &args.namespace, &args.kubernetes, &identity, leading_tx, stopped) {
                    Ok(task) => election = Some(task),
                    Err(message) => {
                        error!("{message}");
                        return ExitCode::from(2);
                    }
                }
                tokio::spawn(control_while_leading(make, rx.clone(), leading, Arc::clone(&metrics)));
            }
        }
    }
    let mut speaker_task = None;
    if let (Roles::Speaker | Roles::Both, Some(node)) = (roles, node) {
        let l2 = if args.disable_layer2 {
            info!(
                "layer 2 data plane disabled (--disable-layer2): decisions are made and reported, nothing is answered"
            );
            None
        } else {
            let mut l2_config = ferrolb_l2::L2Config::default();
            match exclusions::load(&args.exclude_interfaces_file) {
                Ok((exclusion, origin)) => {
                    info!(file = %args.exclude_interfaces_file.display(), ?origin, "interfaces excluded from layer 2");
                    l2_config.exclusion = exclusion;
                }
                Err(message) => {
                    error!("{message}");
                    return ExitCode::from(2);
                }
            }
            l2_config.gratuitous.refresh =
                (args.l2_refresh_interval > 0).then(|| Duration::from_secs(args.l2_refresh_interval));
            match ferrolb_l2::L2Announcer::start(l2_config).await {
                Ok(l2) => {
                    tokio::spawn(copy_layer2_counters(l2.clone(), Arc::clone(&metrics)));
                    Some(l2)
                }
                Err(e) => {
                    error!(error = %e, "cannot start the layer 2 data plane (raw sockets need CAP_NET_RAW); ARP/NDP will not be answered");
                    None
                }
            }
        };
        let membership = match membership_options(args) {
            Ok(options) => options,
            Err(message) => {
                error!("{message}");
                return ExitCode::from(2);
            }
        };
        let decide = speaker::SpeakerOptions {
            lb_class: args.lb_class.clone().filter(|c| !c.is_empty()),
            ignore_exclude_lb: args.ignore_exclude_lb,
            membership,
            graceful_shutdown_delay: Duration::from_secs(args.graceful_shutdown_delay),
        };
        let mut speaker =
            speaker::Speaker::new(node, sink.clone(), args.namespace.clone(), decide, l2, Arc::clone(&metrics));
        if let (Some(client), Some(selector)) = (&kube_client, args.kubernetes.ml_labels.clone()) {
            let (tx, speaker_nodes) = watch::channel(None);
            let task = cluster::discover_speakers(client.clone(), args.namespace.clone(), selector, tx);
            background.push(tokio::spawn(task));
            speaker = speaker.with_speaker_nodes(speaker_nodes);
        }
        speaker_task = Some(tokio::spawn(speaker.run(rx.clone())));
    }

    shutdown.await;
    info!("shutting down");
    let _ = stopping_tx.send(true);
    // Closing the snapshot channel ends the speaker's loop, which withdraws everything it
    // announces before returning.
    drop(rx);
    for task in &background {
        if writer.is_none() {
            task.abort();
        }
    }
    // The speaker withdraws, sends its CEASEs and, with --graceful-shutdown-delay, first
    // drains for that long: wait for all of it, with 2 s to spare.
    let budget = Duration::from_secs(args.graceful_shutdown_delay) + Duration::from_secs(2);
    if let Some(task) = speaker_task
        && tokio::time::timeout(budget, task).await.is_err()
    {
        warn!(?budget, "the speaker did not finish withdrawing in time");
    }
    // The last statuses (the speaker's removals) and the Lease's release reach the API server
    // before the process goes.
    if let Some(writer) = writer
        && !writer.flush(Duration::from_secs(2)).await
    {
        warn!("some status writes did not reach the API server before shutdown");
    }
    if let Some(task) = election {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    for task in background {
        task.abort();
    }
    ExitCode::SUCCESS
}

/// How the controller role is elected: a lock on the state directory, or a Lease.
enum Leadership {
    Lock(StateDir),
    Lease(kube::Client),
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
