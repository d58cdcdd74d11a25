//! This node's BGP sessions: starts, updates and stops the `ferrolb-bgp` session drivers to
//! match what the speaker's core wants ([`ferrolb_announce::sessions`] decides the settings
//! and tables), and keeps the `metallb_bgp_*` metrics current. With a listen port
//! (`--bgp-listen-port`), it also accepts the connections its peers open, through one
//! [`Listener`] bound once the node has a peer.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferrolb_announce::sessions::Table;
use ferrolb_bgp::{Listener, PeerSettings, Session};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::unnumbered::Learner;
use crate::observe::metrics::{Metrics, PeerFamilyLabel, PeerLabel};

/// The running sessions of this node.
#[derive(Debug)]
pub struct Sessions {
    node: String,
    metrics: Arc<Metrics>,
    running: BTreeMap<String, Running>,
    /// The port the peers' own connections are accepted on; 0: none are (MetalLB's speakers,
    /// FRR's bgpd included, only dial).
    listen_port: u16,
    listener: Option<Listener>,
    /// Binding failed once (said in the log); the sessions still dial.
    listen_failed: bool,
    /// Copies the listener's refusals into `ferrolb_bgp_inbound_refused_total`.
    refusals: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Running {
    /// The settings the session was started with; any change restarts it.
    settings: PeerSettings,
    session: Session,
    /// The table last given to the session, shared with it (and with the speaker's kept
    /// decisions).
    table: Option<Arc<Table>>,
    watcher: JoinHandle<()>,
    /// For an unnumbered peer, what learns its address on the interface; held only so that
    /// it stops with the session (dropping it ends its task).
    _learner: Option<Learner>,
}

impl Sessions {
    pub fn new(node: String, metrics: Arc<Metrics>) -> Self {
        Self {
            node,
            metrics,
            running: BTreeMap::new(),
            listen_port: 0,
            listener: None,
            listen_failed: false,
            refusals: None,
        }
    }

    /// Accepts the peers' connections on `port` (0: never).
    pub fn with_listen_port(mut self, port: u16) -> Self {
        self.listen_port = port;
        self
    }

    /// Starts, restarts (configuration changed) and stops sessions to match `wanted`.
    pub async fn reconcile(&mut self, wanted: BTreeMap<String, PeerSettings>) {
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(name, running)| wanted.get(*name) != Some(&running.settings))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            let reason = if wanted.contains_key(&name) { "peer configuration changed" } else { "peer removed" };
            if let Some(running) = self.running.remove(&name) {
                info!(peer = %name, node = %self.node, reason, "closing BGP session");
                stop(running, reason, &self.metrics).await;
            }
        }
        for (name, settings) in wanted {
            if !self.running.contains_key(&name) {
                self.start(name, settings);
            }
        }
        self.listen();
    }

    /// Binds the listener once there is a peer, and gives it the running sessions.
    fn listen(&mut self) {
        if self.listen_port == 0 || self.listen_failed || (self.listener.is_none() && self.running.is_empty()) {
            return;
        }
        if self.listener.is_none() {
            match Listener::bind(self.listen_port) {
                Ok(listener) => {
                    info!(node = %self.node, port = self.listen_port, addrs = ?listener.local_addrs(), "accepting the BGP connections peers open");
                    self.refusals =
                        Some(tokio::spawn(copy_refusals(listener.refusal_counter(), Arc::clone(&self.metrics))));
                    self.listener = Some(listener);
                }
                Err(e) => {
                    warn!(node = %self.node, port = self.listen_port, error = %e, "cannot listen for BGP connections; the sessions only dial");
                    self.listen_failed = true;
                    return;
                }
            }
        }
        let Some(listener) = &self.listener else { return };
        // A session bound to a VRF is not offered the default VRF's connections.
        // Nor is an unnumbered one: its address is learnt, not configured.
        let peers = self
            .running
            .values()
            .filter(|r| r.settings.device.is_none() && r.settings.interface.is_none())
            .map(|r| (r.settings.address, r.session.clone(), r.settings.password.clone()));
        for (address, error) in listener.set_peers(peers) {
            warn!(node = %self.node, peer = %address, error = %error, "cannot set the TCP-MD5 key for connections from this peer: they will be dropped by the kernel");
        }
    }

    fn start(&mut self, name: String, settings: PeerSettings) {
        let label = PeerLabel::of_settings(&settings);
        let (session, learner) = match &settings.interface {
            Some(interface) => {
                info!(peer = %name, interface = %interface, port = settings.port, node = %self.node, "opening unnumbered BGP session: learning the peer's link-local address from its router advertisements");
                let learner = Learner::spawn(interface.clone(), Arc::clone(&self.metrics));
                (Session::spawn_unnumbered(settings.clone(), learner.neighbour()), Some(learner))
            }
            None => {
                info!(peer = %name, address = %settings.address, port = settings.port, node = %self.node, "opening BGP session");
                (Session::spawn(settings.clone()), None)
            }
        };
        let watcher = tokio::spawn(watch_status(name.clone(), label, session.clone(), Arc::clone(&self.metrics)));
        self.running.insert(name, Running { settings, session, table: None, watcher, _learner: learner });
    }

    /// Drops a session and dials again at once, for a peer whose BFD session went down: the
    /// hold timer would take up to 90 s to notice.
    pub async fn reset(&mut self, name: &str) {
        let Some(running) = self.running.remove(name) else { return };
        let (settings, table) = (running.settings.clone(), running.table.clone());
        stop(running, "BFD session down", &self.metrics).await;
        self.start(name.to_owned(), settings);
        if let (Some(table), Some(running)) = (table, self.running.get_mut(name)) {
            running.session.set_routes(Arc::clone(&table));
            running.table = Some(table);
        }
    }

    /// Each running session: BGPPeer name, `address:port` and its status (for the report).
    pub fn statuses(&self) -> Vec<(String, String, tokio::sync::watch::Receiver<ferrolb_bgp::SessionStatus>)> {
        self.running
            .iter()
            .map(|(name, r)| {
                let address = r.settings.peer_label();
                (name.clone(), address, r.session.status())
            })
            .collect()
    }

    /// The tables last given to the sessions.
    pub fn tables(&self) -> BTreeMap<String, Table> {
        self.running.iter().filter_map(|(n, r)| Some((n.clone(), Table::clone(r.table.as_deref()?)))).collect()
    }

    /// Gives every session its table (empty when nothing goes to that peer); only changed
    /// tables are passed on, and the driver sends only the difference.
    pub fn advertise(&mut self, mut tables: BTreeMap<String, Arc<Table>>) {
        for (name, running) in &mut self.running {
            let table = tables.remove(name).unwrap_or_default();
            let same = running.table.as_ref().is_some_and(|t| Arc::ptr_eq(t, &table) || **t == *table);
            if !same {
                running.session.set_routes(Arc::clone(&table));
                running.table = Some(table);
            }
        }
    }

    /// Ends every session on shutdown. A draining shutdown (routes already announced with
    /// GRACEFUL_SHUTDOWN) sends a CEASE so routers withdraw at once; otherwise a session with
    /// graceful restart negotiated closes without a NOTIFICATION (RFC 4724 §4), so the router
    /// keeps forwarding to this node while the speaker restarts.
    ///
    /// The sessions close at the same time: each may wait for its peer (a silent one up to
    /// the session's own limit), and the whole stop has a budget.
    pub async fn shutdown(&mut self, reason: &str, draining: bool) {
        let mut closing = tokio::task::JoinSet::new();
        for (name, running) in std::mem::take(&mut self.running) {
            running.watcher.abort();
            let _ = running.watcher.await;
            self.metrics.forget_peer(&PeerLabel::of_settings(&running.settings));
            let reason = reason.to_owned();
            if !draining && running.settings.graceful_restart.is_some() {
                info!(peer = %name, node = %self.node, "closing BGP session for a graceful restart (routes stay with the router)");
                closing.spawn(async move { running.session.shutdown_graceful(&reason).await });
            } else {
                info!(peer = %name, node = %self.node, reason, "closing BGP session");
                closing.spawn(async move { running.session.shutdown(&reason).await });
            }
        }
        while closing.join_next().await.is_some() {}
    }
}

async fn stop(running: Running, reason: &str, metrics: &Metrics) {
    // Wait for the status follower to be gone, so it cannot set the series again.
    running.watcher.abort();
    let _ = running.watcher.await;
    // Forgotten before the close, which may wait for a silent peer: the session is over now.
    metrics.forget_peer(&PeerLabel::of_settings(&running.settings));
    running.session.shutdown(reason).await;
}

/// Keeps `ferrolb_bgp_inbound_refused_total` at the listener's count, every two seconds.
async fn copy_refusals(refused: Arc<std::sync::atomic::AtomicU64>, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        let n = refused.load(std::sync::atomic::Ordering::Relaxed);
        metrics.bgp_inbound_refused.set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        if let Some(task) = &self.refusals {
            task.abort();
        }
    }
}

/// Follows a session's status: logs every state change and keeps the `metallb_bgp_*`
/// metrics current.
async fn watch_status(name: String, label: PeerLabel, session: Session, metrics: Arc<Metrics>) {
    let mut status = session.status();
    let mut was_up = false;
    let mut updates_seen = 0u64;
    loop {
        let current = status.borrow_and_update().clone();
        if current.established != was_up {
            if current.established {
                info!(peer = %name, address = %current.peer, "BGP session established");
            } else {
                warn!(peer = %name, address = %current.peer, reason = ?current.last_error, "BGP session down");
            }
            was_up = current.established;
        }
        metrics.bgp_session_up.get_or_create(&label).set(i64::from(current.established));
        metrics
            .bgp_announced_prefixes
            .get_or_create(&label)
            .set(i64::try_from(current.announced_prefixes).unwrap_or(i64::MAX));
        metrics
            .bgp_pending_prefixes
            .get_or_create(&label)
            .set(i64::try_from(current.pending_prefixes).unwrap_or(i64::MAX));
        for family in [ferrolb_bgp::AfiSafi::IPV4_UNICAST, ferrolb_bgp::AfiSafi::IPV6_UNICAST] {
            let held: u64 = current
                .held_back
                .iter()
                .filter(|h| h.family == family && h.cause == ferrolb_bgp::HoldCause::NoNextHop)
                .map(|h| h.prefixes)
                .sum();
            metrics
                .bgp_prefixes_without_next_hop
                .get_or_create(&PeerFamilyLabel { peer: label.peer.clone(), family: family.to_string() })
                .set(i64::try_from(held).unwrap_or(i64::MAX));
        }
        if current.updates_sent > updates_seen {
            metrics.bgp_updates.get_or_create(&label).inc_by(current.updates_sent - updates_seen);
            updates_seen = current.updates_sent;
        }
        if status.changed().await.is_err() {
            metrics.bgp_session_up.get_or_create(&label).set(0);
            return;
        }
    }
}
