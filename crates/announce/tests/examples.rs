//! Every `examples/announce/*` scenario decided for all nodes and compared with its
//! `expected.json`. A `live-nodes` file (one name per line) enables membership with those
//! members. `FERROLB_BLESS=1` rewrites the expected files; review the diff.

use std::fs;
use std::path::Path;

use ferrolb_announce::{Cluster, Liveness, plan_announcements};
use ferrolb_config::Options;
use ferrolb_testkit::examples::{assert_expected, load, scenarios};

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
    let dirs = scenarios("announce");
    assert!(dirs.len() >= 8, "examples found: {dirs:?}");
    for dir in dirs {
        assert_expected(&dir, &planned(&dir));
    }
}
