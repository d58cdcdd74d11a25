//! The tokio driver: one task owns the [`Responder`] and the [`GratuitousSchedule`], and
//! moves bytes between them and one AF_PACKET socket per interface and protocol. It makes
//! no decision of its own.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::eligibility::{Eligibility, Exclusion, InterfaceInfo, InterfaceSelection};
use crate::ethernet::ETHERTYPE_ARP;
use crate::gratuitous::{GratuitousConfig, GratuitousSchedule};
use crate::ndp::{NEXT_HEADER_ICMPV6, TYPE_NEIGHBOR_SOLICITATION};
use crate::netlink;
use crate::responder::{Counters, MembershipChange, Responder};
use crate::sys;

/// How the announcer runs.
#[derive(Debug, Clone)]
pub struct L2Config {
    /// Interfaces that never get responders (docs/compatibility.md §8.4).
    pub exclusion: Exclusion,
    pub gratuitous: GratuitousConfig,
    /// How often interfaces are re-read (MetalLB: 10 s); [`L2Announcer::rescan`] forces one.
    pub rescan_interval: Duration,
}

impl Default for L2Config {
    fn default() -> Self {
        L2Config {
            exclusion: Exclusion::metallb_default(),
            gratuitous: GratuitousConfig::default(),
            rescan_interval: Duration::from_secs(10),
        }
    }
}

/// Why a call on the announcer failed.
#[derive(Debug, thiserror::Error)]
pub enum L2Error {
    #[error("layer 2 socket or interface scan: {0}")]
    Io(#[from] io::Error),
    #[error("the layer 2 announcer task has stopped")]
    Stopped,
}

/// The speaker's handle on the Layer 2 data plane. Cheap to clone; the driver task stops
/// when the last handle is dropped or [`L2Announcer::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct L2Announcer {
    commands: mpsc::UnboundedSender<Command>,
}

#[derive(Debug)]
enum Command {
    Announce { owner: String, ip: IpAddr, selection: InterfaceSelection, done: oneshot::Sender<Vec<String>> },
    Withdraw { owner: String, ip: IpAddr, done: oneshot::Sender<()> },
    Reannounce { ip: IpAddr, done: oneshot::Sender<bool> },
    Rescan { done: oneshot::Sender<io::Result<()>> },
    Counters { done: oneshot::Sender<Counters> },
    Interfaces { done: oneshot::Sender<Vec<(InterfaceInfo, Eligibility)>> },
    Shutdown { done: oneshot::Sender<()> },
}

impl L2Announcer {
    /// Scans interfaces, opens the responder sockets and spawns the driver task on the
    /// current tokio runtime. Sockets belong to the network namespace of the calling thread.
    pub async fn start(config: L2Config) -> Result<Self, L2Error> {
        let mut driver = Driver::new(&config);
        driver.rescan()?;
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(driver.run(receiver, config.rescan_interval));
        Ok(L2Announcer { commands })
    }

    /// Answers for `ip` on the selected interfaces on behalf of `owner` (a service key; the
    /// IP is refcounted across owners). A new IP gets its gratuitous burst. Returns the
    /// interfaces now answering: empty is MetalLB's `announceFailed`.
    pub async fn announce(
        &self,
        owner: &str,
        ip: IpAddr,
        selection: InterfaceSelection,
    ) -> Result<Vec<String>, L2Error> {
        self.call(|done| Command::Announce { owner: owner.to_string(), ip, selection, done }).await
    }

    /// Drops `owner`'s claim on `ip`; the last claim stops answers and bursts at once.
    pub async fn withdraw(&self, owner: &str, ip: IpAddr) -> Result<(), L2Error> {
        self.call(|done| Command::Withdraw { owner: owner.to_string(), ip, done }).await
    }

    /// Sends a new gratuitous burst for an address already answered, e.g. when a partition
    /// heals: neighbours may have cached another node's MAC meanwhile. Returns false when
    /// the address is not announced.
    pub async fn reannounce(&self, ip: IpAddr) -> Result<bool, L2Error> {
        self.call(|done| Command::Reannounce { ip, done }).await
    }

    /// Re-reads interfaces now (they are also re-read every `rescan_interval`).
    pub async fn rescan(&self) -> Result<(), L2Error> {
        Ok(self.call(|done| Command::Rescan { done }).await??)
    }

    /// The `metallb_layer2_*` counters and drop reasons so far.
    pub async fn counters(&self) -> Result<Counters, L2Error> {
        self.call(|done| Command::Counters { done }).await
    }

    /// The interfaces of the last scan and the responders each one has.
    pub async fn interfaces(&self) -> Result<Vec<(InterfaceInfo, Eligibility)>, L2Error> {
        self.call(|done| Command::Interfaces { done }).await
    }

    /// Closes every socket and ends the task.
    pub async fn shutdown(&self) -> Result<(), L2Error> {
        self.call(|done| Command::Shutdown { done }).await
    }

    async fn call<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, L2Error> {
        let (done, answer) = oneshot::channel();
        self.commands.send(command(done)).map_err(|_| L2Error::Stopped)?;
        answer.await.map_err(|_| L2Error::Stopped)
    }
}

/// An open socket and the task reading from it; dropping it stops the reader and closes
/// the socket.
struct Port {
    fd: Arc<AsyncFd<OwnedFd>>,
    reader: JoinHandle<()>,
}

impl Drop for Port {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[derive(Default)]
struct Ports {
    arp: Option<Port>,
    ndp: Option<Port>,
}

type Frame = (String, Vec<u8>);

struct Driver {
    responder: Responder,
    schedule: GratuitousSchedule,
    /// Keyed by (name, ifindex): a re-created interface gets new sockets.
    ports: BTreeMap<(String, u32), Ports>,
    frames_tx: mpsc::Sender<Frame>,
    frames_rx: mpsc::Receiver<Frame>,
}

/// The NDP socket's filter: Neighbor Solicitations only, so the task never wakes for the rest
/// of the IPv6 traffic.
const NDP_FILTER: [libc::sock_filter; 6] = icmpv6_type_filter(TYPE_NEIGHBOR_SOLICITATION);

/// Classic BPF keeping Ethernet frames that carry ICMPv6 of one type (IPv6 next header at
/// 14 + 6, ICMPv6 type at 14 + 40), for the driver and for the lab's probe tool.
pub const fn icmpv6_type_filter(icmp_type: u8) -> [libc::sock_filter; 6] {
    [
        bpf(0x30, 0, 0, 20),
        bpf(0x15, 0, 3, NEXT_HEADER_ICMPV6 as u32),
        bpf(0x30, 0, 0, 54),
        bpf(0x15, 0, 1, icmp_type as u32),
        bpf(0x06, 0, 0, 0x0004_0000),
        bpf(0x06, 0, 0, 0),
    ]
}

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

impl Driver {
    fn new(config: &L2Config) -> Self {
        let (frames_tx, frames_rx) = mpsc::channel(1024);
        Driver {
            responder: Responder::new(config.exclusion.clone()),
            schedule: GratuitousSchedule::new(config.gratuitous),
            ports: BTreeMap::new(),
            frames_tx,
            frames_rx,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, rescan_interval: Duration) {
        let mut rescan = tokio::time::interval(rescan_interval.max(Duration::from_millis(100)));
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        rescan.tick().await;
        loop {
            let deadline = self.schedule.next_deadline().map(tokio::time::Instant::from_std);
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Shutdown { done }) => {
                        self.ports.clear();
                        let _ = done.send(());
                        return;
                    }
                    Some(command) => self.command(command),
                    None => return,
                },
                Some((interface, frame)) = self.frames_rx.recv() => {
                    if let Some(reply) = self.responder.handle(&interface, &frame) {
                        self.send(&interface, &reply);
                    }
                }
                _ = sleep_until(deadline) => self.gratuitous_due(),
                _ = rescan.tick() => {
                    if self.rescan().is_err() {
                        self.responder.count_drop("rescan_error");
                    }
                }
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Announce { owner, ip, selection, done } => {
                let was_announced = self.responder.is_announced(ip);
                let announced = self.responder.announce(&owner, ip, selection);
                self.apply_memberships(announced.memberships);
                if !was_announced && self.schedule.trigger(ip, Instant::now()) {
                    self.send_gratuitous(ip);
                }
                let _ = done.send(announced.interfaces);
            }
            Command::Withdraw { owner, ip, done } => {
                let changes = self.responder.withdraw(&owner, ip);
                self.apply_memberships(changes);
                if !self.responder.is_announced(ip) {
                    self.schedule.cancel(ip);
                }
                let _ = done.send(());
            }
            Command::Reannounce { ip, done } => {
                let announced = self.responder.is_announced(ip);
                if announced && self.schedule.trigger(ip, Instant::now()) {
                    self.send_gratuitous(ip);
                }
                let _ = done.send(announced);
            }
            Command::Rescan { done } => {
                let _ = done.send(self.rescan());
            }
            Command::Counters { done } => {
                let _ = done.send(self.responder.counters().clone());
            }
            Command::Interfaces { done } => {
                let _ = done.send(self.responder.interfaces().map(|(i, e)| (i.clone(), e)).collect());
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn gratuitous_due(&mut self) {
        for ip in self.schedule.due(Instant::now()) {
            if self.responder.is_announced(ip) {
                self.send_gratuitous(ip);
            } else {
                self.schedule.cancel(ip);
            }
        }
    }

    fn send_gratuitous(&mut self, ip: IpAddr) {
        for (interface, frame) in self.responder.gratuitous(ip) {
            self.send(&interface, &frame);
        }
    }

    /// Sends on the interface's ARP or NDP socket according to the frame's EtherType; a
    /// full socket buffer or a vanished interface loses the frame, as on any lossy link.
    fn send(&mut self, interface: &str, frame: &[u8]) {
        let is_arp = frame.get(12..14) == Some(&ETHERTYPE_ARP.to_be_bytes()[..]);
        let port = self
            .ports
            .iter()
            .find(|((name, _), _)| name == interface)
            .and_then(|(_, ports)| if is_arp { ports.arp.as_ref() } else { ports.ndp.as_ref() });
        let sent = port.is_some_and(|p| sys::send_frame(p.fd.get_ref().as_fd(), frame).is_ok());
        if !sent {
            self.responder.count_drop("send_error");
        }
    }

    fn apply_memberships(&mut self, changes: Vec<MembershipChange>) {
        for change in changes {
            let (membership, join) = match change {
                MembershipChange::Join(m) => (m, true),
                MembershipChange::Leave(m) => (m, false),
            };
            let key = (membership.interface, membership.index);
            let Some(port) = self.ports.get(&key).and_then(|p| p.ndp.as_ref()) else { continue };
            let fd = port.fd.get_ref().as_fd();
            if sys::set_multicast_membership(fd, key.1, membership.group.0, join).is_err() {
                self.responder.count_drop("membership_error");
            }
        }
    }

    /// Re-reads interfaces, opens sockets for newly eligible ones, then applies membership
    /// changes (joins need the new sockets), then closes sockets no longer needed.
    fn rescan(&mut self) -> io::Result<()> {
        let scan = netlink::scan()?;
        let changes = self.responder.set_interfaces(scan);
        let wanted: Vec<((String, u32), Eligibility)> =
            self.responder.interfaces().map(|(info, e)| ((info.name.clone(), info.index), e)).collect();
        let mut first_error = None;
        for (key, eligibility) in &wanted {
            let ports = self.ports.entry(key.clone()).or_default();
            for (needed, slot, protocol, filter) in [
                (eligibility.arp, &mut ports.arp, sys::ETH_P_ARP, None),
                (eligibility.ndp, &mut ports.ndp, sys::ETH_P_IPV6, Some(&NDP_FILTER[..])),
            ] {
                if !needed {
                    *slot = None;
                } else if slot.is_none() {
                    match open_port(&key.0, key.1, protocol, filter, &self.frames_tx) {
                        Ok(port) => *slot = Some(port),
                        Err(e) => first_error = first_error.or(Some(e)),
                    }
                }
            }
        }
        self.apply_memberships(changes);
        self.ports
            .retain(|key, ports| wanted.iter().any(|(k, _)| k == key) && (ports.arp.is_some() || ports.ndp.is_some()));
        first_error.map_or(Ok(()), Err)
    }
}

fn open_port(
    interface: &str,
    index: u32,
    protocol: u16,
    filter: Option<&sys::Filter>,
    frames: &mpsc::Sender<Frame>,
) -> io::Result<Port> {
    let fd = Arc::new(sys::register(sys::packet_socket(index, protocol, filter)?)?);
    let reader = tokio::spawn(read_frames(fd.clone(), interface.to_string(), frames.clone()));
    Ok(Port { fd, reader })
}

/// Forwards every received frame to the driver task; backpressure leaves frames in the
/// kernel's socket buffer, which drops them when full.
async fn read_frames(fd: Arc<AsyncFd<OwnedFd>>, interface: String, frames: mpsc::Sender<Frame>) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok(mut guard) = fd.readable().await else { return };
        match guard.try_io(|inner| sys::recv_frame(inner.get_ref().as_fd(), &mut buf)) {
            Ok(Ok(Some(len))) => {
                if frames.send((interface.clone(), buf[..len].to_vec())).await.is_err() {
                    return;
                }
            }
            Ok(Ok(None)) | Err(_) => {}
            Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
