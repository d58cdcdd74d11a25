//! The state directory's writer: status files written in batches on a thread of their own.
//!
//! A speaker that starts announcing 10,000 services over BGP owes 10,000 ServiceBGPStatus
//! files at once. Written one by one on the async runtime, each with its own two fsyncs,
//! they took 15-20 s and stalled every task sharing the runtime's two workers, BGP sessions
//! included: the router's hold timer expired on an Established session. Here the reconcilers
//! only record what each file should hold (the newest wish per file wins, as with the API
//! server's status writer) and a dedicated thread writes whatever is pending as one batch:
//! every new content goes to a temporary file beside its target (`.<name>.<pid>.tmp`, which
//! readers skip) and is renamed over it, so a reader or a `kill -9` at any moment finds each
//! file whole, old or new, never torn.
//!
//! Durability is paid only where a power cut would cost something. The services' files
//! (`services/`) are the controller's record of which address each Service holds: losing
//! one would let a restarted controller give the Service another address. Their contents
//! are fsync'ed before the rename and each directory they are in once per batch after it.
//! Everything else here is derived (per-node statuses, pool counters, configuration
//! states): each process writes all of it again when it starts, so those files are renamed
//! into place without a sync. (One `syncfs` per batch would be cheaper in syscalls, but it
//! flushes every dirty page of the filesystem, and under a busy writer elsewhere, a build
//! say, it took seconds.) A crash leaves at most some temporary files, which readers ignore
//! and the next write of that file replaces.
//!
//! A failed write is retried with a growing pause, unless a newer wish replaced it, and
//! counted in `metallb_k8s_client_update_errors`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use serde::Serialize;
use tracing::warn;

use super::state_dir::{ServiceState, ServiceStates, StateDir};

/// How often the controller has [`StateWriter::rescan_services`] look at every service
/// state file again: only the active controller writes them, and it knows what it wrote, so
/// the disk is read again only for what someone else did (an operator removing a file, a
/// controller that held the role before).
pub const SERVICES_RESCAN: Duration = Duration::from_secs(30);
/// The most files one batch takes: bounds how long a write queued behind a large change
/// waits, and how long the view of in-flight files is held.
const MAX_BATCH: usize = 10_000;
/// Pause after a batch with failures, doubled up to [`MAX_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// What a file should hold: its bytes, or `None` for no file.
type Content = Option<Arc<[u8]>>;

/// A handle on the writer thread of one state directory; clones share the thread, which
/// writes what is left and stops when the last clone is dropped.
#[derive(Clone)]
pub struct StateWriter {
    state: StateDir,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StateWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateWriter").field("root", &self.state.root()).finish_non_exhaustive()
    }
}

/// Owned by the handles: closing the queue and joining the thread when the last one goes.
struct Inner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The services' states as this process last read them from disk, with what it asked
    /// for since, and whether the disk was looked at yet.
    services: Mutex<(ServiceStates, bool)>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the thread: a new wish, or closing.
    wake: Condvar,
    /// Wakes [`StateWriter::flush`]: a batch ended.
    done: Condvar,
    errors: Counter,
}

#[derive(Default)]
struct Queue {
    /// Not yet taken by the thread.
    wishes: BTreeMap<PathBuf, Content>,
    /// Being written by the thread now: what readers of this process must see meanwhile.
    in_flight: BTreeMap<PathBuf, Content>,
    closed: bool,
}

impl Queue {
    /// What this process last asked the file to hold, if it has not surely landed yet.
    fn intended(&self, path: &Path) -> Option<&Content> {
        self.wishes.get(path).or_else(|| self.in_flight.get(path))
    }

    fn idle(&self) -> bool {
        self.wishes.is_empty() && self.in_flight.is_empty()
    }
}

impl StateWriter {
    /// Starts the writer thread of `state`; failed writes are counted in `errors`.
    pub fn start(state: StateDir, errors: Counter) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
            errors,
        });
        let thread = {
            let (shared, durable) = (Arc::clone(&shared), state.root().join("services"));
            std::thread::Builder::new().name("ferrolb-state".into()).spawn(move || write_loop(&shared, &durable))?
        };
        let services = Mutex::new((ServiceStates::default(), false));
        Ok(Self { state, inner: Arc::new(Inner { shared, thread: Some(thread), services }) })
    }

    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// Asks for `path` to hold `value` as JSON on one line (or, with `None`, not to exist).
    /// Returns at once; a later wish for the same file replaces this one if it has not been
    /// written yet. (One line, not indented: the first pass at 100,000 Services queues
    /// 200,000 files, and indenting made each a third larger while it waited.)
    pub fn set<T: Serialize>(&self, path: PathBuf, value: Option<&T>) {
        let content = value.map(|v| {
            let mut bytes = serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec());
            bytes.push(b'\n');
            Arc::from(bytes)
        });
        self.inner.shared.lock().wishes.insert(path, content);
        self.inner.shared.wake.notify_one();
    }

    /// Whether `path` exists, counting what this process asked for and is not on disk yet.
    pub fn exists(&self, path: &Path) -> bool {
        if let Some(content) = self.inner.shared.lock().intended(path) {
            return content.is_some();
        }
        path.exists()
    }

    /// The stems of the `*.json` files in `dir`, counting pending wishes (sorted).
    pub fn json_files_in(&self, dir: &Path) -> io::Result<Vec<String>> {
        // The queue is locked before the directory is read: a write that lands meanwhile
        // leaves the in-flight list only under this lock, so whatever the reading saw of it,
        // the in-flight entry applied below says how it ends (read first, the file could land
        // and leave the list in between, and the listing would miss it).
        let queue = self.inner.shared.lock();
        let mut names: BTreeSet<String> = match fs::read_dir(dir) {
            Ok(entries) => entries.flatten().filter_map(|e| super::state_dir::json_stem(&e.path())).collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(e),
        };
        // a wish replaces what is in flight, so wishes come last
        for (path, content) in queue.in_flight.iter().chain(queue.wishes.iter()) {
            if path.parent() != Some(dir) {
                continue;
            }
            let Some(stem) = super::state_dir::json_stem(path) else { continue };
            if content.is_some() {
                names.insert(stem);
            } else {
                names.remove(&stem);
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Every service state: what the disk holds, under what this process asked for and is
    /// not surely there yet. The disk is read whole the first time; after that this
    /// process's own wishes ([`Self::set_service`]) keep the view current, the files of the
    /// Services in `reread` are read again (the source saw them change), and
    /// [`Self::rescan_services`] looks at every file now and then.
    ///
    /// `f` reads them in place (the writer thread goes on meanwhile: only this view is locked).
    pub fn with_stored_services<R>(
        &self,
        reread: Option<&BTreeSet<(String, String)>>,
        f: impl FnOnce(&ServiceStates) -> R,
    ) -> R {
        let cache = {
            // The queue is locked first, as for the other readers: whatever a write landing
            // meanwhile did to the disk, its wish is still in the queue and wins below.
            let queue = self.inner.shared.lock();
            let mut cache = self.inner.services.lock().unwrap_or_else(|e| e.into_inner());
            let (states, scanned) = &mut *cache;
            if !*scanned {
                self.scan(&queue, states);
                *scanned = true;
            } else if let Some(keys) = reread.filter(|keys| !keys.is_empty()) {
                let paths: BTreeSet<PathBuf> =
                    keys.iter().map(|(ns, name)| self.state.service_path(ns, name)).collect();
                states.refresh(&self.state, Some(&paths), &mut Vec::new());
                // only these files' wishes: on a first pass the queue holds 100,000
                for path in &paths {
                    if let Some(content) = queue.intended(path) {
                        self.record(states, path, content);
                    }
                }
            }
            cache
        };
        f(&cache.0)
    }

    /// Looks at every service state file again: a stat of each, a read of those that
    /// changed. Called between the controller's steps (a few tenths of a second at 100,000
    /// Services), not within one.
    pub fn rescan_services(&self) {
        let queue = self.inner.shared.lock();
        let mut cache = self.inner.services.lock().unwrap_or_else(|e| e.into_inner());
        let (states, scanned) = &mut *cache;
        self.scan(&queue, states);
        *scanned = true;
    }

    /// Every state file read again (those whose stamp moved), then what this process asked
    /// for and is not surely on disk yet over what was read.
    fn scan(&self, queue: &Queue, states: &mut ServiceStates) {
        states.refresh(&self.state, None, &mut Vec::new());
        // a wish replaces what is in flight, so wishes come last
        for (path, content) in queue.in_flight.iter().chain(queue.wishes.iter()) {
            self.record(states, path, content);
        }
    }

    /// `content`, asked for `path`, in the view when `path` is a service state.
    fn record(&self, states: &mut ServiceStates, path: &Path, content: &Content) {
        if let Some((namespace, name)) = self.state.service_of(path) {
            let state = content.as_ref().and_then(|bytes| serde_json::from_slice(bytes).ok());
            states.record(&namespace, &name, state);
        }
    }

    /// Asks for a Service's state file to hold `state` (`None`: not to exist), as
    /// [`Self::set`] does, and remembers it for [`Self::with_stored_services`].
    pub fn set_service(&self, namespace: &str, name: &str, state: Option<&ServiceState>) {
        self.set(self.state.service_path(namespace, name), state);
        let mut cache = self.inner.services.lock().unwrap_or_else(|e| e.into_inner());
        cache.0.record(namespace, name, state.cloned());
    }

    /// Waits until every wish made so far is on disk (or failed and waits for its retry),
    /// at most `timeout`; whether everything landed.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let shared = &self.inner.shared;
        let mut queue = shared.lock();
        while !queue.idle() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            queue = shared.done.wait_timeout(queue, left).map(|(q, _)| q).unwrap_or_else(|e| e.into_inner().0);
        }
        true
    }
}

impl Shared {
    /// The queue; a panic elsewhere while holding it leaves plain data, still usable.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: take up to [`MAX_BATCH`] wishes, write them, put back the failures, repeat;
/// after closing, write what is left once and stop.
fn write_loop(shared: &Shared, durable: &Path) {
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        let batch = {
            let mut queue = shared.lock();
            while queue.wishes.is_empty() && !queue.closed {
                queue = shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            if queue.wishes.is_empty() {
                return;
            }
            let batch = take_batch(&mut queue.wishes, MAX_BATCH);
            queue.in_flight = batch.clone();
            batch
        };
        let failures = write_batch(durable, &batch);
        let closed = {
            let mut queue = shared.lock();
            queue.in_flight.clear();
            for (path, error) in &failures {
                warn!(path = %path.display(), error = %error, "cannot write the state directory; retrying");
                shared.errors.inc();
                if let Some(content) = batch.get(path) {
                    // a newer wish for the file wins over the retry
                    queue.wishes.entry(path.clone()).or_insert_with(|| content.clone());
                }
            }
            queue.closed
        };
        shared.done.notify_all();
        if failures.is_empty() {
            pause = FIRST_RETRY_PAUSE;
        } else if closed {
            return;
        } else {
            std::thread::sleep(pause);
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }
}

/// The first `max` wishes (in path order), removed from `wishes`.
fn take_batch(wishes: &mut BTreeMap<PathBuf, Content>, max: usize) -> BTreeMap<PathBuf, Content> {
    if wishes.len() <= max {
        return std::mem::take(wishes);
    }
    let split = wishes.keys().nth(max).cloned();
    match split {
        Some(key) => {
            let rest = wishes.split_off(&key);
            std::mem::replace(wishes, rest)
        }
        None => std::mem::take(wishes),
    }
}

/// Writes one batch (see the module documentation): files under `durable` are synced; the
/// files it could not write, with why.
fn write_batch(durable: &Path, batch: &BTreeMap<PathBuf, Content>) -> Vec<(PathBuf, io::Error)> {
    let mut failures = Vec::new();
    let mut made_dirs = BTreeSet::new();
    let mut synced_dirs = BTreeSet::new();
    for (path, content) in batch {
        let sync = path.starts_with(durable);
        let done = match content {
            Some(bytes) => replace(path, bytes, sync, &mut made_dirs),
            None => match fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            },
        };
        match done {
            Ok(()) if sync => {
                synced_dirs.extend(path.parent().map(Path::to_owned));
            }
            Ok(()) => {}
            Err(e) => failures.push((path.clone(), e)),
        }
    }
    for dir in synced_dirs {
        // The renames and removals are durable once their directory is: worth a warning
        // when that fails, not a rewrite (every reader already sees the new contents).
        if let Err(e) = File::open(&dir).and_then(|d| d.sync_all()) {
            warn!(dir = %dir.display(), error = %e, "cannot sync a state directory");
        }
    }
    failures
}

/// Puts `bytes` in `path` through the temporary file beside it (synced first with `sync`),
/// creating the directory once per batch.
fn replace(path: &Path, bytes: &[u8], sync: bool, made_dirs: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    if !made_dirs.contains(dir) {
        fs::create_dir_all(dir)?;
        made_dirs.insert(dir.to_owned());
    }
    let tmp = super::state_dir::temporary_path(path);
    let result = File::create(&tmp)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            if sync { file.sync_data() } else { Ok(()) }
        })
        .and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> (StateWriter, PathBuf) {
        let dir = std::env::temp_dir().join(format!("ferrolb-writer-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let state = StateDir::new(dir.clone());
        state.create().unwrap();
        (StateWriter::start(state, Counter::default()).unwrap(), dir)
    }

    fn files_under(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_newest_wish_lands_and_removals_remove() {
        let (w, dir) = scratch("newest");
        let path = dir.join("servicebgpstatus/default/web/node1.json");
        for i in 0..50 {
            w.set(path.clone(), Some(&serde_json::json!({ "n": i })));
        }
        assert!(w.exists(&path), "a pending wish counts as existing");
        assert!(w.flush(Duration::from_secs(10)));
        let read: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(read["n"], 49);
        w.set::<()>(path.clone(), None);
        assert!(!w.exists(&path), "a pending removal counts as gone");
        assert!(w.flush(Duration::from_secs(10)));
        assert!(!path.exists());
        assert_eq!(files_under(&dir.join("servicebgpstatus")), Vec::<String>::new());
    }

    #[test]
    fn thousands_of_files_land_whole_with_no_temporary_file_left() {
        let (w, dir) = scratch("many");
        for i in 0..(MAX_BATCH + 500) {
            w.set(
                dir.join(format!("servicebgpstatus/ns{}/s{i}/node1.json", i % 7)),
                Some(&serde_json::json!({ "i": i })),
            );
        }
        assert!(w.flush(Duration::from_secs(60)));
        let files = files_under(&dir.join("servicebgpstatus"));
        assert_eq!(files.len(), MAX_BATCH + 500);
        assert!(files.iter().all(|f| f.ends_with("/node1.json")), "no temporary file left");
        let one: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("servicebgpstatus/ns3/s10/node1.json")).unwrap()).unwrap();
        assert_eq!(one["i"], 10);
    }

    #[test]
    fn listing_merges_the_disk_with_pending_wishes() {
        let (w, dir) = scratch("listing");
        let svc = dir.join("servicel2status/default/web");
        for node in ["node1", "node2"] {
            w.set(svc.join(format!("{node}.json")), Some(&"x"));
        }
        assert!(w.flush(Duration::from_secs(10)));
        fs::write(svc.join(".node9.json.1.tmp"), b"{").unwrap(); // a crash's leftover: not a file
        w.set::<()>(svc.join("node1.json"), None);
        w.set(svc.join("node3.json"), Some(&"y"));
        assert_eq!(w.json_files_in(&svc).unwrap(), ["node2", "node3"]);
        assert!(w.json_files_in(&dir.join("servicel2status/default/none")).unwrap().is_empty());
    }

    #[test]
    fn a_write_that_fails_is_counted_retried_and_lands_once_the_obstacle_is_gone() {
        let errors = Counter::default();
        let dir = std::env::temp_dir().join(format!("ferrolb-writer-{}-retry", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let state = StateDir::new(dir.clone());
        state.create().unwrap();
        let w = StateWriter::start(state, errors.clone()).unwrap();
        // A directory where the file should be: rename fails, even for root.
        let path = dir.join("services/default/web.json");
        fs::create_dir_all(path.join("occupied")).unwrap();
        let ok = dir.join("services/default/other.json");
        // `ok` first: whether or not the thread takes both in one batch, it has landed by
        // the time the failure of `web` is counted
        w.set(ok.clone(), Some(&"other"));
        w.set(path.clone(), Some(&"web"));
        let start = Instant::now();
        while errors.get() == 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(errors.get() >= 1, "the failure is counted");
        assert!(ok.is_file(), "the other file of the batch landed");
        assert!(path.join("occupied").is_dir(), "nothing was overwritten");
        assert!(!w.flush(Duration::from_millis(50)), "the failed write is still owed");
        fs::remove_dir_all(&path).unwrap();
        assert!(w.flush(Duration::from_secs(10)), "retried until it landed");
        assert_eq!(fs::read_to_string(&path).unwrap(), "\"web\"\n");
        assert!(!files_under(&dir.join("services")).iter().any(|f| f.ends_with(".tmp")));
    }

    #[test]
    fn dropping_the_last_handle_writes_what_is_pending() {
        let (w, dir) = scratch("drop");
        let path = dir.join("configurationstates/speaker-node1.json");
        let clone = w.clone();
        w.set(path.clone(), Some(&"last"));
        drop(w);
        drop(clone);
        assert_eq!(fs::read_to_string(&path).unwrap(), "\"last\"\n");
    }

    #[test]
    fn batches_are_bounded_and_taken_in_path_order() {
        let mut wishes: BTreeMap<PathBuf, Content> = (0..5).map(|i| (PathBuf::from(format!("f{i}")), None)).collect();
        let first = take_batch(&mut wishes, 3);
        assert_eq!(first.keys().cloned().collect::<Vec<_>>(), ["f0", "f1", "f2"].map(PathBuf::from));
        assert_eq!(wishes.len(), 2);
        assert_eq!(take_batch(&mut wishes, 3).len(), 2);
        assert!(wishes.is_empty());
    }
}
