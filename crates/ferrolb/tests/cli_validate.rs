//! `ferrolb validate`: exit codes, messages and output shapes (docs/design.md, The command-line contract).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn ferrolb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("METALLB_NAMESPACE")
        .output()
        .expect("ferrolb runs")
}

/// Writes `files` into a fresh temporary directory and returns its path.
fn scratch(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    dir
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_one_line_error(out: &Output, code: i32, fragments: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "exactly one line on stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for fragment in fragments {
        assert!(err.contains(fragment), "stderr should contain {fragment:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn every_example_directory_is_valid() {
    for example in ["l2", "bgp", "dual-stack", "communities", "service-allocation", "mixed", "demo"] {
        let out = ferrolb(&["validate", &format!("examples/{example}")]);
        assert!(out.status.success(), "examples/{example}: {}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("configuration is valid"));
    }
}

#[test]
fn unrelated_kubernetes_objects_are_skipped_and_mentioned() {
    let out = ferrolb(&["validate", "examples/mixed"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("skipped 4 object(s)") && stdout.contains("apps/v1/Deployment"), "{stdout}");
}

#[test]
fn json_output_has_the_documented_shape() {
    let out = ferrolb(&["validate", "-o", "json", "examples/bgp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pool = &v["pools"][0];
    assert_eq!(pool["name"], "public");
    assert_eq!(pool["cidrs"], serde_json::json!(["203.0.113.0/26"]));
    assert_eq!(pool["autoAssign"], true);
    assert_eq!(pool["avoidBuggyIPs"], false);
    assert!(pool["serviceAllocation"].is_null());
    let ads = pool["bgpAdvertisements"].as_array().unwrap();
    assert_eq!(ads[0]["name"], "aggregate");
    assert_eq!(ads[0]["aggregationLength"], 26);
    assert_eq!(ads[1]["aggregationLengthV6"], 128);
    assert_eq!(ads[1]["localPref"], 0);
    assert_eq!(ads[1]["nodes"], serde_json::json!(["node-a", "node-b"]));
    assert_eq!(pool["l2Advertisements"], serde_json::json!([]));
    let peer = &v["peers"][0];
    assert_eq!(
        (peer["name"].as_str(), peer["myASN"].as_u64(), peer["peerASN"].as_u64()),
        (Some("tor"), Some(64512), Some(64500))
    );
    assert_eq!((peer["address"].as_str(), peer["port"].as_u64()), (Some("198.51.100.1"), Some(179)));
    assert_eq!((peer["holdTime"].as_f64(), peer["keepaliveTime"].as_f64()), (Some(9.0), Some(3.0)));
    assert_eq!(peer["passwordSet"], true);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("change-me"), "the password is never printed");
    assert_eq!(v["bfdProfiles"], serde_json::json!([]));
}

#[test]
fn json_ranges_expand_to_minimal_cidrs_in_spec_order_with_sorted_communities() {
    let out = ferrolb(&["validate", "-o", "json", "examples/communities", "examples/mixed/metallb.yaml"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pools"][1]["cidrs"], serde_json::json!(["192.0.2.200/29", "192.0.2.208/31", "192.0.2.210/32"]));
    assert_eq!(
        v["pools"][0]["bgpAdvertisements"][0]["communities"],
        serde_json::json!(["large:64512:1:100", "64512:300", "65535:65282"])
    );
}

#[test]
fn an_invalid_configuration_exits_1_with_one_line_naming_object_field_and_rule() {
    let dir = scratch(
        "invalid",
        &[(
            "pool.yaml",
            b"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: [10.0.0.0/24, 10.0.0.300/32]}\n",
        )],
    );
    let out = ferrolb(&["validate", dir.to_str().unwrap()]);
    assert_one_line_error(&out, 1, &["IPAddressPool/p: spec.addresses[1]: invalid CIDR"]);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_wrong_field_type_or_unknown_field_exits_1() {
    let dir = scratch(
        "types",
        &[("p.yaml", b"apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\nspec: {localPref: 99999999999}\n")],
    );
    assert_one_line_error(&ferrolb(&["validate", dir.to_str().unwrap()]), 1, &["BGPAdvertisement/a: spec.localPref:"]);
    let dir = scratch(
        "unknown",
        &[(
            "p.yaml",
            b"apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: a}\nspec: {interface: [eth0]}\n",
        )],
    );
    assert_one_line_error(
        &ferrolb(&["validate", dir.to_str().unwrap()]),
        1,
        &["L2Advertisement/a", "unknown field `interface`"],
    );
}

#[test]
fn a_yaml_syntax_error_exits_2_naming_file_and_line() {
    let dir = scratch("syntax", &[("broken.yaml", b"apiVersion: v1\nkind: Namespace\nmetadata: {name: [a\n")]);
    let out = ferrolb(&["validate", dir.to_str().unwrap()]);
    assert_one_line_error(&out, 2, &["broken.yaml:", "YAML syntax error"]);
}

#[test]
fn binary_garbage_exits_2_without_panicking() {
    let dir = scratch("garbage", &[("junk.yaml", &[0xff, 0xfe, 0x00, 0x13, 0x37, b'\n', 0xc3])]);
    let out = ferrolb(&["validate", dir.to_str().unwrap()]);
    assert_one_line_error(&out, 2, &["junk.yaml"]);
}

#[test]
fn a_document_that_is_not_an_object_exits_2() {
    let dir = scratch("scalar", &[("s.yaml", b"just a string\n")]);
    assert_one_line_error(&ferrolb(&["validate", dir.to_str().unwrap()]), 2, &["document 1"]);
}

#[test]
fn a_missing_path_exits_2() {
    assert_one_line_error(&ferrolb(&["validate", "/nonexistent/ferrolb"]), 2, &["/nonexistent/ferrolb"]);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ferrolb(&["validate"]).status.code(), Some(2));
    assert_eq!(ferrolb(&["validate", "-o", "xml", "examples/l2"]).status.code(), Some(2));
    assert_eq!(ferrolb(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn the_namespace_can_be_changed_by_flag_or_environment() {
    let dir = scratch(
        "ns",
        &[("p.yaml", b"apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: lb}\nspec: {addresses: [10.0.0.0/24]}\n")],
    );
    let path = dir.to_str().unwrap();
    assert_one_line_error(&ferrolb(&["validate", path]), 1, &["metadata.namespace"]);
    assert!(ferrolb(&["validate", "--namespace", "lb", path]).status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(["validate", path])
        .env("METALLB_NAMESPACE", "lb")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn deprecated_fields_produce_a_warning_but_pass() {
    let dir = scratch(
        "warn",
        &[("p.yaml", b"apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: r}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, disableMP: true}\n")],
    );
    let out = ferrolb(&["validate", dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(stderr(&out).starts_with("warning: BGPPeer/r: spec.disableMP is deprecated"));
}

#[test]
fn frr_mode_peers_the_speaker_does_not_serve_yet_are_valid_and_marked() {
    let dir = scratch(
        "frr",
        &[(
            "p.yaml",
            b"apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: fabric}\nspec: {myASN: 1, peerASN: 2, interface: eth1}\n---\n\
              apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: red}\nspec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, vrf: red}\n---\n\
              apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: echo}\nspec: {echoMode: true}\n",
        )],
    );
    let out = ferrolb(&["validate", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("peer fabric: interface eth1 port 179"), "{text}");
    assert!(text.contains("peer red: 10.0.0.1 in VRF red port 179"), "{text}");
    assert_eq!(text.matches("BGP unnumbered on eth1: IPv6 link-local").count(), 1, "{text}");
}

#[test]
fn crds_prints_exactly_the_committed_install_crds() {
    let out = ferrolb(&["crds"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let committed = std::fs::read_to_string(repo_root().join("deploy/crds.yaml")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == committed,
        "`ferrolb crds` differs from deploy/crds.yaml: regenerate with FERROLB_BLESS=1 cargo test -p ferrolb-api --features kube --test crds"
    );
}
