//! The session driver against a fake BGP peer on 127.0.0.1 (an ephemeral port, in this
//! process): a tiny tokio server speaking OPEN, KEEPALIVE and UPDATE through the codec.
#![cfg(feature = "driver")]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use ferrolb_bgp::notification::{ErrorCode, OpenError};
use ferrolb_bgp::{
    AfiSafi, Capability, DecodeContext, EncodeContext, GracefulRestart, Message, Notification, Open, PeerAs,
    PeerSettings, RouteAttrs, RouteRefresh, Session, SessionStatus, State, Update, next_frame_len,
};
use ferrolb_testkit::bgp::graceful_restart;
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const LOCAL_AS: u32 = 64512;
const PEER_AS: u32 = 64500;
const WAIT: Duration = Duration::from_secs(5);

struct FakePeer {
    listener: TcpListener,
}

impl FakePeer {
    async fn bind() -> Self {
        Self { listener: TcpListener::bind("127.0.0.1:0").await.unwrap() }
    }

    fn settings(&self) -> PeerSettings {
        let addr = self.listener.local_addr().unwrap();
        let mut s = PeerSettings::new("fake", LOCAL_AS, PeerAs::Fixed(PEER_AS), addr.ip(), Ipv4Addr::new(10, 0, 0, 1));
        s.port = addr.port();
        s.ipv6_next_hop = Some("fd00:30::11".parse().unwrap());
        s
    }

    async fn accept(&self) -> PeerConn {
        let (stream, _) = timeout(WAIT, self.listener.accept()).await.expect("the session dials").unwrap();
        PeerConn { stream, buf: Vec::new() }
    }
}

struct PeerConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl PeerConn {
    /// The next message, or `None` when the session closed the connection.
    async fn recv(&mut self) -> Option<Message> {
        loop {
            if let Some(len) = next_frame_len(&self.buf).unwrap() {
                let frame: Vec<u8> = self.buf.drain(..len).collect();
                return Some(ferrolb_bgp::decode(&frame, &DecodeContext { four_octet_as: true }).unwrap());
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(WAIT, self.stream.read(&mut chunk)).await.expect("a message in time").ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next message that is not a KEEPALIVE.
    async fn recv_non_keepalive(&mut self) -> Option<Message> {
        loop {
            match self.recv().await? {
                Message::Keepalive => continue,
                m => return Some(m),
            }
        }
    }

    async fn send(&mut self, m: Message) {
        let bytes = m.encode(&EncodeContext { four_octet_as: true }).unwrap();
        self.stream.write_all(&bytes).await.unwrap();
    }

    /// Answers the session's OPEN with ours and completes the exchange.
    async fn handshake(&mut self, asn: u32, hold: u16) -> Open {
        self.handshake_with(peer_open(asn, hold)).await
    }

    /// Answers the session's OPEN with `ours` and completes the exchange.
    async fn handshake_with(&mut self, ours: Open) -> Open {
        let Some(Message::Open(theirs)) = self.recv().await else { panic!("expected OPEN") };
        self.send(Message::Open(ours)).await;
        self.send(Message::Keepalive).await;
        assert_eq!(self.recv().await, Some(Message::Keepalive));
        theirs
    }

    /// UPDATEs up to and including End-of-RIB for both families: the prefixes announced.
    async fn full_table(&mut self) -> BTreeSet<IpNet> {
        let mut announced = BTreeSet::new();
        let mut eor = Vec::new();
        while eor.len() < 2 {
            let Some(Message::Update(u)) = self.recv_non_keepalive().await else { panic!("expected UPDATE") };
            match u.end_of_rib_family() {
                Some(f) => eor.push(f),
                None => announced.extend(u.announced()),
            }
        }
        assert_eq!(eor, [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]);
        announced
    }

    /// Every message type that arrives until the session closes the connection, from the
    /// raw bytes (whatever is still buffered included): fails on a partial message at EOF.
    async fn types_until_eof(&mut self) -> Vec<u8> {
        let mut rest = std::mem::take(&mut self.buf);
        timeout(WAIT, self.stream.read_to_end(&mut rest)).await.expect("closed in time").unwrap();
        let mut types = Vec::new();
        let mut at = 0;
        while at < rest.len() {
            let len = next_frame_len(&rest[at..]).unwrap().expect("whole messages only before EOF");
            types.push(rest[at + 18]);
            at += len;
        }
        types
    }

    async fn update(&mut self) -> Update {
        match self.recv_non_keepalive().await {
            Some(Message::Update(u)) => u,
            other => panic!("expected UPDATE, got {other:?}"),
        }
    }
}

fn peer_open(asn: u32, hold: u16) -> Open {
    Open::new(
        asn,
        hold,
        Ipv4Addr::new(10, 0, 0, 254),
        vec![
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(asn),
        ],
    )
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn routes(prefixes: &[&str]) -> BTreeMap<IpNet, RouteAttrs> {
    prefixes.iter().map(|p| (net(p), RouteAttrs::default())).collect()
}

fn set(prefixes: &[&str]) -> BTreeSet<IpNet> {
    prefixes.iter().map(|p| net(p)).collect()
}

async fn wait_for(session: &Session, what: impl Fn(&SessionStatus) -> bool) -> SessionStatus {
    let mut status = session.status();
    let result = timeout(WAIT, status.wait_for(|s| what(s))).await;
    let status = result.expect("status in time").unwrap();
    status.clone()
}

/// Spawns a session with `routes` already pending, so the first table is deterministic.
async fn spawn(settings: PeerSettings, table: &[&str]) -> Session {
    let session = Session::spawn(settings);
    session.set_routes(Arc::new(routes(table)));
    let n = table.len() as u64;
    wait_for(&session, |s| s.pending_prefixes == n).await;
    session
}

#[tokio::test]
async fn the_session_establishes_and_sends_the_full_table_then_end_of_rib() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32", "10.0.0.2/32", "fd00:1::1/128"]).await;
    let mut conn = peer.accept().await;
    let open = conn.handshake(PEER_AS, 90).await;
    assert_eq!(open.asn(), LOCAL_AS);
    assert_eq!(open.hold_time, 90);
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32", "10.0.0.2/32", "fd00:1::1/128"]));

    let status = wait_for(&session, |s| s.established && s.updates_sent == 4).await;
    assert_eq!(status.state, State::Established);
    assert_eq!((status.announced_prefixes, status.pending_prefixes), (3, 0));
    assert_eq!(status.peer, peer.listener.local_addr().unwrap().to_string());
    assert_eq!(status.last_error, None);
    session.shutdown("test over").await;
}

#[tokio::test]
async fn an_incremental_change_sends_only_the_difference() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32", "10.0.0.2/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    conn.full_table().await;

    session.set_routes(Arc::new(routes(&["10.0.0.2/32", "10.0.0.3/32"])));
    let withdrawal = conn.update().await;
    assert_eq!(withdrawal.withdrawals().collect::<Vec<_>>(), [net("10.0.0.1/32")]);
    assert_eq!(withdrawal.announced().count(), 0);
    let announcement = conn.update().await;
    assert_eq!(announcement.announced().collect::<Vec<_>>(), [net("10.0.0.3/32")]);
    assert_eq!(announcement.withdrawals().count(), 0);
    wait_for(&session, |s| s.updates_sent == 5 && s.announced_prefixes == 2).await;
    session.shutdown("test over").await;
}

#[tokio::test]
async fn shutdown_sends_a_cease_with_the_message_and_closes() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    conn.full_table().await;

    let status = session.status();
    timeout(Duration::from_secs(2), session.shutdown("speaker stopping")).await.expect("within 1 s");
    let Some(Message::Notification(n)) = conn.recv_non_keepalive().await else { panic!("expected NOTIFICATION") };
    assert_eq!(n, Notification::administrative_shutdown("speaker stopping").unwrap());
    assert_eq!(conn.recv().await, None, "closed after the CEASE, nothing withdrawn");
    assert!(!status.borrow().established);
}

#[tokio::test]
async fn a_peer_that_stops_sending_keepalives_is_dropped_after_the_hold_time() {
    let peer = FakePeer::bind().await;
    let mut settings = peer.settings();
    settings.hold_time = Duration::from_secs(3);
    let session = spawn(settings, &["10.0.0.1/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 3).await;
    conn.full_table().await;
    // We send nothing more; the session keeps sending keepalives until it gives up.
    let started = tokio::time::Instant::now();
    let Some(Message::Notification(n)) = conn.recv_non_keepalive().await else { panic!("expected NOTIFICATION") };
    assert_eq!(n.error, ErrorCode::HoldTimerExpired(0));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(2500) && waited < Duration::from_secs(5), "{waited:?}");
    let status = wait_for(&session, |s| !s.established).await;
    assert_eq!(status.last_error.as_deref(), Some("hold timer expired"));
    assert_eq!(status.announced_prefixes, 0);
    assert_eq!(status.pending_prefixes, 1);
    session.shutdown("test over").await;
}

#[tokio::test]
async fn an_open_from_the_wrong_as_keeps_the_session_down_with_bad_peer_as() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32"]).await;
    for _ in 0..2 {
        let mut conn = peer.accept().await;
        let Some(Message::Open(_)) = conn.recv().await else { panic!("expected OPEN") };
        conn.send(Message::Open(peer_open(65999, 90))).await;
        let Some(Message::Notification(n)) = conn.recv().await else { panic!("expected NOTIFICATION") };
        assert_eq!(n.error, ErrorCode::Open(OpenError::BadPeerAs));
        assert_eq!(conn.recv().await, None);
        let status = wait_for(&session, |s| s.last_error.is_some()).await;
        assert!(!status.established);
        assert!(status.last_error.unwrap().contains("bad peer AS 65999"));
    }
    session.shutdown("test over").await;
}

#[tokio::test]
async fn after_the_peer_closes_the_session_reconnects_and_resends_the_full_table() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32", "fd00:1::1/128"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    assert_eq!(conn.full_table().await.len(), 2);
    drop(conn);

    wait_for(&session, |s| !s.established).await;
    session.set_routes(Arc::new(routes(&["10.0.0.1/32", "10.0.0.9/32", "fd00:1::1/128"])));
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32", "10.0.0.9/32", "fd00:1::1/128"]));
    wait_for(&session, |s| s.established && s.announced_prefixes == 3).await;
    session.shutdown("test over").await;
}

#[tokio::test]
async fn a_route_refresh_resends_the_family() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &["10.0.0.1/32", "fd00:1::1/128"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    conn.full_table().await;
    conn.send(Message::RouteRefresh(RouteRefresh::new(AfiSafi::IPV4_UNICAST))).await;
    assert_eq!(conn.update().await.announced().collect::<Vec<_>>(), [net("10.0.0.1/32")]);
    session.shutdown("test over").await;
}

#[tokio::test]
async fn ipv6_routes_without_an_ipv6_next_hop_are_held_back_and_reported() {
    let peer = FakePeer::bind().await;
    let mut settings = peer.settings();
    settings.ipv6_next_hop = None;
    let session = spawn(settings, &["10.0.0.1/32", "fd00:1::1/128"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32"]));
    let status = wait_for(&session, |s| s.established).await;
    assert_eq!((status.announced_prefixes, status.pending_prefixes), (1, 1));
    assert!(status.last_error.unwrap().contains("no global IPv6 next hop"));
    assert_eq!(
        status.held_back,
        [ferrolb_bgp::HeldBack {
            family: AfiSafi::IPV6_UNICAST,
            cause: ferrolb_bgp::HoldCause::NoNextHop,
            prefixes: 1
        }]
    );
    session.shutdown("test over").await;
}

#[tokio::test]
async fn an_unreachable_peer_leaves_the_session_retrying_with_the_error_reported() {
    // A port nobody listens on: bind, note the port, close.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let mut settings = PeerSettings::new(
        "gone",
        LOCAL_AS,
        PeerAs::Fixed(PEER_AS),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ipv4Addr::new(10, 0, 0, 1),
    );
    settings.port = port;
    let session = Session::spawn(settings);
    let status = wait_for(&session, |s| s.last_error.is_some()).await;
    assert!(status.last_error.unwrap().starts_with("connect failed"), "refused");
    assert!(matches!(status.state, State::Active | State::Connect));
    session.shutdown("test over").await;
}

const RESTART_TIME: Duration = Duration::from_secs(120);

fn gr_settings(peer: &FakePeer) -> PeerSettings {
    PeerSettings { graceful_restart: Some(RESTART_TIME), ..peer.settings() }
}

/// A peer that offers graceful restart (helper for both families).
fn peer_open_with_gr() -> Open {
    let mut open = peer_open(PEER_AS, 90);
    open.capabilities.push(Capability::GracefulRestart(graceful_restart(false, false, 90, [false, false])));
    open
}

fn our_gr(restart_state: bool) -> GracefulRestart {
    graceful_restart(restart_state, false, 120, [true, true])
}

#[tokio::test]
async fn without_graceful_restart_configured_the_open_does_not_offer_it() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &[]).await;
    let mut conn = peer.accept().await;
    assert_eq!(conn.handshake_with(peer_open_with_gr()).await.graceful_restart(), None);
    session.shutdown("test over").await;
}

/// A speaker restart, as the router sees it: GR negotiated, the table, End-of-RIB, then
/// the connection just closes (no CEASE, so the router keeps the routes as stale); the
/// restarted speaker's OPEN says R, and it re-sends the table and End-of-RIB.
#[tokio::test]
async fn graceful_shutdown_with_graceful_restart_closes_without_a_notification_and_the_restart_resends() {
    let peer = FakePeer::bind().await;
    let table = ["10.0.0.1/32", "10.0.0.2/32", "fd00:1::1/128"];
    let session = spawn(gr_settings(&peer), &table).await;
    let mut conn = peer.accept().await;
    let open = conn.handshake_with(peer_open_with_gr()).await;
    assert_eq!(open.graceful_restart(), Some(&our_gr(true)));
    assert_eq!(conn.full_table().await, set(&table), "the table, then End-of-RIB for both families");
    let status = wait_for(&session, |s| s.established && s.updates_sent == 4).await;
    assert_eq!(status.announced_prefixes, 3);

    let status = session.status();
    timeout(Duration::from_secs(2), session.shutdown_graceful("speaker restarting")).await.expect("within 1 s");
    let types = conn.types_until_eof().await;
    assert!(!types.contains(&3), "no NOTIFICATION before EOF, got message types {types:?}");
    assert!(types.iter().all(|&t| t == 4), "nothing withdrawn either: {types:?}");
    assert!(!status.borrow().established);
    assert_eq!(status.borrow().last_error.as_deref(), Some("stopped for a graceful restart (no NOTIFICATION sent)"));

    // The restarted speaker (a new session task, as after a process restart).
    let session = spawn(gr_settings(&peer), &table).await;
    let mut conn = peer.accept().await;
    let open = conn.handshake_with(peer_open_with_gr()).await;
    assert!(open.graceful_restart().unwrap().restart_state, "R: we have restarted");
    assert_eq!(conn.full_table().await, set(&table));
    session.shutdown("test over").await;
}

#[tokio::test]
async fn graceful_shutdown_without_graceful_restart_from_the_peer_sends_the_cease() {
    let peer = FakePeer::bind().await;
    let session = spawn(gr_settings(&peer), &["10.0.0.1/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    conn.full_table().await;
    wait_for(&session, |s| s.established).await;
    timeout(Duration::from_secs(2), session.shutdown_graceful("speaker stopping")).await.expect("within 1 s");
    let Some(Message::Notification(n)) = conn.recv_non_keepalive().await else { panic!("expected NOTIFICATION") };
    assert_eq!(n, Notification::administrative_shutdown("speaker stopping").unwrap());
    assert_eq!(conn.recv().await, None);
}

#[tokio::test]
async fn a_plain_shutdown_with_graceful_restart_negotiated_still_sends_the_cease() {
    let peer = FakePeer::bind().await;
    let session = spawn(gr_settings(&peer), &["10.0.0.1/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake_with(peer_open_with_gr()).await;
    conn.full_table().await;
    wait_for(&session, |s| s.established).await;
    timeout(Duration::from_secs(2), session.shutdown("peer removed")).await.expect("within 1 s");
    let Some(Message::Notification(n)) = conn.recv_non_keepalive().await else { panic!("expected NOTIFICATION") };
    assert_eq!(n, Notification::administrative_shutdown("peer removed").unwrap());
    assert_eq!(conn.recv().await, None);
}

#[tokio::test]
async fn after_a_session_flap_the_open_no_longer_claims_a_restart() {
    let peer = FakePeer::bind().await;
    let session = spawn(gr_settings(&peer), &["10.0.0.1/32", "fd00:1::1/128"]).await;
    let mut conn = peer.accept().await;
    assert!(conn.handshake_with(peer_open_with_gr()).await.graceful_restart().unwrap().restart_state);
    conn.full_table().await;
    drop(conn);

    wait_for(&session, |s| !s.established).await;
    let mut conn = peer.accept().await;
    let open = conn.handshake_with(peer_open_with_gr()).await;
    assert_eq!(open.graceful_restart(), Some(&our_gr(false)));
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32", "fd00:1::1/128"]));
    session.shutdown("test over").await;
}

// ---- connections the peer opens ----------------------------------------------------------

/// Settings for a peer at 127.0.0.1 on a port nobody listens on: the session's own dials
/// fail, so only a connection the peer opens can bring it up.
async fn unreachable_settings() -> PeerSettings {
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let mut s = PeerSettings::new(
        "dialer",
        LOCAL_AS,
        PeerAs::Fixed(PEER_AS),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Ipv4Addr::new(10, 0, 0, 1),
    );
    s.port = port;
    s.ipv6_next_hop = Some("fd00:30::11".parse().unwrap());
    s
}

#[tokio::test]
async fn a_peer_that_dials_us_brings_the_session_up_through_the_listener() {
    let settings = unreachable_settings().await;
    let session = spawn(settings, &["10.0.0.1/32"]).await;
    let listener = ferrolb_bgp::Listener::bind(0).unwrap();
    assert!(listener.set_peers([(IpAddr::V4(Ipv4Addr::LOCALHOST), session.clone(), None)]).is_empty());
    let port = listener.local_addrs().iter().find(|a| a.is_ipv4()).unwrap().port();
    wait_for(&session, |s| s.last_error.as_deref().is_some_and(|e| e.starts_with("connect failed"))).await;

    let stream = timeout(WAIT, TcpStream::connect(("127.0.0.1", port))).await.unwrap().unwrap();
    let mut conn = PeerConn { stream, buf: Vec::new() };
    conn.handshake(PEER_AS, 90).await;
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32"]));
    let status = wait_for(&session, |s| s.established).await;
    assert_eq!(status.announced_prefixes, 1);
    assert_eq!(listener.refused(), 0);
    session.shutdown("test over").await;
}

#[tokio::test]
async fn a_connection_from_an_address_that_is_no_peer_is_closed_and_counted() {
    let listener = ferrolb_bgp::Listener::bind(0).unwrap();
    let port = listener.local_addrs().iter().find(|a| a.is_ipv4()).unwrap().port();
    let mut stream = timeout(WAIT, TcpStream::connect(("127.0.0.1", port))).await.unwrap().unwrap();
    let mut rest = Vec::new();
    let n = timeout(WAIT, stream.read_to_end(&mut rest)).await.expect("closed at once").unwrap_or(0);
    assert_eq!(n, 0, "nothing is sent to a stranger");
    assert_eq!(listener.refused(), 1);
}

#[tokio::test]
async fn an_established_session_refuses_a_second_connection_with_a_collision_cease() {
    let peer = FakePeer::bind().await;
    let session = spawn(peer.settings(), &[]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    wait_for(&session, |s| s.established).await;
    let listener = ferrolb_bgp::Listener::bind(0).unwrap();
    listener.set_peers([(IpAddr::V4(Ipv4Addr::LOCALHOST), session.clone(), None)]);
    let port = listener.local_addrs().iter().find(|a| a.is_ipv4()).unwrap().port();
    let stream = timeout(WAIT, TcpStream::connect(("127.0.0.1", port))).await.unwrap().unwrap();
    let mut second = PeerConn { stream, buf: Vec::new() };
    match second.recv().await {
        Some(Message::Notification(n)) => {
            assert_eq!(n.error.to_octets(), (6, 7), "CEASE, connection collision resolution")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(second.recv().await, None, "then closed");
    assert!(session.status().borrow().established, "the first connection is untouched");
    session.shutdown("test over").await;
}

// ---- a session bound to a device (a VRF's master) ----------------------------------------

#[tokio::test]
async fn a_session_bound_to_a_device_dials_through_it() {
    // `lo` stands in for a VRF's master device (this kernel may have no VRF device type): the
    // binding is the same SO_BINDTODEVICE call
    let peer = FakePeer::bind().await;
    let settings = PeerSettings { device: Some("lo".into()), ..peer.settings() };
    let session = spawn(settings, &["10.0.0.1/32"]).await;
    let mut conn = peer.accept().await;
    conn.handshake(PEER_AS, 90).await;
    assert_eq!(conn.full_table().await, set(&["10.0.0.1/32"]));
    wait_for(&session, |s| s.established).await;
    session.shutdown("test over").await;
}

#[tokio::test]
async fn a_device_that_does_not_exist_is_the_sessions_error_and_it_retries() {
    let peer = FakePeer::bind().await;
    let settings = PeerSettings { device: Some("no-such-vrf".into()), ..peer.settings() };
    let session = Session::spawn(settings);
    let status = wait_for(&session, |s| s.last_error.is_some()).await;
    let error = status.last_error.unwrap();
    assert!(error.contains("cannot bind the session to device \"no-such-vrf\""), "{error}");
    assert!(matches!(status.state, State::Active | State::Connect));
    session.shutdown("test over").await;
}
