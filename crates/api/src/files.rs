//! Reading manifest files and directories: what `validate` and `plan` are given on the
//! command line, and what the `dir:` source watches.

use std::collections::BTreeMap;
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::touched::Touched;
use crate::{EndpointSlice, LoadReport, ManifestError, Resources, Service, documents, load_str};

/// Why the inputs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Manifest(#[from] ManifestError),
}

impl InputError {
    /// Exit code 1 for objects that do not fit their schema (the configuration is
    /// invalid), 2 for anything that is not readable YAML at all.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Manifest(e) if !e.is_syntax() => 1,
            _ => 2,
        }
    }
}

/// Loads every manifest file under `paths`: files as given (YAML or JSON), directories
/// recursively (`*.yaml` and `*.yml` in name order; hidden entries such as the `.ferrolb`
/// state directory are skipped, and so are JSON files, which in a directory are more often
/// outputs, like the examples' expected plans, than manifests).
pub fn load(paths: &[PathBuf]) -> Result<(Resources, LoadReport), InputError> {
    load_files(paths, false)
}

/// Like [`load`], for a directory that changes while it is read: a file deleted between
/// listing and reading is simply gone, not an error.
pub fn load_live(paths: &[PathBuf]) -> Result<(Resources, LoadReport), InputError> {
    load_files(paths, true)
}

fn load_files(paths: &[PathBuf], live: bool) -> Result<(Resources, LoadReport), InputError> {
    let files = manifest_files(paths)?;
    let mut resources = Resources::default();
    let mut report = LoadReport::default();
    for file in files {
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if live && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(InputError::Io { path: file.display().to_string(), source }),
        };
        let one = load_pieces(&text, &file.display().to_string(), &mut resources)?;
        report.loaded += one.loaded;
        report.ignored.extend(one.ignored);
    }
    Ok((resources, report))
}

/// [`load_str`], a document at a time: a file of 50,000 Services never becomes one tree of
/// 50,000 documents in memory. A piece that does not load sends the whole text to
/// [`load_str`], for its exact error (line and document numbers of the file).
fn load_pieces(text: &str, origin: &str, into: &mut Resources) -> Result<LoadReport, ManifestError> {
    let mut staged = Resources::default();
    let mut report = LoadReport::default();
    for piece in documents::split(text) {
        match load_str(piece, origin, &mut staged) {
            Ok(one) => {
                report.loaded += one.loaded;
                report.ignored.extend(one.ignored);
            }
            Err(_) => return load_str(text, origin, into),
        }
    }
    into.extend(staged);
    Ok(report)
}

/// The manifest files under `paths`, in load order.
fn manifest_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, true, &mut files)?;
    }
    Ok(files)
}

fn collect(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let io = |source| InputError::Io { path: path.display().to_string(), source };
    let meta = fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> =
            fs::read_dir(path).map_err(io)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>().map_err(io)?;
        entries.sort();
        for entry in entries {
            let hidden = entry.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if !hidden {
                collect(&entry, false, out)?;
            }
        }
    } else if explicit || is_manifest(path) {
        out.push(path.to_owned());
    }
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// A file younger than this may still change within its timestamp's granularity without its
/// size or inode changing: its stamp is not trusted, and its text is read and hashed again.
const SETTLE: Duration = Duration::from_secs(2);

/// The manifests of a changing directory, loaded again and again at the cost of what
/// changed: [`load_live`]'s result, from a cache.
///
/// A file whose size, inode and modification time are those of the last load is not read.
/// A file that changed is read and cut into documents ([`documents::split`]); only the
/// documents whose text is new (by a 64-bit hash and the length) are parsed, the others
/// keep their objects. One edited Service in a file of 50,000 costs one document's parse,
/// not the file's. When a piece does not load, the whole file is loaded the usual way, so
/// the error is exactly the one [`load`] gives.
#[derive(Debug, Default)]
pub struct ManifestCache {
    files: BTreeMap<PathBuf, CachedFile>,
    /// The files in load order (the order [`load`] reads them in, which is not always the
    /// paths' order: the paths given come first in the order given).
    order: Vec<PathBuf>,
    /// Something changed since [`Self::resources`] last gave the objects: a refresh that
    /// failed half-way may have taken in another file's change.
    dirty: bool,
    /// Which Services the objects may differ in since [`Self::take_touched`] was last
    /// called: the Services and slices of every document parsed or dropped.
    touched: Touched,
}

#[derive(Debug)]
struct CachedFile {
    /// `None`: the file was too young to trust its stamp.
    stamp: Option<Stamp>,
    pieces: Vec<Piece>,
}

/// What tells a file apart from its earlier self without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    inode: u64,
    modified: SystemTime,
}

#[derive(Debug)]
struct Piece {
    hash: u64,
    len: usize,
    objects: PieceObjects,
    report: LoadReport,
}

/// One document's objects. Nearly every document of a large directory is one Service or one
/// EndpointSlice: held as that object alone, not in a [`Resources`] of eleven lists (264 bytes
/// of empty lists, and a list's own allocation, for each of 100,000 documents).
#[derive(Debug)]
enum PieceObjects {
    Service(Box<Service>),
    EndpointSlice(Box<EndpointSlice>),
    Other(Box<Resources>),
}

impl PieceObjects {
    fn of(mut objects: Resources) -> Self {
        match objects.lens() {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0] => objects.services.pop().map(|o| Self::Service(Box::new(o))),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] => {
                objects.endpoint_slices.pop().map(|o| Self::EndpointSlice(Box::new(o)))
            }
            _ => None,
        }
        .unwrap_or_else(|| {
            // Kept for as long as the document is unchanged: a list grown for one object has
            // room for four.
            objects.shrink_to_fit();
            Self::Other(Box::new(objects))
        })
    }

    /// How many objects of each kind, in [`Resources::lens`]'s order.
    fn lens(&self) -> [usize; 11] {
        match self {
            Self::Service(_) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
            Self::EndpointSlice(_) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            Self::Other(objects) => objects.lens(),
        }
    }

    /// These objects came or went.
    fn touch(&self, touched: &mut Touched) {
        match self {
            Self::Service(service) => touched.service_object(service),
            Self::EndpointSlice(slice) => touched.slice_object(slice),
            Self::Other(objects) => touched.objects(objects),
        }
    }

    /// Appends a copy of each object to `into`.
    fn copy_into(&self, into: &mut Resources) {
        match self {
            Self::Service(service) => into.services.push((**service).clone()),
            Self::EndpointSlice(slice) => into.endpoint_slices.push((**slice).clone()),
            Self::Other(objects) => into.extend((**objects).clone()),
        }
    }
}

/// What a load read and parsed, for the log and the tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CacheStats {
    /// Files read (their stamp changed).
    pub files_read: usize,
    /// Documents (pieces) parsed.
    pub pieces_parsed: usize,
    /// Pieces whose objects were kept.
    pub pieces_kept: usize,
    /// Whether the objects may differ from what [`ManifestCache::resources`] last gave (a
    /// piece was parsed, or one moved or went away, in this refresh or an earlier one).
    pub changed: bool,
}

impl ManifestCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `paths` again as [`load_live`] would, reading and parsing only what changed
    /// since the last call; [`Self::resources`] then gives the objects. On error the cache
    /// still holds what it held, so the next call after a fix parses what the fix touched.
    pub fn refresh(&mut self, paths: &[PathBuf]) -> Result<CacheStats, InputError> {
        let files = manifest_files(paths)?;
        let mut stats = CacheStats::default();
        let mut fresh = BTreeMap::new();
        let mut order = Vec::with_capacity(files.len());
        for file in files {
            let meta = match fs::metadata(&file) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    self.files.extend(fresh);
                    return Err(InputError::Io { path: file.display().to_string(), source });
                }
            };
            let stamp = stamp_of(&meta);
            let old = self.files.remove(&file);
            let entry = match old {
                Some(old) if old.stamp.is_some() && old.stamp == stamp => old,
                old => {
                    let input = match fs::File::open(&file) {
                        Ok(input) => input,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(source) => {
                            self.files.extend(old.map(|o| (file.clone(), o)));
                            self.files.extend(fresh);
                            return Err(InputError::Io { path: file.display().to_string(), source });
                        }
                    };
                    stats.files_read += 1;
                    let pieces = old.map(|o| o.pieces).unwrap_or_default();
                    let before = keys(&pieces);
                    match reparse(&file, input, pieces, &mut stats, &mut self.touched) {
                        Ok(pieces) => {
                            // marked at once: a later file may fail this refresh
                            self.dirty |= keys(&pieces) != before;
                            CachedFile { stamp: stamp.filter(settled), pieces }
                        }
                        Err(failed) => {
                            let (e, pieces) = *failed;
                            // some of the file's new pieces may be kept with the old ones
                            self.touched = Touched::everything();
                            self.files.insert(file, CachedFile { stamp: None, pieces });
                            self.files.extend(fresh);
                            return Err(e);
                        }
                    }
                }
            };
            order.push(file.clone());
            fresh.insert(file, entry);
        }
        // files gone from the directory are gone from the cache; a file gone, come or moved
        // changes the objects' order
        for gone in self.files.values() {
            gone.pieces.iter().for_each(|piece| piece.objects.touch(&mut self.touched));
        }
        if order != self.order {
            self.dirty = true;
            // A file that came or went adds or removes its own objects only (counted above and
            // in `reparse`); files that changed places change which of two same-named objects
            // comes first.
            let before: std::collections::BTreeSet<&PathBuf> = self.order.iter().collect();
            let kept_before = self.order.iter().filter(|p| fresh.contains_key(*p));
            let kept_after = order.iter().filter(|p| before.contains(p));
            if !kept_before.eq(kept_after) {
                self.touched = Touched::everything();
            }
        }
        self.files = fresh;
        self.order = order;
        stats.changed = self.dirty;
        Ok(stats)
    }

    /// Which Services the objects may differ in from those [`Self::resources`] gave when this
    /// was last called (everything, the first time); counting starts again from nothing.
    pub fn take_touched(&mut self) -> Touched {
        std::mem::replace(&mut self.touched, Touched::nothing())
    }

    /// Every object of the files as last refreshed, in load order.
    pub fn resources(&mut self) -> (Resources, LoadReport) {
        self.dirty = false;
        let pieces = || self.order.iter().filter_map(|path| self.files.get(path)).flat_map(|f| &f.pieces);
        let mut total = [0; 11];
        for piece in pieces() {
            for (sum, len) in total.iter_mut().zip(piece.objects.lens()) {
                *sum += len;
            }
        }
        let mut resources = Resources::default();
        resources.reserve_exact(total);
        let mut report = LoadReport::default();
        for piece in pieces() {
            piece.objects.copy_into(&mut resources);
            report.loaded += piece.report.loaded;
            report.ignored.extend(piece.report.ignored.iter().cloned());
        }
        (resources, report)
    }
}

/// The pieces of the file `input` was opened on, read a document at a time (the file is
/// never held whole: at 100,000 documents it is 60 MB of text), parsing only those not among
/// `old` (which are used up); on error, the error and the old pieces, untouched (boxed: the
/// error is large, and rare).
fn reparse(
    file: &Path,
    input: fs::File,
    old: Vec<Piece>,
    stats: &mut CacheStats,
    touched: &mut Touched,
) -> Result<Vec<Piece>, Box<(InputError, Vec<Piece>)>> {
    let origin = file.display().to_string();
    let io = |source| InputError::Io { path: origin.clone(), source };
    let mut pieces = Vec::with_capacity(old.len());
    let mut known = Known::new(old);
    let mut reader = documents::Reader::new(std::io::BufReader::with_capacity(1 << 16, input));
    let mut doc = String::new();
    loop {
        match reader.next(&mut doc) {
            Err(source) => return Err(Box::new((io(source), known.back(pieces)))),
            Ok(documents::Next::End) => break,
            Ok(documents::Next::Whole) => {
                *touched = Touched::everything();
                let old = known.back(pieces);
                return match fs::read_to_string(file) {
                    Ok(text) => one_piece(&origin, &text, Known::new(old), stats),
                    Err(source) => Err(Box::new((io(source), old))),
                };
            }
            Ok(documents::Next::Document) => {
                let hash = hash_of(&doc);
                if let Some(piece) = known.take(hash, doc.len()) {
                    stats.pieces_kept += 1;
                    pieces.push(piece);
                    continue;
                }
                let mut objects = Resources::default();
                match load_str(&doc, &origin, &mut objects) {
                    Ok(report) => {
                        stats.pieces_parsed += 1;
                        let objects = PieceObjects::of(objects);
                        objects.touch(touched);
                        pieces.push(Piece { hash, len: doc.len(), objects, report });
                    }
                    Err(_) => {
                        // The whole text says what is wrong, with its line and document numbers.
                        *touched = Touched::everything();
                        let old = known.back(pieces);
                        return match fs::read_to_string(file) {
                            Ok(text) => one_piece(&origin, &text, Known::new(Vec::new()), stats)
                                .map_err(|failed| Box::new((failed.0, old))),
                            Err(source) => Err(Box::new((io(source), old))),
                        };
                    }
                }
            }
        }
    }
    // the old documents no longer in the file
    known.rest().for_each(|piece| piece.objects.touch(touched));
    pieces.shrink_to_fit();
    Ok(pieces)
}

/// `text` as one piece: the old one if its text is among `known`, else parsed whole (a text
/// kept whole, or one whose pieces do not load alone: then the error is the whole text's,
/// or, if the whole loads, the splitter cut where it should not have).
fn one_piece(
    origin: &str,
    text: &str,
    mut known: Known,
    stats: &mut CacheStats,
) -> Result<Vec<Piece>, Box<(InputError, Vec<Piece>)>> {
    let hash = hash_of(text);
    if let Some(piece) = known.take(hash, text.len()) {
        stats.pieces_kept += 1;
        return Ok(vec![piece]);
    }
    let mut whole = Resources::default();
    match load_str(text, origin, &mut whole) {
        Err(e) => Err(Box::new((InputError::Manifest(e), known.back(Vec::new())))),
        Ok(report) => {
            stats.pieces_parsed += 1;
            Ok(vec![Piece { hash, len: text.len(), objects: PieceObjects::of(whole), report }])
        }
    }
}

/// A file's previous pieces, found again by their text's hash and length.
///
/// An edited file is nearly always the old one with a few documents changed, so each new
/// document is first compared with the old one after the last found ([`Known::next`]): a
/// file of 100,000 unchanged documents is 100,000 comparisons in order. Only a document
/// found elsewhere is looked up in the sorted index, whose keys are kept apart from the
/// pieces: a binary search through 100,000 whole pieces was a cache miss at every step, a
/// fifth of a reload. No allocation per piece either (a map of lists held a list with room
/// for four pieces for each of 100,000 documents, 25 MB, at the moment of every reload).
struct Known {
    /// In the file's old order; `None` once taken.
    pieces: Vec<Option<Piece>>,
    /// Every piece's key and place, sorted by key.
    index: Vec<((u64, usize), usize)>,
    /// Where the document after the last one found was.
    next: usize,
}

impl Known {
    fn new(old: Vec<Piece>) -> Self {
        let mut index: Vec<_> = old.iter().enumerate().map(|(at, p)| ((p.hash, p.len), at)).collect();
        // pieces of the same key have the same text, so which one is taken does not matter
        index.sort_unstable();
        Self { pieces: old.into_iter().map(Some).collect(), index, next: 0 }
    }

    /// A piece of that text not taken yet.
    fn take(&mut self, hash: u64, len: usize) -> Option<Piece> {
        let key = (hash, len);
        let is = |piece: &Option<Piece>| piece.as_ref().is_some_and(|p| (p.hash, p.len) == key);
        let at = if self.pieces.get(self.next).is_some_and(is) {
            self.next
        } else {
            let from = self.index.partition_point(|(k, _)| *k < key);
            let same = self.index[from..].iter().take_while(|(k, _)| *k == key);
            same.map(|(_, at)| *at).find(|at| self.pieces[*at].is_some())?
        };
        self.next = at + 1;
        self.pieces[at].take()
    }

    /// The pieces not taken.
    fn rest(&self) -> impl Iterator<Item = &Piece> {
        self.pieces.iter().flatten()
    }

    /// `pieces` and then every piece not taken: what to keep when the new ones fail.
    fn back(self, pieces: Vec<Piece>) -> Vec<Piece> {
        pieces.into_iter().chain(self.pieces.into_iter().flatten()).collect()
    }
}

/// Which documents, in order: a file whose documents were only moved has new objects' order.
fn keys(pieces: &[Piece]) -> Vec<(u64, usize)> {
    pieces.iter().map(|p| (p.hash, p.len)).collect()
}

fn hash_of(text: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

fn stamp_of(meta: &fs::Metadata) -> Option<Stamp> {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { len: meta.len(), inode, modified: meta.modified().ok()? })
}

/// Whether the file was last written long enough ago that a change now would show in its stamp.
fn settled(stamp: &Stamp) -> bool {
    SystemTime::now().duration_since(stamp.modified).is_ok_and(|age| age >= SETTLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrolb-files-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn namespace(name: &str) -> String {
        format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
    }

    /// Writes `text` to `path` with a modification time long past, as an older file has.
    fn write_old(path: &Path, text: &str) {
        fs::write(path, text).unwrap();
        let past = SystemTime::now() - Duration::from_secs(60);
        fs::File::options().write(true).open(path).unwrap().set_modified(past).unwrap();
    }

    impl ManifestCache {
        fn load(&mut self, paths: &[PathBuf]) -> Result<(Resources, LoadReport, CacheStats), InputError> {
            let stats = self.refresh(paths)?;
            let (resources, report) = self.resources();
            Ok((resources, report, stats))
        }
    }

    fn names(resources: &Resources) -> Vec<&str> {
        resources.namespaces.iter().map(|n| n.metadata.name.as_str()).collect()
    }

    #[test]
    fn an_edit_parses_the_documents_it_touched_and_nothing_else() {
        let dir = scratch("edit");
        let big = dir.join("big.yaml");
        write_old(&big, &(0..100).map(|i| namespace(&format!("n{i}"))).collect::<String>());
        write_old(&dir.join("small.yaml"), &namespace("s"));
        let mut cache = ManifestCache::new();
        let (first, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!((stats.files_read, stats.pieces_parsed), (2, 101));
        assert_eq!(first, load(std::slice::from_ref(&dir)).unwrap().0);

        let (again, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(stats, CacheStats::default(), "nothing changed: nothing read");
        assert!(!stats.changed);
        assert_eq!(again, first);

        let edited: String = (0..100).map(|i| namespace(&format!("n{}", if i == 42 { 4200 } else { i }))).collect();
        write_old(&big, &(edited.clone() + &namespace("extra")));
        let (after, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!((stats.files_read, stats.pieces_parsed, stats.pieces_kept), (1, 2, 99));
        assert!(stats.changed);
        assert_eq!(after, load(std::slice::from_ref(&dir)).unwrap().0);
        assert_eq!(names(&after)[42], "n4200");
        assert_eq!(names(&after).last(), Some(&"s"));
    }

    fn service(name: &str, port: u16) -> String {
        format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: web}}\nspec: {{ports: [{{port: {port}}}]}}\n"
        )
    }

    fn touched_names(cache: &mut ManifestCache) -> Option<Vec<String>> {
        let touched = cache.take_touched();
        touched.services().map(|keys| keys.iter().map(|(ns, name)| format!("{ns}/{name}")).collect())
    }

    #[test]
    fn the_services_of_the_documents_parsed_or_dropped_are_the_ones_touched() {
        let dir = scratch("touched");
        let big = dir.join("big.yaml");
        let text = |edited: u16| {
            (0..50).map(|i| service(&format!("s{i}"), if i == 7 { edited } else { 80 })).collect::<String>()
        };
        write_old(&big, &text(80));
        let mut cache = ManifestCache::new();
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), None, "the first load is everything");
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), Some(vec![]), "nothing read, nothing touched");

        write_old(&big, &text(81));
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), Some(vec!["web/s7".to_owned()]), "one edited document");

        let own = dir.join("own.yaml");
        write_old(&own, &service("new", 80));
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), Some(vec!["web/new".to_owned()]), "a file that came");
        fs::remove_file(&own).unwrap();
        write_old(&big, &text(81).replace(&service("s3", 80), ""));
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(
            touched_names(&mut cache),
            Some(vec!["web/new".to_owned(), "web/s3".to_owned()]),
            "a file that went, a document removed"
        );

        write_old(&own, &namespace("other"));
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), None, "any other kind is everything");
        write_old(&big, "kind: [\n");
        assert!(cache.refresh(std::slice::from_ref(&dir)).is_err());
        write_old(&big, &text(81));
        cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(touched_names(&mut cache), None, "after a failed refresh, everything");
    }

    #[test]
    fn old_pieces_are_found_in_order_or_anywhere_and_each_once() {
        let piece = |hash: u64| Piece {
            hash,
            len: 1,
            objects: PieceObjects::Other(Box::default()),
            report: LoadReport::default(),
        };
        let mut known = Known::new(vec![piece(1), piece(2), piece(3), piece(1)]);
        let mut take = |hash| known.take(hash, 1).map(|p| p.hash);
        assert_eq!(take(1), Some(1));
        assert_eq!(take(3), Some(3), "a document that moved");
        assert_eq!(take(1), Some(1), "the same text twice is two pieces");
        assert_eq!(take(1), None, "each is taken once");
        assert_eq!(take(9), None);
        assert_eq!(known.take(2, 2).map(|p| p.hash), None, "the length is part of the key");
        assert_eq!(known.rest().map(|p| p.hash).collect::<Vec<_>>(), [2]);
        assert_eq!(known.take(2, 1).map(|p| p.hash), Some(2));
        assert_eq!(known.rest().count(), 0);
    }

    #[test]
    fn a_text_kept_whole_loads_as_one_piece_and_is_kept_while_its_text_is() {
        let dir = scratch("whole");
        let file = dir.join("a.yaml");
        let text = format!("%YAML 1.2\n{}{}", namespace("a"), namespace("b"));
        write_old(&file, &text);
        let mut cache = ManifestCache::new();
        let (first, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(names(&first), vec!["a", "b"]);
        assert_eq!((stats.pieces_parsed, stats.pieces_kept), (1, 0), "a directive keeps the text whole");
        write_old(&file, &text);
        let (again, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!((stats.files_read, stats.pieces_parsed, stats.pieces_kept), (1, 0, 1));
        assert_eq!(again, first);
    }

    #[test]
    fn a_file_that_is_not_utf8_is_an_error_naming_it_and_the_old_objects_stay() {
        let dir = scratch("bytes");
        let file = dir.join("a.yaml");
        write_old(&file, &(namespace("a") + &namespace("b")));
        let mut cache = ManifestCache::new();
        cache.load(std::slice::from_ref(&dir)).unwrap();
        let mut bytes = (namespace("a") + &namespace("b")).into_bytes();
        bytes.extend_from_slice(b"---\nkind: \xff\n");
        fs::write(&file, &bytes).unwrap();
        let error = cache.load(std::slice::from_ref(&dir)).unwrap_err().to_string();
        assert!(error.starts_with(&file.display().to_string()), "{error}");
        write_old(&file, &(namespace("a") + &namespace("b")));
        let (back, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(names(&back), vec!["a", "b"]);
        assert_eq!(stats.pieces_kept, 2, "the old pieces were kept through the error");
    }

    #[test]
    fn a_broken_edit_gives_the_whole_files_error_and_a_fix_loads() {
        let dir = scratch("broken");
        let file = dir.join("a.yaml");
        write_old(&file, &(namespace("a") + &namespace("b")));
        let mut cache = ManifestCache::new();
        cache.load(std::slice::from_ref(&dir)).unwrap();
        let broken = namespace("a") + "---\napiVersion: v1\nkind: Namespace\nmetadata: [\n";
        write_old(&file, &broken);
        let error = cache.load(std::slice::from_ref(&dir)).unwrap_err().to_string();
        assert_eq!(error, load(std::slice::from_ref(&dir)).unwrap_err().to_string());
        write_old(&file, &(namespace("a") + &namespace("c")));
        let (fixed, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(names(&fixed), vec!["a", "c"]);
        assert_eq!(stats.pieces_kept, 1, "the untouched document was kept through the error");
    }

    #[test]
    fn a_change_taken_in_by_a_refresh_that_failed_is_still_a_change_after_it() {
        let dir = scratch("halfway");
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        write_old(&a, &namespace("a"));
        write_old(&b, &namespace("b"));
        let mut cache = ManifestCache::new();
        cache.load(std::slice::from_ref(&dir)).unwrap();
        write_old(&a, &namespace("a2"));
        write_old(&b, "kind: [\n");
        assert!(cache.refresh(std::slice::from_ref(&dir)).is_err());
        write_old(&b, &namespace("b"));
        let stats = cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert!(stats.changed, "a.yaml changed since the objects were last given");
        assert_eq!(names(&cache.resources().0), vec!["a2", "b"]);
        assert!(!cache.refresh(std::slice::from_ref(&dir)).unwrap().changed);
    }

    #[test]
    fn documents_only_moved_in_a_file_are_a_change_even_when_a_later_file_fails() {
        let dir = scratch("moved");
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        write_old(&a, &(namespace("p") + &namespace("q")));
        write_old(&b, &namespace("b"));
        let mut cache = ManifestCache::new();
        cache.load(std::slice::from_ref(&dir)).unwrap();
        write_old(&a, &(namespace("q") + &namespace("p")));
        write_old(&b, "kind: [\n");
        assert!(cache.refresh(std::slice::from_ref(&dir)).is_err());
        write_old(&b, &namespace("b"));
        let stats = cache.refresh(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(stats.pieces_parsed, 0, "nothing new to parse: the documents moved");
        assert!(stats.changed);
        assert_eq!(names(&cache.resources().0), vec!["q", "p", "b"]);
    }

    #[test]
    fn a_young_file_is_read_again_even_when_its_stamp_did_not_change() {
        let dir = scratch("young");
        let file = dir.join("a.yaml");
        fs::write(&file, namespace("a")).unwrap();
        let mut cache = ManifestCache::new();
        cache.load(std::slice::from_ref(&dir)).unwrap();
        let (_, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!((stats.files_read, stats.pieces_kept), (1, 1), "read and hashed, not parsed");
        assert!(!stats.changed);
    }

    #[test]
    fn files_given_by_name_load_in_the_order_given() {
        let dir = scratch("order");
        let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
        write_old(&a, &namespace("a"));
        write_old(&b, &namespace("b"));
        let paths = [b.clone(), a.clone()];
        let mut cache = ManifestCache::new();
        let (loaded, _, _) = cache.load(&paths).unwrap();
        assert_eq!(names(&loaded), names(&load(&paths).unwrap().0));
        assert_eq!(names(&loaded), vec!["b", "a"]);
    }

    #[test]
    fn removed_files_leave_and_duplicate_documents_stay_duplicates() {
        let dir = scratch("removed");
        write_old(&dir.join("a.yaml"), &(namespace("x") + &namespace("x")));
        write_old(&dir.join("b.yaml"), &namespace("b"));
        let mut cache = ManifestCache::new();
        let (both, _, _) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(names(&both), vec!["x", "x", "b"]);
        fs::remove_file(dir.join("b.yaml")).unwrap();
        let (one, _, stats) = cache.load(std::slice::from_ref(&dir)).unwrap();
        assert!(stats.changed, "a file went away");
        assert_eq!(names(&one), vec!["x", "x"]);
    }
}
