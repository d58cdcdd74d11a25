//! Interface scan over rtnetlink (RTM_GETLINK and RTM_GETADDR dumps, rtnetlink(7)).
//!
//! Netlink answers for the network namespace of the socket, i.e. of the thread that opened
//! it, whereas `/sys/class/net` shows the namespace sysfs was mounted in; the speaker may run
//! in a namespace entered with setns(2) (the lab, the tests), so the kernel is asked
//! directly. IFLA_MASTER is the netlink form of MetalLB's `/sys/class/net/<if>/master` test.

use std::collections::BTreeMap;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send, socket,
};

use crate::eligibility::InterfaceInfo;
use crate::ethernet::MacAddr;

const NLMSG_HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const IFF_UP: u32 = libc::IFF_UP as u32;
const IFF_BROADCAST: u32 = libc::IFF_BROADCAST as u32;
const IFF_NOARP: u32 = libc::IFF_NOARP as u32;

/// Reads every interface of the caller's network namespace.
pub fn scan() -> io::Result<Vec<InterfaceInfo>> {
    let links = dump(libc::RTM_GETLINK, &[0u8; IFINFOMSG_LEN])?;
    let mut family = [0u8; IFADDRMSG_LEN];
    family[0] = libc::AF_INET6 as u8;
    let addresses = dump(libc::RTM_GETADDR, &family)?;
    Ok(interfaces_from(&links, &addresses))
}

/// Sends one dump request and collects the payloads of every reply message.
fn dump(request_type: u16, body: &[u8]) -> io::Result<Vec<(u16, Vec<u8>)>> {
    let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    let mut request = Vec::with_capacity(NLMSG_HEADER_LEN + body.len());
    request.extend_from_slice(&((NLMSG_HEADER_LEN + body.len()) as u32).to_ne_bytes());
    request.extend_from_slice(&request_type.to_ne_bytes());
    request.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes());
    request.extend_from_slice(&0u32.to_ne_bytes());
    request.extend_from_slice(body);
    send(fd.as_raw_fd(), &request, MsgFlags::empty())?;

    let mut messages = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        match split_messages(&buf[..n], &mut messages) {
            Ok(true) => return Ok(messages),
            Ok(false) => continue,
            Err(errno) => return Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// Appends the (type, payload) of each netlink message in `buf`; Ok(true) at NLMSG_DONE,
/// Err(errno) on NLMSG_ERROR. A truncated message ends the datagram.
fn split_messages(mut buf: &[u8], out: &mut Vec<(u16, Vec<u8>)>) -> Result<bool, i32> {
    while buf.len() >= NLMSG_HEADER_LEN {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < NLMSG_HEADER_LEN || len > buf.len() {
            break;
        }
        let payload = &buf[NLMSG_HEADER_LEN..len];
        match i32::from(kind) {
            libc::NLMSG_DONE => return Ok(true),
            libc::NLMSG_ERROR => {
                let errno = payload.get(..4).map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                if errno != 0 {
                    return Err(-errno);
                }
            }
            _ => out.push((kind, payload.to_vec())),
        }
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    Ok(false)
}

/// Joins RTM_NEWLINK and RTM_NEWADDR payloads into interface descriptions.
fn interfaces_from(links: &[(u16, Vec<u8>)], addresses: &[(u16, Vec<u8>)]) -> Vec<InterfaceInfo> {
    let mut link_local: BTreeMap<u32, Ipv6Addr> = BTreeMap::new();
    for (_, payload) in addresses.iter().filter(|(kind, _)| *kind == libc::RTM_NEWADDR) {
        let Some(header) = payload.get(..IFADDRMSG_LEN) else { continue };
        let index = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
        for (kind, value) in attributes(&payload[IFADDRMSG_LEN..]) {
            if kind == libc::IFA_ADDRESS
                && let Ok(octets) = <[u8; 16]>::try_from(value)
            {
                let addr = Ipv6Addr::from(octets);
                if addr.is_unicast_link_local() {
                    link_local.entry(index).or_insert(addr);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (_, payload) in links.iter().filter(|(kind, _)| *kind == libc::RTM_NEWLINK) {
        let Some(header) = payload.get(..IFINFOMSG_LEN) else { continue };
        let index = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
        let flags = u32::from_ne_bytes([header[8], header[9], header[10], header[11]]);
        let (mut name, mut mac, mut has_master) = (None, MacAddr::ZERO, false);
        for (kind, value) in attributes(&payload[IFINFOMSG_LEN..]) {
            match kind {
                libc::IFLA_IFNAME => {
                    let bytes = value.split(|b| *b == 0).next().unwrap_or_default();
                    name = Some(String::from_utf8_lossy(bytes).into_owned());
                }
                libc::IFLA_ADDRESS => {
                    if let Ok(octets) = <[u8; 6]>::try_from(value) {
                        mac = MacAddr(octets);
                    }
                }
                libc::IFLA_MASTER => has_master = value.iter().any(|b| *b != 0),
                _ => {}
            }
        }
        let Some(name) = name else { continue };
        out.push(InterfaceInfo {
            name,
            index,
            mac,
            up: flags & IFF_UP != 0,
            broadcast: flags & IFF_BROADCAST != 0,
            noarp: flags & IFF_NOARP != 0,
            has_master,
            link_local: link_local.get(&index).copied(),
        });
    }
    out
}

/// The (type, value) pairs of a run of rtattrs (4-byte aligned, length includes the
/// 4-byte header); stops at the first malformed one.
fn attributes(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    out
}

fn align4(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtattr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align4(out.len()), 0);
        out
    }

    fn link(index: u32, flags: u32, attrs: &[Vec<u8>]) -> (u16, Vec<u8>) {
        let mut payload = vec![0u8, 0, 1, 0];
        payload.extend_from_slice(&index.to_ne_bytes());
        payload.extend_from_slice(&flags.to_ne_bytes());
        payload.extend_from_slice(&0u32.to_ne_bytes());
        attrs.iter().for_each(|a| payload.extend_from_slice(a));
        (libc::RTM_NEWLINK, payload)
    }

    fn address(index: u32, addr: Ipv6Addr) -> (u16, Vec<u8>) {
        let mut payload = vec![libc::AF_INET6 as u8, 64, 0, 0];
        payload.extend_from_slice(&index.to_ne_bytes());
        payload.extend_from_slice(&rtattr(libc::IFA_ADDRESS, &addr.octets()));
        (libc::RTM_NEWADDR, payload)
    }

    #[test]
    fn links_and_link_local_addresses_become_interface_infos() {
        let links = vec![
            link(
                2,
                IFF_UP | IFF_BROADCAST,
                &[rtattr(libc::IFLA_IFNAME, b"eth0\0"), rtattr(libc::IFLA_ADDRESS, &[2, 0, 0, 0, 0, 0x11])],
            ),
            link(
                3,
                IFF_UP | IFF_BROADCAST,
                &[rtattr(libc::IFLA_IFNAME, b"eth1\0"), rtattr(libc::IFLA_MASTER, &7u32.to_ne_bytes())],
            ),
            link(4, IFF_NOARP, &[rtattr(libc::IFLA_IFNAME, b"tun0\0")]),
        ];
        let addresses = vec![
            address(2, "fd00:30::11".parse().unwrap()),
            address(2, "fe80::11".parse().unwrap()),
            address(3, "fe80::12".parse().unwrap()),
        ];
        let infos = interfaces_from(&links, &addresses);
        assert_eq!(infos.len(), 3);
        assert_eq!(infos[0].name, "eth0");
        assert_eq!(infos[0].mac, "02:00:00:00:00:11".parse().unwrap());
        assert!(infos[0].up && infos[0].broadcast && !infos[0].noarp && !infos[0].has_master);
        assert_eq!(infos[0].link_local, Some("fe80::11".parse().unwrap()));
        assert!(infos[1].has_master);
        assert!(infos[2].noarp && !infos[2].up && infos[2].link_local.is_none());
    }

    #[test]
    fn a_truncated_attribute_ends_the_list_without_panicking() {
        let mut buf = rtattr(libc::IFLA_IFNAME, b"eth0\0");
        buf.extend_from_slice(&[200, 0, 1, 0, 1]);
        assert_eq!(attributes(&buf).len(), 1);
        assert!(attributes(&[3, 0]).is_empty());
    }

    #[test]
    fn netlink_messages_split_until_done_and_report_errors() {
        let mut datagram = Vec::new();
        for (kind, payload) in [(libc::RTM_NEWLINK, vec![1u8, 2, 3, 4]), (libc::NLMSG_DONE as u16, vec![0; 4])] {
            datagram.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
            datagram.extend_from_slice(&kind.to_ne_bytes());
            datagram.extend_from_slice(&[0; 10]);
            datagram.extend_from_slice(&payload);
        }
        let mut out = Vec::new();
        assert_eq!(split_messages(&datagram, &mut out), Ok(true));
        assert_eq!(out, vec![(libc::RTM_NEWLINK, vec![1, 2, 3, 4])]);

        let mut error = 20u32.to_ne_bytes().to_vec();
        error.extend_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
        error.extend_from_slice(&[0; 10]);
        error.extend_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert_eq!(split_messages(&error, &mut Vec::new()), Err(libc::EPERM));
    }
}
