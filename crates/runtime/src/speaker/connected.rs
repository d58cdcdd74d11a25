//! The networks this node is directly connected to: every interface address with its prefix
//! length, from getifaddrs(3). They decide whether a BGP peer is one hop away (BFD single- or
//! multi-hop, and whether an eBGP session sent with TTL 1 can reach it). And the node's
//! network devices (`/sys/class/net`), among which a BGPPeer's VRF must be.

use std::net::IpAddr;

use ipnet::IpNet;

/// The connected networks now; `None` when the kernel cannot be asked.
pub fn networks() -> Option<Vec<IpNet>> {
    let addresses = nix::ifaddrs::getifaddrs().ok()?;
    let mut out: Vec<IpNet> = addresses
        .filter_map(|a| {
            let (address, mask) = (a.address?, a.netmask?);
            match (address.as_sockaddr_in(), mask.as_sockaddr_in(), address.as_sockaddr_in6(), mask.as_sockaddr_in6()) {
                (Some(ip), Some(mask), _, _) => network(IpAddr::V4(ip.ip()), IpAddr::V4(mask.ip())),
                (_, _, Some(ip), Some(mask)) => network(IpAddr::V6(ip.ip()), IpAddr::V6(mask.ip())),
                _ => None,
            }
        })
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// The names of the node's network devices; `None` when they cannot be listed.
pub fn devices() -> Option<std::collections::BTreeSet<String>> {
    let entries = std::fs::read_dir("/sys/class/net").ok()?;
    Some(entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
}

/// The network of `address` under `mask`; `None` for a mask that is not a prefix (a run of
/// ones then zeros) or of the other family.
fn network(address: IpAddr, mask: IpAddr) -> Option<IpNet> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let len = bits.leading_ones();
    if bits.checked_shl(len).unwrap_or(0) != 0 || address.is_ipv4() != mask.is_ipv4() {
        return None;
    }
    IpNet::new(address, u8::try_from(len.min(width)).ok()?).ok().map(|n| n.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_and_its_mask_give_the_network() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let table = [
            ("172.30.0.11", "255.255.255.0", Some("172.30.0.0/24")),
            ("10.1.2.3", "255.255.255.255", Some("10.1.2.3/32")),
            ("10.1.2.3", "0.0.0.0", Some("0.0.0.0/0")),
            ("fd00:30::11", "ffff:ffff:ffff:ffff::", Some("fd00:30::/64")),
            ("fe80::1", "ffff:ffff:ffff:ffff::", Some("fe80::/64")),
            ("10.1.2.3", "255.0.255.0", None),
            ("10.1.2.3", "ffff::", None),
        ];
        for (address, mask, expected) in table {
            let got = network(ip(address), ip(mask)).map(|n| n.to_string());
            assert_eq!(got.as_deref(), expected, "{address}/{mask}");
        }
    }

    #[test]
    fn this_machine_has_at_least_its_loopback_network_and_device() {
        let nets = networks().expect("getifaddrs");
        assert!(nets.iter().any(|n| n.contains(&ip_loopback())), "{nets:?}");
        assert!(devices().expect("/sys/class/net").contains("lo"));
    }

    fn ip_loopback() -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    }
}
