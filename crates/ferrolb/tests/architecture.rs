//! The crate boundaries of docs/architecture.md, checked against `cargo metadata`: which of
//! our crates each one may depend on, and that the pure crates never depend on tokio or the
//! Kubernetes stack (except behind a feature that is off by default).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// The ferrolb crates each crate may have as normal (not dev) dependencies.
const ALLOWED: [(&str, &[&str]); 14] = [
    ("ferrolb-api", &[]),
    ("ferrolb-config", &["ferrolb-api"]),
    ("ferrolb-ipam", &["ferrolb-api", "ferrolb-config"]),
    ("ferrolb-announce", &["ferrolb-api", "ferrolb-config", "ferrolb-bgp", "ferrolb-l2", "ferrolb-bfd"]),
    ("ferrolb-bgp", &["ferrolb-sys"]),
    ("ferrolb-bfd", &["ferrolb-sys"]),
    ("ferrolb-l2", &["ferrolb-sys"]),
    ("ferrolb-gossip", &[]),
    ("ferrolb-sys", &[]),
    ("ferrolb-kube", &["ferrolb-api"]),
    ("ferrolb-webhook", &["ferrolb-api", "ferrolb-config"]),
    (
        "ferrolb-runtime",
        &[
            "ferrolb-api",
            "ferrolb-config",
            "ferrolb-ipam",
            "ferrolb-announce",
            "ferrolb-l2",
            "ferrolb-bgp",
            "ferrolb-gossip",
            "ferrolb-bfd",
            "ferrolb-kube",
            "ferrolb-webhook",
        ],
    ),
    (
        "ferrolb",
        &[
            "ferrolb-api",
            "ferrolb-config",
            "ferrolb-ipam",
            "ferrolb-announce",
            "ferrolb-l2",
            "ferrolb-webhook",
            "ferrolb-runtime",
            "ferrolb-sys",
        ],
    ),
    ("ferrolb-testkit", &["ferrolb-api", "ferrolb-bgp", "ferrolb-l2"]),
];

/// The crates that decide: no async runtime, no Kubernetes client, whatever their features.
const PURE: [&str; 4] = ["ferrolb-api", "ferrolb-config", "ferrolb-ipam", "ferrolb-announce"];
const HEAVY: [&str; 4] = ["tokio", "kube", "k8s-openapi", "clap"];

/// Every workspace crate: its normal dependencies, each with whether it is optional.
fn workspace() -> BTreeMap<String, Vec<(String, bool)>> {
    // `cargo metadata` lists declared dependencies, optional ones included.
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| (d["name"].as_str().unwrap().to_owned(), d["optional"].as_bool().unwrap_or(false)))
                .collect();
            (package["name"].as_str().unwrap().to_owned(), dependencies)
        })
        .collect()
}

#[test]
fn every_crate_depends_only_on_the_crates_its_layer_allows() {
    let crates = workspace();
    let allowed: BTreeMap<&str, BTreeSet<&str>> =
        ALLOWED.iter().map(|(name, deps)| (*name, deps.iter().copied().collect())).collect();
    assert_eq!(
        crates.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        allowed.keys().copied().collect::<BTreeSet<_>>(),
        "every workspace crate has its row in ALLOWED and in docs/architecture.md"
    );
    for (name, dependencies) in &crates {
        for (dependency, _) in dependencies.iter().filter(|(d, _)| d.starts_with("ferrolb")) {
            assert!(allowed[name.as_str()].contains(dependency.as_str()), "{name} may not depend on {dependency}");
        }
    }
}

#[test]
fn the_pure_crates_build_without_tokio_or_the_kubernetes_stack() {
    for name in PURE {
        // Built on its own, as `cargo build -p` would: features as that crate asks for them.
        let output = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo tree runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let tree = String::from_utf8_lossy(&output.stdout);
        let crates: BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
        assert!(crates.len() > 1, "cargo tree lists {name}'s dependencies: {tree}");
        for heavy in HEAVY {
            assert!(!crates.contains(heavy), "{name} pulls in {heavy}");
        }
    }
}

#[test]
fn no_crate_has_the_test_kit_as_a_normal_dependency() {
    for (name, dependencies) in workspace() {
        assert!(!dependencies.iter().any(|(d, _)| d == "ferrolb-testkit"), "{name}");
    }
}
