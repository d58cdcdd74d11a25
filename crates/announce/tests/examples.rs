//! Every `examples/announce/*` scenario decided for all nodes and compared with its
//! `expected.json`. A `live-nodes` file (one name per line) enables membership with those
//! members. `FERROLB_BLESS=1` rewrites the expected files; review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use ferrolb_announce::{Cluster, Liveness, plan_announcements};
use ferrolb_api::Resources;
use ferrolb_config::Options;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/announce")
}

fn load(dir: &Path) -> Resources {
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

fn liveness(dir: &Path) -> Liveness {
    match fs::read_to_string(dir.join("live-nodes")) {
        Ok(text) => {
            Liveness::Members(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
        }
        Err(_) => Liveness::Disabled,
    }
}

fn planned(dir: &Path) -> String {
    let resources = load(dir);
    let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
    let liveness = liveness(dir);
    let cluster = Cluster::new(&config, &resources.services, &resources.endpoint_slices, &resources.nodes, &liveness);
    serde_json::to_string_pretty(&plan_announcements(&cluster)).unwrap() + "\n"
}

#[test]
fn every_announce_example_produces_its_expected_json() {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(examples_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 8, "examples found: {dirs:?}");
    for dir in dirs {
        let got = planned(&dir);
        let expected_path = dir.join("expected.json");
        if std::env::var_os("FERROLB_BLESS").is_some() {
            fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected: serde_json::Value = serde_json::from_str(&fs::read_to_string(&expected_path).unwrap()).unwrap();
        let got: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(got, expected, "{}", dir.display());
    }
}
