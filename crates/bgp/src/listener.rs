//! The passive side: accepting the connections routers open to the speaker (TCP port 179),
//! as a router configured to initiate expects. Each accepted connection is handed to the
//! session of the peer it comes from ([`Session::offer_inbound`]), whose FSM resolves a
//! collision with its own connection (RFC 4271 §6.8); a connection from an address that is
//! no configured peer is closed at once and counted.
//!
//! Two sockets, one per family (the IPv6 one IPv6-only), so that TCP-MD5 keys (RFC 2385) are
//! set on the listening socket of the peer's family: the kernel then drops a peer's SYN that
//! lacks its key before any connection exists.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::Session;

/// How many connections the kernel queues before we accept them.
const BACKLOG: i32 = 128;
/// At most this many refused addresses are remembered (each logged once); beyond, refusals
/// are only counted, so a scan of the port cannot grow the set without bound.
const LOGGED_ADDRESSES: usize = 1024;

/// The accepting sockets and the peers whose connections they take.
#[derive(Debug)]
pub struct Listener {
    shared: Arc<Mutex<Peers>>,
    /// Connections closed because they came from no configured peer (or an ambiguous one).
    refused: Arc<AtomicU64>,
    sockets: Vec<Arc<TcpListener>>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Peers {
    /// The sessions with each peer address (more than one: sessions on several ports to
    /// one router, which an inbound connection cannot be told apart for).
    sessions: HashMap<IpAddr, Vec<Session>>,
    /// The TCP-MD5 key set on the listening socket for each peer address.
    keys: HashMap<IpAddr, String>,

    /// Addresses already logged as refused, so a router retrying every few seconds is
    /// logged once.
    logged: std::collections::HashSet<IpAddr>,
}

impl Listener {
    /// Listens on `port` of every IPv4 and IPv6 address. Fails only when neither family can
    /// be bound (port in use, no permission to bind a port below 1024); a host without IPv6
    /// listens on IPv4 alone.
    pub fn bind(port: u16) -> io::Result<Listener> {
        let v4 = bind_one(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
        let v6 = bind_one(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
        let sockets: Vec<Arc<TcpListener>> = match (v4, v6) {
            (Err(e), Err(_)) => return Err(e),
            (v4, v6) => v4.into_iter().chain(v6).map(Arc::new).collect(),
        };
        let shared = Arc::new(Mutex::new(Peers::default()));
        let refused = Arc::new(AtomicU64::new(0));
        let tasks = sockets
            .iter()
            .map(|s| tokio::spawn(accept_loop(Arc::clone(s), Arc::clone(&shared), Arc::clone(&refused))))
            .collect();
        Ok(Listener { shared, refused, sockets, tasks })
    }

    /// The addresses listened on.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().filter_map(|s| s.local_addr().ok()).collect()
    }

    /// Replaces the peers whose connections are taken: each with its session and its
    /// TCP-MD5 key, which is set on the listening socket of its family (and removed for
    /// peers that are gone or no longer have one). A key that cannot be set is returned
    /// as the peer's error; the other peers are unaffected.
    pub fn set_peers(
        &self,
        peers: impl IntoIterator<Item = (IpAddr, Session, Option<String>)>,
    ) -> Vec<(IpAddr, io::Error)> {
        let mut shared = lock(&self.shared);
        let mut sessions: HashMap<IpAddr, Vec<Session>> = HashMap::new();
        let mut keys: HashMap<IpAddr, String> = HashMap::new();
        for (address, session, key) in peers {
            let address = address.to_canonical();
            sessions.entry(address).or_default().push(session);
            if let Some(key) = key.filter(|k| !k.is_empty()) {
                keys.insert(address, key);
            }
        }
        let mut errors = Vec::new();
        for (address, key) in &keys {
            if shared.keys.get(address) == Some(key) {
                continue;
            }
            if let Err(e) = self.set_key(*address, key.as_bytes()) {
                errors.push((*address, e));
            }
        }
        for address in shared.keys.keys().filter(|a| !keys.contains_key(a)) {
            // an empty key deletes the peer's; one never set is no error worth reporting
            let _ = self.set_key(*address, &[]);
        }
        shared.sessions = sessions;
        shared.keys = keys;
        errors
    }

    /// Connections refused so far (from no configured peer).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The counter behind [`Self::refused`], for a metric that follows it.
    pub fn refusal_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.refused)
    }

    fn set_key(&self, address: IpAddr, key: &[u8]) -> io::Result<()> {
        let socket =
            self.sockets.iter().find(|s| s.local_addr().is_ok_and(|a| a.is_ipv4() == address.is_ipv4())).ok_or_else(
                || io::Error::new(io::ErrorKind::Unsupported, "no listening socket of the peer's family"),
            )?;
        ferrolb_sys::set_tcp_md5sig(socket.as_fd(), SocketAddr::new(address, 0), key)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn bind_one(address: SocketAddr) -> io::Result<TcpListener> {
    let domain = if address.is_ipv4() { socket2::Domain::IPV4 } else { socket2::Domain::IPV6 };
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

async fn accept_loop(socket: Arc<TcpListener>, shared: Arc<Mutex<Peers>>, refused: Arc<AtomicU64>) {
    loop {
        let (stream, remote) = match socket.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // out of descriptors and the like: wait a little rather than spin
                warn!(error = %e, "accepting a BGP connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let address = remote.ip().to_canonical();
        let target = match lock(&shared).sessions.get(&address).map(Vec::as_slice) {
            Some([session]) => Ok(session.clone()),
            found => Err(found.is_some()),
        };
        match target {
            Ok(session) => {
                if !session.offer_inbound(stream) {
                    info!(from = %remote, "BGP connection from a peer whose session is ending: closed");
                }
            }
            Err(ambiguous) => {
                drop(stream);
                refused.fetch_add(1, Ordering::Relaxed);
                let mut peers = lock(&shared);
                let first = peers.logged.len() < LOGGED_ADDRESSES && peers.logged.insert(address);
                drop(peers);
                if first {
                    let why = if ambiguous {
                        "several sessions with this address (different ports): which one it is for cannot be told"
                    } else {
                        "not a configured BGPPeer of this node"
                    };
                    warn!(from = %remote, "BGP connection refused: {why} (logged once per address)");
                }
            }
        }
    }
}

fn lock(shared: &Mutex<Peers>) -> MutexGuard<'_, Peers> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}
