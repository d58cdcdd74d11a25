//! The state directory of the `dir:` source: what the API server's status subresources hold
//! in a cluster.
//!
//! Every file is written whole and atomically (temporary file, fsync, rename, fsync of the
//! directory), so a reader or a `kill -9` at any moment sees either the previous content or
//! the new one, never half of it. Each file has one writer: the active controller writes
//! services, pools, `leader.json` and `configurationstates/controller.json`; each speaker
//! writes its own `configurationstates/speaker-<node>.json` and its own ServiceL2Status files.
//!
//! ```text
//! <state>/controller.lock                          flock'ed by the active controller
//! <state>/leader.json                              {"node", "pid"} of the active controller
//! <state>/services/<namespace>/<name>.json         {"ingress": [{"ip"}], "pool"}
//! <state>/pools/<name>.json                        IPAddressPool status counters
//! <state>/configurationstates/<component>.json     ConfigurationState status
//! <state>/servicel2status/<ns>/<name>/<node>.json  written by the node answering ARP/NDP
//! <state>/servicebgpstatus/<ns>/<name>/<node>.json written by each node announcing over BGP
//! <state>/heartbeats/<node>                        renewed every second by each speaker (the
//!                                                  fencing witness, `speaker::witness`)
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ferrolb_api::core::LoadBalancerIngress;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The directories of the per-node ServiceL2Status and ServiceBGPStatus files.
const L2_STATUS: &str = "servicel2status";
const BGP_STATUS: &str = "servicebgpstatus";

/// A service's controller-written state: `status.loadBalancer.ingress` and the
/// `metallb.io/ip-allocated-from-pool` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub ingress: Vec<LoadBalancerIngress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

/// Who holds the controller role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    pub node: String,
    pub pid: u32,
}

#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("controller.lock")
    }

    pub fn create(&self) -> io::Result<()> {
        for sub in ["services", "pools", "configurationstates"] {
            fs::create_dir_all(self.root.join(sub))?;
        }
        Ok(())
    }

    fn service_path(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("services").join(namespace).join(format!("{name}.json"))
    }

    /// Every service state on disk. Unreadable or malformed files are reported and skipped:
    /// the controller rewrites them on its next pass.
    pub fn read_services(&self) -> (BTreeMap<(String, String), ServiceState>, Vec<String>) {
        let mut out = BTreeMap::new();
        let mut problems = Vec::new();
        let Ok(namespaces) = fs::read_dir(self.root.join("services")) else { return (out, problems) };
        for ns in namespaces.flatten() {
            let namespace = ns.file_name().to_string_lossy().into_owned();
            let Ok(files) = fs::read_dir(ns.path()) else { continue };
            for file in files.flatten() {
                let path = file.path();
                let Some(name) = json_stem(&path) else { continue };
                match read_json::<ServiceState>(&path) {
                    Ok(Some(state)) => {
                        out.insert((namespace.clone(), name), state);
                    }
                    Ok(None) => {}
                    Err(e) => problems.push(format!("{}: {e}", path.display())),
                }
            }
        }
        (out, problems)
    }

    /// Writes or (with `None`) removes a service's state.
    pub fn write_service(&self, namespace: &str, name: &str, state: Option<&ServiceState>) -> io::Result<()> {
        let path = self.service_path(namespace, name);
        match state {
            Some(state) => write_json(&path, state),
            None => remove(&path),
        }
    }

    pub fn write_pool<T: Serialize>(&self, name: &str, status: &T) -> io::Result<()> {
        write_json(&self.root.join("pools").join(format!("{name}.json")), status)
    }

    pub fn remove_pool(&self, name: &str) -> io::Result<()> {
        remove(&self.root.join("pools").join(format!("{name}.json")))
    }

    /// `<kind>/<namespace>/<name>`: where the per-node status files of one service live.
    fn service_status_dir(&self, kind: &str, namespace: &str, name: &str) -> PathBuf {
        self.root.join(kind).join(namespace).join(name)
    }

    fn write_service_status<T: Serialize>(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        node: &str,
        status: Option<&T>,
    ) -> io::Result<()> {
        let path = self.service_status_dir(kind, namespace, name).join(format!("{node}.json"));
        match status {
            Some(status) => write_json(&path, status),
            None => remove(&path),
        }
    }

    /// Writes or (with `None`) removes this node's ServiceL2Status for a service.
    pub fn write_l2_status<T: Serialize>(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        status: Option<&T>,
    ) -> io::Result<()> {
        self.write_service_status(L2_STATUS, namespace, name, node, status)
    }

    /// Removes the ServiceL2Status files other nodes left for a service, except those of
    /// nodes `keep` says are alive (each live node removes its own when it stops announcing):
    /// only the announcer may hold one (MetalLB's announcer deletes the others' objects), and
    /// a node killed with SIGKILL cannot remove its own.
    pub fn remove_other_l2_statuses(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        keep: impl Fn(&str) -> bool,
    ) -> io::Result<Vec<String>> {
        let dir = self.service_status_dir(L2_STATUS, namespace, name);
        let mut removed = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            if let Some(other) = json_stem(&entry.path()).filter(|n| n != node && !keep(n)) {
                remove(&entry.path())?;
                removed.push(other);
            }
        }
        Ok(removed)
    }

    /// Whether this node's ServiceL2Status for a service is on disk.
    pub fn has_l2_status(&self, namespace: &str, name: &str, node: &str) -> bool {
        self.service_status_dir(L2_STATUS, namespace, name).join(format!("{node}.json")).exists()
    }

    /// Writes or (with `None`) removes this node's ServiceBGPStatus for a service.
    pub fn write_bgp_status<T: Serialize>(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
        status: Option<&T>,
    ) -> io::Result<()> {
        self.write_service_status(BGP_STATUS, namespace, name, node, status)
    }

    pub fn write_configuration_state<T: Serialize>(&self, component: &str, state: &T) -> io::Result<()> {
        write_json(&self.root.join("configurationstates").join(format!("{component}.json")), state)
    }

    pub fn write_leader(&self, leader: &Leader) -> io::Result<()> {
        write_json(&self.root.join("leader.json"), leader)
    }

    #[cfg(test)]
    pub fn read_leader(&self) -> io::Result<Option<Leader>> {
        read_json(&self.root.join("leader.json"))
    }
}

fn json_stem(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".json").filter(|stem| !stem.starts_with('.')).map(str::to_owned)
}

fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Write, fsync, rename over the target, fsync the directory.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    fs::create_dir_all(dir)?;
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                File::open(dir)?.sync_all()?;
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> StateDir {
        let dir = std::env::temp_dir().join(format!("ferrolb-state-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let state = StateDir::new(dir);
        state.create().unwrap();
        state
    }

    fn ingress(ip: &str) -> ServiceState {
        ServiceState {
            ingress: vec![LoadBalancerIngress { ip: Some(ip.into()), hostname: None }],
            pool: Some("p".into()),
        }
    }

    #[test]
    fn service_states_round_trip_and_removal_is_idempotent() {
        let state = scratch("services");
        state.write_service("default", "web", Some(&ingress("10.0.0.1"))).unwrap();
        state.write_service("shop", "api", Some(&ingress("10.0.0.2"))).unwrap();
        let (read, problems) = state.read_services();
        assert!(problems.is_empty());
        assert_eq!(read[&("default".into(), "web".into())], ingress("10.0.0.1"));
        state.write_service("default", "web", None).unwrap();
        state.write_service("default", "web", None).unwrap();
        assert_eq!(state.read_services().0.len(), 1);
    }

    #[test]
    fn the_announcer_removes_the_status_files_other_nodes_left() {
        let state = scratch("l2status");
        let status = serde_json::json!({"node": "x"});
        for node in ["node1", "node2", "node3"] {
            state.write_l2_status("default", "web", node, Some(&status)).unwrap();
        }
        // node1 is alive and answers for its own file; node2 is gone.
        let removed = state.remove_other_l2_statuses("default", "web", "node3", |n| n == "node1").unwrap();
        assert_eq!(removed, ["node2"]);
        state.remove_other_l2_statuses("default", "web", "node3", |_| false).unwrap();
        let left: Vec<String> = fs::read_dir(state.root().join("servicel2status/default/web"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["node3.json"]);
        assert!(state.remove_other_l2_statuses("default", "gone", "node3", |_| false).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_state_file_is_reported_not_fatal() {
        let state = scratch("malformed");
        fs::create_dir_all(state.root().join("services/default")).unwrap();
        fs::write(state.root().join("services/default/bad.json"), b"{\"ingress\": [").unwrap();
        state.write_service("default", "good", Some(&ingress("10.0.0.1"))).unwrap();
        let (read, problems) = state.read_services();
        assert_eq!(read.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("bad.json"));
    }

    #[test]
    fn atomic_writes_leave_no_temporary_files() {
        let state = scratch("tmp");
        for i in 0..10 {
            state.write_leader(&Leader { node: format!("n{i}"), pid: i }).unwrap();
        }
        assert_eq!(state.read_leader().unwrap().unwrap().node, "n9");
        let leftovers: Vec<_> = fs::read_dir(state.root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_failed_write_returns_an_error_and_leaves_nothing_behind() {
        // A directory where the file should be: rename fails even for root.
        let state = scratch("blocked");
        let blocked = state.root().join("services/default/web.json");
        fs::create_dir_all(blocked.join("occupied")).unwrap();
        assert!(state.write_service("default", "web", Some(&ingress("10.0.0.1"))).is_err());
        let names: Vec<String> = fs::read_dir(state.root().join("services/default"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["web.json"]);
        assert!(blocked.join("occupied").is_dir());
    }
}
