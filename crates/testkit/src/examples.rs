//! The `examples/` scenarios: directories of YAML a user would apply, each with the
//! `expected.json` a decision must reproduce. `FERROLB_BLESS=1` rewrites the expected files
//! instead of comparing (review the diff).

use std::fs;
use std::path::{Path, PathBuf};

use ferrolb_api::Resources;

/// `examples/<name>` of the repository.
pub fn examples_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name)
}

/// The scenario directories under `examples/<name>`, sorted.
pub fn scenarios(name: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(examples_dir(name)).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// Every `*.yaml` / `*.yml` file of `dir`, in name order, loaded as ferrolb loads manifests.
pub fn load(dir: &Path) -> Resources {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut resources = Resources::default();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        ferrolb_api::load_str(&text, &file.display().to_string(), &mut resources).unwrap();
    }
    resources
}

/// Compares `got` (JSON text) with `dir/expected.json` as JSON values, or writes it there
/// under `FERROLB_BLESS=1`.
pub fn assert_expected(dir: &Path, got: &str) {
    let expected_path = dir.join("expected.json");
    if std::env::var_os("FERROLB_BLESS").is_some() {
        fs::write(&expected_path, got).unwrap();
        return;
    }
    let expected: serde_json::Value = serde_json::from_str(&fs::read_to_string(&expected_path).unwrap()).unwrap();
    let got: serde_json::Value = serde_json::from_str(got).unwrap();
    assert_eq!(got, expected, "{}", dir.display());
}
