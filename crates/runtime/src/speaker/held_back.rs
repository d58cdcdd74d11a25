//! Routes a BGP session holds back for want of a next hop of their family, as notes on the
//! BGPPeer: a session that carries IPv6 routes over IPv4 (`dualStackAddressFamily`, or an
//! IPv4 session to a peer that negotiated IPv6) needs a global IPv6 next hop, from the Node's
//! addresses or the session's interface, and an IPv6 session carrying IPv4 routes an IPv4
//! one. Without it the session is up and serves the other family, so the peer is served in
//! part: the speaker says so on the BGPPeer (event `PeerServedInPart`, its ConfigurationState
//! condition, `ferrolb_bgp_peers_served_in_part`) as it does for the configuration-time
//! notes of [`ferrolb_announce::sessions::peer_notes`], where only the running session knows.
//!
//! [`notes`] is the decision, from the sessions' statuses alone; the speaker moves it.

use ferrolb_announce::sessions::PeerNote;
use ferrolb_bgp::{AfiSafi, HoldCause, SessionStatus};

/// The served-in-part notes of this node's sessions, given as (BGPPeer name, status), in
/// their order: one per family an established session holds back for want of a next hop of
/// that family. A session that is not established keeps the notes `previous` had for its
/// peer: what the node lacks does not change with the session's state, and a session that
/// flaps must not say it again each time it comes back. A peer with no session any more
/// loses its notes. Families the peer did not negotiate are no note: that is the peer's
/// choice, not something this node lacks.
pub fn notes(sessions: &[(String, SessionStatus)], previous: &[PeerNote]) -> Vec<PeerNote> {
    let mut out = Vec::new();
    for (peer, status) in sessions {
        if !status.established {
            out.extend(previous.iter().filter(|n| &n.peer == peer).cloned());
            continue;
        }
        for held in status.held_back.iter().filter(|h| h.cause == HoldCause::NoNextHop) {
            out.push(PeerNote { peer: peer.clone(), served: true, message: message(held.family) });
        }
    }
    out
}

/// What the note says: the family, why, and the fix. No prefix count: the note stays the
/// same (one event) as Services come and go; the metric carries the count.
fn message(family: AfiSafi) -> String {
    let (other, name) = match family {
        AfiSafi::IPV6_UNICAST => ("IPv4", "IPv6"),
        _ => ("IPv6", "IPv4"),
    };
    let (article, address) =
        if family == AfiSafi::IPV6_UNICAST { ("a", "global IPv6 address") } else { ("an", "IPv4 address") };
    format!(
        "{family} routes are not sent to this peer: the session runs over {other} and this node has no {name} next hop for them (no {name} address on its Node object, none configured, and no {address} on the interface towards the peer); give the Node an {name} address or put {article} {address} on the interface towards the peer; the session's other routes are sent"
    )
}

#[cfg(test)]
mod tests {
    use ferrolb_bgp::{HeldBack, State};

    use super::*;

    fn status(established: bool, held_back: Vec<HeldBack>) -> SessionStatus {
        SessionStatus {
            state: if established { State::Established } else { State::Active },
            established,
            last_error: None,
            updates_sent: 0,
            announced_prefixes: 0,
            pending_prefixes: 0,
            held_back,
            peer: "172.30.0.1:179".into(),
        }
    }

    fn held(family: AfiSafi, cause: HoldCause, prefixes: u64) -> HeldBack {
        HeldBack { family, cause, prefixes }
    }

    #[test]
    fn an_established_session_without_a_next_hop_of_a_family_serves_its_peer_in_part() {
        let sessions = [
            ("dual".to_owned(), status(true, vec![held(AfiSafi::IPV6_UNICAST, HoldCause::NoNextHop, 3)])),
            ("fine".to_owned(), status(true, vec![])),
        ];
        let notes = notes(&sessions, &[]);
        assert_eq!(notes.len(), 1);
        assert_eq!((notes[0].peer.as_str(), notes[0].served), ("dual", true));
        let m = &notes[0].message;
        assert!(m.starts_with("ipv6-unicast routes are not sent to this peer: the session runs over IPv4"), "{m}");
        assert!(
            m.contains("give the Node an IPv6 address or put a global IPv6 address on the interface towards the peer"),
            "{m}"
        );
        assert!(!m.contains('3'), "no count in the message, so that it stays one note: {m}");
    }

    #[test]
    fn ipv4_routes_over_an_ipv6_session_are_named_too() {
        let sessions = [("v6".to_owned(), status(true, vec![held(AfiSafi::IPV4_UNICAST, HoldCause::NoNextHop, 1)]))];
        let notes = notes(&sessions, &[]);
        assert!(
            notes[0].message.starts_with("ipv4-unicast routes are not sent to this peer: the session runs over IPv6")
        );
        assert!(notes[0].message.contains("give the Node an IPv4 address or put an IPv4 address on the interface"));
    }

    #[test]
    fn a_family_the_peer_did_not_negotiate_is_no_note() {
        let sessions = [("p".to_owned(), status(true, vec![held(AfiSafi::IPV6_UNICAST, HoldCause::NotNegotiated, 1)]))];
        assert_eq!(notes(&sessions, &[]), []);
    }

    #[test]
    fn the_note_stays_while_the_session_is_down_and_goes_once_the_routes_are_sent() {
        let missing = [("dual".to_owned(), status(true, vec![held(AfiSafi::IPV6_UNICAST, HoldCause::NoNextHop, 1)]))];
        let first = notes(&missing, &[]);
        // more prefixes of that family: the same note
        let more = [("dual".to_owned(), status(true, vec![held(AfiSafi::IPV6_UNICAST, HoldCause::NoNextHop, 9)]))];
        assert_eq!(notes(&more, &first), first);
        // the session down: kept, so that coming back is no new note
        let down = [("dual".to_owned(), status(false, vec![]))];
        assert_eq!(notes(&down, &first), first);
        // up with a next hop (the Node got an IPv6 address): gone
        let sent = [("dual".to_owned(), status(true, vec![]))];
        assert_eq!(notes(&sent, &first), []);
        // the peer has no session any more: gone
        assert_eq!(notes(&[], &first), []);
        // a session down with no earlier note says nothing
        assert_eq!(notes(&down, &[]), []);
    }
}
