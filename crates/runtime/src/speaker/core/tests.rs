//! The speaker's reconcile step driven by snapshots: no processes, sockets or sleeps.

use std::collections::BTreeSet;

use ferrolb_bgp::RouteAttrs;

use super::*;
use crate::sources::numbered;

const NS: &str = "metallb-system";

fn pool(name: &str, cidr: &str) -> String {
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}, namespace: {NS}}}\nspec: {{addresses: [{cidr}]}}\n"
    )
}

fn l2_advertisement() -> String {
    format!("apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {{name: l2, namespace: {NS}}}\n")
}

fn bgp_advertisement() -> String {
    format!("apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {{name: bgp, namespace: {NS}}}\n")
}

fn peer(name: &str, address: &str, node: Option<&str>) -> String {
    let selector = node
        .map(|n| format!("\n  nodeSelectors: [{{matchLabels: {{kubernetes.io/hostname: {n}}}}}]"))
        .unwrap_or_default();
    format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  myASN: 64512\n  peerASN: 64500\n  peerAddress: {address}{selector}\n"
    )
}

fn node(name: &str, ip: &str, cordoned: bool) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}}}}}\nspec: {{unschedulable: {cordoned}}}\nstatus: {{addresses: [{{type: InternalIP, address: {ip}}}]}}\n"
    )
}

/// A LoadBalancer Service in `default` holding `ip`, with a ready endpoint on `node1`.
fn service(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default, uid: uid-{name}}}\nspec: {{type: LoadBalancer, clusterIP: 10.96.0.10, ports: [{{port: 80}}]}}\nstatus: {{loadBalancer: {{ingress: [{{ip: {ip}}}]}}}}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: {name}-1, namespace: default, labels: {{kubernetes.io/service-name: {name}}}}}\naddressType: IPv4\nendpoints: [{{addresses: [10.244.0.1], nodeName: node1, conditions: {{ready: true}}}}]\n"
    )
}

fn snapshot(documents: &[String]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    ferrolb_api::load_str(&documents.join("---\n"), "test", &mut snapshot.resources).unwrap();
    snapshot
}

fn two_nodes() -> Vec<String> {
    vec![node("node1", "172.30.0.11", false), node("node2", "172.30.0.12", false)]
}

fn core(node: &str) -> SpeakerCore {
    SpeakerCore::new(node.into(), NS.into(), None, false)
}

fn members(names: &[&str]) -> MembershipState {
    MembershipState { liveness: Liveness::Members(names.iter().map(|n| (*n).to_owned()).collect()), may_answer: true }
}

fn key(name: &str) -> ServiceKey {
    ServiceKey::new("default", name)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// One whole step, the data plane doing what it is told: what the executor does, without it.
fn step(core: &mut SpeakerCore, snapshot: &Snapshot, membership: &MembershipState) -> (Plan, Vec<Write>, Vec<Event>) {
    let configured = core.configure(snapshot);
    let plan = core.plan(snapshot, membership).expect("a configuration in force");
    for claim in &plan.withdraw {
        core.unclaimed(claim);
    }
    for (claim, selection) in &plan.announce {
        core.claimed(claim.clone(), selection.clone());
    }
    let (mut writes, mut events) = core.layer2_settled(|_| false);
    writes.splice(0..0, configured.writes);
    events.splice(0..0, configured.events);
    (plan, writes, events)
}

fn l2_world() -> Vec<String> {
    let mut docs = vec![pool("lan", "10.0.0.0/24"), l2_advertisement(), service("web", "10.0.0.1")];
    docs.extend(two_nodes());
    docs
}

#[test]
fn the_elected_node_claims_the_address_writes_its_status_and_says_so_once() {
    let snap = snapshot(&l2_world());
    let both = members(&["node1", "node2"]);
    let (mut a, mut b) = (core("node1"), core("node2"));
    let (plan_a, writes_a, events_a) = step(&mut a, &snap, &both);
    let (plan_b, writes_b, _) = step(&mut b, &snap, &both);
    let (winner, winner_plan, winner_writes, winner_events, loser_plan, loser_writes) = if plan_a.announce.is_empty() {
        ("node2", plan_b, writes_b, vec![], plan_a, writes_a)
    } else {
        ("node1", plan_a, writes_a, events_a, plan_b, writes_b)
    };
    assert_eq!(winner_plan.announce, [((key("web"), ip("10.0.0.1")), InterfaceSelection::All)], "{winner} claims");
    assert!(loser_plan.announce.is_empty(), "exactly one node claims the address");
    assert!(winner_writes.contains(&Write::L2Status { key: key("web"), interfaces: Some(VecSet::new()) }));
    assert!(!loser_writes.iter().any(|w| matches!(w, Write::L2Status { .. })));
    if winner == "node1" {
        assert!(winner_events.iter().any(|e| matches!(e,
            Event::Service { reason, uid: Some(uid), warning: false, .. } if reason == "nodeAssigned" && uid == "uid-web")));
    }
    // The same snapshot again: nothing to do.
    let (mut again, mut again_writes) = (if winner == "node1" { a } else { b }, Vec::new());
    let (plan, writes, events) = step(&mut again, &snap, &both);
    again_writes.extend(writes);
    assert!(plan.announce.is_empty() && plan.withdraw.is_empty());
    assert_eq!(again_writes, []);
    assert_eq!(events, []);
}

#[test]
fn when_the_owner_dies_the_survivor_takes_the_address_over_and_the_owner_lets_go_when_fenced() {
    let snap = snapshot(&l2_world());
    let both = members(&["node1", "node2"]);
    let mut cores = [core("node1"), core("node2")];
    let claimed: Vec<bool> = cores.iter_mut().map(|c| !step(c, &snap, &both).0.announce.is_empty()).collect();
    let owner = claimed.iter().position(|c| *c).expect("one owner");
    let survivor = 1 - owner;
    let survivor_name = ["node1", "node2"][survivor];

    // The survivor no longer sees the owner: it is elected.
    let (plan, writes, events) = step(&mut cores[survivor], &snap, &members(&[survivor_name]));
    assert_eq!(plan.announce, [((key("web"), ip("10.0.0.1")), InterfaceSelection::All)]);
    assert!(writes.contains(&Write::L2Status { key: key("web"), interfaces: Some(VecSet::new()) }));
    assert!(events.iter().any(|e| matches!(e, Event::Service { reason, .. } if reason == "nodeAssigned")));
    assert_eq!(cores[survivor].last_members(), Some(&BTreeSet::from([survivor_name.to_owned()])));

    // The old owner, cut off and fenced, may not answer: it withdraws and removes its status.
    let fenced = MembershipState { may_answer: false, ..both.clone() };
    let (plan, writes, _) = step(&mut cores[owner], &snap, &fenced);
    assert_eq!(plan.withdraw, [(key("web"), ip("10.0.0.1"))]);
    assert_eq!(writes, [Write::L2Status { key: key("web"), interfaces: None }]);
    assert!(cores[owner].claims().is_empty());

    // When it hears the others again the burst is sent anew by whoever owns the address.
    let (plan, _, _) = step(&mut cores[survivor], &snap, &both);
    assert!(plan.reannounce, "a member came back");
}

#[test]
fn a_layer2_status_that_vanished_from_the_store_is_written_again() {
    let snap = snapshot(&l2_world());
    let mut c = core("node1");
    let alone = members(&["node1"]);
    let (_, writes, _) = step(&mut c, &snap, &alone);
    let write = writes.iter().find(|w| matches!(w, Write::L2Status { .. })).expect("a status").clone();
    let (_, again, _) = step(&mut c, &snap, &alone);
    assert!(again.is_empty(), "written once: {again:?}");
    c.configure(&snap);
    c.plan(&snap, &alone);
    let (writes, _) = c.layer2_settled(|k| *k == key("web"));
    assert_eq!(writes, [write], "written again when it vanished from the store");
}

#[test]
fn interfaces_that_do_not_exist_here_are_an_announce_failed_warning() {
    let snap = snapshot(&l2_world());
    let mut c = core("node1");
    c.configure(&snap);
    let plan = c.plan(&snap, &members(&["node1"])).unwrap();
    for (claim, _) in plan.announce {
        c.no_interface(claim.0);
    }
    let (writes, events) = c.layer2_settled(|_| false);
    assert_eq!(writes, [], "nothing claimed, no status");
    assert!(matches!(&events[..], [Event::Service { reason, warning: true, .. }] if reason == "announceFailed"));
}

fn bgp_world(extra: &[String]) -> Vec<String> {
    let mut docs = vec![
        pool("public", "203.0.113.0/28"),
        bgp_advertisement(),
        peer("tor", "172.30.0.1", None),
        service("web", "203.0.113.1"),
    ];
    docs.extend(two_nodes());
    docs.extend(extra.iter().cloned());
    docs
}

fn prefixes(table: &Table) -> Vec<String> {
    table.keys().map(ToString::to_string).collect()
}

#[test]
fn a_bgp_table_follows_the_services_and_drains_while_the_node_is_cordoned() {
    let mut c = core("node1");
    let (plan, writes, _) = step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32"]);
    assert_eq!(plan.bgp_writes, [Write::BgpStatus { key: key("web"), peers: Some(VecSet::from(["tor".to_owned()])) }]);
    assert_eq!(plan.bgp_announced, [(key("web"), ip("203.0.113.1"))]);
    assert!(!writes.iter().any(|w| matches!(w, Write::L2Status { .. })), "no Layer 2 without an L2Advertisement");

    // A second Service: the table grows; the first one's status is not written again.
    let (plan, _, _) =
        step(&mut c, &snapshot(&bgp_world(&[service("api", "203.0.113.2")])), &MembershipState::disabled());
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32", "203.0.113.2/32"]);
    assert_eq!(plan.bgp_writes, [Write::BgpStatus { key: key("api"), peers: Some(VecSet::from(["tor".to_owned()])) }]);
    assert_eq!(plan.bgp_announced, [(key("api"), ip("203.0.113.2"))], "only what is new");

    // Back to one: the other's prefix and status go.
    let (plan, _, _) = step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32"]);
    assert_eq!(plan.bgp_writes, [Write::BgpStatus { key: key("api"), peers: None }]);
    assert_eq!(plan.bgp_withdrawn, [(key("api"), ip("203.0.113.2"))]);

    // Cordoned: every route carries GRACEFUL_SHUTDOWN (RFC 8326), once.
    let mut cordoned = bgp_world(&[]);
    cordoned[4] = node("node1", "172.30.0.11", true);
    let (plan, _, _) = step(&mut c, &snapshot(&cordoned), &MembershipState::disabled());
    assert_eq!(plan.draining_changed, Some(true));
    let attrs: Vec<&RouteAttrs> = plan.tables["tor"].values().collect();
    assert!(attrs.iter().all(|a| a.communities.contains(&sessions::GRACEFUL_SHUTDOWN)));
    let (plan, _, _) = step(&mut c, &snapshot(&cordoned), &MembershipState::disabled());
    assert_eq!(plan.draining_changed, None, "said once");
}

#[test]
fn the_session_set_follows_the_peers_that_select_this_node() {
    let mut c = core("node1");
    let (plan, _, _) = step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["tor"]);
    let tor = &plan.sessions["tor"];
    assert_eq!(tor.router_id.to_string(), "172.30.0.11", "the node's address is the router ID");
    assert_eq!(tor.address, ip("172.30.0.1"));

    let more = [peer("spine", "172.30.0.2", Some("node1")), peer("elsewhere", "172.30.0.3", Some("node2"))];
    let (plan, _, _) = step(&mut c, &snapshot(&bgp_world(&more)), &MembershipState::disabled());
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["spine", "tor"], "not the peer of another node");
    assert!(plan.tables.contains_key("spine"));

    let (plan, _, _) = step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["tor"], "a removed peer's session goes");
    assert!(plan.bfd.is_empty());
}

#[test]
fn an_unnumbered_peer_gets_a_session_on_its_interface_and_is_isolated_when_the_interface_is_missing() {
    let mut c = core("node1");
    let unnumbered = format!(
        "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {{name: fabric, namespace: {NS}}}\nspec: {{myASN: 64512, peerASN: 64500, interface: eth1}}\n"
    );
    let world = snapshot(&bgp_world(&[unnumbered]));
    c.set_interfaces(None, Some(BTreeSet::from(["eth0".to_owned(), "eth1".to_owned()])));
    let configured = c.configure(&world);
    assert!(configured.accepted);
    assert!(configured.events.is_empty(), "nothing to say: {:?}", configured.events);
    let plan = c.plan(&world, &MembershipState::disabled()).unwrap();
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["fabric", "tor"]);
    assert_eq!(plan.sessions["fabric"].interface.as_deref(), Some("eth1"));
    assert_eq!(prefixes(&plan.tables["fabric"]), ["203.0.113.1/32"]);

    c.set_interfaces(None, Some(BTreeSet::from(["eth0".to_owned()])));
    let configured = c.configure(&world);
    assert!(configured.accepted, "valid MetalLB configuration is never rejected for what one peer needs");
    match &configured.events[..] {
        [Event::Peer(note)] => {
            assert_eq!((note.peer.as_str(), note.served), ("fabric", false));
            assert!(note.message.starts_with("interface eth1 does not exist on this node"), "{}", note.message);
        }
        other => panic!("{other:?}"),
    }
    let plan = c.plan(&world, &MembershipState::disabled()).unwrap();
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["tor"], "no session for it, the others are kept");
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32"]);
    let without = c.configure(&snapshot(&bgp_world(&[])));
    assert!(without.events.is_empty() && c.peer_notes().is_empty(), "the note goes with the peer");
}

/// An established session's status holding back `held` IPv6 prefixes for want of a next hop.
fn held_back_status(held: u64) -> ferrolb_bgp::SessionStatus {
    ferrolb_bgp::SessionStatus {
        state: ferrolb_bgp::State::Established,
        established: true,
        last_error: None,
        updates_sent: 1,
        announced_prefixes: 1,
        pending_prefixes: held,
        held_back: (held > 0)
            .then_some(ferrolb_bgp::HeldBack {
                family: ferrolb_bgp::AfiSafi::IPV6_UNICAST,
                cause: ferrolb_bgp::HoldCause::NoNextHop,
                prefixes: held,
            })
            .into_iter()
            .collect(),
        peer: "172.30.0.1:179".into(),
    }
}

#[test]
fn routes_a_session_holds_back_for_want_of_a_next_hop_serve_its_peer_in_part_said_once() {
    let mut c = core("node1");
    let (_, writes, _) = step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    assert!(writes.contains(&Write::ConfigurationState { error: None }));
    let sessions = |held| vec![("tor".to_owned(), held_back_status(held))];
    let notes = super::super::held_back::notes(&sessions(2), c.session_notes());
    let (writes, events) = c.set_session_notes(notes);
    match &events[..] {
        [Event::Peer(note)] => {
            assert_eq!((note.peer.as_str(), note.served), ("tor", true));
            assert!(note.message.starts_with("ipv6-unicast routes are not sent to this peer"), "{}", note.message);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(writes, [Write::ConfigurationState { error: None }], "the condition is written again, with the note");
    assert_eq!(c.all_peer_notes().len(), 1);
    let condition = crate::conditions::with_peer_notes(
        crate::conditions::configuration_state(crate::conditions::SPEAKER_CONDITION, None),
        &c.all_peer_notes(),
    );
    let served = condition.conditions.iter().find(|k| k.type_ == crate::conditions::PEERS_CONDITION).unwrap();
    assert_eq!((served.status.as_str(), served.reason.as_str()), ("True", "PeerServedInPart"));
    assert!(served.message.starts_with("BGPPeer/tor: ipv6-unicast routes are not sent"), "{}", served.message);

    // more prefixes held back, or the session down for a while: nothing new to say
    let notes = super::super::held_back::notes(&sessions(5), c.session_notes());
    assert_eq!(c.set_session_notes(notes), (vec![], vec![]));
    let mut down = held_back_status(0);
    down.established = false;
    let notes = super::super::held_back::notes(&[("tor".to_owned(), down)], c.session_notes());
    assert_eq!(c.set_session_notes(notes), (vec![], vec![]));
    // the routes sent: the note goes, the condition is written again without it
    let notes = super::super::held_back::notes(&sessions(0), c.session_notes());
    let (writes, events) = c.set_session_notes(notes);
    assert!(events.is_empty());
    assert_eq!(writes, [Write::ConfigurationState { error: None }]);
    assert!(c.all_peer_notes().is_empty());
}

#[test]
fn a_rejected_configuration_keeps_the_last_good_one_in_force() {
    let mut c = core("node1");
    let good = snapshot(&bgp_world(&[]));
    let (_, writes, _) = step(&mut c, &good, &MembershipState::disabled());
    assert!(writes.contains(&Write::ConfigurationState { error: None }));

    let bad = snapshot(&bgp_world(&["apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: broken, namespace: metallb-system}\nspec: {myASN: 64512, peerASN: 64500, peerAddress: not-an-ip}\n".to_owned()]));
    let configured = c.configure(&bad);
    assert!(!configured.accepted);
    assert!(c.rejected());
    assert!(matches!(&configured.writes[..], [Write::ConfigurationState { error: Some(e) }] if e.name == "broken"));
    assert!(matches!(&configured.events[..], [Event::Configuration(_)]));
    let plan = c.plan(&bad, &MembershipState::disabled()).expect("the last good configuration");
    assert_eq!(plan.sessions.keys().collect::<Vec<_>>(), ["tor"]);
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32"], "nothing is withdrawn");

    let again = c.configure(&bad);
    assert_eq!((again.writes.len(), again.events.len()), (0, 0), "the same error is reported once");
    let fixed = c.configure(&good);
    assert_eq!(fixed.writes, [Write::ConfigurationState { error: None }]);
    assert!(!c.rejected());
}

#[test]
fn a_configuration_that_would_orphan_an_announced_address_waits_for_the_service_to_move() {
    let mut c = core("node1");
    step(&mut c, &snapshot(&bgp_world(&[])), &MembershipState::disabled());
    // The pool moves away while the Service still holds its old address.
    let mut moved = bgp_world(&[]);
    moved[0] = pool("public", "198.51.100.0/28");
    let configured = c.configure(&snapshot(&moved));
    assert!(!configured.accepted);
    match &configured.writes[..] {
        [Write::ConfigurationState { error: Some(e) }] => {
            assert!(e.transient);
            assert!(
                e.to_string()
                    .starts_with("Service/default/web: status.loadBalancer.ingress: 203.0.113.1 has no configuration")
            );
        }
        other => panic!("{other:?}"),
    }
    // Once the controller has moved the Service, the new configuration is taken.
    moved[3] = service("web", "198.51.100.1");
    let snap = snapshot(&moved);
    let plan = c.plan(&snap, &MembershipState::disabled()).unwrap();
    assert!(
        plan.tables.get("tor").is_none_or(|t| t.is_empty()),
        "the old configuration has no pool for the new address"
    );
    assert!(c.configure(&snap).accepted);
    let plan = c.plan(&snap, &MembershipState::disabled()).unwrap();
    assert_eq!(prefixes(&plan.tables["tor"]), ["198.51.100.1/32"]);
}

#[test]
fn on_shutdown_every_claim_is_dropped_and_every_bgp_status_removed() {
    let mut docs = l2_world();
    docs.extend([bgp_advertisement(), peer("tor", "172.30.0.1", None)]);
    let mut c = core("node1");
    step(&mut c, &snapshot(&docs), &members(&["node1"]));
    let (claims, writes) = c.withdraw_everything();
    assert_eq!(claims, [(key("web"), ip("10.0.0.1"))]);
    assert_eq!(writes, [Write::BgpStatus { key: key("web"), peers: None }]);
    for claim in &claims {
        c.unclaimed(claim);
    }
    let (writes, _) = c.layer2_settled(|_| false);
    assert_eq!(writes, [Write::L2Status { key: key("web"), interfaces: None }]);
}

#[test]
fn with_pod_discovery_only_nodes_running_a_speaker_take_part_in_membership() {
    let mut docs = two_nodes();
    docs.push(node("node3", "172.30.0.13", false));
    let resources = snapshot(&docs).resources;
    let names = |nodes: Vec<Node>| nodes.into_iter().map(|n| n.metadata.name).collect::<Vec<_>>();
    assert_eq!(names(membership_nodes(&resources, "node1", None)), ["node1", "node2", "node3"]);
    let speakers = BTreeSet::from(["node3".to_owned()]);
    assert_eq!(names(membership_nodes(&resources, "node1", Some(&speakers))), ["node1", "node3"], "and always itself");
}

#[test]
fn sorted_differences_are_what_each_side_lacks() {
    assert_eq!(sorted_differences(&[1, 3, 5, 7], &[2, 3, 7, 8, 9]), (vec![1, 5], vec![2, 8, 9]));
    assert_eq!(sorted_differences::<u8>(&[], &[]), (vec![], vec![]));
    assert_eq!(sorted_differences(&[4], &[]), (vec![4], vec![]));
    assert_eq!(sorted_differences(&[1, 2], &[1, 2]), (vec![], vec![]));
}

#[test]
fn a_snapshot_that_names_its_changes_is_decided_again_for_those_services_only() {
    let mut c = core("node1");
    let off = MembershipState::disabled();
    let one = bgp_world(&[service("api", "203.0.113.2")]);
    step(&mut c, &numbered(snapshot(&one), 1, &[]), &off);

    // web moves to .3 and db comes, but the snapshot names db alone: web's decision is
    // the one kept from before (which is how one named Service costs one decision).
    let mut two = bgp_world(&[service("api", "203.0.113.2"), service("db", "203.0.113.4")]);
    two[3] = service("web", "203.0.113.3");
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&two), 2, &["db"]), &off);
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32", "203.0.113.2/32", "203.0.113.4/32"]);
    assert_eq!(plan.bgp_announced, [(key("db"), ip("203.0.113.4"))]);
    assert_eq!(plan.bgp_writes, [Write::BgpStatus { key: key("db"), peers: Some(VecSet::from(["tor".to_owned()])) }]);
    assert!(
        matches!(&plan.bgp_events[..], [Event::Service { key, reason, .. }] if *key == self::key("db") && reason == "nodeAssigned")
    );

    // The same snapshot again decides nothing anew either.
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&two), 2, &["db"]), &off);
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32", "203.0.113.2/32", "203.0.113.4/32"]);

    // Naming web brings it up to date; so does a snapshot that does not follow the last one.
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&two), 3, &["web"]), &off);
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.2/32", "203.0.113.3/32", "203.0.113.4/32"]);
    assert_eq!(
        (plan.bgp_announced, plan.bgp_withdrawn),
        (vec![(key("web"), ip("203.0.113.3"))], vec![(key("web"), ip("203.0.113.1"))])
    );
    assert_eq!(plan.bgp_writes, [], "web still goes to the same peer");
    let mut three = two.clone();
    three[3] = service("web", "203.0.113.1");
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&three), 5, &[]), &off);
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.1/32", "203.0.113.2/32", "203.0.113.4/32"]);
    // A membership change is everything too.
    let mut four = three.clone();
    four[3] = service("web", "203.0.113.5");
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&four), 6, &[]), &members(&["node1"]));
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.2/32", "203.0.113.4/32", "203.0.113.5/32"]);

    // db goes, named: its route, gauge and status with it
    let mut gone = four.clone();
    gone.pop();
    let (plan, _, _) = step(&mut c, &numbered(snapshot(&gone), 7, &["db"]), &members(&["node1"]));
    assert_eq!(prefixes(&plan.tables["tor"]), ["203.0.113.2/32", "203.0.113.5/32"]);
    assert_eq!(plan.bgp_withdrawn, [(key("db"), ip("203.0.113.4"))]);
    assert_eq!(plan.bgp_writes, [Write::BgpStatus { key: key("db"), peers: None }]);
}
