//! Sends one IPv6 Neighbor Solicitation built with this crate's codec out of an interface
//! and prints every Neighbor Advertisement for its target that comes back within the
//! timeout, for lab runs (tests/lab/e2e-ndp.sh). Run it only inside a lab namespace.
//!
//! ```text
//! ndp_probe --interface IF --target ADDR --source ADDR|:: [--unicast MAC] [--no-slla]
//!           [--hop-limit N] [--timeout-ms MS]
//! ```
//!
//! The solicitation goes from the interface's MAC to the target's solicited-node group, or
//! with `--unicast MAC` to the target address itself at MAC (a NUD probe); it carries the
//! interface's MAC as source link-layer address option unless `--no-slla`; `--hop-limit`
//! overrides the 255 of RFC 4861 §7.1 (not covered by the ICMPv6 checksum). Output, one line
//! each:
//!
//! ```text
//! sent NS <eth src> > <eth dst> <ip src> > <ip dst> target <addr> hlim <n> slla <mac|none>
//! NA <eth src> > <eth dst> <ip src> > <ip dst> S=<0|1> O=<0|1> R=<0|1> target <addr> tlla <mac|none>
//! ```
//!
//! Exit status: 0 when at least one advertisement arrived, 1 when none, 2 on a usage or
//! socket error.

use std::net::Ipv6Addr;
use std::os::fd::AsFd;
use std::time::Duration;

use ferrolb_l2::ndp::{TYPE_NEIGHBOR_ADVERTISEMENT, solicited_node};
use ferrolb_l2::{MacAddr, NdpMessage, NdpPacket};

/// Offset of the hop limit in the frame: Ethernet header, then byte 7 of the IPv6 header.
const HOP_LIMIT_AT: usize = 14 + 7;

/// Only Neighbor Advertisements reach the socket.
const NA_FILTER: [libc::sock_filter; 6] = ferrolb_l2::driver::icmpv6_type_filter(TYPE_NEIGHBOR_ADVERTISEMENT);

fn usage() -> ! {
    eprintln!(
        "usage: ndp_probe --interface IF --target ADDR --source ADDR|:: [--unicast MAC] [--no-slla] \
         [--hop-limit N] [--timeout-ms MS]"
    );
    std::process::exit(2)
}

fn fail(what: &str, error: impl std::fmt::Display) -> ! {
    eprintln!("ndp_probe: {what}: {error}");
    std::process::exit(2)
}

/// The interface's index and MAC, from getifaddrs(3) (its AF_PACKET entry).
fn link_of(interface: &str) -> (u32, MacAddr) {
    let addresses = nix::ifaddrs::getifaddrs().unwrap_or_else(|e| fail("getifaddrs", e));
    for entry in addresses.filter(|a| a.interface_name == interface) {
        let Some(link) = entry.address.as_ref().and_then(|a| a.as_link_addr()) else { continue };
        if let (Some(mac), Ok(index)) = (link.addr(), u32::try_from(link.ifindex())) {
            return (index, MacAddr(mac));
        }
    }
    fail(interface, "no such interface with a MAC address")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (mut interface, mut target, mut source) = (None::<String>, None::<Ipv6Addr>, None::<Ipv6Addr>);
    let (mut unicast, mut slla, mut hop_limit, mut timeout) = (None::<MacAddr>, true, None::<u8>, 1000u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--interface" => interface = Some(value()),
            "--target" => target = Some(value().parse().unwrap_or_else(|_| usage())),
            "--source" => source = Some(value().parse().unwrap_or_else(|_| usage())),
            "--unicast" => unicast = Some(value().parse().unwrap_or_else(|_| usage())),
            "--no-slla" => slla = false,
            "--hop-limit" => hop_limit = Some(value().parse().unwrap_or_else(|_| usage())),
            "--timeout-ms" => timeout = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let (Some(interface), Some(target), Some(source)) = (interface, target, source) else { usage() };
    let (index, mac) = link_of(&interface);

    let (destination, destination_mac) = match unicast {
        Some(to) => (target, to),
        None => (solicited_node(target), MacAddr::ipv6_multicast(solicited_node(target))),
    };
    let solicitation = NdpPacket {
        source,
        destination,
        message: NdpMessage::Solicitation { target, source_lla: slla.then_some(mac) },
    };
    let mut frame = solicitation.encode_frame(mac, destination_mac);
    if let Some(hops) = hop_limit {
        frame[HOP_LIMIT_AT] = hops;
    }

    // The socket is open (and filtered) before the solicitation leaves, so no answer is missed.
    let socket = ferrolb_sys::packet_socket(index, ferrolb_sys::ETH_P_IPV6, Some(&NA_FILTER[..]))
        .unwrap_or_else(|e| fail("AF_PACKET socket", e));
    let socket = ferrolb_sys::register(socket).unwrap_or_else(|e| fail("tokio registration", e));
    ferrolb_sys::send_frame(socket.get_ref().as_fd(), &frame).unwrap_or_else(|e| fail("send", e));
    let slla_text = if slla { mac.to_string() } else { "none".to_string() };
    println!(
        "sent NS {mac} > {destination_mac} {source} > {destination} target {target} hlim {} slla {slla_text}",
        frame[HOP_LIMIT_AT]
    );

    let deadline = tokio::time::Instant::now() + Duration::from_millis(timeout);
    let mut buf = vec![0u8; 2048];
    let mut answers = 0;
    while let Ok(ready) = tokio::time::timeout_at(deadline, socket.readable()).await {
        let mut guard = ready.unwrap_or_else(|e| fail("poll", e));
        let len = match guard.try_io(|inner| ferrolb_sys::recv_frame(inner.get_ref().as_fd(), &mut buf)) {
            Ok(Ok(Some(len))) => len,
            Ok(Ok(None)) | Err(_) => continue,
            Ok(Err(e)) => fail("receive", e),
        };
        let (eth, packet) = match NdpPacket::decode_frame(&buf[..len]) {
            Ok(decoded) => decoded,
            Err(error) => {
                eprintln!("ndp_probe: ignored an undecodable advertisement: {error}");
                continue;
            }
        };
        let NdpMessage::Advertisement { router, solicited, override_flag, target: t, target_lla } = packet.message
        else {
            continue;
        };
        if t != target {
            continue;
        }
        answers += 1;
        println!(
            "NA {} > {} {} > {} S={} O={} R={} target {t} tlla {}",
            eth.source,
            eth.destination,
            packet.source,
            packet.destination,
            u8::from(solicited),
            u8::from(override_flag),
            u8::from(router),
            target_lla.map_or("none".to_string(), |m| m.to_string())
        );
    }
    std::process::exit(if answers > 0 { 0 } else { 1 })
}
