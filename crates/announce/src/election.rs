//! The Layer 2 ranking every speaker computes alone and identically (docs/compatibility.md
//! §4.2 step 8).
//!
//! Higher preference score first; among equals, the SHA-256 of `node + "#" + firstIP`,
//! compared as big-endian bytes, lowest first. The hash spreads services over nodes, and
//! since each node's hash does not depend on the other candidates, adding a node moves a
//! service only to that node, and removing a node that is not the winner moves nothing.

use std::cmp::Reverse;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// The tie-breaking hash of `node` for a service whose first ingress IP is `first_ip`.
///
/// The IP is in Go's `net.IP.String()` form, which `IpAddr`'s `Display` matches once an
/// IPv4-mapped address has been read as IPv4.
pub fn election_hash(node: &str, first_ip: IpAddr) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(node.as_bytes());
    hasher.update(b"#");
    hasher.update(first_ip.to_string().as_bytes());
    hasher.finalize().into()
}

/// `candidates` as `(node, preference score)`, best first.
pub fn rank<'n>(candidates: impl IntoIterator<Item = (&'n str, u64)>, first_ip: IpAddr) -> Vec<&'n str> {
    let mut keyed: Vec<(Reverse<u64>, [u8; 32], &str)> =
        candidates.into_iter().map(|(node, score)| (Reverse(score), election_hash(node, first_ip), node)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, node)| node).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn unweighted<'n>(nodes: &[&'n str]) -> Vec<(&'n str, u64)> {
        nodes.iter().map(|n| (*n, 0)).collect()
    }

    #[test]
    fn three_nodes_rank_as_metallb_ranks_them_for_10_0_0_1() {
        assert_eq!(rank(unweighted(&["node-a", "node-b", "node-c"]), ip("10.0.0.1")), ["node-b", "node-a", "node-c"]);
    }

    #[test]
    fn three_nodes_rank_as_metallb_ranks_them_for_10_0_0_2() {
        assert_eq!(rank(unweighted(&["node-a", "node-b", "node-c"]), ip("10.0.0.2")), ["node-b", "node-c", "node-a"]);
    }

    #[test]
    fn the_order_candidates_are_given_in_does_not_matter() {
        assert_eq!(rank(unweighted(&["node-c", "node-a", "node-b"]), ip("10.0.0.1")), ["node-b", "node-a", "node-c"]);
    }

    #[test]
    fn the_hash_covers_node_hash_sign_and_ip_text() {
        let expected: [u8; 32] = Sha256::digest(b"node-a#10.0.0.1").into();
        assert_eq!(election_hash("node-a", ip("10.0.0.1")), expected);
        let v6: [u8; 32] = Sha256::digest(b"node-a#2001:db8::1").into();
        assert_eq!(election_hash("node-a", ip("2001:db8:0::1")), v6);
    }

    #[test]
    fn a_higher_preference_score_beats_the_hash() {
        let ranked = rank([("node-a", 10), ("node-b", 0), ("node-c", 10)], ip("10.0.0.1"));
        assert_eq!(ranked, ["node-a", "node-c", "node-b"]);
    }
}
