//! The session finite state machine (RFC 4271 §8), sans-IO: [`Fsm::process`] takes one
//! [`Input`] (a TCP event, a decoded message, a timer expiry or an administrative event) and
//! returns the [`Output`]s the driver must carry out, in order. Timers are outputs too, so
//! every transition is tested as a transcript without sockets or clocks (docs/design.md,
//! Pure core, thin shell).
//!
//! The session dials its peer, and also takes the peer's own connections when the driver
//! offers them ([`Input::TcpAccepted`]: a router that initiates, as FRR may). Two connections
//! to one peer are resolved as RFC 4271 §6.8 says: the connection kept is the one initiated by
//! the side with the higher BGP Identifier, the other is closed with a CEASE "connection
//! collision resolution"; against an Established session the new connection is refused; while
//! our OPEN waits for the peer's, the peer's connection is held aside, unread, until the OPEN
//! on ours tells its BGP Identifier (or ours fails, and the held one is taken). The states keep
//! their RFC names and meanings with one adaptation:
//!
//! * `Idle`: administratively stopped (before [`Input::Start`], after [`Input::Stop`]);
//!   connections offered then are refused.
//! * `Connect`: a TCP connection attempt is under way, bounded by the ConnectRetry timer
//!   armed for `connect_time`.
//! * `Active`: waiting out the connect-retry backoff before the next attempt, taking the
//!   peer's connection if it comes first (RFC 4271's Active state listens for it).
//! * `OpenSent`, `OpenConfirm`, `Established`: as in RFC 4271 §8.2.2.
//!
//! Every failure (connect error or timeout, NOTIFICATION sent or received, hold timer
//! expiry, TCP close) lands in `Active` with the ConnectRetry timer armed for the next
//! backoff step: 1, 2, 4 … 120 s, reset once a session reaches Established (MetalLB resets
//! after a successful OPEN exchange; waiting for the peer's KEEPALIVE as well means a peer
//! that rejects our OPEN right after sending its own does not get redialled every second).

mod negotiate;

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::notification::{ErrorCode, FsmError};
use crate::{AfiSafi, CeaseSubcode, DecodeContext, DecodeError, EncodeContext, Message, Notification, Open};

pub use negotiate::{MAX_RESTART_TIME, Negotiated};

/// The hold time while waiting for the peer's OPEN (RFC 4271 §8.2.2: "a large value ...
/// 4 minutes is suggested").
pub const OPEN_SENT_HOLD_TIME: Duration = Duration::from_secs(240);
/// Longest wait between connection attempts.
pub const MAX_CONNECT_RETRY: Duration = Duration::from_secs(120);
/// How long one connection attempt may take when the BGPPeer sets no `connectTime`
/// (MetalLB's native speaker allows 10 s for connect and OPEN).
pub const DEFAULT_CONNECT_TIME: Duration = Duration::from_secs(10);

/// RFC 4271 §8.2.2 states; see the module documentation for what `Active` means here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum State {
    #[default]
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Idle => "Idle",
            Self::Connect => "Connect",
            Self::Active => "Active",
            Self::OpenSent => "OpenSent",
            Self::OpenConfirm => "OpenConfirm",
            Self::Established => "Established",
        })
    }
}

/// The peer AS a session accepts: a fixed `peerASN`, or MetalLB's `dynamicASN`
/// (`internal`: the peer's AS equals ours; `external`: it differs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerAs {
    Fixed(u32),
    Internal,
    External,
}

/// The RFC 4271 §8 timers a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// Bounds a connection attempt in `Connect`; in `Active`, the backoff before the next.
    ConnectRetry,
    /// The inbound hold timer: the peer must send KEEPALIVE or UPDATE within it.
    Hold,
    /// When we send our next KEEPALIVE.
    Keepalive,
}

const TIMERS: [Timer; 3] = [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive];

/// What the FSM needs from the peer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmConfig {
    pub local_asn: u32,
    pub peer_asn: PeerAs,
    pub router_id: Ipv4Addr,
    /// Offered in our OPEN; the session uses the smaller of ours and the peer's (RFC 4271
    /// §4.2). Whole seconds; zero disables keepalives and the hold timer.
    pub hold_time: Duration,
    /// KEEPALIVE interval when set (and non-zero); else a third of the negotiated hold
    /// time (RFC 4271 §4.4). Never more than a third of the negotiated hold time, so a peer
    /// that negotiates a short hold time does not drop us.
    pub keepalive_time: Option<Duration>,
    /// How long one connection attempt may take.
    pub connect_time: Duration,
    /// Families offered in our OPEN (multiprotocol capability, RFC 4760 §8).
    pub families: Vec<AfiSafi>,
    /// Graceful restart (RFC 4724): when set, our OPEN carries the capability with this
    /// Restart Time (whole seconds, at most 4095; longer is sent as 4095), the F bit for
    /// every offered family, and the R bit until a session has been established once since
    /// this [`Fsm`] was created. `None`: the capability is not offered.
    pub graceful_restart: Option<Duration>,
    /// Offer IPv4 unicast with an IPv6 next hop (RFC 8950 §3): on an unnumbered session,
    /// which runs over IPv6 link-local and has no IPv4 next hop to give.
    pub extended_next_hop: bool,
}

impl FsmConfig {
    /// IPv4 and IPv6 unicast offered, 90 s hold, 10 s connect time.
    pub fn new(local_asn: u32, peer_asn: PeerAs, router_id: Ipv4Addr) -> Self {
        Self {
            local_asn,
            peer_asn,
            router_id,
            hold_time: Duration::from_secs(90),
            keepalive_time: None,
            connect_time: DEFAULT_CONNECT_TIME,
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            graceful_restart: None,
            extended_next_hop: false,
        }
    }

    fn hold_time_secs(&self) -> u16 {
        u16::try_from(self.hold_time.as_secs()).unwrap_or(u16::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// ManualStart / AutomaticStart (RFC 4271 §8.1.2, events 1 and 3).
    Start,
    /// ManualStop (event 2): send a CEASE with this subcode (and, for Administrative
    /// Shutdown or Reset, this RFC 8203 / RFC 9003 message) if a connection is open, then
    /// stay in Idle until the next `Start`.
    Stop {
        subcode: CeaseSubcode,
        message: String,
    },
    /// ManualStop for a speaker restart (RFC 4724 §4): when graceful restart was negotiated
    /// (in OpenConfirm and Established), or offered and the peer's OPEN has not arrived yet
    /// (OpenSent), close the connection WITHOUT a NOTIFICATION, so the peer keeps our
    /// routes as stale for the Restart Time (we do not offer RFC 8538's N bit, so a CEASE
    /// would make it flush them). Otherwise exactly [`Input::Stop`] with this subcode and
    /// message.
    StopGraceful {
        subcode: CeaseSubcode,
        message: String,
    },
    /// The outbound connection is up (event 17).
    TcpConnected {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// The peer opened a connection to us (events 14 and 17 on the passive side); the
    /// driver holds it until an [`Output::AcceptInbound`], [`Output::HoldInbound`] or
    /// [`Output::RefuseInbound`] says what becomes of it.
    TcpAccepted {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// The connection attempt failed (event 18), with the OS error for the log.
    TcpFailed {
        reason: String,
    },
    /// The peer closed the connection or it broke (event 18 after connect).
    TcpClosed,
    /// A message that decoded cleanly.
    Message(Message),
    /// A message that did not (events 21, 22, 28 and RFC 7606).
    DecodeError(DecodeError),
    TimerFired(Timer),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the peer.
    Connect,
    /// Encode and send a message; see [`Fsm::encode_context`].
    Send(Message),
    /// Arm (or re-arm) a timer to fire after the duration.
    ArmTimer(Timer, Duration),
    CancelTimer(Timer),
    /// Close the connection, or abandon the attempt; anything already handed to `Send`
    /// goes out first.
    CloseTcp,
    /// The offered inbound connection (the held one when none is being offered) becomes the
    /// session's connection: the `Send`s that follow go out on it. Any outbound attempt
    /// still under way is abandoned.
    AcceptInbound,
    /// Keep the offered inbound connection aside, unread, until a later output decides.
    HoldInbound,
    /// Close the held inbound connection (the offered one when none is held), after sending
    /// this NOTIFICATION on it when there is one; the session's own connection is untouched.
    RefuseInbound(Option<Notification>),
    /// The session is up: send the full table, then End-of-RIB for each negotiated family
    /// (RFC 4724 §2).
    Established {
        negotiated: Negotiated,
    },
    /// The peer asked for our routes again (ROUTE-REFRESH, RFC 2918 §4): resend the table
    /// for this family.
    ResendRoutes(AfiSafi),
    /// The session (or the attempt to bring it up) ended; the peer dropped our routes.
    Down {
        reason: DownReason,
    },
}

/// Why a session went down, for logs and the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// [`Input::Stop`], or [`Input::StopGraceful`] when it sent a CEASE.
    Stopped,
    /// [`Input::StopGraceful`] closed the connection without a NOTIFICATION: the peer keeps
    /// our routes as stale for the Restart Time (RFC 4724 §4).
    StoppedGracefully,
    ConnectFailed(String),
    ConnectTimeout,
    /// The peer closed the connection without a NOTIFICATION.
    ConnectionClosed,
    /// The peer sent nothing for the negotiated hold time; we sent (4, 0).
    HoldTimerExpired,
    /// The peer's NOTIFICATION.
    NotificationReceived(Notification),
    /// The peer connected to us while this connection was opening, and the BGP
    /// Identifiers said to keep the peer's (RFC 4271 §6.8); we sent a CEASE on this one.
    CollisionResolved,
    /// The peer sent something wrong; this NOTIFICATION told it what.
    NotificationSent {
        notification: Notification,
        detail: String,
    },
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => f.write_str("stopped"),
            Self::StoppedGracefully => f.write_str("stopped for a graceful restart (no NOTIFICATION sent)"),
            Self::ConnectFailed(e) => write!(f, "connect failed: {e}"),
            Self::ConnectTimeout => f.write_str("connect timed out"),
            Self::ConnectionClosed => f.write_str("connection closed by peer"),
            Self::HoldTimerExpired => f.write_str("hold timer expired"),
            Self::NotificationReceived(n) => write!(f, "NOTIFICATION received: {}", describe(n)),
            Self::CollisionResolved => {
                f.write_str("connection collision: the peer's own connection is kept (RFC 4271 §6.8)")
            }
            Self::NotificationSent { notification, detail } => {
                write!(f, "NOTIFICATION sent: {} ({detail})", describe(notification))
            }
        }
    }
}

/// "code/subcode" plus the shutdown communication when there is one.
fn describe(n: &Notification) -> String {
    let (code, subcode) = n.error.to_octets();
    match n.shutdown_communication() {
        Some(text) => format!("{code}/{subcode} {:?}: {text:?}", n.error),
        None => format!("{code}/{subcode} {:?}", n.error),
    }
}

/// One session's state machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Fsm {
    config: FsmConfig,
    state: State,
    armed: BTreeSet<Timer>,
    /// Failed attempts since the session was last Established; picks the backoff step.
    failures: u32,
    connection: Option<(SocketAddr, SocketAddr)>,
    /// Set in OpenConfirm, reported in Established.
    negotiated: Option<Negotiated>,
    /// The R bit of our graceful restart capability: set from creation (the control plane
    /// has just started) until a session reaches Established, so a peer that never got our
    /// first OPEN still learns we restarted.
    restarting: bool,
    /// Whether the current connection is the peer's (accepted) rather than ours.
    inbound: bool,
    /// The peer's connection held aside while our OPEN waits for its answer (RFC 4271 §6.8).
    held: Option<(SocketAddr, SocketAddr)>,
}

impl Fsm {
    pub fn new(config: FsmConfig) -> Self {
        Self {
            config,
            state: State::Idle,
            armed: BTreeSet::new(),
            failures: 0,
            connection: None,
            negotiated: None,
            restarting: true,
            inbound: false,
            held: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &FsmConfig {
        &self.config
    }

    /// What the OPEN exchange settled, from OpenConfirm on.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn decode_context(&self) -> DecodeContext {
        DecodeContext { four_octet_as: self.negotiated.as_ref().is_some_and(|n| n.four_octet_as) }
    }

    pub fn encode_context(&self) -> EncodeContext {
        EncodeContext { four_octet_as: self.negotiated.as_ref().is_some_and(|n| n.four_octet_as) }
    }

    /// The OPEN we send: our AS (AS_TRANS in the 2-octet field above 65535), hold time,
    /// router ID, and the multiprotocol, route refresh, graceful restart (when configured)
    /// and 4-octet AS capabilities.
    pub fn open_message(&self) -> Open {
        Open::new(
            self.config.local_asn,
            self.config.hold_time_secs(),
            self.config.router_id,
            negotiate::capabilities(&self.config, self.restarting),
        )
    }

    pub fn process(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(&mut out),
            Input::Stop { subcode, message } => self.stop(subcode, &message, false, &mut out),
            Input::StopGraceful { subcode, message } => self.stop(subcode, &message, true, &mut out),
            Input::TcpConnected { local, remote } => self.connected(local, remote, &mut out),
            Input::TcpAccepted { local, remote } => self.accepted(local, remote, &mut out),
            Input::TcpFailed { reason } => {
                if self.state == State::Connect {
                    self.fail(DownReason::ConnectFailed(reason), None, &mut out);
                }
            }
            Input::TcpClosed => match self.state {
                State::Connect => self.fail(DownReason::ConnectionClosed, None, &mut out),
                State::OpenSent | State::OpenConfirm | State::Established => {
                    self.fail(DownReason::ConnectionClosed, None, &mut out)
                }
                State::Idle | State::Active => {}
            },
            Input::Message(message) => self.message(message, &mut out),
            Input::DecodeError(error) => self.decode_error(error, &mut out),
            Input::TimerFired(timer) => self.timer(timer, &mut out),
        }
        out
    }

    fn start(&mut self, out: &mut Vec<Output>) {
        if self.state == State::Idle {
            self.failures = 0;
            self.dial(out);
        }
    }

    fn dial(&mut self, out: &mut Vec<Output>) {
        self.state = State::Connect;
        out.push(Output::Connect);
        self.arm(Timer::ConnectRetry, self.config.connect_time, out);
    }

    fn stop(&mut self, subcode: CeaseSubcode, message: &str, graceful: bool, out: &mut Vec<Output>) {
        if self.state == State::Idle {
            return;
        }
        let silent = graceful
            && match self.state {
                // The peer's OPEN has not arrived: it may still hold our routes as stale
                // from before our restart, and a CEASE would flush them.
                State::OpenSent => self.config.graceful_restart.is_some(),
                State::OpenConfirm | State::Established => self.negotiated.as_ref().is_some_and(|n| n.graceful_restart),
                _ => false,
            };
        if !silent && matches!(self.state, State::OpenSent | State::OpenConfirm | State::Established) {
            out.push(Output::Send(Message::Notification(cease(subcode, message))));
        }
        if self.held.take().is_some() {
            out.push(Output::RefuseInbound(Some(cease(subcode, message))));
        }
        self.cancel_all(out);
        if self.state != State::Active {
            out.push(Output::CloseTcp);
        }
        self.state = State::Idle;
        self.connection = None;
        self.negotiated = None;
        let reason = if silent { DownReason::StoppedGracefully } else { DownReason::Stopped };
        out.push(Output::Down { reason });
    }

    fn connected(&mut self, local: SocketAddr, remote: SocketAddr, out: &mut Vec<Output>) {
        if self.state != State::Connect {
            // A connection we no longer wanted (RFC 4271 §8.2.2 event 17 in other states).
            out.push(Output::CloseTcp);
            return;
        }
        self.inbound = false;
        self.open_on(local, remote, out);
    }

    /// OPEN on the connection `local` <-> `remote`, now the session's: OpenSent.
    fn open_on(&mut self, local: SocketAddr, remote: SocketAddr, out: &mut Vec<Output>) {
        self.connection = Some((local, remote));
        self.cancel(Timer::ConnectRetry, out);
        out.push(Output::Send(Message::Open(self.open_message())));
        self.arm(Timer::Hold, OPEN_SENT_HOLD_TIME, out);
        self.state = State::OpenSent;
    }

    /// The peer's connection, offered by the driver (RFC 4271 §6.8 when there is already one).
    fn accepted(&mut self, local: SocketAddr, remote: SocketAddr, out: &mut Vec<Output>) {
        let collision = || Some(cease(CeaseSubcode::ConnectionCollisionResolution, ""));
        match self.state {
            State::Idle => out.push(Output::RefuseInbound(None)),
            // Nothing to collide with: the peer's connection is the session's.
            State::Connect | State::Active => {
                out.push(Output::AcceptInbound);
                self.inbound = true;
                self.open_on(local, remote, out);
            }
            // The peer's BGP Identifier is not known yet: wait for its OPEN on ours. A
            // second connection of the peer replaces the one held (its first is gone).
            State::OpenSent if !self.inbound => {
                if self.held.is_some() {
                    out.push(Output::RefuseInbound(collision()));
                }
                self.held = Some((local, remote));
                out.push(Output::HoldInbound);
            }
            // The peer dialled again while its earlier connection opens: it gave that one up.
            State::OpenSent | State::OpenConfirm if self.inbound => self.replace_with_inbound(local, remote, out),
            State::OpenConfirm if self.keeps_the_peers_connection() => self.replace_with_inbound(local, remote, out),
            State::OpenSent | State::OpenConfirm | State::Established => out.push(Output::RefuseInbound(collision())),
        }
    }

    /// RFC 4271 §6.8: the connection initiated by the side with the higher BGP Identifier
    /// (compared as unsigned 32-bit integers) survives; ours loses when ours is lower.
    fn keeps_the_peers_connection(&self) -> bool {
        let peer_id = self.negotiated.as_ref().map(|n| n.peer_id);
        peer_id.is_some_and(|peer| u32::from(self.config.router_id) < u32::from(peer))
    }

    /// Closes the current connection with a CEASE "connection collision resolution" and
    /// opens on the peer's (offered or held) instead.
    fn replace_with_inbound(&mut self, local: SocketAddr, remote: SocketAddr, out: &mut Vec<Output>) {
        out.push(Output::Send(Message::Notification(cease(CeaseSubcode::ConnectionCollisionResolution, ""))));
        self.cancel_all(out);
        out.push(Output::CloseTcp);
        out.push(Output::Down { reason: DownReason::CollisionResolved });
        self.negotiated = None;
        out.push(Output::AcceptInbound);
        self.inbound = true;
        self.open_on(local, remote, out);
    }

    fn message(&mut self, message: Message, out: &mut Vec<Output>) {
        if let Message::Notification(n) = message {
            if matches!(self.state, State::OpenSent | State::OpenConfirm | State::Established) {
                self.fail(DownReason::NotificationReceived(n), None, out);
            }
            return;
        }
        match (self.state, message) {
            (State::OpenSent, Message::Open(open)) => self.open_received(&open, out),
            (State::OpenConfirm, Message::Keepalive) => {
                self.restart_hold(out);
                self.state = State::Established;
                self.failures = 0;
                self.restarting = false;
                let negotiated = self.negotiated.clone().expect("negotiated in OpenConfirm");
                out.push(Output::Established { negotiated });
            }
            (State::Established, Message::Keepalive | Message::Update(_)) => self.restart_hold(out),
            (State::Established, Message::RouteRefresh(rr)) => {
                self.restart_hold(out);
                let negotiated = self.negotiated.as_ref().expect("negotiated in Established");
                // RFC 2918 §4: a request for a family not negotiated is ignored.
                if negotiated.families.contains(&rr.family) && rr.subtype == 0 {
                    out.push(Output::ResendRoutes(rr.family));
                }
            }
            (State::OpenSent | State::OpenConfirm | State::Established, message) => {
                // RFC 6608 §4: say in which state the unexpected message arrived.
                let subcode = match self.state {
                    State::OpenSent => FsmError::UnexpectedMessageInOpenSent,
                    State::OpenConfirm => FsmError::UnexpectedMessageInOpenConfirm,
                    _ => FsmError::UnexpectedMessageInEstablished,
                };
                let n = Notification::new(ErrorCode::Fsm(subcode), Vec::new());
                let detail = format!("unexpected {:?} in {}", message.message_type(), self.state);
                self.fail(DownReason::NotificationSent { notification: n.clone(), detail }, Some(n), out);
            }
            // No connection: nothing can have arrived; a driver race, ignore.
            _ => {}
        }
    }

    fn open_received(&mut self, open: &Open, out: &mut Vec<Output>) {
        let (local, remote) = self.connection.expect("connected in OpenSent");
        match negotiate::check_and_negotiate(&self.config, open, local, remote) {
            Err(error) => {
                let n = error.to_notification();
                let reason = DownReason::NotificationSent { notification: n.clone(), detail: error.to_string() };
                self.fail(reason, Some(n), out);
            }
            Ok(negotiated) => {
                out.push(Output::Send(Message::Keepalive));
                match negotiated.hold_time {
                    Some(hold) => self.arm(Timer::Hold, hold, out),
                    None => self.cancel(Timer::Hold, out),
                }
                if let Some(keepalive) = negotiated.keepalive_interval {
                    self.arm(Timer::Keepalive, keepalive, out);
                }
                self.negotiated = Some(negotiated);
                self.state = State::OpenConfirm;
                // The peer's OPEN on ours tells its BGP Identifier: settle a held collision.
                if let Some((local, remote)) = self.held.take() {
                    if self.keeps_the_peers_connection() {
                        self.replace_with_inbound(local, remote, out);
                    } else {
                        out.push(Output::RefuseInbound(Some(cease(CeaseSubcode::ConnectionCollisionResolution, ""))));
                    }
                }
            }
        }
    }

    fn decode_error(&mut self, error: DecodeError, out: &mut Vec<Output>) {
        if !matches!(self.state, State::OpenSent | State::OpenConfirm | State::Established) {
            return;
        }
        match error {
            DecodeError::SessionReset(e) => {
                let n = e.to_notification();
                let reason = DownReason::NotificationSent { notification: n.clone(), detail: e.to_string() };
                self.fail(reason, Some(n), out);
            }
            // RFC 7606 §2: the session stays up. We never install received routes, so
            // withdrawing them is a no-op, but the UPDATE still proves the peer alive.
            DecodeError::TreatAsWithdraw { .. } if self.state == State::Established => self.restart_hold(out),
            DecodeError::TreatAsWithdraw { error, .. } => {
                let subcode = if self.state == State::OpenSent {
                    FsmError::UnexpectedMessageInOpenSent
                } else {
                    FsmError::UnexpectedMessageInOpenConfirm
                };
                let n = Notification::new(ErrorCode::Fsm(subcode), Vec::new());
                let detail = format!("UPDATE in {}: {error}", self.state);
                self.fail(DownReason::NotificationSent { notification: n.clone(), detail }, Some(n), out);
            }
        }
    }

    fn timer(&mut self, timer: Timer, out: &mut Vec<Output>) {
        // A timer the driver fired after we cancelled or re-armed it is stale.
        if !self.armed.remove(&timer) {
            return;
        }
        match (timer, self.state) {
            (Timer::ConnectRetry, State::Active) => self.dial(out),
            (Timer::ConnectRetry, State::Connect) => self.fail(DownReason::ConnectTimeout, None, out),
            (Timer::Hold, State::OpenSent | State::OpenConfirm | State::Established) => {
                let n = Notification::new(ErrorCode::HoldTimerExpired(0), Vec::new());
                self.fail(DownReason::HoldTimerExpired, Some(n), out);
            }
            (Timer::Keepalive, State::OpenConfirm | State::Established) => {
                out.push(Output::Send(Message::Keepalive));
                if let Some(interval) = self.negotiated.as_ref().and_then(|n| n.keepalive_interval) {
                    self.arm(Timer::Keepalive, interval, out);
                }
            }
            _ => {}
        }
    }

    /// Every failure: tell the peer why if there is something to tell, drop the
    /// connection, report, and schedule the next attempt (RFC 4271 §8.2.2: release
    /// resources, ConnectRetryCounter + 1, back to the state that waits for a retry).
    fn fail(&mut self, reason: DownReason, notification: Option<Notification>, out: &mut Vec<Output>) {
        if let Some(n) = notification {
            out.push(Output::Send(Message::Notification(n)));
        }
        self.cancel_all(out);
        out.push(Output::CloseTcp);
        out.push(Output::Down { reason });
        self.connection = None;
        self.negotiated = None;
        // Ours failed while the peer's waited: take the peer's.
        if let Some((local, remote)) = self.held.take() {
            out.push(Output::AcceptInbound);
            self.inbound = true;
            self.open_on(local, remote, out);
            return;
        }
        self.state = State::Active;
        let delay = backoff(self.failures);
        self.failures = self.failures.saturating_add(1);
        self.arm(Timer::ConnectRetry, delay, out);
    }

    fn restart_hold(&mut self, out: &mut Vec<Output>) {
        if let Some(hold) = self.negotiated.as_ref().and_then(|n| n.hold_time) {
            self.arm(Timer::Hold, hold, out);
        }
    }

    fn arm(&mut self, timer: Timer, after: Duration, out: &mut Vec<Output>) {
        self.armed.insert(timer);
        out.push(Output::ArmTimer(timer, after));
    }

    fn cancel(&mut self, timer: Timer, out: &mut Vec<Output>) {
        if self.armed.remove(&timer) {
            out.push(Output::CancelTimer(timer));
        }
    }

    fn cancel_all(&mut self, out: &mut Vec<Output>) {
        for timer in TIMERS {
            self.cancel(timer, out);
        }
    }
}

/// The wait before attempt `failures + 1`: 1, 2, 4 … seconds, capped at 120.
pub fn backoff(failures: u32) -> Duration {
    let secs = 1u64.checked_shl(failures.min(16)).unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_CONNECT_RETRY)
}

/// A Cease NOTIFICATION; Administrative Shutdown and Reset carry `message` (cut to the
/// 255 octets RFC 9003 §2 allows, at a character boundary).
fn cease(subcode: CeaseSubcode, message: &str) -> Notification {
    let mut end = message.len().min(crate::notification::MAX_SHUTDOWN_MESSAGE_LEN);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let message = &message[..end];
    let with_text = match subcode {
        CeaseSubcode::AdministrativeShutdown => Notification::administrative_shutdown(message).ok(),
        CeaseSubcode::AdministrativeReset => Notification::administrative_reset(message).ok(),
        _ => None,
    };
    with_text.unwrap_or_else(|| Notification::new(ErrorCode::Cease(subcode), Vec::new()))
}
