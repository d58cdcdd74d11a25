//! The state directory of the `dir:` source: what the API server's status subresources hold
//! in a cluster.
//!
//! Every file is written whole and atomically (temporary file, sync, rename, sync), so a
//! reader or a `kill -9` at any moment sees either the previous content or the new one,
//! never half of it. The reconcilers' files go through the batching
//! [`StateWriter`](super::state_writer::StateWriter); this module names the files and reads
//! them. Each file has one writer: the active controller writes
//! services, pools, `leader.json` and `configurationstates/controller.json`; each speaker
//! writes its own `configurationstates/speaker-<node>.json`, its own ServiceL2Status files and
//! its report.
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
//! <state>/speakers/<node>.json                     each speaker's report, on change
//!                                                  (`speaker::report`, read by `ferrolb why`)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ferrolb_api::core::LoadBalancerIngress;
use ferrolb_api::touched::Touched;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::POOL_ANNOTATION;

/// The two kinds of per-node service status files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// ServiceL2Status: written by the node answering ARP/NDP for the service.
    Layer2,
    /// ServiceBGPStatus: written by each node announcing the service over BGP.
    Bgp,
}

impl StatusKind {
    fn directory(self) -> &'static str {
        match self {
            StatusKind::Layer2 => "servicel2status",
            StatusKind::Bgp => "servicebgpstatus",
        }
    }
}

/// A service's controller-written state: `status.loadBalancer.ingress` and the
/// `metallb.io/ip-allocated-from-pool` annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub ingress: Vec<LoadBalancerIngress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

/// The services' states as last read, each with its file's stamp, so that reading them again
/// costs what changed: with the paths file events named, those files only; without, a stat
/// of each file and a read of those whose stamp moved. Every write of a state file renames a
/// new file over it (a new inode), so a rewrite always shows in the stamp.
#[derive(Debug, Default)]
pub struct ServiceStates {
    /// By namespace, then name: looked up with borrowed names, once per Service per reload.
    states: BTreeMap<String, BTreeMap<String, (Stamp, ServiceState)>>,
}

/// What tells a state file apart from its earlier self without reading it.
type Stamp = (u64, u64, Option<std::time::SystemTime>);

fn stamp(meta: &fs::Metadata) -> Stamp {
    (meta.len(), std::os::unix::fs::MetadataExt::ino(meta), meta.modified().ok())
}

impl ServiceStates {
    /// Reads again the state files among `paths`, or with `None` every file whose stamp
    /// changed (and forgets the files gone). Unreadable or malformed files are left out and
    /// reported in `problems`: the controller rewrites them on its next pass. True when a
    /// state changed.
    pub fn refresh(&mut self, dir: &StateDir, paths: Option<&BTreeSet<PathBuf>>, problems: &mut Vec<String>) -> bool {
        self.refresh_noting(dir, paths, problems, &mut Touched::nothing())
    }

    /// [`Self::refresh`], noting in `touched` every Service whose state changed.
    pub fn refresh_noting(
        &mut self,
        dir: &StateDir,
        paths: Option<&BTreeSet<PathBuf>>,
        problems: &mut Vec<String>,
        touched: &mut Touched,
    ) -> bool {
        let Some(paths) = paths else { return self.rescan(dir, problems, touched) };
        let services = dir.root.join("services");
        let mut changed = false;
        for path in paths {
            if let Some(key) = dir.service_of(path) {
                let (namespace, name) = (key.0.clone(), key.1.clone());
                if self.read_one(key, path, None, problems) {
                    touched.service(&namespace, &name);
                    changed = true;
                }
            } else if path.starts_with(&services) && !is_hidden(path) {
                // A namespace's directory came or went: the files written into a new one
                // before the watcher saw it have no event of their own.
                return self.rescan(dir, problems, touched) || changed;
            }
        }
        changed
    }

    /// Every file found is moved from the old view into the new one (read again when its
    /// stamp moved); what is left of the old view is gone from the disk.
    fn rescan(&mut self, dir: &StateDir, problems: &mut Vec<String>, touched: &mut Touched) -> bool {
        let mut old = std::mem::take(&mut self.states);
        let mut changed = false;
        if let Ok(namespaces) = fs::read_dir(dir.root.join("services")) {
            for ns in namespaces.flatten() {
                let namespace = ns.file_name().to_string_lossy().into_owned();
                let Ok(files) = fs::read_dir(ns.path()) else { continue };
                let mut before = old.remove(&namespace).unwrap_or_default();
                for file in files.flatten() {
                    let path = file.path();
                    let Some(name) = json_stem(&path) else { continue };
                    let Ok(meta) = file.metadata() else { continue };
                    let previous = before.remove(&name);
                    let unchanged = previous.as_ref().is_some_and(|(s, _)| *s == stamp(&meta));
                    let key = (namespace.clone(), name);
                    if let Some(slot) = previous {
                        self.put(key.clone(), slot);
                    }
                    if !unchanged {
                        let (namespace, name) = (key.0.clone(), key.1.clone());
                        if self.read_one(key, &path, Some(&meta), problems) {
                            touched.service(&namespace, &name);
                            changed = true;
                        }
                    }
                }
                for gone in before.keys() {
                    touched.service(&namespace, gone);
                    changed = true;
                }
            }
        }
        for (namespace, names) in &old {
            for gone in names.keys() {
                touched.service(namespace, gone);
                changed = true;
            }
        }
        changed
    }

    /// Reads one state file into the cache (or out of it, when it is gone or unreadable);
    /// true when the state changed.
    fn read_one(
        &mut self,
        key: (String, String),
        path: &Path,
        meta: Option<&fs::Metadata>,
        problems: &mut Vec<String>,
    ) -> bool {
        let stamped = match meta {
            Some(meta) => Some(stamp(meta)),
            None => fs::metadata(path).ok().map(|m| stamp(&m)),
        };
        match (stamped, read_json::<ServiceState>(path)) {
            (Some(stamp), Ok(Some(mut state))) => {
                // decoded lists have room for four: kept for every Service, twice
                state.ingress.shrink_to_fit();
                let same = self.slot(&key.0, &key.1).is_some_and(|(_, s)| *s == state);
                self.put(key, (stamp, state));
                !same
            }
            (_, Err(e)) => {
                problems.push(format!("{}: {e}", path.display()));
                self.take(&key.0, &key.1)
            }
            _ => self.take(&key.0, &key.1),
        }
    }

    /// What this process just asked a state file to hold (`None`: no file), before it is on
    /// disk: the next rescan reads the file again whatever its stamp.
    pub fn record(&mut self, namespace: &str, name: &str, state: Option<ServiceState>) {
        match state {
            Some(state) => self.put((namespace.to_owned(), name.to_owned()), ((0, 0, None), state)),
            None => {
                self.take(namespace, name);
            }
        }
    }

    /// The state of a Service, as last read.
    /// Puts each Service's stored state where the API server keeps it: its status's ingress
    /// and the pool annotation (a Service without a state file keeps what its manifest says).
    ///
    /// The Services are the manifest cache's own, shared ([`ferrolb_api::Shared`]): one is
    /// copied only when its state changes it. `previous` are the Services of the snapshot
    /// published last (in the same order, unless files came, went or moved): a copy equal to
    /// the previous one at its place is dropped for that one, so a reload keeps a single
    /// copy of each Service its state changes, not one more per snapshot.
    ///
    /// `touched` names the Services whose object or state may have changed since `previous`
    /// was made (`None`: any may have): every other one is the one of `previous`, taken as it
    /// is, with no state looked up and no copy compared (at 50,000 Services, that was most
    /// of a reload after one edit).
    pub fn apply_to(
        &self,
        services: &mut [ferrolb_api::Service],
        previous: &[ferrolb_api::Service],
        touched: Option<&BTreeSet<(String, String)>>,
    ) {
        let touched: Option<BTreeSet<(&str, &str)>> =
            touched.map(|keys| keys.iter().map(|(ns, name)| (ns.as_str(), name.as_str())).collect());
        fn key_of(s: &ferrolb_api::Service) -> (&str, &str) {
            (s.metadata.namespace.as_deref().unwrap_or("default"), s.metadata.name.as_str())
        }
        // where each previous Service was, indexed only when one is not at its old place
        let mut moved: Option<HashMap<(&str, &str), usize>> = None;
        for (at, service) in services.iter_mut().enumerate() {
            if let Some(touched) = &touched
                && !touched.contains(&key_of(service))
            {
                let key = key_of(service);
                let before = match previous.get(at) {
                    Some(before) if key_of(before) == key => Some(before),
                    _ => moved
                        .get_or_insert_with(|| previous.iter().enumerate().map(|(i, s)| (key_of(s), i)).collect())
                        .get(&key)
                        .map(|i| &previous[*i]),
                };
                if let Some(before) = before {
                    *service = before.clone();
                    continue;
                }
            }
            let unnamed = service.metadata.namespace.is_none();
            let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
            let state = self.get(namespace, &service.metadata.name);
            let stale = state.is_some_and(|state| {
                service.status.load_balancer.ingress != state.ingress
                    || service.metadata.annotations.get(POOL_ANNOTATION) != state.pool.as_ref()
            });
            if !unnamed && !stale {
                continue;
            }
            let fields = &mut **service;
            fields.metadata.namespace.get_or_insert_with(|| "default".to_owned());
            if let Some(state) = state {
                fields.status.load_balancer.ingress = state.ingress.clone();
                match &state.pool {
                    Some(pool) => fields.metadata.annotations.insert(POOL_ANNOTATION.to_owned(), pool.clone()),
                    None => fields.metadata.annotations.remove(POOL_ANNOTATION),
                };
            }
            if let Some(before) = previous.get(at)
                && before == service
            {
                *service = before.clone();
            }
        }
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<&ServiceState> {
        self.slot(namespace, name).map(|(_, s)| s)
    }

    /// Every state, by Service.
    pub fn to_map(&self) -> BTreeMap<(String, String), ServiceState> {
        let all = self.states.iter().flat_map(|(ns, names)| names.iter().map(move |(name, slot)| (ns, name, slot)));
        all.map(|(ns, name, (_, state))| ((ns.clone(), name.clone()), state.clone())).collect()
    }

    pub fn len(&self) -> usize {
        self.states.values().map(BTreeMap::len).sum()
    }

    /// Every Service's namespace and name that has a state.
    pub fn ids(&self) -> impl Iterator<Item = (&str, &str)> {
        self.states.iter().flat_map(|(ns, names)| names.keys().map(move |name| (ns.as_str(), name.as_str())))
    }

    fn slot(&self, namespace: &str, name: &str) -> Option<&(Stamp, ServiceState)> {
        self.states.get(namespace)?.get(name)
    }

    fn put(&mut self, (namespace, name): (String, String), slot: (Stamp, ServiceState)) {
        self.states.entry(namespace).or_default().insert(name, slot);
    }

    /// Forgets a state; true when there was one.
    fn take(&mut self, namespace: &str, name: &str) -> bool {
        let Some(names) = self.states.get_mut(namespace) else { return false };
        let taken = names.remove(name).is_some();
        if names.is_empty() {
            self.states.remove(namespace);
        }
        taken
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
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

    pub fn service_path(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join("services").join(namespace).join(format!("{name}.json"))
    }

    /// The (namespace, name) whose state file `path` is, as [`Self::service_path`] names it.
    pub fn service_of(&self, path: &Path) -> Option<(String, String)> {
        let rest = path.strip_prefix(self.root.join("services")).ok()?;
        let mut parts = rest.iter();
        let namespace = parts.next()?.to_str()?.to_owned();
        let name = json_stem(Path::new(parts.next()?))?;
        parts.next().is_none().then_some((namespace, name))
    }

    pub fn pool_path(&self, name: &str) -> PathBuf {
        self.root.join("pools").join(format!("{name}.json"))
    }

    /// `<kind>/<namespace>/<name>`: where the per-node status files of one service live.
    pub fn service_status_dir(&self, kind: StatusKind, namespace: &str, name: &str) -> PathBuf {
        self.status_root(kind).join(namespace).join(name)
    }

    /// Every service's status files of `kind`, under `<namespace>/<name>/`.
    pub fn status_root(&self, kind: StatusKind) -> PathBuf {
        self.root.join(kind.directory())
    }

    /// One node's ServiceL2Status or ServiceBGPStatus file for a service.
    pub fn service_status_path(&self, kind: StatusKind, namespace: &str, name: &str, node: &str) -> PathBuf {
        self.service_status_dir(kind, namespace, name).join(format!("{node}.json"))
    }

    /// Written by each speaker: what `ferrolb why` reads of it (`speaker::report`).
    pub fn speaker_report_path(&self, node: &str) -> PathBuf {
        self.speaker_reports_dir().join(format!("{node}.json"))
    }

    pub fn speaker_reports_dir(&self) -> PathBuf {
        self.root.join("speakers")
    }

    /// The speakers' heartbeats, one file per node (`speaker::witness`).
    pub fn heartbeats_dir(&self) -> PathBuf {
        self.root.join("heartbeats")
    }

    pub fn configuration_state_path(&self, component: &str) -> PathBuf {
        self.configuration_states_dir().join(format!("{component}.json"))
    }

    pub fn configuration_states_dir(&self) -> PathBuf {
        self.root.join("configurationstates")
    }

    pub fn write_leader(&self, leader: &Leader) -> io::Result<()> {
        write_json(&self.root.join("leader.json"), leader)
    }

    #[cfg(test)]
    pub fn read_leader(&self) -> io::Result<Option<Leader>> {
        read_json(&self.root.join("leader.json"))
    }
}

/// The name a `*.json` file is known by; `None` for other files and for temporary ones
/// (which start with a dot).
/// A temporary file (`.<name>.<pid>.tmp`) or anything else hidden.
fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

pub(super) fn json_stem(path: &Path) -> Option<String> {
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

/// Where a new content of `path` is written before it is renamed over it: beside it (the
/// same filesystem), hidden from [`json_stem`], one per process.
pub(super) fn temporary_path(path: &Path) -> PathBuf {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()))
}

/// Write, fsync, rename over the target, fsync the directory: for the few files written
/// outside the [`StateWriter`](super::state_writer::StateWriter) (`leader.json`).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    fs::create_dir_all(dir)?;
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let tmp = temporary_path(path);
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

/// The controller reads the states where this cache keeps them.
impl crate::controller::core::StoredStates for ServiceStates {
    fn state(&self, namespace: &str, name: &str) -> Option<&ServiceState> {
        self.get(namespace, name)
    }

    fn each(&self, f: &mut dyn FnMut(&str, &str)) {
        for (namespace, name) in self.ids() {
            f(namespace, name);
        }
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
    fn the_states_cache_reads_what_changed_and_forgets_what_went() {
        let state = scratch("cache");
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.1")).unwrap();
        write_json(&state.service_path("default", "api"), &ingress("10.0.0.2")).unwrap();
        let mut cache = ServiceStates::default();
        let mut problems = Vec::new();
        assert!(cache.refresh(&state, None, &mut problems));
        assert_eq!(cache.len(), 2);
        assert!(!cache.refresh(&state, None, &mut problems), "nothing changed");
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.9")).unwrap();
        fs::remove_file(state.service_path("default", "api")).unwrap();
        assert!(cache.refresh(&state, None, &mut problems));
        assert_eq!(cache.get("default", "web"), Some(&ingress("10.0.0.9")));
        assert_eq!(cache.get("default", "api"), None);

        // named paths: only those are read
        write_json(&state.service_path("shop", "cart"), &ingress("10.0.0.3")).unwrap();
        let named: BTreeSet<PathBuf> =
            [state.service_path("shop", "cart"), state.root().join("heartbeats/node1")].into_iter().collect();
        assert!(cache.refresh(&state, Some(&named), &mut problems));
        assert_eq!(cache.get("shop", "cart"), Some(&ingress("10.0.0.3")));
        // a namespace directory the events name, with a file whose own event was never seen
        write_json(&state.service_path("new", "first"), &ingress("10.0.0.4")).unwrap();
        let dir_only: BTreeSet<PathBuf> = [state.root().join("services/new")].into_iter().collect();
        assert!(cache.refresh(&state, Some(&dir_only), &mut problems));
        assert_eq!(cache.get("new", "first"), Some(&ingress("10.0.0.4")));
        let temporary: BTreeSet<PathBuf> = [state.root().join("services/new/.first.json.1.tmp")].into_iter().collect();
        assert!(!cache.refresh(&state, Some(&temporary), &mut problems), "a temporary file is nothing");
        fs::write(state.service_path("shop", "cart"), b"{").unwrap();
        assert!(cache.refresh(&state, Some(&named), &mut problems), "a broken file drops its state");
        assert_eq!(cache.get("shop", "cart"), None);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    /// Every state on disk, and the problems met reading them.
    fn read_services(state: &StateDir) -> (BTreeMap<(String, String), ServiceState>, Vec<String>) {
        let mut problems = Vec::new();
        let mut cache = ServiceStates::default();
        cache.refresh(state, None, &mut problems);
        (cache.to_map(), problems)
    }

    #[test]
    fn a_state_copies_only_the_services_it_changes_and_a_reload_keeps_the_copy_it_made() {
        let state = scratch("apply");
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.1")).unwrap();
        let mut cache = ServiceStates::default();
        cache.refresh(&state, None, &mut Vec::new());
        let manifest = |name: &str, namespace: Option<&str>| {
            let mut metadata = ferrolb_api::ObjectMeta::named(name);
            metadata.namespace = namespace.map(str::to_owned);
            ferrolb_api::Service::new(ferrolb_api::ServiceFields { metadata, ..Default::default() })
        };
        // the manifest cache's objects: web has a state, api has none, bare no namespace
        let cached = [manifest("web", Some("default")), manifest("api", Some("default")), manifest("bare", None)];

        let mut first = cached.to_vec();
        cache.apply_to(&mut first, &[], None);
        assert!(!ferrolb_api::Shared::ptr_eq(&first[0], &cached[0]), "web's state changes it: a copy");
        assert_eq!(first[0].ingress_ips().collect::<Vec<_>>(), ["10.0.0.1"]);
        assert_eq!(first[0].metadata.annotations.get(POOL_ANNOTATION).map(String::as_str), Some("p"));
        assert!(cached[0].ingress_ips().next().is_none(), "the cache's own object is untouched");
        assert!(ferrolb_api::Shared::ptr_eq(&first[1], &cached[1]), "api has no state: shared");
        assert_eq!(first[2].metadata.namespace.as_deref(), Some("default"));

        // the next reload: the same objects from the cache, the first snapshot published
        let mut second = cached.to_vec();
        cache.apply_to(&mut second, &first, None);
        for at in 0..3 {
            assert!(ferrolb_api::Shared::ptr_eq(&second[at], &first[at]), "Service {at} is the one published");
        }
        // a state that moves gives a new copy, not the old one
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.2")).unwrap();
        cache.refresh(&state, None, &mut Vec::new());
        let mut third = cached.to_vec();
        cache.apply_to(&mut third, &second, None);
        assert_eq!(third[0].ingress_ips().collect::<Vec<_>>(), ["10.0.0.2"]);
        assert!(ferrolb_api::Shared::ptr_eq(&third[1], &cached[1]));

        // Told what changed: the others are the previous ones as they are, wherever they
        // now stand. Here web's state moved but only api is named, so web keeps .2 (which is
        // how an unnamed Service costs nothing).
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.3")).unwrap();
        write_json(&state.service_path("default", "api"), &ingress("10.0.0.4")).unwrap();
        cache.refresh(&state, None, &mut Vec::new());
        let mut fourth =
            vec![manifest("new", Some("default")), cached[2].clone(), cached[0].clone(), cached[1].clone()];
        let named =
            BTreeSet::from([("default".to_owned(), "api".to_owned()), ("default".to_owned(), "new".to_owned())]);
        cache.apply_to(&mut fourth, &third, Some(&named));
        assert!(ferrolb_api::Shared::ptr_eq(&fourth[1], &third[2]), "bare moved, and is the one published");
        assert!(ferrolb_api::Shared::ptr_eq(&fourth[2], &third[0]));
        assert_eq!(fourth[2].ingress_ips().collect::<Vec<_>>(), ["10.0.0.2"]);
        assert_eq!(fourth[3].ingress_ips().collect::<Vec<_>>(), ["10.0.0.4"], "api is named: its state is applied");
        assert_eq!(fourth[0].metadata.name, "new");
    }

    #[test]
    fn service_states_are_read_back_and_temporary_files_skipped() {
        let state = scratch("services");
        write_json(&state.service_path("default", "web"), &ingress("10.0.0.1")).unwrap();
        write_json(&state.service_path("shop", "api"), &ingress("10.0.0.2")).unwrap();
        // what a crash between write and rename leaves: not a service
        fs::write(temporary_path(&state.service_path("default", "gone")), b"{").unwrap();
        let (read, problems) = read_services(&state);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(read.len(), 2);
        assert_eq!(read[&("default".into(), "web".into())], ingress("10.0.0.1"));
    }

    #[test]
    fn a_malformed_state_file_is_reported_not_fatal() {
        let state = scratch("malformed");
        fs::create_dir_all(state.root().join("services/default")).unwrap();
        fs::write(state.root().join("services/default/bad.json"), b"{\"ingress\": [").unwrap();
        write_json(&state.service_path("default", "good"), &ingress("10.0.0.1")).unwrap();
        let (read, problems) = read_services(&state);
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
        assert!(write_json(&blocked, &ingress("10.0.0.1")).is_err());
        let names: Vec<String> = fs::read_dir(state.root().join("services/default"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["web.json"]);
        assert!(blocked.join("occupied").is_dir());
    }
}
