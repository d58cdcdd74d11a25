//! The tokio driver: UDP sockets for single-hop (RFC 5881) and multi-hop (RFC 5883) BFD,
//! shared by every session of an address family, and one task that demultiplexes received
//! packets to sessions (RFC 5880 §6.3), runs their timers and carries out their outputs.
//!
//! Per address family the driver binds a receive socket on port 3784 (single-hop) and one
//! on port 4784 (multi-hop), both reporting the received TTL or hop limit, and sends from
//! one socket per source address bound to a port in 49152-65535 with TTL 255 (RFC 5881 §4,
//! RFC 5883 §2). Single-hop packets received with a TTL other than 255 are dropped (GTSM,
//! RFC 5881 §5); multi-hop packets below the session's minimum TTL are dropped (RFC 5883
//! §2). Every dropped packet is counted under a stable reason label.
//!
//! Another BFD daemon may share the host: MetalLB's FRR and FRR-K8s flavours run FRR's bfdd
//! on every node's host network, holding the wildcard ports with SO_REUSEADDR. So the
//! receive sockets take SO_REUSEADDR too, a wildcard port already taken is not an error, and
//! a driver started on the wildcard also binds each session's local address (given, or the
//! kernel's source towards the peer): the kernel delivers a datagram to the socket bound to
//! its exact destination before any wildcard one, so the sessions' packets reach this driver
//! whichever daemon started first.
//!
//! A single-hop IPv4 session whose profile has echo mode also sends echoes (RFC 5880 §6.4)
//! on the AF_PACKET socket of its interface ([`echo_path`]) and feeds the ones that come
//! back to its FSM; an echo that is not one of ours, or is malformed, is counted under an
//! `echo_*` reason and touches no session. IPv6 and multi-hop sessions with echo mode run
//! in Asynchronous mode alone (logged once per session), as FRR does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::Profile;
use crate::echo::{EchoPayload, echo_frame};
use crate::fsm::{Fsm, FsmConfig, Input, Output, Timer};
use crate::packet::{ControlPacket, DecodeError, Diagnostic, State};

mod echo_path;

use echo_path::{Arrival, EchoPath, EchoPort};

/// Destination port of single-hop Control packets (RFC 5881 §4).
pub const SINGLE_HOP_PORT: u16 = 3784;
/// Destination port of multi-hop Control packets (RFC 5883 §5).
pub const MULTI_HOP_PORT: u16 = 4784;
/// Source ports of Control packets (RFC 5881 §4).
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// The TTL (hop limit) every Control packet is sent with (RFC 5881 §5, RFC 5883 §2).
pub const SEND_TTL: u8 = 255;

/// What a session's watch channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionState {
    pub state: State,
    /// Why the session last went down; `None` while Up.
    pub diagnostic: Diagnostic,
    /// The negotiated transmit interval before jitter (RFC 5880 §6.8.7).
    pub transmit_interval: Duration,
    /// The detection time (RFC 5880 §6.8.4); zero until the peer has been heard.
    pub detection_time: Duration,
    /// The echo interval while the Echo function runs (RFC 5880 §6.8.9).
    pub echo_interval: Option<Duration>,
}

impl SessionState {
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }
}

/// Per-session counters, for `metallb_bfd_control_packet_input`/`_output` and
/// `metallb_bfd_session_up_events`/`_down_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub control_packets_in: u64,
    pub control_packets_out: u64,
    pub up_events: u64,
    pub down_events: u64,
    /// Our echoes sent, and those that came back (`metallb_bfd_echo_packet_output`/`_input`).
    pub echo_packets_out: u64,
    pub echo_packets_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind the BFD socket {address}: {source}")]
    Bind { address: SocketAddr, source: io::Error },
    #[error("{0} is not an address of the family it was given for")]
    WrongFamily(IpAddr),
    #[error("no BFD socket for {0}: the driver was started without an address of that family")]
    FamilyNotBound(IpAddr),
    #[error(
        "no BFD receive socket for {0}: its port is taken on every address (another BFD daemon without SO_REUSEADDR?) and the local address towards it is not known"
    )]
    NoReceiver(IpAddr),
    #[error("invalid BFD profile: {0}")]
    InvalidProfile(&'static str),
    #[error("the BFD driver has stopped")]
    Stopped,
}

/// Starts the driver.
#[derive(Debug)]
pub struct Bfd;

impl Bfd {
    /// Binds the receive sockets of each family given an address (an unspecified address
    /// listens on all) and spawns the driver task; must run inside a tokio runtime. The
    /// driver stops when every [`BfdHandle`] is dropped, without telling the peers (they
    /// detect it), or at [`BfdHandle::shutdown`], which does.
    pub fn start(bind_v4: Option<IpAddr>, bind_v6: Option<IpAddr>) -> Result<BfdHandle, Error> {
        Self::start_on(bind_v4, bind_v6, None)
    }

    /// [`Bfd::start`] with every socket (receive and send) bound to `device` when given
    /// (SO_BINDTODEVICE): a Linux VRF's master, so that the sessions of peers in that VRF
    /// are routed in its table and its packets reach them. One driver per VRF.
    pub fn start_on(
        bind_v4: Option<IpAddr>,
        bind_v6: Option<IpAddr>,
        device: Option<String>,
    ) -> Result<BfdHandle, Error> {
        let shared = Arc::new(Shared::default());
        let (datagrams_tx, datagrams) = mpsc::channel(1024);
        let mut readers = JoinSet::new();
        let mut binds = [None, None];
        let mut wildcards = HashSet::new();
        for (slot, bind, v4) in [(0, bind_v4, true), (1, bind_v6, false)] {
            let Some(bind) = bind else { continue };
            if bind.is_ipv4() != v4 {
                return Err(Error::WrongFamily(bind));
            }
            for multihop in [false, true] {
                let address = SocketAddr::new(bind, port_of(multihop));
                match receive_socket(address, device.as_deref()) {
                    Ok(socket) => {
                        readers.spawn(read_loop(socket, multihop, datagrams_tx.clone()));
                        wildcards.insert(address);
                    }
                    // Held by another daemon that does not share it: the sessions' own
                    // addresses are bound instead (add_session).
                    Err(e) if bind.is_unspecified() && e.kind() == io::ErrorKind::AddrInUse => {}
                    Err(source) => return Err(Error::Bind { address, source }),
                }
            }
            binds[slot] = Some(bind);
        }
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (echoes_tx, echoes) = mpsc::channel(1024);
        let driver = Driver {
            commands,
            datagrams,
            echoes,
            echo_ports: HashMap::new(),
            echoes_tx,
            _readers: readers,
            sessions: HashMap::new(),
            by_discriminator: HashMap::new(),
            shared: shared.clone(),
            rng: Rng::from_entropy(),
        };
        tokio::spawn(driver.run());
        Ok(BfdHandle {
            commands: commands_tx,
            datagrams: datagrams_tx,
            shared,
            binds,
            wildcards,
            device,
            rng: Mutex::new(Rng::from_entropy()),
        })
    }
}

#[derive(Debug, Default)]
struct Shared {
    counters: Mutex<HashMap<IpAddr, Counters>>,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
    senders: Mutex<HashMap<IpAddr, Arc<UdpSocket>>>,
    /// The receive sockets bound to sessions' local addresses, by address. Kept while the
    /// driver runs: there are as many as the node has addresses towards its peers.
    receivers: Mutex<HashMap<SocketAddr, tokio::task::AbortHandle>>,
    /// `ip_forward` was found off and said so, once.
    forwarding_checked: std::sync::atomic::AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        for reader in lock(&self.receivers).values() {
            reader.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Controls a running driver. Dropping the last handle stops it.
#[derive(Debug)]
pub struct BfdHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// For the read loops of the receive sockets bound to sessions' local addresses.
    datagrams: mpsc::Sender<Datagram>,
    shared: Arc<Shared>,
    binds: [Option<IpAddr>; 2],
    /// The wildcard receive sockets bound at start (a port another daemon held is missing).
    wildcards: HashSet<SocketAddr>,
    /// The device every socket is bound to (a VRF's master), if any.
    device: Option<String>,
    rng: Mutex<Rng>,
}

impl BfdHandle {
    /// Starts (or restarts with new settings) the session with `peer`, sending from `local`
    /// (else the family's bind address), on port 4784 with the profile's minimum TTL if
    /// `multihop`, else on 3784 with GTSM. The receiver follows the session's state.
    pub fn add_session(
        &self,
        peer: IpAddr,
        local: Option<IpAddr>,
        multihop: bool,
        profile: Profile,
    ) -> Result<watch::Receiver<SessionState>, Error> {
        if profile.detect_multiplier == 0 {
            return Err(Error::InvalidProfile("detect multiplier must not be zero"));
        }
        if profile.transmit_interval_ms == 0 {
            return Err(Error::InvalidProfile("transmit interval must not be zero"));
        }
        let bind = self.binds[usize::from(peer.is_ipv6())].ok_or(Error::FamilyNotBound(peer))?;
        let source = local.unwrap_or(bind);
        if source.is_ipv4() != peer.is_ipv4() {
            return Err(Error::WrongFamily(source));
        }
        if bind.is_unspecified() {
            self.receive_on_local_address(peer, source, multihop)?;
        }
        let sender = {
            let mut senders = lock(&self.shared.senders);
            match senders.get(&source) {
                Some(socket) => socket.clone(),
                None => {
                    let start = lock(&self.rng).next_u64();
                    let socket = Arc::new(send_socket(source, start, self.device.as_deref())?);
                    senders.insert(source, socket.clone());
                    socket
                }
            }
        };
        let echo = self.echo_path(peer, source, multihop, &profile);
        let (state_tx, state_rx) = watch::channel(SessionState::default());
        self.commands
            .send(Command::Add { peer, multihop, profile, sender, echo, state: state_tx })
            .map_err(|_| Error::Stopped)?;
        Ok(state_rx)
    }

    /// Where the session's echoes go, when its profile asks for echo mode and it can run it
    /// (single-hop IPv4). Otherwise, or when the interface towards the peer cannot be
    /// found, the session runs in Asynchronous mode alone, and says why.
    fn echo_path(&self, peer: IpAddr, source: IpAddr, multihop: bool, profile: &Profile) -> Option<EchoPath> {
        if !profile.echo_mode {
            return None;
        }
        if profile.echo(peer.is_ipv4(), multihop).is_none() {
            tracing::info!(%peer, multihop, "BFD echo mode runs on single-hop IPv4 sessions only: this one runs in asynchronous mode");
            return None;
        }
        let (IpAddr::V4(peer_v4), Some(IpAddr::V4(local))) =
            (peer, Some(source).filter(|s| !s.is_unspecified()).or_else(|| route_source(peer, self.device.as_deref())))
        else {
            tracing::warn!(%peer, "BFD echo mode: no local IPv4 address towards the peer; asynchronous mode only");
            return None;
        };
        if !self.shared.forwarding_checked.swap(true, std::sync::atomic::Ordering::Relaxed)
            && echo_path::forwarding_enabled() == Some(false)
        {
            tracing::warn!(
                "BFD echo mode: net.ipv4.ip_forward is 0 on this node, so the peers' echoes are not looped back and their echo function fails; set it to 1"
            );
        }
        match EchoPath::resolve(peer_v4, local) {
            Ok(path) => Some(path),
            Err(error) => {
                tracing::warn!(%peer, %error, "BFD echo mode: cannot send echoes; asynchronous mode only");
                None
            }
        }
    }

    /// Binds the receive socket on the address the peer sends to (`source`, else the kernel's
    /// source address towards `peer`), unless it is bound already. A failure matters only
    /// where the wildcard port is not this driver's. IPv6 link-local addresses, which need a
    /// scope, rely on the wildcard socket.
    fn receive_on_local_address(&self, peer: IpAddr, source: IpAddr, multihop: bool) -> Result<(), Error> {
        let port = port_of(multihop);
        let has_wildcard = self.wildcards.contains(&SocketAddr::new(unspecified_like(peer), port));
        let local = if source.is_unspecified() { route_source(peer, self.device.as_deref()) } else { Some(source) };
        let Some(local) = local.filter(|a| !is_link_local_v6(*a)) else {
            return if has_wildcard { Ok(()) } else { Err(Error::NoReceiver(peer)) };
        };
        let address = SocketAddr::new(local, port);
        let mut receivers = lock(&self.shared.receivers);
        if receivers.contains_key(&address) {
            return Ok(());
        }
        match receive_socket(address, self.device.as_deref()) {
            Ok(socket) => {
                let reader = tokio::spawn(read_loop(socket, multihop, self.datagrams.clone()));
                receivers.insert(address, reader.abort_handle());
                Ok(())
            }
            Err(_) if has_wildcard => Ok(()),
            Err(source) => Err(Error::Bind { address, source }),
        }
    }

    /// Stops the session with `peer` after telling it (State AdminDown, diagnostic
    /// Administratively Down, RFC 5880 §6.8.16). Returns once the packet is sent.
    pub async fn remove_session(&self, peer: IpAddr) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Remove { peer, done }).is_ok() {
            let _ = wait.await;
        }
    }

    /// The counters of the session with `peer`, if there is one.
    pub fn counters(&self, peer: IpAddr) -> Option<Counters> {
        lock(&self.shared.counters).get(&peer).copied()
    }

    /// Received packets dropped so far, by reason: the [`DecodeError::reason`] labels and
    /// `ttl` (GTSM or minimum TTL), `unknown_session`, `address_mismatch`, `wrong_port`; for
    /// echoes the [`crate::EchoError::reason`] labels and `echo_ttl`, `echo_unknown_session`,
    /// `echo_address_mismatch`, `echo_inactive`, and, for echoes that could not be sent,
    /// `echo_no_peer_mac`, `echo_no_socket`, `echo_send_failed`.
    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.shared.dropped).clone()
    }

    /// Takes every session AdminDown (telling the peers) and stops the driver.
    pub async fn shutdown(self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).is_ok() {
            let _ = wait.await;
        }
    }
}

enum Command {
    Add {
        peer: IpAddr,
        multihop: bool,
        profile: Profile,
        sender: Arc<UdpSocket>,
        echo: Option<EchoPath>,
        state: watch::Sender<SessionState>,
    },
    Remove {
        peer: IpAddr,
        done: oneshot::Sender<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

struct Datagram {
    source: IpAddr,
    ttl: Option<u8>,
    multihop: bool,
    packet: Result<ControlPacket, DecodeError>,
}

struct Session {
    fsm: Fsm,
    multihop: bool,
    minimum_ttl: u8,
    destination: SocketAddr,
    sender: Arc<UdpSocket>,
    /// The path echoes take, when this session runs the Echo function.
    echo: Option<EchoPath>,
    echo_sequence: u32,
    deadlines: [Option<Instant>; 4],
    state: watch::Sender<SessionState>,
}

struct Driver {
    commands: mpsc::UnboundedReceiver<Command>,
    datagrams: mpsc::Receiver<Datagram>,
    /// What the echo sockets read.
    echoes: mpsc::Receiver<Arrival>,
    echoes_tx: mpsc::Sender<Arrival>,
    /// One echo socket per interface index, opened for the first session that needs it.
    echo_ports: HashMap<u32, EchoPort>,
    _readers: JoinSet<()>,
    sessions: HashMap<IpAddr, Session>,
    by_discriminator: HashMap<u32, IpAddr>,
    shared: Arc<Shared>,
    rng: Rng,
}

fn timer_slot(timer: Timer) -> usize {
    match timer {
        Timer::Transmit => 0,
        Timer::Detection => 1,
        Timer::EchoTransmit => 2,
        Timer::EchoDetection => 3,
    }
}

const TIMERS: [Timer; 4] = [Timer::Transmit, Timer::Detection, Timer::EchoTransmit, Timer::EchoDetection];

impl Driver {
    async fn run(mut self) {
        loop {
            let next = self.sessions.values().flat_map(|s| s.deadlines.iter().flatten()).min().copied();
            tokio::select! {
                command = self.commands.recv() => match command {
                    None => return,
                    Some(Command::Add { peer, multihop, profile, sender, echo, state }) => {
                        self.add(peer, multihop, profile, sender, echo, state);
                    }
                    Some(Command::Remove { peer, done }) => {
                        self.remove(peer);
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { done }) => {
                        let peers: Vec<IpAddr> = self.sessions.keys().copied().collect();
                        for peer in peers {
                            self.remove(peer);
                        }
                        let _ = done.send(());
                        return;
                    }
                },
                Some(datagram) = self.datagrams.recv() => self.receive(datagram),
                Some(arrival) = self.echoes.recv() => self.echo_arrived(arrival),
                () = sleep_until(next) => self.fire_timers(),
            }
        }
    }

    fn add(
        &mut self,
        peer: IpAddr,
        multihop: bool,
        profile: Profile,
        sender: Arc<UdpSocket>,
        mut echo: Option<EchoPath>,
        state: watch::Sender<SessionState>,
    ) {
        self.remove(peer);
        if let Some(path) = &echo
            && !self.echo_ports.contains_key(&path.ifindex)
        {
            match EchoPort::open(path.ifindex, self.echoes_tx.clone()) {
                Ok(port) => {
                    self.echo_ports.insert(path.ifindex, port);
                }
                Err(error) => {
                    tracing::warn!(%peer, interface = %path.interface, %error, "BFD echo mode: cannot open the echo socket; asynchronous mode only");
                    echo = None;
                }
            }
        }
        let local_discriminator = loop {
            let candidate = self.rng.next_u64() as u32;
            if candidate != 0 && !self.by_discriminator.contains_key(&candidate) {
                break candidate;
            }
        };
        let fsm = Fsm::new(FsmConfig {
            local_discriminator,
            timers: profile.timers(),
            passive: profile.passive,
            jitter_seed: Some(self.rng.next_u64()),
            echo: echo.as_ref().and(profile.echo(peer.is_ipv4(), multihop)),
        });
        let port = if multihop { MULTI_HOP_PORT } else { SINGLE_HOP_PORT };
        self.by_discriminator.insert(local_discriminator, peer);
        lock(&self.shared.counters).insert(peer, Counters::default());
        self.sessions.insert(
            peer,
            Session {
                fsm,
                multihop,
                minimum_ttl: profile.minimum_ttl,
                destination: SocketAddr::new(peer, port),
                sender,
                echo,
                echo_sequence: 0,
                deadlines: [None; 4],
                state,
            },
        );
        tracing::debug!(%peer, multihop, discriminator = local_discriminator, "BFD session added");
        self.process(peer, Input::Start);
    }

    fn remove(&mut self, peer: IpAddr) {
        if !self.sessions.contains_key(&peer) {
            return;
        }
        self.process(peer, Input::Stop);
        if let Some(session) = self.sessions.remove(&peer) {
            self.by_discriminator.remove(&session.fsm.local_discriminator());
        }
        lock(&self.shared.counters).remove(&peer);
        tracing::debug!(%peer, "BFD session removed");
    }

    fn drop_packet(&self, reason: &'static str) {
        *lock(&self.shared.dropped).entry(reason).or_default() += 1;
    }

    /// RFC 5880 §6.3: the Your Discriminator field selects the session when it is
    /// non-zero; otherwise the source address does.
    fn receive(&mut self, datagram: Datagram) {
        let packet = match datagram.packet {
            Ok(packet) => packet,
            Err(error) => {
                tracing::debug!(source = %datagram.source, %error, "BFD packet dropped");
                return self.drop_packet(error.reason());
            }
        };
        if !datagram.multihop && datagram.ttl != Some(SEND_TTL) {
            return self.drop_packet("ttl");
        }
        let peer = if packet.your_discriminator == 0 {
            datagram.source
        } else {
            match self.by_discriminator.get(&packet.your_discriminator) {
                Some(peer) => *peer,
                None => return self.drop_packet("unknown_session"),
            }
        };
        let Some(session) = self.sessions.get(&peer) else {
            return self.drop_packet("unknown_session");
        };
        if peer != datagram.source {
            return self.drop_packet("address_mismatch");
        }
        if session.multihop != datagram.multihop {
            return self.drop_packet("wrong_port");
        }
        if session.multihop && datagram.ttl.is_none_or(|ttl| ttl < session.minimum_ttl) {
            return self.drop_packet("ttl");
        }
        if let Some(counters) = lock(&self.shared.counters).get_mut(&peer) {
            counters.control_packets_in += 1;
        }
        self.process(peer, Input::Received(packet));
    }

    /// A frame from an echo socket: one of our echoes back from a peer's forwarding plane
    /// goes to its session (by the discriminator in its payload); anything else is counted.
    fn echo_arrived(&mut self, arrival: Arrival) {
        let (payload, destination) = match arrival {
            Ok(echo) => echo,
            Err(reason) => {
                tracing::debug!(reason, "BFD echo frame dropped");
                return self.drop_packet(reason);
            }
        };
        let Some(peer) = self.by_discriminator.get(&payload.discriminator).copied() else {
            return self.drop_packet("echo_unknown_session");
        };
        let Some(session) = self.sessions.get(&peer) else { return };
        if session.echo.as_ref().is_none_or(|path| path.local != destination) {
            return self.drop_packet("echo_address_mismatch");
        }
        if session.fsm.echo_interval().is_none() {
            return self.drop_packet("echo_inactive");
        }
        if let Some(counters) = lock(&self.shared.counters).get_mut(&peer) {
            counters.echo_packets_in += 1;
        }
        self.process(peer, Input::EchoReturned);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<(IpAddr, Timer)> = self
            .sessions
            .iter()
            .flat_map(|(peer, session)| {
                TIMERS
                    .into_iter()
                    .filter(|timer| session.deadlines[timer_slot(*timer)].is_some_and(|at| at <= now))
                    .map(|timer| (*peer, timer))
            })
            .collect();
        for (peer, timer) in due {
            if let Some(session) = self.sessions.get_mut(&peer) {
                session.deadlines[timer_slot(timer)] = None;
            }
            self.process(peer, Input::TimerExpired(timer));
        }
    }

    fn process(&mut self, peer: IpAddr, input: Input) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        let outputs = session.fsm.process(input);
        let mut echo_dropped = None;
        let mut all_counters = lock(&self.shared.counters);
        let mut counters = all_counters.get_mut(&peer);
        for output in outputs {
            match output {
                Output::Send(packet) => match session.sender.try_send_to(&packet.encode(), session.destination) {
                    Ok(_) => {
                        if let Some(counters) = counters.as_deref_mut() {
                            counters.control_packets_out += 1;
                        }
                    }
                    Err(error) => tracing::debug!(%peer, %error, "BFD packet not sent"),
                },
                Output::SendEcho => match send_echo(session, &self.echo_ports) {
                    Ok(()) => {
                        if let Some(counters) = counters.as_deref_mut() {
                            counters.echo_packets_out += 1;
                        }
                    }
                    Err(reason) => echo_dropped = Some(reason),
                },
                Output::ArmTimer(timer, after) => session.deadlines[timer_slot(timer)] = Some(Instant::now() + after),
                Output::CancelTimer(timer) => session.deadlines[timer_slot(timer)] = None,
                Output::Up => {
                    tracing::info!(%peer, "BFD session up");
                    if let Some(counters) = counters.as_deref_mut() {
                        counters.up_events += 1;
                    }
                }
                Output::Down(diagnostic) => {
                    tracing::info!(%peer, %diagnostic, "BFD session down");
                    if let Some(path) = session.echo.as_mut() {
                        // The peer may come back behind another MAC.
                        path.peer_mac = None;
                    }
                    if let Some(counters) = counters.as_deref_mut() {
                        counters.down_events += 1;
                    }
                }
            }
        }
        let now = SessionState {
            state: session.fsm.state(),
            diagnostic: session.fsm.diagnostic(),
            transmit_interval: session.fsm.transmit_interval(),
            detection_time: session.fsm.detection_time(),
            echo_interval: session.fsm.echo_interval(),
        };
        session.state.send_if_modified(|current| {
            let changed = *current != now;
            *current = now;
            changed
        });
        drop(all_counters);
        if let Some(reason) = echo_dropped {
            tracing::debug!(%peer, reason, "BFD echo not sent");
            self.drop_packet(reason);
        }
    }
}

/// Sends one echo of `session` on its interface's echo socket; the reason when it cannot.
fn send_echo(session: &mut Session, ports: &HashMap<u32, EchoPort>) -> Result<(), &'static str> {
    let local_discriminator = session.fsm.local_discriminator();
    let Some(path) = session.echo.as_mut() else { return Err("echo_no_path") };
    let Some(peer_mac) = path.peer_mac() else { return Err("echo_no_peer_mac") };
    let Some(port) = ports.get(&path.ifindex) else { return Err("echo_no_socket") };
    session.echo_sequence = session.echo_sequence.wrapping_add(1);
    let payload = EchoPayload { discriminator: local_discriminator, sequence: session.echo_sequence };
    let frame = echo_frame(path.source_mac, peer_mac, path.local, session.echo_sequence as u16, &payload);
    port.send(&frame).map_err(|error| {
        tracing::debug!(interface = %path.interface, %error, "BFD echo send failed");
        "echo_send_failed"
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn udp_socket(address: SocketAddr, device: Option<&str>) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(address), Type::DGRAM, Some(Protocol::UDP))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if let Some(device) = device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

fn port_of(multihop: bool) -> u16 {
    if multihop { MULTI_HOP_PORT } else { SINGLE_HOP_PORT }
}

/// The unspecified address of `address`'s family.
fn unspecified_like(address: IpAddr) -> IpAddr {
    if address.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() }
}

fn is_link_local_v6(address: IpAddr) -> bool {
    matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

/// The source address the kernel picks towards `peer` (a connected UDP socket sends
/// nothing), on `device` when given.
fn route_source(peer: IpAddr, device: Option<&str>) -> Option<IpAddr> {
    let socket = udp_socket(SocketAddr::new(unspecified_like(peer), 0), device).ok()?;
    socket.connect(&SocketAddr::new(peer, SINGLE_HOP_PORT).into()).ok()?;
    socket.local_addr().ok()?.as_socket().map(|a| a.ip())
}

/// A receive socket; SO_REUSEADDR so that it and another BFD daemon's can share the port
/// (see the module's documentation).
fn receive_socket(address: SocketAddr, device: Option<&str>) -> io::Result<UdpSocket> {
    let socket = udp_socket(address, device)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv4() {
        setsockopt(&socket, sockopt::Ipv4RecvTtl, &true)?;
    } else {
        setsockopt(&socket, sockopt::Ipv6RecvHopLimit, &true)?;
    }
    socket.bind(&address.into())?;
    UdpSocket::from_std(socket.into())
}

/// A socket bound to `source` and a free port in [`SOURCE_PORTS`], tried from a random
/// starting point, that sends with TTL 255.
fn send_socket(source: IpAddr, start: u64, device: Option<&str>) -> Result<UdpSocket, Error> {
    let span = u64::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut last = None;
    for attempt in 0..64 {
        let port = SOURCE_PORTS.start() + ((start + attempt * 7919) % span) as u16;
        let address = SocketAddr::new(source, port);
        let result = udp_socket(address, device).and_then(|socket| {
            if source.is_ipv4() {
                socket.set_ttl_v4(SEND_TTL.into())?;
            } else {
                socket.set_unicast_hops_v6(SEND_TTL.into())?;
            }
            socket.bind(&address.into())?;
            UdpSocket::from_std(socket.into())
        });
        match result {
            Ok(socket) => return Ok(socket),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last = Some((address, error)),
            Err(source) => return Err(Error::Bind { address, source }),
        }
    }
    let (address, source) = last.expect("at least one attempt");
    Err(Error::Bind { address, source })
}

async fn read_loop(socket: UdpSocket, multihop: bool, datagrams: mpsc::Sender<Datagram>) {
    let mut buf = [0u8; 512];
    loop {
        let received = socket.async_io(Interest::READABLE, || receive_with_ttl(socket.as_raw_fd(), &mut buf)).await;
        let (len, source, ttl) = match received {
            Ok(received) => received,
            Err(error) => {
                tracing::warn!(%error, "BFD receive failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(source) = source else { continue };
        let datagram = Datagram { source, ttl, multihop, packet: ControlPacket::decode(&buf[..len]) };
        if datagrams.send(datagram).await.is_err() {
            return;
        }
    }
}

/// One datagram with its source address and the TTL or hop limit it arrived with
/// (`IP_RECVTTL`, `IPV6_RECVHOPLIMIT`).
fn receive_with_ttl(fd: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<IpAddr>, Option<u8>)> {
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut control = nix::cmsg_space!(i32);
    let message = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut control), MsgFlags::MSG_DONTWAIT)?;
    let mut ttl = None;
    for cmsg in message.cmsgs()? {
        if let ControlMessageOwned::Ipv4Ttl(value) | ControlMessageOwned::Ipv6HopLimit(value) = cmsg {
            ttl = u8::try_from(value).ok();
        }
    }
    let source = message.address.as_ref().and_then(|address| {
        if let Some(v4) = address.as_sockaddr_in() {
            Some(IpAddr::V4(v4.ip()))
        } else {
            address.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        }
    });
    Ok((message.bytes, source, ttl))
}

/// splitmix64: discriminators and jitter seeds that differ between runs and sessions.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        Self(hasher.finish())
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
