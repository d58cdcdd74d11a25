//! What `why --source dir:PATH` reads: the manifests, as the `dir:` source loads them, and
//! the state directory the controller and the speakers write (its layout is described in
//! `ferrolb_runtime::sources::state_dir`). Nothing is written.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ferrolb_api::metallb::{ConfigurationStateStatus, ServiceBGPStatusStatus, ServiceL2StatusStatus};
use ferrolb_api::report::SpeakerReport;
use ferrolb_runtime::sources::state_dir::{ServiceStates, StateDir, StatusKind};
use ferrolb_runtime::speaker::witness::{DIR_INTERVAL, MISSED_RENEWALS};
use serde::de::DeserializeOwned;

use super::explain::Observed;

/// Reads `manifests` and its state directory (`state`, default `manifests/.ferrolb`).
pub fn gather(manifests: &Path, state: Option<&Path>, now: SystemTime) -> Result<Observed, String> {
    let (mut resources, _report) = ferrolb_api::files::load(&[manifests.to_path_buf()]).map_err(|e| e.to_string())?;
    let root = state.map_or_else(|| manifests.join(".ferrolb"), Path::to_path_buf);
    if !root.is_dir() {
        return Err(format!(
            "{}: no state directory (has `ferrolb run --source dir:{}` run here? or pass --state-dir)",
            root.display(),
            manifests.display()
        ));
    }
    let dir = StateDir::new(root.clone());
    let mut observed = Observed::default();
    let mut states = ServiceStates::default();
    let mut problems = Vec::new();
    states.refresh(&dir, None, &mut problems);
    observed.notes.extend(problems);
    // as the dir: source gives them to the controller and the speakers
    states.apply_to(&mut resources.services, &[], None);
    observed.resources = resources;
    for (key, status) in per_node::<ServiceL2StatusStatus>(&dir.status_root(StatusKind::Layer2), &mut observed.notes) {
        let interfaces = status.interfaces.iter().map(|i| i.name.clone()).collect();
        observed.layer2.entry(key).or_default().push((status.node, interfaces));
    }
    for (key, status) in per_node::<ServiceBGPStatusStatus>(&dir.status_root(StatusKind::Bgp), &mut observed.notes) {
        observed.bgp.entry(key).or_default().push((status.node, status.peers));
    }
    for (name, path) in json_files(&dir.configuration_states_dir()) {
        if let Some(state) = read_json::<ConfigurationStateStatus>(&path, &mut observed.notes) {
            observed.states.insert(name, state);
        }
    }
    observed.heartbeats = heartbeats(&dir.heartbeats_dir(), now);
    for (node, path) in json_files(&dir.speaker_reports_dir()) {
        match fs::read(&path).map_err(|e| e.to_string()).and_then(|b| SpeakerReport::decode(&b).map_err(|e| e.0)) {
            Ok(report) => {
                observed.reports.insert(node, report);
            }
            Err(e) => observed.notes.push(format!("{}: {e}", path.display())),
        }
    }
    Ok(observed)
}

/// `<dir>/<namespace>/<service>/<node>.json`, each decoded.
fn per_node<T: DeserializeOwned>(dir: &Path, notes: &mut Vec<String>) -> Vec<((String, String), T)> {
    let mut out = Vec::new();
    for namespace in subdirectories(dir) {
        for service in subdirectories(&namespace) {
            let key = (file_name(&namespace), file_name(&service));
            for (_, path) in json_files(&service) {
                if let Some(status) = read_json(&path, notes) {
                    out.push((key.clone(), status));
                }
            }
        }
    }
    out
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !file_name(p).starts_with('.'))
        .collect();
    out.sort();
    out
}

/// The `*.json` files of `dir` by stem, sorted.
fn json_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !file_name(p).starts_with('.'))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_owned(), p)))
        .collect();
    out.sort();
    out
}

fn file_name(path: &Path) -> String {
    path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned()
}

fn read_json<T: DeserializeOwned>(path: &Path, notes: &mut Vec<String>) -> Option<T> {
    match fs::read(path).map_err(|e| e.to_string()).and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(value) => Some(value),
        Err(e) => {
            notes.push(format!("{}: cannot be read: {e}", path.display()));
            None
        }
    }
}

/// Each heartbeat file's node and whether it was renewed lately (stale after as many missed
/// renewals as the speakers' own witness counts); `None` without any.
fn heartbeats(dir: &Path, now: SystemTime) -> Option<BTreeMap<String, bool>> {
    let beats: BTreeMap<String, bool> = fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            if name.starts_with('.') {
                return None;
            }
            let modified = entry.metadata().ok()?.modified().ok()?;
            let age = now.duration_since(modified).unwrap_or_default();
            Some((name, age <= DIR_INTERVAL * MISSED_RENEWALS))
        })
        .collect();
    (!beats.is_empty()).then_some(beats)
}
