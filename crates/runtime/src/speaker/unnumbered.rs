//! BGP unnumbered on one interface: learns the peer's link-local address from the Router
//! Advertisements it sends there, and sends ours (router lifetime 0) so the peer learns ours,
//! as FRR does for `neighbor IFNAME interface` (its zebra sends RAs on such an interface and
//! hands the sources of the ones it hears to bgpd). The decisions are
//! [`ferrolb_l2::router_advert`]'s; this thread only moves the packets, over a raw ICMPv6 socket
//! bound to the interface (the kernel fills in and checks the checksum, RFC 3542 §3.1).
//!
//! Whatever goes wrong (the interface does not exist, the socket cannot be opened) is logged
//! once per cause, counted, and tried again; it never touches another session.

use std::io;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrolb_l2::router_advert::{ALL_ROUTERS, LinkNeighbour, RouterAdvert, router_solicitation};
use ferrolb_l2::{MacAddr, ndp::ALL_NODES};
use nix::errno::Errno;
use nix::sys::socket::{SockaddrIn6, recvfrom};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::observe::metrics::Metrics;

/// How often our RAs go out once the first few have: FRR's interval for unnumbered
/// interfaces (`BGP_UNNUM_DEFAULT_RA_INTERVAL`, 10 s).
const ADVERT_INTERVAL: Duration = Duration::from_secs(10);
/// The first RAs go out faster (1, 2, 4, 8 s, then every 10 s), as RFC 4861 §6.2.4 lets a
/// starting router do, so that a router that missed the first learns us within seconds.
const FIRST_ADVERT_GAP: Duration = Duration::from_secs(1);
/// How long our first RA is given to reach the router before the session may dial: FRR
/// accepts a connection only from a neighbour it has learnt (from that RA), and closes it
/// otherwise, which costs the session a full backoff step (1 s). Measured in the lab: with
/// no wait, one start in two lost that second.
const FIRST_ADVERT_SETTLE: Duration = Duration::from_millis(250);
/// How long to wait before trying an interface that could not be used again.
const RETRY: Duration = Duration::from_secs(2);

/// The learner of one interface's neighbour; dropping it stops the thread (within a
/// [`POLL`]).
#[derive(Debug)]
pub struct Learner {
    neighbour: watch::Receiver<Option<Ipv6Addr>>,
    stop: Arc<AtomicBool>,
}

/// How long one blocking read waits, so the thread sees the stop flag and its send schedule.
const POLL: Duration = Duration::from_millis(200);

impl Learner {
    /// Starts learning on `interface` at once, on a thread of its own: a raw socket read is
    /// blocking, and one thread per unnumbered interface is cheap.
    pub fn spawn(interface: String, metrics: Arc<Metrics>) -> Self {
        let (tx, neighbour) = watch::channel(None);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name(format!("unnumbered-{interface}"))
            .spawn(move || run(&interface, &tx, &metrics, &flag));
        if let Err(e) = spawned {
            warn!(error = %e, "BGP unnumbered: cannot start the router advertisement thread");
        }
        Self { neighbour, stop }
    }

    /// The neighbour's link-local address as it is learnt.
    pub fn neighbour(&self) -> watch::Receiver<Option<Ipv6Addr>> {
        self.neighbour.clone()
    }
}

impl Drop for Learner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn run(interface: &str, tx: &watch::Sender<Option<Ipv6Addr>>, metrics: &Metrics, stop: &AtomicBool) {
    let mut neighbour = LinkNeighbour::default();
    let mut last_problem = String::new();
    while !stop.load(Ordering::Relaxed) {
        let problem = match Link::open(interface) {
            Ok(link) => match serve(&link, &mut neighbour, tx, metrics, stop) {
                Ok(()) => return,
                Err(e) => format!("ICMPv6 socket on {interface} failed: {e}"),
            },
            Err(e) => e,
        };
        metrics.unnumbered_interface_errors.inc();
        if problem != last_problem {
            warn!(interface = %interface, "BGP unnumbered: {problem}; the peer's link-local address cannot be learnt, trying again every {} s", RETRY.as_secs());
            last_problem = problem;
        }
        let until = Instant::now() + RETRY;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL);
        }
    }
}

/// The interface as the thread uses it: its socket, index, MAC and own IPv6 addresses.
struct Link {
    socket: Socket,
    index: u32,
    mac: Option<MacAddr>,
    ours: Vec<Ipv6Addr>,
}

impl Link {
    fn open(interface: &str) -> Result<Self, String> {
        let index = nix::net::if_::if_nametoindex(interface)
            .map_err(|e| format!("interface {interface} does not exist on this node ({e})"))?;
        let socket =
            icmpv6_socket(interface, index).map_err(|e| format!("cannot open an ICMPv6 socket on {interface}: {e}"))?;
        Ok(Self { socket, index, mac: mac_of(interface), ours: own_addresses(interface) })
    }

    fn send(&self, bytes: &[u8], to: Ipv6Addr) -> io::Result<usize> {
        self.socket.send_to(bytes, &SockAddr::from(SocketAddrV6::new(to, 0, 0, self.index)))
    }
}

/// A raw ICMPv6 socket on the device, with the hop limit of 255 that Neighbor Discovery
/// needs (RFC 4861 §6.1.2: receivers drop anything else) and no loopback of our own RAs.
fn icmpv6_socket(interface: &str, index: u32) -> io::Result<Socket> {
    let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    socket.bind_device(Some(interface.as_bytes()))?;
    socket.set_multicast_hops_v6(255)?;
    socket.set_unicast_hops_v6(255)?;
    socket.set_multicast_if_v6(index)?;
    socket.set_multicast_loop_v6(false)?;
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Sends a solicitation and our first RA at once, then RAs on the schedule above, and takes
/// every RA heard, until stopped. Returns an error only when the socket fails.
fn serve(
    link: &Link,
    neighbour: &mut LinkNeighbour,
    tx: &watch::Sender<Option<Ipv6Addr>>,
    metrics: &Metrics,
    stop: &AtomicBool,
) -> io::Result<()> {
    let start = Instant::now();
    let advert = RouterAdvert::not_a_router(link.mac).encode();
    link.send(&router_solicitation(link.mac), ALL_ROUTERS)?;
    metrics.unnumbered_adverts_sent.inc();
    let mut gap = FIRST_ADVERT_GAP;
    let mut next_advert = Instant::now();
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= next_advert {
            link.send(&advert, ALL_NODES)?;
            metrics.unnumbered_adverts_sent.inc();
            next_advert = Instant::now() + gap;
            gap = (gap * 2).min(ADVERT_INTERVAL);
        }
        let (len, from) = match recvfrom::<SockaddrIn6>(link.socket.as_raw_fd(), &mut buf) {
            Ok((len, Some(from))) => (len, from),
            Ok((_, None)) | Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let taken = RouterAdvert::decode(&buf[..len.min(buf.len())])
            .ok()
            .map(|_| neighbour.heard(from.ip(), None, &link.ours, start.elapsed()));
        match taken {
            Some(Ok(changed)) => {
                metrics.unnumbered_adverts_received.inc();
                if let Some(address) = changed {
                    if let Some(wait) = FIRST_ADVERT_SETTLE.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                    info!(neighbour = %address, "BGP unnumbered: learnt the peer's link-local address from its router advertisement");
                    tx.send_replace(Some(address));
                }
            }
            // Solicitations, neighbour discovery and the rest of ICMPv6 on the link; RAs
            // from ourselves or a second router.
            Some(Err(_)) | None => {
                metrics.unnumbered_adverts_ignored.inc();
            }
        }
    }
    Ok(())
}

fn mac_of(interface: &str) -> Option<MacAddr> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{interface}/address")).ok()?;
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for octet in &mut mac {
        *octet = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(MacAddr(mac))
}

fn own_addresses(interface: &str) -> Vec<Ipv6Addr> {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else { return Vec::new() };
    addresses
        .filter(|a| a.interface_name == interface)
        .filter_map(|a| a.address?.as_sockaddr_in6().map(|s| s.ip()))
        .collect()
}
