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
