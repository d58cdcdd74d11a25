//! Reading manifest files and directories: what `validate` and `plan` are given on the
//! command line, and what the `dir:` source watches.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{LoadReport, ManifestError, Resources, load_str};

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
    let mut files = Vec::new();
    for path in paths {
        collect(path, true, &mut files)?;
    }
    let mut resources = Resources::default();
    let mut report = LoadReport::default();
    for file in files {
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if live && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(InputError::Io { path: file.display().to_string(), source }),
        };
        let one = load_str(&text, &file.display().to_string(), &mut resources)?;
        report.loaded += one.loaded;
        report.ignored.extend(one.ignored);
    }
    Ok((resources, report))
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
