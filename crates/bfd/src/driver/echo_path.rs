//! Where a session's echoes go (RFC 5880 §6.4): the interface towards the peer, its MAC and
//! the peer's, and the AF_PACKET socket the echoes leave and come back on.
//!
//! Echoes are addressed to the node's own IPv4 address, so no UDP socket can send them to
//! the peer: like FRR's bfdd, the driver writes whole Ethernet frames to the peer's MAC.
//! They come back the same way; the kernel would drop them as martians (their source is a
//! local address), so they are read from the link before it does, through a filter that
//! lets only IPv4 UDP to port 3785 through. One socket per interface, shared by the sessions
//! on it.
//!
//! The peer's MAC comes from the kernel's neighbour table, which holds it as soon as the
//! control packets flow (the node has sent to the peer). The peer loops its own echoes
//! through this node's kernel, which needs IP forwarding: [`forwarding_enabled`] says
//! whether the node's network namespace has it.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::echo::{EchoDatagram, EchoError, EchoPayload, RETURNED_TTL};

/// The interface and addresses one session's echoes use.
#[derive(Debug, Clone)]
pub(crate) struct EchoPath {
    pub interface: String,
    pub ifindex: u32,
    /// The node's address: source and destination of its echoes.
    pub local: Ipv4Addr,
    pub source_mac: [u8; 6],
    pub peer: Ipv4Addr,
    /// Learned from the neighbour table when the first echo is due.
    pub peer_mac: Option<[u8; 6]>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum PathError {
    #[error("no interface holds the local address {0}")]
    NoInterface(Ipv4Addr),
    #[error("interface {0} has no MAC address")]
    NoMac(String),
    #[error("cannot list the interfaces: {0}")]
    Interfaces(nix::Error),
}

impl EchoPath {
    /// The path through the interface that holds `local`.
    pub fn resolve(peer: Ipv4Addr, local: Ipv4Addr) -> Result<Self, PathError> {
        let addresses: Vec<_> = nix::ifaddrs::getifaddrs().map_err(PathError::Interfaces)?.collect();
        let interface = addresses
            .iter()
            .find(|a| a.address.as_ref().and_then(|s| s.as_sockaddr_in()).is_some_and(|s| s.ip() == local))
            .map(|a| a.interface_name.clone())
            .ok_or(PathError::NoInterface(local))?;
        let link = addresses
            .iter()
            .filter(|a| a.interface_name == interface)
            .find_map(|a| a.address.as_ref().and_then(|s| s.as_link_addr()).map(|l| (l.ifindex(), l.addr())));
        let Some((ifindex, Some(source_mac))) = link else {
            return Err(PathError::NoMac(interface));
        };
        Ok(Self { ifindex: ifindex as u32, interface, local, source_mac, peer, peer_mac: None })
    }

    /// The peer's MAC, looked up in the neighbour table when not yet known.
    pub fn peer_mac(&mut self) -> Option<[u8; 6]> {
        if self.peer_mac.is_none() {
            let table = std::fs::read_to_string("/proc/net/arp").ok()?;
            self.peer_mac = neighbour_mac(&table, self.peer, &self.interface);
        }
        self.peer_mac
    }
}

/// The MAC of `address` on `interface` in `/proc/net/arp`'s text (columns: IP address, HW
/// type, Flags, HW address, Mask, Device), if the entry is complete (flag 0x2, ATF_COM).
pub(crate) fn neighbour_mac(table: &str, address: Ipv4Addr, interface: &str) -> Option<[u8; 6]> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [ip, _, flags, mac, _, device, ..] = fields[..] else { return None };
        let complete = u32::from_str_radix(flags.trim_start_matches("0x"), 16).is_ok_and(|f| f & 0x2 != 0);
        if device != interface || !complete || ip.parse::<Ipv4Addr>().ok()? != address {
            return None;
        }
        parse_mac(mac)
    })
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    (parts.next().is_none() && mac != [0; 6]).then_some(mac)
}

/// Whether `/proc/sys/net/ipv4/ip_forward` is on in this network namespace; `None` when it
/// cannot be read.
pub(crate) fn forwarding_enabled() -> Option<bool> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").ok().map(|v| v.trim() != "0")
}

/// A returned echo of ours, or why a frame on the echo socket is not one.
pub(crate) type Arrival = Result<(EchoPayload, Ipv4Addr), &'static str>;

/// What one frame from the echo socket is: one of our echoes coming back (TTL one lower
/// than sent), or a reason to count it dropped. The peer's own echoes, passing through
/// this node's forwarding, are "echo_not_ours".
pub(crate) fn classify(frame: &[u8]) -> Arrival {
    let datagram = EchoDatagram::parse(frame).map_err(|e| e.reason())?;
    let payload = EchoPayload::decode(datagram.payload).map_err(|e: EchoError| e.reason())?;
    if datagram.ttl != RETURNED_TTL {
        return Err("echo_ttl");
    }
    if datagram.source != datagram.destination {
        return Err("echo_address_mismatch");
    }
    Ok((payload, datagram.destination))
}

/// Classic BPF keeping IPv4 UDP datagrams to port 3785 that are not fragments.
/// Every jump that fails goes to the last instruction, which drops.
const ECHO_FILTER: [libc::sock_filter; 11] = [
    bpf(0x28, 0, 0, 12),          // ldh [12]: EtherType
    bpf(0x15, 0, 8, 0x0800),      // IPv4?
    bpf(0x30, 0, 0, 23),          // ldb [23]: protocol
    bpf(0x15, 0, 6, 17),          // UDP?
    bpf(0x28, 0, 0, 20),          // ldh [20]: flags and fragment offset
    bpf(0x45, 4, 0, 0x1fff),      // a fragment after the first?
    bpf(0xb1, 0, 0, 14),          // ldxb 4 * ([14] & 0xf): IPv4 header length
    bpf(0x48, 0, 0, 16),          // ldh [x + 16]: UDP destination port
    bpf(0x15, 0, 1, 3785),        // the echo port?
    bpf(0x06, 0, 0, 0x0004_0000), // keep
    bpf(0x06, 0, 0, 0),           // drop
];

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// An open echo socket on one interface and the task reading it; dropping it stops the
/// reader and closes the socket.
#[derive(Debug)]
pub(crate) struct EchoPort {
    pub fd: Arc<AsyncFd<OwnedFd>>,
    reader: JoinHandle<()>,
}

impl Drop for EchoPort {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl EchoPort {
    pub fn open(ifindex: u32, arrivals: mpsc::Sender<Arrival>) -> io::Result<Self> {
        let socket = ferrolb_sys::packet_socket(ifindex, ferrolb_sys::ETH_P_IP, Some(&ECHO_FILTER))?;
        let fd = Arc::new(ferrolb_sys::register(socket)?);
        let reader = tokio::spawn(read_echoes(Arc::clone(&fd), arrivals));
        Ok(Self { fd, reader })
    }

    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        ferrolb_sys::send_frame(self.fd.get_ref().as_fd(), frame)
    }
}

async fn read_echoes(fd: Arc<AsyncFd<OwnedFd>>, arrivals: mpsc::Sender<Arrival>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok(mut guard) = fd.readable().await else { return };
        match guard.try_io(|inner| ferrolb_sys::recv_frame(inner.get_ref().as_fd(), &mut buf)) {
            Ok(Ok(Some(len))) => {
                if arrivals.send(classify(&buf[..len])).await.is_err() {
                    return;
                }
            }
            Ok(Ok(None)) | Err(_) => {}
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echo::echo_frame;

    const TABLE: &str = "IP address       HW type     Flags       HW address            Mask     Device
172.30.0.2       0x1         0x2         02:00:00:00:00:01     *        eth0
172.30.0.3       0x1         0x0         00:00:00:00:00:00     *        eth0
172.30.0.9       0x1         0x2         02:00:00:00:00:09     *        eth1
";

    #[test]
    fn the_peer_mac_comes_from_its_complete_entry_on_the_interface() {
        assert_eq!(neighbour_mac(TABLE, Ipv4Addr::new(172, 30, 0, 2), "eth0"), Some([2, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn an_incomplete_entry_or_another_interface_gives_no_mac() {
        assert_eq!(neighbour_mac(TABLE, Ipv4Addr::new(172, 30, 0, 3), "eth0"), None);
        assert_eq!(neighbour_mac(TABLE, Ipv4Addr::new(172, 30, 0, 9), "eth0"), None);
        assert_eq!(neighbour_mac("garbage\nline without fields", Ipv4Addr::new(172, 30, 0, 2), "eth0"), None);
    }

    fn returned(ttl: u8) -> Vec<u8> {
        let address = Ipv4Addr::new(172, 30, 0, 11);
        let mut frame = echo_frame([2; 6], [1; 6], address, 1, &EchoPayload { discriminator: 7, sequence: 1 });
        // What the peer's forwarding does: TTL down by one, header checksum adjusted.
        frame[14 + 8] = ttl;
        frame[24] = 0;
        frame[25] = 0;
        let mut sum: u32 = frame[14..34].chunks(2).map(|p| u32::from(u16::from_be_bytes([p[0], p[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        frame
    }

    #[test]
    fn an_echo_back_from_the_peer_with_ttl_254_is_ours() {
        assert_eq!(
            classify(&returned(254)),
            Ok((EchoPayload { discriminator: 7, sequence: 1 }, Ipv4Addr::new(172, 30, 0, 11)))
        );
    }

    #[test]
    fn an_echo_that_was_not_forwarded_once_is_counted_by_its_ttl() {
        assert_eq!(classify(&returned(255)), Err("echo_ttl"));
    }

    #[test]
    fn a_truncated_frame_is_counted_as_truncated() {
        assert_eq!(classify(&returned(254)[..30]), Err("echo_truncated"));
    }
}
