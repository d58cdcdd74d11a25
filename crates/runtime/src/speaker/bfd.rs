//! BFD for the BGP peers that name a `bfdProfile`: one session per such peer on this node.
//!
//! When a BFD session that was up goes down, the BGP session with that peer is reset at once
//! instead of waiting for the hold timer (the peer's router does the same on its side).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ferrolb_announce::bfd::Wanted;
use ferrolb_bfd::{Bfd, BfdHandle};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::observe::metrics::{Metrics, PeerLabel};

#[derive(Debug)]
pub struct BfdSessions {
    metrics: Arc<Metrics>,
    /// BGPPeer names whose BFD session went down.
    down: mpsc::UnboundedSender<String>,
    /// One driver per VRF (`None`: the default one), shared with the per-session followers,
    /// which read the counters; started when a session needs it.
    handles: BTreeMap<Option<String>, Arc<BfdHandle>>,
    /// VRFs whose driver could not start (said once); their peers go on their hold timers.
    failed: BTreeSet<Option<String>>,
    running: BTreeMap<String, (Wanted, JoinHandle<()>)>,
}

impl BfdSessions {
    pub fn new(metrics: Arc<Metrics>, down: mpsc::UnboundedSender<String>) -> Self {
        Self { metrics, down, handles: BTreeMap::new(), failed: BTreeSet::new(), running: BTreeMap::new() }
    }

    pub async fn reconcile(&mut self, wanted: BTreeMap<String, Wanted>) {
        let stale: Vec<String> =
            self.running.iter().filter(|(name, (w, _))| wanted.get(*name) != Some(w)).map(|(n, _)| n.clone()).collect();
        for name in stale {
            if let Some((w, task)) = self.running.remove(&name) {
                task.abort();
                let _ = task.await;
                if let Some(handle) = self.handles.get(&w.vrf) {
                    handle.remove_session(w.peer).await;
                }
                self.metrics.forget_bfd_peer(&PeerLabel { peer: w.peer.to_string() });
                info!(peer = %name, address = %w.peer, "BFD session removed");
            }
        }
        for (name, w) in wanted {
            if self.running.contains_key(&name) {
                continue;
            }
            let Some(handle) = self.handle(&w.vrf) else { continue };
            match handle.add_session(w.peer, w.local, w.multihop, w.profile) {
                Ok(state) => {
                    info!(peer = %name, address = %w.peer, multihop = w.multihop, vrf = ?w.vrf, "BFD session added");
                    let task = tokio::spawn(follow(
                        name.clone(),
                        w.peer,
                        state,
                        Arc::clone(&handle),
                        Arc::clone(&self.metrics),
                        self.down.clone(),
                    ));
                    self.running.insert(name, (w, task));
                }
                Err(e) => error!(peer = %name, error = %e, "cannot add BFD session"),
            }
        }
    }

    /// The driver of `vrf`, started on first use; `None` when it cannot start.
    fn handle(&mut self, vrf: &Option<String>) -> Option<Arc<BfdHandle>> {
        if let Some(handle) = self.handles.get(vrf) {
            return Some(Arc::clone(handle));
        }
        if self.failed.contains(vrf) {
            return None;
        }
        let any = (Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        match Bfd::start_on(any.0, any.1, vrf.clone()) {
            Ok(handle) => {
                let handle = Arc::new(handle);
                self.handles.insert(vrf.clone(), Arc::clone(&handle));
                Some(handle)
            }
            Err(e) => {
                error!(error = %e, vrf = ?vrf, "cannot start BFD; these BGP sessions rely on their hold timers");
                self.failed.insert(vrf.clone());
                None
            }
        }
    }

    /// AdminDown to every peer, so routers do not mistake the shutdown for a failure.
    pub async fn shutdown(&mut self) {
        let running = std::mem::take(&mut self.running);
        let peers: Vec<(Option<String>, IpAddr)> = running.values().map(|(w, _)| (w.vrf.clone(), w.peer)).collect();
        for (_, (_, task)) in running {
            task.abort();
            let _ = task.await;
        }
        for (vrf, handle) in std::mem::take(&mut self.handles) {
            match Arc::try_unwrap(handle) {
                Ok(handle) => handle.shutdown().await,
                Err(shared) => {
                    for (_, peer) in peers.iter().filter(|(v, _)| *v == vrf) {
                        shared.remove_session(*peer).await;
                    }
                }
            }
        }
    }
}

/// Logs transitions, keeps the `metallb_bfd_*` metrics (MetalLB's names) current, and
/// reports an up-to-down transition so the BGP session is reset.
async fn follow(
    name: String,
    peer: IpAddr,
    mut state: tokio::sync::watch::Receiver<ferrolb_bfd::SessionState>,
    handle: Arc<BfdHandle>,
    metrics: Arc<Metrics>,
    down: mpsc::UnboundedSender<String>,
) {
    let label = PeerLabel { peer: peer.to_string() };
    let mut was_up = false;
    let mut echo = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            changed = state.changed() => {
                if changed.is_err() {
                    metrics.bfd_session_up.get_or_create(&label).set(0);
                    return;
                }
                let now = *state.borrow_and_update();
                if now.is_up() != was_up {
                    if now.is_up() {
                        info!(peer = %name, address = %peer, transmit = ?now.transmit_interval, detection = ?now.detection_time, "BFD session up");
                    } else {
                        warn!(peer = %name, address = %peer, diagnostic = %now.diagnostic, "BFD session down: resetting the BGP session");
                        let _ = down.send(name.clone());
                    }
                    was_up = now.is_up();
                }
                if now.echo_interval != echo {
                    match now.echo_interval {
                        Some(interval) => info!(peer = %name, address = %peer, ?interval, "BFD echo function running"),
                        None => info!(peer = %name, address = %peer, "BFD echo function stopped"),
                    }
                    echo = now.echo_interval;
                }
                metrics.bfd_session_up.get_or_create(&label).set(i64::from(was_up));
            }
            _ = tick.tick() => {}
        }
        if let Some(c) = handle.counters(peer) {
            metrics.bfd_counters(&label, &c);
        }
        metrics.bfd_dropped(&handle.dropped());
    }
}
