//! MetalLB configuration a cluster may hold that ferrolb reads but does not apply, so that it
//! is reported instead of silently dropped: the `bgpextras` ConfigMap (raw FRR configuration
//! appended by MetalLB's FRR modes) and the `metallb-memberlist-config` ConfigMap (memberlist
//! tuning, mounted into MetalLB's speaker pod). Both are read once, at start; what they say
//! goes into the speaker's ConfigurationState (condition [`CONDITION`]), its log, and a
//! Warning event on the ConfigMap.

use std::path::Path;

use tracing::warn;

/// The ConfigMap MetalLB's FRR modes append to FRR's configuration.
pub const BGP_EXTRAS: &str = "bgpextras";
/// The ConfigMap MetalLB's manifests mount at [`MEMBERLIST_DIR`] (optional).
pub const MEMBERLIST_CONFIG: &str = "metallb-memberlist-config";
/// Where MetalLB's speaker pod mounts [`MEMBERLIST_CONFIG`].
pub const MEMBERLIST_DIR: &str = "/etc/metallb/memberlist";
/// The ConfigurationState condition that lists them.
pub const CONDITION: &str = "metallbExtrasApplied";

/// One ConfigMap whose content is not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unapplied {
    pub config_map: &'static str,
    pub message: String,
}

/// What is not applied, from the `bgpextras` ConfigMap's `extras` (when it exists) and the
/// keys found in the memberlist ConfigMap's mount.
pub fn unapplied(bgp_extras: Option<&str>, memberlist_keys: &[String]) -> Vec<Unapplied> {
    let mut out = Vec::new();
    if let Some(extras) = bgp_extras.map(str::trim).filter(|e| !e.is_empty()) {
        let lines = extras.lines().filter(|l| !l.trim().is_empty()).count();
        out.push(Unapplied {
            config_map: BGP_EXTRAS,
            message: format!(
                "ConfigMap {BGP_EXTRAS} holds {lines} line(s) of raw FRR configuration, which MetalLB's FRR modes append to FRR's; they are not applied: ferrolb speaks BGP itself (express them with BGPPeers, BGPAdvertisements and Communities)"
            ),
        });
    }
    if !memberlist_keys.is_empty() {
        out.push(Unapplied {
            config_map: MEMBERLIST_CONFIG,
            message: format!(
                "ConfigMap {MEMBERLIST_CONFIG} (keys {}) tunes MetalLB's memberlist and is not applied: ferrolb's membership is tuned with --membership-probe-interval-ms, --membership-probe-timeout-ms and --membership-suspicion-multiplier",
                memberlist_keys.join(", ")
            ),
        });
    }
    out
}

/// The keys of a mounted ConfigMap: the files of `dir`, without the `..data` links and other
/// dot entries a ConfigMap volume holds; none when the directory is absent (an optional
/// volume, or not in a pod at all).
pub fn mounted_keys(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut keys: Vec<String> =
        entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|name| !name.starts_with('.')).collect();
    keys.sort();
    keys
}

/// The `extras` of the `bgpextras` ConfigMap in `namespace`; `None` when there is none or it
/// cannot be read (said once in the log: the reading is only for the report).
pub async fn bgp_extras(client: &kube::Client, namespace: &str) -> Option<String> {
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client.clone(), namespace);
    match api.get_opt(BGP_EXTRAS).await {
        Ok(found) => found.and_then(|cm| cm.data?.remove("extras")),
        Err(e) => {
            warn!(error = %e, "cannot read the {BGP_EXTRAS} ConfigMap (only read to report it as not applied)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_holds_something_is_reported() {
        assert!(unapplied(None, &[]).is_empty());
        assert!(unapplied(Some("  \n"), &[]).is_empty(), "an empty extras says nothing");
        let notes = unapplied(Some("router bgp 64512\n  neighbor 10.0.0.1 allowas-in\n\n"), &["config".into()]);
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].config_map, "bgpextras");
        assert!(
            notes[0].message.starts_with("ConfigMap bgpextras holds 2 line(s) of raw FRR configuration"),
            "{}",
            notes[0].message
        );
        assert_eq!(notes[1].config_map, "metallb-memberlist-config");
        assert!(notes[1].message.contains("(keys config)"), "{}", notes[1].message);
    }

    #[test]
    fn a_configmap_mount_lists_its_keys_not_its_links() {
        let dir = std::env::temp_dir().join(format!("ferrolb-unapplied-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("..2026_12_04_data")).unwrap();
        std::fs::write(dir.join("..data"), b"").unwrap();
        std::fs::write(dir.join("gossip"), b"x").unwrap();
        std::fs::write(dir.join("config"), b"y").unwrap();
        assert_eq!(mounted_keys(&dir), ["config", "gossip"]);
        assert!(mounted_keys(&dir.join("absent")).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
