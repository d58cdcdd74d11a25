//! `ferrolb plan` reproduces the controller's decisions recorded in `examples/plan`.

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
        .env_remove("METALLB_LB_CLASS")
        .output()
        .expect("ferrolb runs")
}

#[test]
fn plan_json_reproduces_every_example_scenario() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples/plan")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let out = ferrolb(&["plan", "-o", "json", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        let actual: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        assert_eq!(actual["services"], expected, "{}", dir.display());
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} scenarios found");
}

#[test]
fn plan_text_explains_why_a_service_has_no_address() {
    let out = ferrolb(&["plan", "examples/plan/requested-ips"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("shop/outside: no address:") && text.contains("is not allowed in config"), "{text}");
    assert!(text.contains("shop/api: 203.0.113.9 from pool public"), "{text}");
}

#[test]
fn plan_of_an_invalid_configuration_exits_1() {
    let dir = std::env::temp_dir().join(format!("ferrolb-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("p.yaml"),
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p}\nspec: {addresses: []}\n",
    )
    .unwrap();
    let out = ferrolb(&["plan", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: IPAddressPool/p: spec.addresses"));
}

#[test]
fn plan_honours_the_load_balancer_class() {
    let out = ferrolb(&["plan", "-o", "json", "--lb-class", "example.com/cloud", "examples/plan/requested-ips"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let other = v["services"].as_array().unwrap().iter().find(|s| s["name"] == "other-class").unwrap();
    assert!(other["error"].is_null(), "{other}");
    assert!(!other["ips"].as_array().unwrap().is_empty(), "{other}");
}

#[test]
fn plan_json_names_the_announcing_node_and_why_the_others_skip_for_every_speaker_scenario() {
    let mut checked = 0;
    for entry in std::fs::read_dir(repo_root().join("examples/announce")).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let mut args = vec!["plan".to_owned(), "-o".into(), "json".into()];
        if let Ok(live) = std::fs::read_to_string(dir.join("live-nodes")) {
            args.push("--live-nodes".into());
            args.push(live.split_whitespace().collect::<Vec<_>>().join(","));
        }
        args.push(dir.to_str().unwrap().to_owned());
        let out = ferrolb(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        let actual: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        for (key, want) in expected.as_object().unwrap() {
            let (namespace, name) = key.split_once('/').unwrap();
            let got = actual["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["namespace"] == namespace && s["name"] == name)
                .unwrap_or_else(|| panic!("{}: {key} missing from the plan", dir.display()));
            assert_eq!(got["announcements"], want["announcements"], "{}: {key}", dir.display());
            assert_eq!(got["skipped"], want["skipped"], "{}: {key}", dir.display());
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} scenarios found");
}

#[test]
fn the_design_example_winner_is_node_b_for_both_addresses() {
    let out = ferrolb(&["plan", "-o", "json", "examples/announce/l2-three-nodes"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = serde_json::to_string(&v["services"][0]["announcements"][0]).unwrap();
    assert_eq!(text, r#"{"node":"node-b","protocol":"layer2","interfaces":[]}"#);
}

#[test]
fn live_nodes_restrict_the_layer2_election() {
    let all = ferrolb(&["plan", "-o", "json", "examples/announce/l2-three-nodes"]);
    let some = ferrolb(&["plan", "-o", "json", "--live-nodes", "node-a,node-c", "examples/announce/l2-three-nodes"]);
    let winner = |out: &Output| -> String {
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["services"][0]["announcements"][0]["node"].as_str().unwrap().to_owned()
    };
    assert_eq!(winner(&all), "node-b");
    assert_ne!(winner(&some), "node-b");
    let none = ferrolb(&["plan", "-o", "json", "--live-nodes", "", "examples/announce/l2-three-nodes"]);
    let v: serde_json::Value = serde_json::from_slice(&none.stdout).unwrap();
    assert_eq!(v["services"][0]["announcements"], serde_json::json!([]), "an empty member set means no candidates");
}
