//! The UDP driver: one tokio task owns the socket and the engine, turns [`Output`]s into
//! datagrams and timers, keeps the quorum [`Fence`] and publishes a [`MembershipView`].

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::config::{DEFAULT_PORT, Timers};
use crate::engine::{Boot, Counters, Engine, EngineConfig, EngineError, Output, Timer};
use crate::fence::Fence;
use crate::seal::Key;

/// How a speaker runs membership.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The Kubernetes node name of this speaker.
    pub name: String,
    /// Where to listen (`--membership-bind`; port [`DEFAULT_PORT`]).
    pub bind: SocketAddr,
    /// The address peers reach us at; defaults to the bound address, and is required when
    /// binding a wildcard address.
    pub advertise: Option<SocketAddr>,
    /// Peers to join (the Node InternalIPs with the membership port); ours is skipped.
    pub seeds: Vec<SocketAddr>,
    /// `None` sends in the clear (MetalLB does the same without a secret, with a warning).
    pub key: Option<Key>,
    pub timers: Timers,
    /// Speakers counted for quorum before they are seen alive (see [`Fence::expect`]).
    pub expected: Vec<String>,
}

impl DriverConfig {
    pub fn new(name: impl Into<String>, bind: SocketAddr) -> Self {
        Self {
            name: name.into(),
            bind,
            advertise: None,
            seeds: Vec::new(),
            key: None,
            timers: Timers::default(),
            expected: Vec::new(),
        }
    }

    /// The default listening address: all IPv4 addresses, port 7946.
    pub fn default_bind() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))
    }
}

/// What the speaker's Layer 2 election and fencing consume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipView {
    /// Live speakers by node name, this one included.
    pub members: BTreeSet<String>,
    /// Whether this speaker sees a quorum of `known` (see [`crate::fence`]).
    pub quorum: bool,
    /// Speakers known this epoch, this one included.
    pub known: BTreeSet<String>,
    /// Live and not suspected, this one included: what [`Self::quorum`] counts.
    pub reachable: BTreeSet<String>,
    /// Since when there is no quorum (what fencing on evidence measures renewals against,
    /// see [`crate::witness::must_fence`]).
    pub quorum_lost_at: Option<std::time::Instant>,
}

/// Counters for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub counters: Counters,
    /// Live members, this one included.
    pub members: usize,
    pub send_errors: u64,
    /// The local health multiplier (1 when healthy), see [`Engine::health`].
    pub health: u32,
}

/// Why the driver could not start.
#[derive(Debug, Error)]
pub enum DriverError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("membership bind {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("membership bind address {0} is a wildcard: an advertise address is required")]
    NoAdvertise(SocketAddr),
}

enum Command {
    Join(Vec<SocketAddr>),
    Forget(String),
    Leave(oneshot::Sender<()>),
}

/// Controls a running driver. Dropping it stops the driver without a word, as a crash would;
/// call [`MembershipHandle::leave`] on a graceful shutdown.
#[derive(Debug)]
pub struct MembershipHandle {
    commands: mpsc::UnboundedSender<Command>,
    stats: Arc<Mutex<Stats>>,
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MembershipHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MembershipHandle {
    /// Replaces the seed list (e.g. when Node objects change) and joins the new seeds.
    pub fn join(&self, seeds: Vec<SocketAddr>) {
        let _ = self.commands.send(Command::Join(seeds));
    }

    /// Stops counting a speaker for quorum (its Node object was deleted).
    pub fn forget(&self, name: impl Into<String>) {
        let _ = self.commands.send(Command::Forget(name.into()));
    }

    /// Leaves gracefully: every live member is told, so they drop us at once and do not count
    /// us for quorum. Returns once the notices were handed to the kernel.
    pub async fn leave(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Leave(done)).is_ok() {
            let _ = wait.await;
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The bound socket address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// Entry point of the driver.
#[derive(Debug)]
pub struct Membership;

impl Membership {
    /// Binds the socket, joins the seeds and runs the driver on the current tokio runtime.
    pub fn start(config: DriverConfig) -> Result<(MembershipHandle, watch::Receiver<MembershipView>), DriverError> {
        let std_socket = std::net::UdpSocket::bind(config.bind)
            .and_then(|s| s.set_nonblocking(true).map(|()| s))
            .map_err(|source| DriverError::Bind { addr: config.bind, source })?;
        let local_addr = std_socket.local_addr().map_err(|source| DriverError::Bind { addr: config.bind, source })?;
        let advertise = match config.advertise {
            Some(addr) => addr,
            None if local_addr.ip().is_unspecified() => return Err(DriverError::NoAdvertise(local_addr)),
            None => local_addr,
        };
        let socket =
            UdpSocket::from_std(std_socket).map_err(|source| DriverError::Bind { addr: config.bind, source })?;
        let engine = Engine::new(
            EngineConfig { name: config.name.clone(), advertise, timers: config.timers },
            config.key.as_ref(),
            boot_params(&config.name, advertise),
        )?;
        let mut fence = Fence::new(config.name);
        fence.expect(config.expected);
        let members = engine.members();
        let quorum = fence.has_quorum(&members);
        let view = MembershipView {
            quorum_lost_at: (!quorum).then(now),
            quorum,
            known: fence.known().clone(),
            reachable: members.clone(),
            members,
        };
        let (view_tx, view_rx) = watch::channel(view);
        let (commands, command_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Mutex::new(Stats::default()));
        let _ = commands.send(Command::Join(config.seeds));
        let driver = Driver {
            socket,
            engine,
            fence,
            timers: BinaryHeap::new(),
            pending: HashMap::new(),
            seq: 0,
            view: view_tx,
            stats: Arc::clone(&stats),
            send_errors: 0,
        };
        let task = tokio::spawn(driver.run(command_rx));
        Ok((MembershipHandle { commands, stats, local_addr, task }, view_rx))
    }
}

/// Per-start values: the generation from the wall clock (so restarts win their address), the
/// rest from the OS random source.
fn boot_params(name: &str, advertise: SocketAddr) -> Boot {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut random = [0u8; 24];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut random)).is_err() {
        // No OS randomness: nonces must still differ between starts and speakers.
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(now.as_nanos().to_be_bytes());
        h.update(std::process::id().to_be_bytes());
        h.update(name.as_bytes());
        h.update(advertise.to_string().as_bytes());
        random.copy_from_slice(&h.finalize()[..24]);
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&random[..16]);
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&random[16..]);
    Boot { generation: now.as_millis() as u64, rng_seed: u64::from_be_bytes(seed), nonce_salt: salt }
}

struct Driver {
    socket: UdpSocket,
    engine: Engine,
    fence: Fence,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    pending: HashMap<u64, Timer>,
    seq: u64,
    view: watch::Sender<MembershipView>,
    stats: Arc<Mutex<Stats>>,
    send_errors: u64,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; 65536];
        loop {
            let next = self.timers.peek().map(|Reverse((at, _))| *at);
            let outputs = tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => self.engine.handle_datagram(from, &buf[..len], now()),
                    // ICMP errors from earlier sends surface here on some platforms.
                    Err(_) => Vec::new(),
                },
                () = sleep_until(next) => self.due_timers(),
                command = commands.recv() => match command {
                    Some(Command::Join(seeds)) => self.engine.join(seeds),
                    Some(Command::Forget(name)) => {
                        self.fence.forget(&name);
                        Vec::new()
                    }
                    Some(Command::Leave(done)) => {
                        let outputs = self.engine.leave();
                        self.apply(outputs).await;
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
            };
            self.apply(outputs).await;
        }
    }

    fn due_timers(&mut self) -> Vec<Output> {
        let now = Instant::now();
        let mut outputs = Vec::new();
        while let Some(&Reverse((at, seq))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(timer) = self.pending.remove(&seq) {
                outputs.extend(self.engine.handle_timer(timer, now.into_std()));
            }
        }
        outputs
    }

    async fn apply(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, bytes } => {
                    if self.socket.send_to(&bytes, to).await.is_err() {
                        self.send_errors += 1;
                    }
                }
                Output::SetTimer { after, timer } => {
                    self.seq += 1;
                    self.timers.push(Reverse((Instant::now() + after, self.seq)));
                    self.pending.insert(self.seq, timer);
                }
                Output::MemberUp(name) => {
                    tracing::info!(member = %name, "membership: member up");
                    self.fence.up(&name);
                }
                Output::MemberDown(name) => {
                    tracing::warn!(member = %name, "membership: member down");
                }
                Output::MemberLeft(name) => {
                    tracing::info!(member = %name, "membership: member left");
                    self.fence.left(&name);
                }
                Output::Dropped { from, reason } => {
                    tracing::debug!(%from, ?reason, "membership: datagram dropped");
                }
            }
        }
        let members = self.engine.members();
        // For quorum a suspected member already counts as absent: in a partition the
        // minority then goes quiet at suspicion time, before the majority's verdict hands
        // its addresses to another node, so the two sides never answer at once. With three
        // or more speakers one suspicion still leaves a majority, so this only fences on a
        // real partition. Suspicion is not an output, so quorum is recomputed every time.
        let reachable: BTreeSet<String> = members.difference(&self.engine.suspects()).cloned().collect();
        let quorum = self.fence.has_quorum(&reachable);
        let quorum_lost_at = match (quorum, self.view.borrow().quorum_lost_at) {
            (true, _) => None,
            (false, since) => Some(since.unwrap_or_else(now)),
        };
        let view = MembershipView {
            quorum,
            known: self.fence.known().clone(),
            members: members.clone(),
            reachable,
            quorum_lost_at,
        };
        self.view.send_if_modified(|current| {
            let modified = *current != view;
            *current = view;
            modified
        });
        if let Ok(mut stats) = self.stats.lock() {
            *stats = Stats {
                counters: self.engine.counters().clone(),
                members: members.len(),
                send_errors: self.send_errors,
                health: self.engine.health(),
            };
        }
    }
}

fn now() -> std::time::Instant {
    std::time::Instant::now()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
