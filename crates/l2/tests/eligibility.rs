//! Interface eligibility (docs/compatibility.md §4.2, Responders) and the exclusion list (§8.4).

use ferrolb_l2::{Eligibility, Exclusion, InterfaceInfo, InterfaceSelection};
use ferrolb_testkit::interfaces::eth0;

#[test]
fn metallb_default_list_excludes_container_and_tunnel_devices() {
    let exclusion = Exclusion::metallb_default();
    for name in ["docker0", "cbr0", "dummy1", "virbr0", "lxcbr0", "veth1234", "lo", "cali9", "tunl0", "flannel.1"] {
        assert!(exclusion.excludes(name), "{name}");
    }
    for name in ["kube-ipvs0", "cni0", "nodelocaldns", "lxc123"] {
        assert!(exclusion.excludes(name), "{name}");
    }
    for name in ["eth0", "ens3", "bond0", "br0", "lo0", "loopback", "myveth", "vlan100"] {
        assert!(!exclusion.excludes(name), "{name}");
    }
}

#[test]
fn custom_patterns_are_joined_and_match_unanchored() {
    let exclusion = Exclusion::from_patterns(&["storage", "^mgmt$"]).unwrap();
    assert!(exclusion.excludes("eth-storage-1"));
    assert!(exclusion.excludes("mgmt"));
    assert!(!exclusion.excludes("mgmt0"));
    assert!(Exclusion::from_patterns(&["("]).is_err());
    assert!(!Exclusion::from_patterns::<&str>(&[]).unwrap().excludes("docker0"));
    assert!(!Exclusion::none().excludes("lo"));
}

#[test]
fn an_up_broadcast_interface_with_a_link_local_gets_both_responders() {
    assert_eq!(eth0().eligibility(&Exclusion::metallb_default()), Eligibility { arp: true, ndp: true });
}

#[test]
fn down_enslaved_and_excluded_interfaces_get_no_responder() {
    let exclusion = Exclusion::metallb_default();
    let down = InterfaceInfo { up: false, ..eth0() };
    let port = InterfaceInfo { has_master: true, ..eth0() };
    let veth = InterfaceInfo { name: "veth0".to_string(), ..eth0() };
    for info in [down, port, veth] {
        assert_eq!(info.eligibility(&exclusion), Eligibility::default(), "{info:?}");
    }
}

#[test]
fn arp_needs_broadcast_without_noarp_and_ndp_needs_a_link_local_address() {
    let exclusion = Exclusion::none();
    let noarp = InterfaceInfo { noarp: true, ..eth0() };
    assert_eq!(noarp.eligibility(&exclusion), Eligibility { arp: false, ndp: true });
    let point_to_point = InterfaceInfo { broadcast: false, ..eth0() };
    assert_eq!(point_to_point.eligibility(&exclusion), Eligibility { arp: false, ndp: true });
    let no_v6 = InterfaceInfo { link_local: None, ..eth0() };
    assert_eq!(no_v6.eligibility(&exclusion), Eligibility { arp: true, ndp: false });
}

#[test]
fn an_empty_interface_list_selects_all_interfaces() {
    assert_eq!(InterfaceSelection::from_names(Vec::<String>::new()), InterfaceSelection::All);
    let only = InterfaceSelection::from_names(["eth1", "eth2"]);
    assert!(only.includes("eth2") && !only.includes("eth0"));
    assert!(InterfaceSelection::All.includes("anything"));
}
