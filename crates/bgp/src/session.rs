//! The session driver: one tokio task per peer that owns the sockets and carries out what
//! the [`Fsm`] and the [`AdjRibOut`] decide, and nothing else (docs/design.md, Pure core, thin
//! shell). It dials, takes the connections the peer opens to us when [`crate::Listener`]
//! offers them ([`Session::offer_inbound`]; the FSM resolves collisions), frames the byte
//! stream with [`next_frame_len`], runs the FSM's timers as deadlines, and writes the UPDATEs
//! the Adj-RIB-Out produces as soon as the desired table changes.
//!
//! Socket options are set before `connect`, so the SYN already carries them: the TCP-MD5
//! key (RFC 2385, via `ferrolb-sys`, the one crate allowed `unsafe`), the source address,
//! for eBGP the TTL (1 for a directly connected peer, 255 with `ebgpMultiHop`), and for a
//! peer in a VRF the VRF's device (SO_BINDTODEVICE, so routing happens in its table). An
//! accepted connection gets the same TTL before anything is sent on it (its key is on the
//! listening socket).

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::fsm::{Fsm, Input, Output, State, Timer};
use crate::rib::{AdjRibOut, ExportPolicy, InterfaceNextHops, RouteAttrs};
use crate::{CeaseSubcode, DecodeError, EncodeContext, Message, PeerSettings, next_frame_len};

/// How long [`Session::shutdown`] waits for the CEASE to go out and the connection to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);
/// How long a closing connection waits for the peer to close its side.
const CLOSE_DRAIN: Duration = Duration::from_millis(300);
/// A write that makes no progress for this long (no negotiated hold time to go by) means
/// the peer is gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(90);

/// What a session looks like from outside: for the speaker's status and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStatus {
    pub state: State,
    pub established: bool,
    /// Why the session last went down or why routes are held back; cleared once
    /// established with nothing held back.
    pub last_error: Option<String>,
    /// UPDATE messages sent over the session's lifetime (`metallb_bgp_updates_total`).
    pub updates_sent: u64,
    /// Prefixes the peer holds from us (`metallb_bgp_announced_prefixes_total`).
    pub announced_prefixes: u64,
    /// Desired prefixes the peer does not hold (`metallb_bgp_pending_prefixes_total`).
    pub pending_prefixes: u64,
    /// While established, the families whose desired prefixes are not sent and why (the
    /// structured form of what `last_error` says about them); kept current as the table
    /// changes, empty while the session is down.
    pub held_back: Vec<crate::HeldBack>,
    /// `"addr:port"`, MetalLB's `peer` label.
    pub peer: String,
}

/// A handle on one peer's session task; cheap to clone. The task stops (with a CEASE) when
/// [`Session::shutdown`] is called or the last handle is dropped, or (without one, when
/// graceful restart was negotiated) when [`Session::shutdown_graceful`] is called.
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    routes: watch::Sender<Arc<BTreeMap<IpNet, RouteAttrs>>>,
    commands: mpsc::UnboundedSender<Command>,
    status: watch::Receiver<SessionStatus>,
}

#[derive(Debug)]
enum Command {
    Shutdown { message: String, graceful: bool, done: oneshot::Sender<()> },
    Inbound(TcpStream),
}

impl Session {
    /// Starts the session task, which dials at once and redials with backoff (1, 2, 4 …
    /// 120 s) for as long as the session lives. Must be called within a tokio runtime.
    pub fn spawn(settings: PeerSettings) -> Session {
        Self::spawn_with(settings, None)
    }

    /// Starts the session of an unnumbered peer ([`PeerSettings::interface`]): `neighbour`
    /// carries the peer's link-local address as it is learnt on the interface (from its
    /// router advertisements). The FSM is started once an address is known; each dial goes
    /// to the latest one, `fe80::…%interface`. Until then the status says what is awaited.
    pub fn spawn_unnumbered(settings: PeerSettings, neighbour: watch::Receiver<Option<Ipv6Addr>>) -> Session {
        Self::spawn_with(settings, Some(neighbour))
    }

    fn spawn_with(settings: PeerSettings, neighbour: Option<watch::Receiver<Option<Ipv6Addr>>>) -> Session {
        let (routes_tx, routes_rx) = watch::channel(Arc::new(BTreeMap::new()));
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let fsm = Fsm::new(settings.fsm_config());
        let status = SessionStatus {
            state: fsm.state(),
            established: false,
            last_error: None,
            updates_sent: 0,
            announced_prefixes: 0,
            pending_prefixes: 0,
            held_back: Vec::new(),
            peer: settings.peer_label(),
        };
        let (status_tx, status_rx) = watch::channel(status);
        let driver = Driver {
            settings,
            fsm,
            rib: AdjRibOut::new(),
            conn: None,
            connecting: None,
            offered: None,
            held: None,
            timers: BTreeMap::new(),
            status: status_tx,
            updates_sent: 0,
            last_error: None,
            neighbour,
        };
        tokio::spawn(driver.run(routes_rx, commands_rx));
        Session { inner: Arc::new(Handle { routes: routes_tx, commands: commands_tx, status: status_rx }) }
    }

    /// Replaces the table this peer should hold. The difference goes out at once while the
    /// session is established; otherwise the whole table goes out when it is.
    /// The routes to announce, shared: the speaker keeps the same table to compare the next
    /// one with (at 100,000 prefixes each copy is about 12 MB).
    pub fn set_routes(&self, routes: Arc<BTreeMap<IpNet, RouteAttrs>>) {
        self.inner.routes.send_replace(routes);
    }

    pub fn status(&self) -> watch::Receiver<SessionStatus> {
        self.inner.status.clone()
    }

    /// Hands the session a connection the peer opened to us; the FSM takes it, holds it or
    /// refuses it (RFC 4271 §6.8). False when the session task is gone (the stream is dropped).
    pub fn offer_inbound(&self, stream: TcpStream) -> bool {
        self.inner.commands.send(Command::Inbound(stream)).is_ok()
    }

    /// Sends a CEASE / Administrative Shutdown carrying `message` (RFC 8203, RFC 9003) if
    /// the session is up, withdraws nothing (the peer drops our routes with the session),
    /// closes the connection and stops the task. Returns once closed, or after 1 s.
    pub async fn shutdown(self, message: &str) {
        self.stop(message, false).await;
    }

    /// Stops for a speaker restart (RFC 4724 §4): when graceful restart was negotiated
    /// (or offered and the peer's OPEN is still awaited), closes the connection WITHOUT a
    /// NOTIFICATION, so the peer keeps our routes as stale for the Restart Time of
    /// [`PeerSettings::graceful_restart`] and traffic keeps flowing until the restarted
    /// speaker re-sends them. Otherwise exactly [`Session::shutdown`]: a CEASE /
    /// Administrative Shutdown carrying `message`. Returns once closed, or after 1 s.
    pub async fn shutdown_graceful(self, message: &str) {
        self.stop(message, true).await;
    }

    async fn stop(self, message: &str, graceful: bool) {
        let (done, closed) = oneshot::channel();
        let command = Command::Shutdown { message: message.to_owned(), graceful, done };
        if self.inner.commands.send(command).is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, closed).await;
        }
    }
}

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    /// Bytes read but not yet framed: at most one partial message (4096 octets, RFC 4271
    /// §4.1) plus one read, since complete messages are taken out after every read.
    buf: Vec<u8>,
}

enum Event {
    Connected(io::Result<TcpStream>),
    Inbound(TcpStream),
    Read(io::Result<usize>),
    Timer(Timer),
    Routes,
    Stop { subcode: CeaseSubcode, message: String, graceful: bool, done: Option<oneshot::Sender<()>> },
}

struct Driver {
    settings: PeerSettings,
    fsm: Fsm,
    rib: AdjRibOut,
    conn: Option<Conn>,
    connecting: Option<Connecting>,
    /// The peer's connection being offered to the FSM right now, and the one it holds aside.
    offered: Option<TcpStream>,
    held: Option<TcpStream>,
    timers: BTreeMap<Timer, Instant>,
    status: watch::Sender<SessionStatus>,
    updates_sent: u64,
    last_error: Option<String>,
    /// The unnumbered peer's link-local address as learnt on its interface.
    neighbour: Option<watch::Receiver<Option<Ipv6Addr>>>,
}

/// What ends the wait for an unnumbered peer's address.
enum Awaited {
    Known,
    Stop(Option<oneshot::Sender<()>>),
}

impl Driver {
    async fn run(
        mut self,
        mut routes: watch::Receiver<Arc<BTreeMap<IpNet, RouteAttrs>>>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        if let Awaited::Stop(done) = self.await_neighbour(&mut commands).await {
            if let Some(done) = done {
                let _ = done.send(());
            }
            return;
        }
        self.feed(Input::Start).await;
        loop {
            let next_timer = self.timers.iter().min_by_key(|(_, at)| **at).map(|(t, at)| (*t, *at));
            let event = tokio::select! {
                result = async { self.connecting.as_mut().expect("guarded").await }, if self.connecting.is_some() => {
                    self.connecting = None;
                    Event::Connected(result)
                }
                result = read_more(self.conn.as_mut()), if self.conn.is_some() => Event::Read(result),
                _ = tokio::time::sleep_until(next_timer.map_or_else(Instant::now, |(_, at)| at)), if next_timer.is_some() => {
                    let timer = next_timer.expect("guarded").0;
                    self.timers.remove(&timer);
                    Event::Timer(timer)
                }
                changed = routes.changed() => match changed {
                    Ok(()) => Event::Routes,
                    // Every handle is gone: the peer was de-configured.
                    Err(_) => Event::Stop {
                        subcode: CeaseSubcode::PeerDeconfigured,
                        message: String::new(),
                        graceful: false,
                        done: None,
                    },
                },
                command = commands.recv() => match command {
                    Some(Command::Shutdown { message, graceful, done }) => Event::Stop {
                        subcode: CeaseSubcode::AdministrativeShutdown,
                        message,
                        graceful,
                        done: Some(done),
                    },
                    Some(Command::Inbound(stream)) => Event::Inbound(stream),
                    None => Event::Stop {
                        subcode: CeaseSubcode::PeerDeconfigured,
                        message: String::new(),
                        graceful: false,
                        done: None,
                    },
                },
            };
            match event {
                Event::Connected(Ok(stream)) => self.connected(stream).await,
                Event::Connected(Err(e)) => self.feed(Input::TcpFailed { reason: e.to_string() }).await,
                Event::Inbound(stream) => self.inbound(stream).await,
                Event::Read(Ok(0)) => self.feed(Input::TcpClosed).await,
                Event::Read(Ok(_)) => self.frames().await,
                Event::Read(Err(e)) => {
                    self.last_error = Some(format!("read: {e}"));
                    self.feed(Input::TcpClosed).await;
                }
                Event::Timer(timer) => self.feed(Input::TimerFired(timer)).await,
                Event::Routes => {
                    let desired = routes.borrow_and_update().clone();
                    let messages = self.rib.set_desired_shared(desired);
                    if let Some(input) = self.write_updates(messages).await {
                        self.feed(input).await;
                    }
                }
                Event::Stop { subcode, message, graceful, done } => {
                    let input = if graceful {
                        Input::StopGraceful { subcode, message }
                    } else {
                        Input::Stop { subcode, message }
                    };
                    let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.feed(input)).await;
                    self.conn = None;
                    self.publish();
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
            }
            self.publish();
        }
    }

    /// For an unnumbered peer, waits until its link-local address is known (the FSM is not
    /// started before: there is nobody to dial); the status says so meanwhile. Routes given
    /// during the wait are read when the session comes up.
    async fn await_neighbour(&mut self, commands: &mut mpsc::UnboundedReceiver<Command>) -> Awaited {
        let Some(mut neighbour) = self.neighbour.clone() else { return Awaited::Known };
        let interface = self.settings.interface.clone().unwrap_or_default();
        loop {
            if let Some(address) = *neighbour.borrow_and_update() {
                info!(peer = %self.settings.name, interface = %interface, neighbour = %address, "unnumbered peer: dialling the link-local address learnt from its router advertisements");
                self.settings.address = IpAddr::V6(address);
                self.last_error = None;
                return Awaited::Known;
            }
            self.last_error = Some(format!(
                "waiting for a router advertisement on {interface}: the unnumbered peer's link-local address is learnt from them"
            ));
            self.publish();
            tokio::select! {
                changed = neighbour.changed() => if changed.is_err() {
                    self.last_error = Some(format!("the neighbour of {interface} can no longer be learnt"));
                    self.publish();
                    // Nothing will be learnt; stay until stopped.
                    return match commands.recv().await {
                        Some(Command::Shutdown { done, .. }) => Awaited::Stop(Some(done)),
                        _ => Awaited::Stop(None),
                    };
                },
                command = commands.recv() => match command {
                    Some(Command::Shutdown { done, .. }) => return Awaited::Stop(Some(done)),
                    // Nobody to take a connection from yet.
                    Some(Command::Inbound(_)) => {}
                    None => return Awaited::Stop(None),
                },
            }
        }
    }

    async fn connected(&mut self, stream: TcpStream) {
        let (local, remote) = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(e), _) | (_, Err(e)) => return self.feed(Input::TcpFailed { reason: e.to_string() }).await,
        };
        let _ = stream.set_nodelay(true);
        let (reader, writer) = stream.into_split();
        self.conn = Some(Conn { reader, writer, buf: Vec::with_capacity(2 * crate::MAX_MESSAGE_LEN) });
        self.feed(Input::TcpConnected { local, remote }).await;
    }

    /// Offers the peer's connection to the FSM; dropped (closed) unless it took or held it.
    async fn inbound(&mut self, stream: TcpStream) {
        let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else { return };
        info!(peer = %self.settings.name, addr = %self.settings.peer_label(), from = %remote, "BGP connection from the peer");
        self.offered = Some(stream);
        self.feed(Input::TcpAccepted { local, remote }).await;
        self.offered = None;
    }

    /// Takes every complete message out of the read buffer and feeds it to the FSM.
    async fn frames(&mut self) {
        while let Some(conn) = self.conn.as_mut() {
            let input = match next_frame_len(&conn.buf) {
                Ok(None) => return,
                Ok(Some(len)) => {
                    let frame: Vec<u8> = conn.buf.drain(..len).collect();
                    match crate::decode(&frame, &self.fsm.decode_context()) {
                        Ok(message) => Input::Message(message),
                        Err(e) => Input::DecodeError(e),
                    }
                }
                Err(e) => Input::DecodeError(DecodeError::SessionReset(e)),
            };
            if let Input::DecodeError(e) = &input {
                warn!(peer = %self.settings.name, addr = %self.settings.peer_label(), "BGP message from peer rejected: {e}");
            }
            self.feed(input).await;
        }
    }

    /// Runs one input through the FSM and carries out its outputs; inputs they cause
    /// (a failed write closes the connection) are fed in turn.
    async fn feed(&mut self, input: Input) {
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let before = self.fsm.state();
            let outputs = self.fsm.process(input);
            let after = self.fsm.state();
            if before != after {
                info!(peer = %self.settings.name, addr = %self.settings.peer_label(), "BGP session {before} -> {after}");
            }
            for output in outputs {
                if let Some(next) = self.execute(output).await {
                    inputs.push_back(next);
                }
            }
        }
    }

    async fn execute(&mut self, output: Output) -> Option<Input> {
        match output {
            Output::Connect => {
                self.conn = None;
                if let Some(address) = self.neighbour.as_ref().and_then(|n| *n.borrow()) {
                    self.settings.address = IpAddr::V6(address);
                }
                self.connecting = Some(Box::pin(connect(self.settings.clone())));
            }
            Output::Send(message) => {
                let Ok(bytes) = message.encode(&self.fsm.encode_context()) else {
                    warn!(peer = %self.settings.name, "BGP message could not be encoded: {message:?}");
                    return None;
                };
                return self.write(&[bytes]).await;
            }
            Output::ArmTimer(timer, after) => {
                self.timers.insert(timer, Instant::now() + after);
            }
            Output::CancelTimer(timer) => {
                self.timers.remove(&timer);
            }
            Output::CloseTcp => {
                self.connecting = None;
                if let Some(mut conn) = self.conn.take() {
                    let _ = tokio::time::timeout(Duration::from_millis(200), conn.writer.shutdown()).await;
                    // Read what the peer still sends until it closes too. Closing with unread
                    // bytes (a KEEPALIVE that just arrived) makes the kernel answer with a
                    // reset, and a peer that sees the reset first loses our NOTIFICATION
                    // with the connection: BIRD then keeps our routes as stale for a
                    // graceful restart instead of withdrawing them.
                    let _ = tokio::time::timeout(CLOSE_DRAIN, drain(&mut conn.reader)).await;
                }
                self.rib.session_down();
            }
            Output::Established { negotiated } => {
                let local = negotiated.local.ip();
                let beside = InterfaceNextHops::from_addresses(&match &self.settings.interface {
                    Some(interface) => addresses_of(interface),
                    None => addresses_beside(local),
                });
                let link_local = match local {
                    IpAddr::V6(l) if l.is_unicast_link_local() => Some(l),
                    IpAddr::V6(_) => beside.ipv6_link_local,
                    IpAddr::V4(_) => None,
                };
                let policy = ExportPolicy::new(
                    &negotiated,
                    self.settings.ipv4_next_hop.or(beside.ipv4),
                    self.settings.ipv6_next_hop.or(beside.ipv6_global),
                    link_local,
                );
                let messages = self.rib.session_up(policy);
                let held_back = self.rib.held_back();
                for reason in &held_back {
                    warn!(peer = %self.settings.name, addr = %self.settings.peer_label(), "{reason}");
                }
                self.last_error = (!held_back.is_empty()).then(|| held_back.join("; "));
                return self.write_updates(messages).await;
            }
            Output::ResendRoutes(family) => {
                let messages = self.rib.refresh(family);
                return self.write_updates(messages).await;
            }
            Output::AcceptInbound => {
                let stream = self.offered.take().or_else(|| self.held.take())?;
                self.connecting = None;
                if let Err(e) = self.prepare_inbound(&stream) {
                    self.last_error = Some(format!("accepted connection: {e}"));
                    return Some(Input::TcpClosed);
                }
                let (reader, writer) = stream.into_split();
                self.conn = Some(Conn { reader, writer, buf: Vec::with_capacity(2 * crate::MAX_MESSAGE_LEN) });
            }
            Output::HoldInbound => {
                info!(peer = %self.settings.name, addr = %self.settings.peer_label(), "connection collision: the peer's connection waits for the OPEN on ours (RFC 4271 §6.8)");
                self.held = self.offered.take();
            }
            Output::RefuseInbound(notification) => {
                let mut stream = self.held.take().or_else(|| self.offered.take())?;
                let why = if notification.is_some() {
                    "collision resolved for the session's own connection (RFC 4271 §6.8)"
                } else {
                    "the session is stopped"
                };
                info!(peer = %self.settings.name, addr = %self.settings.peer_label(), state = %self.fsm.state(), "the peer's connection is closed: {why}");
                if let Some(bytes) =
                    notification.and_then(|n| Message::Notification(n).encode(&EncodeContext::default()).ok())
                {
                    let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(&bytes)).await;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), stream.shutdown()).await;
            }
            Output::Down { reason } => {
                self.rib.session_down();
                warn!(peer = %self.settings.name, addr = %self.settings.peer_label(), "BGP session down: {reason}");
                self.last_error = Some(reason.to_string());
            }
        }
        None
    }

    async fn write_updates(&mut self, messages: Vec<Vec<u8>>) -> Option<Input> {
        let count = messages.len() as u64;
        let next = self.write(&messages).await;
        if next.is_none() {
            self.updates_sent += count;
        }
        next
    }

    /// Writes whole messages; a write that fails or stalls for the hold time means the
    /// connection is gone.
    async fn write(&mut self, messages: &[Vec<u8>]) -> Option<Input> {
        let conn = self.conn.as_mut()?;
        let limit = self.fsm.negotiated().and_then(|n| n.hold_time).unwrap_or(WRITE_TIMEOUT);
        let result = tokio::time::timeout(limit, async {
            for m in messages {
                conn.writer.write_all(m).await?;
            }
            io::Result::Ok(())
        })
        .await;
        let error = match result {
            Ok(Ok(())) => return None,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "write timed out".to_owned(),
        };
        self.last_error = Some(format!("write: {error}"));
        self.conn = None;
        Some(Input::TcpClosed)
    }

    fn publish(&mut self) {
        let established = self.fsm.state() == State::Established;
        let status = SessionStatus {
            state: self.fsm.state(),
            established,
            last_error: self.last_error.clone(),
            updates_sent: self.updates_sent,
            announced_prefixes: self.rib.announced() as u64,
            pending_prefixes: self.rib.pending() as u64,
            held_back: self.rib.held_back_families(),
            peer: self.settings.peer_label(),
        };
        self.status.send_if_modified(|current| {
            let changed = *current != status;
            *current = status;
            changed
        });
    }
}

impl Driver {
    /// What `connect` sets before the SYN, set on the peer's connection before we send: no
    /// Nagle, and the eBGP TTL.
    fn prepare_inbound(&self, stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        set_ebgp_ttl(socket2::SockRef::from(stream), &self.settings, stream.peer_addr()?.is_ipv4())
    }
}

/// For eBGP, the TTL of every packet of the session: 1 for a directly connected peer, 255
/// with `ebgpMultiHop`. RFC 4271 has no TTL rule; single-hop eBGP with TTL 1 is what FRR
/// and BIRD do by default, and `ebgpMultiHop` lifts it to the maximum. Nothing for iBGP.
fn set_ebgp_ttl(sock: socket2::SockRef<'_>, settings: &PeerSettings, ipv4: bool) -> io::Result<()> {
    if !settings.is_external() {
        return Ok(());
    }
    let ttl = if settings.ebgp_multihop { 255 } else { 1 };
    if ipv4 { sock.set_ttl_v4(ttl) } else { sock.set_unicast_hops_v6(ttl) }
}

/// Reads whatever is available into the connection's buffer. Cancel-safe: data is
/// appended in the same poll that reads it.
async fn read_more(conn: Option<&mut Conn>) -> io::Result<usize> {
    let conn = conn.expect("guarded");
    conn.buf.reserve(crate::MAX_MESSAGE_LEN);
    conn.reader.read_buf(&mut conn.buf).await
}

/// Dials the peer with every socket option in place before the SYN.
async fn connect(settings: PeerSettings) -> io::Result<TcpStream> {
    let mut peer = settings.peer_addr();
    if let (Some(interface), SocketAddr::V6(v6)) = (&settings.interface, &mut peer) {
        // A link-local address means nothing without its link (RFC 4007 §6).
        let index = nix::net::if_::if_nametoindex(interface.as_str()).map_err(|e| {
            io::Error::new(io::ErrorKind::NotFound, format!("interface {interface} of the unnumbered peer: {e}"))
        })?;
        v6.set_scope_id(index);
    }
    let socket = if peer.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    if let Some(password) = settings.password.as_deref().filter(|p| !p.is_empty()) {
        ferrolb_sys::set_tcp_md5sig(socket.as_fd(), peer, password.as_bytes())?;
    }
    set_ebgp_ttl(socket2::SockRef::from(&socket), &settings, peer.is_ipv4())?;
    if let Some(device) = &settings.device {
        socket2::SockRef::from(&socket).bind_device(Some(device.as_bytes())).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot bind the session to device {device:?} (the VRF's master): {e}"))
        })?;
    }
    if let Some(source) = settings.source_address {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.connect(peer).await
}

/// The addresses of the interface that holds `local` (the session's own address): where the
/// next hops of the other family come from when none is configured, and the link-local
/// second IPv6 next hop (RFC 2545 §3). Empty when the interface cannot be found.
fn addresses_beside(local: IpAddr) -> Vec<IpAddr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    let addresses: Vec<_> = addresses.collect();
    let ip = |a: &nix::ifaddrs::InterfaceAddress| {
        let address = a.address.as_ref()?;
        address
            .as_sockaddr_in()
            .map(|s| IpAddr::V4(s.ip()))
            .or_else(|| address.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
    };
    let Some(interface) = addresses.iter().find(|a| ip(a) == Some(local)).map(|a| a.interface_name.clone()) else {
        return Vec::new();
    };
    addresses.iter().filter(|a| a.interface_name == interface).filter_map(ip).collect()
}

/// The addresses of the interface named `name`: an unnumbered session's next hops come from
/// its own interface, whatever other interface shares its link-local address.
fn addresses_of(name: &str) -> Vec<IpAddr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    addresses
        .filter(|a| a.interface_name == name)
        .filter_map(|a| {
            let address = a.address?;
            address
                .as_sockaddr_in()
                .map(|s| IpAddr::V4(s.ip()))
                .or_else(|| address.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
        })
        .collect()
}

/// Reads and discards until the peer closes the connection or it fails.
async fn drain(reader: &mut OwnedReadHalf) {
    let mut scratch = [0u8; 4096];
    while let Ok(n) = reader.read(&mut scratch).await {
        if n == 0 {
            return;
        }
    }
}
