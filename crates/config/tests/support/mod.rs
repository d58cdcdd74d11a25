//! Shared fixtures: YAML in, Config or error out.

#![allow(dead_code)]

use ferrolb_api::{Resources, load_str};
use ferrolb_config::{Config, ConfigError, Options, Scope};

/// Two nodes in different racks, the cluster most rules are tested against.
pub const NODES: &str = "
apiVersion: v1
kind: Node
metadata: {name: node1, labels: {rack: a, kubernetes.io/hostname: node1}}
---
apiVersion: v1
kind: Node
metadata: {name: node2, labels: {rack: b, kubernetes.io/hostname: node2}}
";

pub fn resources(yaml: &str) -> Resources {
    let mut r = Resources::default();
    load_str(yaml, "test.yaml", &mut r).unwrap_or_else(|e| panic!("fixture does not load: {e}"));
    r
}

/// Parses `yaml` together with [`NODES`].
pub fn parse(yaml: &str) -> Result<Config, ConfigError> {
    parse_scoped(yaml, Scope::Full)
}

pub fn parse_scoped(yaml: &str, scope: Scope) -> Result<Config, ConfigError> {
    let text = format!("{NODES}\n---\n{yaml}");
    ferrolb_config::parse(&resources(&text), &Options { scope, ..Options::default() })
}

/// Parses `yaml` without any Node objects.
pub fn parse_without_nodes(yaml: &str) -> Result<Config, ConfigError> {
    ferrolb_config::parse(&resources(yaml), &Options::default())
}

#[track_caller]
pub fn accept(yaml: &str) -> Config {
    parse(yaml).unwrap_or_else(|e| panic!("expected the configuration to be accepted, got: {e}"))
}

/// Asserts rejection and that the one-line message names `object` (`Kind/name`) and contains
/// every fragment.
#[track_caller]
pub fn reject(yaml: &str, object: &str, fragments: &[&str]) -> ConfigError {
    let err = match parse(yaml) {
        Ok(_) => panic!("expected a rejection naming {object}, but the configuration was accepted"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(text.starts_with(&format!("{object}: ")), "error should name {object}: {text}");
    for fragment in fragments {
        assert!(text.contains(fragment), "error should contain {fragment:?}: {text}");
    }
    assert!(!text.contains('\n'), "error must be one line: {text}");
    err
}

pub fn pool(name: &str, addresses: &[&str]) -> String {
    let list = addresses.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    format!(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {{name: {name}}}\nspec: {{addresses: [{list}]}}\n---\n"
    )
}

pub fn object(kind: &str, name: &str, spec: &str) -> String {
    let version = if kind == "BGPPeer" { "v1beta2" } else { "v1beta1" };
    format!("apiVersion: metallb.io/{version}\nkind: {kind}\nmetadata: {{name: {name}}}\nspec: {spec}\n---\n")
}

pub fn bgp_ad(name: &str, spec: &str) -> String {
    object("BGPAdvertisement", name, spec)
}

pub fn l2_ad(name: &str, spec: &str) -> String {
    object("L2Advertisement", name, spec)
}

pub fn peer(name: &str, spec: &str) -> String {
    object("BGPPeer", name, spec)
}
