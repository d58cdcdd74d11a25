//! The only `unsafe` code in ferrolb: the system calls no safe wrapper covers, for AF_PACKET
//! sockets (packet(7), the Layer 2 responders and BFD echoes) and TCP-MD5 keys (tcp(7) `TCP_MD5SIG`, the
//! BGP sessions). Each function wraps one system call whose arguments are plain structs built
//! here, so the unsafe surface is the FFI call itself; every caller works on [`OwnedFd`] and
//! byte slices.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::sys::socket::{LinkAddr, MsgFlags, recvfrom, send};

/// EtherType of ARP, the protocol of the ARP socket.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv4, the protocol of the BFD echo socket.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of IPv6, the protocol of the NDP socket.
pub const ETH_P_IPV6: u16 = 0x86dd;

/// A classic BPF program (filter(2) semantics: `ret 0` drops, non-zero keeps).
pub type Filter = [libc::sock_filter];

/// Opens a non-blocking raw packet socket that receives `protocol` frames arriving on
/// `ifindex` and passing `filter`, and sends whole Ethernet frames out of it.
///
/// The socket is created with protocol 0 (it receives nothing), given its filter, and only
/// then bound to the protocol and interface, so no unfiltered frame is ever queued.
pub fn packet_socket(ifindex: u32, protocol: u16, filter: Option<&Filter>) -> io::Result<OwnedFd> {
    let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor we own.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor not owned by anything else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    if let Some(filter) = filter {
        let program = libc::sock_fprog {
            len: u16::try_from(filter.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
            filter: filter.as_ptr().cast_mut(),
        };
        setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &program)?;
    }
    let address = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    };
    // SAFETY: `address` is a valid sockaddr_ll that outlives the call, and the length
    // passed is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const address).cast::<libc::sockaddr>(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Adds or drops reception of the link-layer multicast address `group` on `ifindex`
/// (PACKET_ADD_MEMBERSHIP / PACKET_DROP_MEMBERSHIP with PACKET_MR_MULTICAST); the kernel
/// programs the NIC's multicast filter and refcounts per socket.
pub fn set_multicast_membership(fd: BorrowedFd<'_>, ifindex: u32, group: [u8; 6], join: bool) -> io::Result<()> {
    let mut mr_address = [0u8; 8];
    mr_address[..6].copy_from_slice(&group);
    let request = libc::packet_mreq {
        mr_ifindex: i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        mr_type: libc::PACKET_MR_MULTICAST as u16,
        mr_alen: 6,
        mr_address,
    };
    let option = if join { libc::PACKET_ADD_MEMBERSHIP } else { libc::PACKET_DROP_MEMBERSHIP };
    setsockopt(fd.as_raw_fd(), libc::SOL_PACKET, option, &request)
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialised `T` of the size passed; the kernel
    // copies it before returning.
    let rc = unsafe {
        libc::setsockopt(fd, level, name, (value as *const T).cast::<libc::c_void>(), size_of::<T>() as libc::socklen_t)
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// `struct tcp_md5sig` of linux/tcp.h (libc does not define it): the peer address as a
/// `__kernel_sockaddr_storage`, then flags, prefix length, key length, ifindex and key. With
/// flags 0 the kernel ignores prefix length and ifindex (the pre-4.13 layout had padding
/// there), so one key applies to exactly one peer address.
#[repr(C)]
struct TcpMd5Sig {
    addr: SockaddrStorage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; TCP_MD5SIG_MAXKEYLEN],
}

/// `__kernel_sockaddr_storage`: 128 octets, pointer-aligned.
#[repr(C, align(8))]
struct SockaddrStorage([u8; 128]);

const TCP_MD5SIG_MAXKEYLEN: usize = 80;

/// Sets the TCP-MD5 key (RFC 2385, tcp(7) `TCP_MD5SIG`) for segments exchanged with
/// `peer`'s address; an empty key removes it. Set it before `connect`, so the SYN is
/// signed: a peer expecting a key drops unsigned segments, and one with another key drops
/// ours, so a wrong key keeps the session from ever connecting. Keys are at most 80 octets.
pub fn set_tcp_md5sig(fd: BorrowedFd<'_>, peer: SocketAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > TCP_MD5SIG_MAXKEYLEN {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "TCP-MD5 key longer than 80 octets"));
    }
    // sockaddr_in / sockaddr_in6 laid out by hand: family in host order, port and address
    // in network order, the rest zero.
    let mut addr = [0u8; 128];
    match peer {
        SocketAddr::V4(a) => {
            addr[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            addr[4..8].copy_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            addr[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            addr[8..24].copy_from_slice(&a.ip().octets());
            addr[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
    let mut sig = TcpMd5Sig {
        addr: SockaddrStorage(addr),
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; TCP_MD5SIG_MAXKEYLEN],
    };
    sig.key[..key.len()].copy_from_slice(key);
    setsockopt(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// Receives one frame into `buf`. `Ok(None)` for frames this host sent itself
/// (PACKET_OUTGOING), which a responder must never answer.
pub fn recv_frame(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let (len, from) = recvfrom::<LinkAddr>(fd.as_raw_fd(), buf)?;
    if from.is_some_and(|a| a.pkttype() == libc::PACKET_OUTGOING) {
        return Ok(None);
    }
    Ok(Some(len.min(buf.len())))
}

/// Sends one whole Ethernet frame out of the socket's bound interface.
pub fn send_frame(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<()> {
    send(fd.as_raw_fd(), frame, MsgFlags::MSG_DONTWAIT)?;
    Ok(())
}

/// Registers a socket from [`packet_socket`] with the tokio reactor for readability.
pub fn register(fd: OwnedFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is an open descriptor that stays open, and always returns the
    // same number from `as_raw_fd`, until the `AsyncFd` that owns it drops it.
    let registered = unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) };
    registered.map_err(|e| e.into())
}
