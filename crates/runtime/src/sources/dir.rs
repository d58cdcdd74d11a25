//! The `dir:` source: a directory of manifests, watched, turned into snapshots.
//!
//! It produces what the Kubernetes source will produce: the objects a cluster holds, with each
//! Service's status as the controller last wrote it. Changes are coalesced (a burst of
//! inotify events is one reload) and a periodic resync covers anything inotify missed. A
//! directory that does not load (a file half-written by an editor, a syntax error, an
//! unreadable file) is reported and the last good snapshot stays in force until it loads
//! again.
//!
//! A reload costs what changed, not what the directory holds: the manifests come through a
//! [`ManifestCache`] (unchanged files are not read, unchanged documents of a changed file are
//! not parsed), and the services' states through [`ServiceStates`], which re-reads only the
//! state files the file events name (every file's stamp on a resync). Nothing changed,
//! nothing is published.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrolb_api::files::{self, ManifestCache};
use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tracing::{debug, warn};

use ferrolb_api::touched::Touched;
use ferrolb_kube::source::Changes;

use super::Snapshot;
use super::state_dir::{ServiceStates, StateDir};
use crate::observe::metrics::Metrics;

/// How long to wait for a burst of file events to end before reloading.
const COALESCE: Duration = Duration::from_millis(40);
/// The same for a burst of service states only: those are renamed into place whole, by a
/// writer that writes a batch at once, so a short pause is enough, and it is the pause
/// between the controller's allocation and the speaker's announcement.
const COALESCE_STATES: Duration = Duration::from_millis(10);
/// Reload even without events, in case a notification was lost.
const RESYNC: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct DirSource {
    manifests: PathBuf,
    state: StateDir,
}

/// What a reload starts from: the caches of the last one.
#[derive(Debug, Default)]
struct Loaded {
    manifests: ManifestCache,
    states: ServiceStates,
    /// Whether anything was published yet: the first load always is.
    once: bool,
    /// A state changed in a reload that then failed: the next good one publishes.
    states_unpublished: bool,
    /// The Services last published, for [`ServiceStates::apply_to`] to share what did not
    /// change with them.
    published: Vec<ferrolb_api::Service>,
    /// How many snapshots were published ([`Changes::seq`]).
    seq: u64,
    /// The Services whose states changed since the last snapshot published (the manifests'
    /// own count is kept by their cache).
    touched: Touched,
}

/// Which files changed since the last reload, as the events said: `None` when that is not
/// known (a rescan, a lost event, the periodic resync), and every file is looked at.
type Changed = Option<BTreeSet<PathBuf>>;

impl DirSource {
    pub fn new(manifests: PathBuf, state: StateDir) -> Self {
        Self { manifests, state }
    }

    /// The snapshot after the changes in `changed`, or `None` when nothing it holds changed.
    fn reload(
        &self,
        loaded: &mut Loaded,
        changed: Option<&BTreeSet<PathBuf>>,
    ) -> Result<Option<Snapshot>, files::InputError> {
        let started = Instant::now();
        // The states first: the events that named them are used up either way.
        let mut problems = Vec::new();
        loaded.states_unpublished |=
            loaded.states.refresh_noting(&self.state, changed, &mut problems, &mut loaded.touched);
        for problem in problems {
            warn!(%problem, "ignoring an unreadable service state file");
        }
        let stats = loaded.manifests.refresh(std::slice::from_ref(&self.manifests))?;
        if loaded.once && !stats.changed && !loaded.states_unpublished {
            return Ok(None);
        }
        loaded.once = true;
        loaded.states_unpublished = false;
        let (mut resources, _report) = loaded.manifests.resources();
        let mut touched = std::mem::replace(&mut loaded.touched, Touched::nothing());
        touched.merge(loaded.manifests.take_touched());
        loaded.states.apply_to(&mut resources.services, &loaded.published, touched.services());
        loaded.published.clone_from(&resources.services);
        debug!(
            files_read = stats.files_read,
            documents_parsed = stats.pieces_parsed,
            documents_kept = stats.pieces_kept,
            states = loaded.states.len(),
            ms = started.elapsed().as_millis() as u64,
            "manifests reloaded"
        );
        let changes = Changes { seq: loaded.seq + 1, touched };
        Ok(Some(Snapshot { resources, rejected: Vec::new(), changes }))
    }

    /// Loads once, then watches the manifests (and the state directory within or beside
    /// them) and publishes every new snapshot that differs from the last. Returns when every
    /// receiver is gone. Fails only if the first load fails and no watcher can be set up.
    pub async fn watch(self, tx: watch::Sender<Arc<Snapshot>>, metrics: Arc<Metrics>) {
        let (events_tx, events_rx) = mpsc::unbounded_channel::<Changed>();
        let state_root = self.state.root().to_owned();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Opening and reading files (every reload, in every process sharing the
            // directory) must not count as a change, or the readers would wake each other
            // forever.
            match event {
                Ok(e) if matches!(e.kind, notify::EventKind::Access(_)) => {}
                Ok(e) if e.need_rescan() || e.paths.is_empty() => {
                    let _ = events_tx.send(None);
                }
                Ok(e) if changes_the_snapshot(&e.paths, &state_root) => {
                    let _ = events_tx.send(Some(e.paths.into_iter().collect()));
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = events_tx.send(None);
                }
            }
        });
        let mut watching = match watcher {
            Ok(mut w) => {
                for (path, mode) in watches(&self.manifests, self.state.root(), &subdirectories) {
                    if let Err(e) = w.watch(&path, mode) {
                        warn!(path = %path.display(), error = %e, "cannot watch; relying on periodic resync");
                    }
                }
                Some(w)
            }
            Err(e) => {
                warn!(error = %e, "no file watcher available; relying on periodic resync");
                None
            }
        };
        let mut events = watching.as_ref().map(|_| events_rx);
        let mut loaded = Some(Loaded::default());
        let mut changed: Changed = None;
        let mut last_error: Option<String> = None;
        loop {
            // Reading and parsing thousands of Services takes a while: off the async
            // workers, which serve the BGP sessions, the gossip and `/metrics` meanwhile.
            let source = self.clone();
            let mut caches = loaded.take().unwrap_or_default();
            let paths = changed.take();
            // The channel's first value is a placeholder: the first load is published even
            // when it equals it (an empty directory). Comparing 100,000 objects is work for
            // the loader's thread too.
            let current = Arc::clone(&tx.borrow());
            let done = tokio::task::spawn_blocking(move || {
                let first = !caches.once;
                let result = source.reload(&mut caches, paths.as_ref());
                // A snapshot equal to the one out there is not published, and the changes it
                // counted are none after all.
                let result = result.map(|new| new.filter(|new| first || *current != *new));
                if let Ok(Some(_)) = &result {
                    caches.seq += 1;
                }
                (caches, result)
            });
            let result = match done.await {
                Ok((caches, result)) => {
                    loaded = Some(caches);
                    result
                }
                Err(e) => {
                    warn!(error = %e, "the manifest loader stopped; keeping the last good state");
                    return;
                }
            };
            match result {
                Ok(snapshot) => {
                    if last_error.take().is_some() {
                        tracing::info!(source = %self.manifests.display(), "manifests load again");
                    }
                    if let Some(snapshot) = snapshot {
                        debug!("new snapshot");
                        let old = tx.send_replace(Arc::new(snapshot));
                        if tx.receiver_count() == 0 {
                            return;
                        }
                        // The old snapshot may hold the last reference to every object:
                        // freed off the async workers.
                        tokio::task::spawn_blocking(move || drop(old));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    metrics.source_failed();
                    if last_error.as_deref() != Some(message.as_str()) {
                        warn!(error = %message, "manifests do not load; keeping the last good state");
                        last_error = Some(message);
                    }
                }
            }
            changed = Some(BTreeSet::new());
            tokio::select! {
                Some(first) = next_event(&mut events) => {
                    if let (Some(w), Some(paths)) = (watching.as_mut(), first.as_ref()) {
                        watch_new_directories(w, paths, &self.manifests, self.state.root());
                    }
                    // Coalesce the burst: wait until the directory has been quiet briefly (the
                    // pause is judged event by event: the burst of a first load names 50,000
                    // files).
                    let services = self.state.root().join("services");
                    let mut quiet = pause(&first, &services);
                    merge(&mut changed, first);
                    while let Ok(Some(more)) = tokio::time::timeout(quiet, next_event(&mut events)).await {
                        quiet = quiet.max(pause(&more, &services));
                        merge(&mut changed, more);
                    }
                }
                _ = tokio::time::sleep(RESYNC) => changed = None,
                _ = tx.closed() => return,
            }
        }
    }
}

/// How long a burst may pause after an event naming `changed` before it is taken as ended:
/// shorter when it names service states only (under `services`); a burst waits as long as
/// the longest pause of its events.
fn pause(changed: &Changed, services: &Path) -> Duration {
    match changed {
        Some(paths) if paths.iter().all(|p| p.starts_with(services)) => COALESCE_STATES,
        _ => COALESCE,
    }
}

/// What to watch for [`DirSource::watch`], and how.
///
/// The state directory holds a directory per Service for its per-node statuses: watched as
/// a whole (or as part of the manifests around it), 50,000 Services were 50,000 inotify
/// watches, 16 MB of the watcher's bookkeeping and a walk of the tree at start, for files
/// that never change a snapshot ([`changes_the_snapshot`]). So only its `services`
/// directory is watched, and when it lies within the manifests (as `.ferrolb` does by
/// default) the manifests are watched around it: each directory on the way down to it
/// without its subdirectories, every other subdirectory whole. Hidden directories are
/// never read as manifests and are not watched. `subdirectories` lists a directory's.
fn watches(
    manifests: &Path,
    state_root: &Path,
    subdirectories: &dyn Fn(&Path) -> Vec<PathBuf>,
) -> Vec<(PathBuf, RecursiveMode)> {
    let mut out = vec![(state_root.join("services"), RecursiveMode::Recursive)];
    if !state_root.starts_with(manifests) || state_root == manifests {
        out.push((manifests.to_owned(), RecursiveMode::Recursive));
        return out;
    }
    let mut around = manifests.to_owned();
    loop {
        out.push((around.clone(), RecursiveMode::NonRecursive));
        let mut next = None;
        for sub in subdirectories(&around) {
            if state_root.starts_with(&sub) {
                next = Some(sub);
            } else if !hidden(&sub) {
                out.push((sub, RecursiveMode::Recursive));
            }
        }
        match next {
            Some(sub) if sub != state_root && !hidden(&sub) => around = sub,
            _ => return out,
        }
    }
}

fn hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let mut dirs: Vec<PathBuf> =
        entries.filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

/// A directory made after the watches were set, beside the state directory (where the
/// manifests are watched one level at a time), is watched from then on.
fn watch_new_directories(
    watcher: &mut notify::RecommendedWatcher,
    paths: &BTreeSet<PathBuf>,
    manifests: &Path,
    state_root: &Path,
) {
    let levels: Vec<PathBuf> = watches(manifests, state_root, &subdirectories)
        .into_iter()
        .filter(|(_, mode)| *mode == RecursiveMode::NonRecursive)
        .map(|(path, _)| path)
        .collect();
    for path in paths {
        let beside = path.parent().is_some_and(|parent| levels.iter().any(|l| l == parent));
        if beside
            && !hidden(path)
            && !state_root.starts_with(path)
            && path.is_dir()
            && let Err(e) = watcher.watch(path, RecursiveMode::Recursive)
        {
            warn!(path = %path.display(), error = %e, "cannot watch; relying on periodic resync");
        }
    }
}

/// Adds the paths of one event to what changed; an event without paths makes everything.
fn merge(changed: &mut Changed, event: Changed) {
    match (changed.as_mut(), event) {
        (Some(paths), Some(more)) => paths.extend(more),
        _ => *changed = None,
    }
}

/// Whether a file event can change what [`DirSource::load`] reads: anything in the
/// manifests, and in the state directory only the services' files (the rest of it, per-node
/// statuses and heartbeats renewed every second, would otherwise make every speaker reload
/// everything every second). An event without paths (a rescan) counts.
fn changes_the_snapshot(paths: &[PathBuf], state_root: &Path) -> bool {
    let services = state_root.join("services");
    paths.is_empty() || paths.iter().any(|p| !p.starts_with(state_root) || p.starts_with(&services))
}

/// The next file event, or never when there is no watcher.
async fn next_event(events: &mut Option<mpsc::UnboundedReceiver<Changed>>) -> Option<Changed> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::super::state_dir::{ServiceState, write_json};
    use super::*;

    const SERVICE: &str =
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {type: LoadBalancer}\n";

    #[test]
    fn the_state_directory_is_watched_only_for_the_services_states_and_the_manifests_around_it() {
        let listing = |dir: &Path| -> Vec<PathBuf> {
            match dir.to_str() {
                Some("/m") => ["/m/.ferrolb", "/m/.git", "/m/apps", "/m/infra"].map(PathBuf::from).to_vec(),
                Some("/m/apps") => vec![PathBuf::from("/m/apps/state"), PathBuf::from("/m/apps/web")],
                _ => vec![],
            }
        };
        let got = |state: &str| {
            watches(Path::new("/m"), Path::new(state), &listing)
                .into_iter()
                .map(|(p, mode)| (p.display().to_string(), mode == RecursiveMode::Recursive))
                .collect::<Vec<_>>()
        };
        let own = |p: &str, recursive| (p.to_owned(), recursive);
        assert_eq!(
            got("/m/.ferrolb"),
            [own("/m/.ferrolb/services", true), own("/m", false), own("/m/apps", true), own("/m/infra", true)]
        );
        assert_eq!(
            got("/m/apps/state"),
            [
                own("/m/apps/state/services", true),
                own("/m", false),
                own("/m/infra", true),
                own("/m/apps", false),
                own("/m/apps/web", true),
            ]
        );
        assert_eq!(got("/var/lib/ferrolb"), [own("/var/lib/ferrolb/services", true), own("/m", true)]);
    }

    /// Writes a file as an editor long gone would have left it (its stamp is trusted).
    fn write_old(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        let past = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options().write(true).open(path).unwrap().set_modified(past).unwrap();
    }

    fn ingress(snapshot: &Snapshot) -> Vec<String> {
        snapshot.resources.services[0].ingress_ips().map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn an_empty_directory_is_published_though_it_equals_the_placeholder() {
        let root = std::env::temp_dir().join(format!("ferrolb-dir-{}-empty", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let state = StateDir::new(root.join(".ferrolb"));
        state.create().unwrap();
        let (tx, mut rx) = watch::channel(Arc::new(Snapshot::default()));
        let task = tokio::spawn(DirSource::new(root.clone(), state).watch(tx, Arc::new(Metrics::new())));
        let published = tokio::time::timeout(Duration::from_secs(10), rx.changed()).await;
        assert!(matches!(published, Ok(Ok(()))), "the roles wait for a first snapshot");
        assert_eq!(**rx.borrow_and_update(), Snapshot::default());
        drop(rx);
        task.abort();
    }

    /// A source on a new manifest directory with its state directory inside.
    fn scratch_source(name: &str) -> (DirSource, PathBuf, StateDir) {
        let root = std::env::temp_dir().join(format!("ferrolb-dir-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let manifests = root.join("m");
        std::fs::create_dir_all(&manifests).unwrap();
        let state = StateDir::new(manifests.join(".ferrolb"));
        state.create().unwrap();
        (DirSource::new(manifests.clone(), state.clone()), manifests, state)
    }

    #[test]
    fn a_reload_publishes_what_changed_and_nothing_when_nothing_did() {
        let (source, manifests, state) = scratch_source("reload");
        write_old(&manifests.join("svc.yaml"), SERVICE);
        let mut loaded = Loaded::default();
        let first = source.reload(&mut loaded, None).unwrap().expect("the first load is published");
        assert!(ingress(&first).is_empty());
        assert!(source.reload(&mut loaded, Some(&BTreeSet::new())).unwrap().is_none(), "nothing changed");

        // The controller writes the address while an editor has the manifest half-written:
        // the state change must not be lost with the failed reload.
        let path = state.service_path("default", "web");
        let address = ServiceState {
            ingress: vec![ferrolb_api::core::LoadBalancerIngress { ip: Some("10.0.0.1".into()), hostname: None }],
            pool: Some("lan".into()),
        };
        write_json(&path, &address).unwrap();
        write_old(&manifests.join("svc.yaml"), "kind: [\n");
        assert!(source.reload(&mut loaded, Some(&BTreeSet::from([path]))).is_err());
        write_old(&manifests.join("svc.yaml"), SERVICE);
        let after = source.reload(&mut loaded, Some(&BTreeSet::new())).unwrap().expect("the state is published");
        assert_eq!(ingress(&after), ["10.0.0.1"]);
        assert!(source.reload(&mut loaded, Some(&BTreeSet::new())).unwrap().is_none());
    }

    #[test]
    fn a_burst_of_service_states_only_is_waited_for_briefly() {
        let services = Path::new("/m/.ferrolb/services");
        let states: Changed = Some(BTreeSet::from([services.join("default/web.json"), services.join("shop")]));
        assert_eq!(pause(&states, services), COALESCE_STATES);
        let mut mixed = states.clone();
        mixed.as_mut().unwrap().insert(PathBuf::from("/m/svc.yaml"));
        assert_eq!(pause(&mixed, services), COALESCE, "an editor's burst may have more to come");
        assert_eq!(pause(&None, services), COALESCE, "a rescan");
    }

    #[test]
    fn a_snapshot_says_which_services_changed_since_the_one_before() {
        let (source, manifests, state) = scratch_source("changes");
        let two = |port: u16| {
            let db = SERVICE
                .replace("name: web", "name: db")
                .replace("LoadBalancer}", &format!("LoadBalancer, ports: [{{port: {port}}}]}}"));
            format!("{SERVICE}---\n{db}")
        };
        write_old(&manifests.join("svc.yaml"), &two(80));
        let mut loaded = Loaded::default();
        let publish = |loaded: &mut Loaded, changed: Option<&BTreeSet<PathBuf>>| {
            let snapshot = source.reload(loaded, changed).unwrap().expect("a change is published");
            loaded.seq += 1;
            snapshot.changes
        };
        let keys = |changes: &Changes| {
            changes.since(changes.seq - 1).map(|keys| keys.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>())
        };
        let first = publish(&mut loaded, None);
        assert_eq!((first.seq, keys(&first)), (1, None), "the first snapshot is all new");

        write_old(&manifests.join("svc.yaml"), &two(81));
        let edited = publish(&mut loaded, Some(&BTreeSet::new()));
        assert_eq!((edited.seq, keys(&edited)), (2, Some(vec!["db".to_owned()])), "the edited document's Service");
        assert_eq!(edited.since(0), None, "a reconciler that missed snapshot 1 looks at everything");

        let path = state.service_path("default", "web");
        let address = ServiceState {
            ingress: vec![ferrolb_api::core::LoadBalancerIngress { ip: Some("10.0.0.1".into()), hostname: None }],
            pool: Some("lan".into()),
        };
        write_json(&path, &address).unwrap();
        let stated = publish(&mut loaded, Some(&BTreeSet::from([path])));
        assert_eq!(keys(&stated), Some(vec!["web".to_owned()]), "the Service whose state changed");
        let rescanned = source.reload(&mut loaded, None).unwrap();
        assert!(rescanned.is_none(), "a rescan that finds nothing new publishes nothing");
    }

    #[test]
    fn only_the_manifests_and_the_services_states_wake_the_source() {
        let state = Path::new("/m/.ferrolb");
        let wakes = |paths: &[&str]| changes_the_snapshot(&paths.iter().map(PathBuf::from).collect::<Vec<_>>(), state);
        assert!(wakes(&["/m/svc.yaml"]));
        assert!(wakes(&["/m/.ferrolb/services/default/web.json"]));
        assert!(wakes(&["/m/.ferrolb/services/default/.web.json.7.tmp"]), "a rename's other half follows");
        assert!(wakes(&[]), "a rescan");
        assert!(!wakes(&["/m/.ferrolb/heartbeats/node1"]), "renewed every second by every speaker");
        assert!(!wakes(&["/m/.ferrolb/servicebgpstatus/default/web/node1.json"]));
        assert!(!wakes(&["/m/.ferrolb/configurationstates/speaker-node1.json", "/m/.ferrolb/pools/lan.json"]));
        assert!(wakes(&["/m/.ferrolb/heartbeats/node1", "/m/other.yaml"]));
        // a state directory beside the manifests
        assert!(wakes(&["/m/svc.yaml"]) && !changes_the_snapshot(&[PathBuf::from("/s/leader.json")], Path::new("/s")));
    }
}
