//! Every `examples/plan/*` directory planned and compared with its `expected.json`, so
//! `ferrolb plan` reproduces them. `FERROLB_BLESS=1` rewrites the expected files.

use std::fs;
use std::path::{Path, PathBuf};

use ferrolb_api::Resources;
use ferrolb_config::Options;
use ferrolb_ipam::plan;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/plan")
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

/// The plan as `ferrolb plan -o json` prints its `services` array, fields in order.
fn planned(dir: &Path) -> String {
    let resources = load(dir);
    let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
    serde_json::to_string_pretty(&plan(&config, &resources.services, None)).unwrap() + "\n"
}

#[test]
fn every_plan_example_produces_its_expected_json() {
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(examples_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 6, "examples found: {dirs:?}");
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

#[test]
fn planning_the_planned_state_again_changes_nothing() {
    for entry in fs::read_dir(examples_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let mut resources = load(&dir);
        let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
        let first = plan(&config, &resources.services, None);
        for svc in &mut resources.services {
            let ns = svc.metadata.namespace.clone().unwrap_or_else(|| "default".into());
            let Some(result) = first.iter().find(|r| r.namespace == ns && r.name == svc.metadata.name) else {
                continue;
            };
            svc.status.load_balancer.ingress = result
                .ips
                .iter()
                .map(|ip| ferrolb_api::core::LoadBalancerIngress { ip: Some(ip.clone()), hostname: None })
                .collect();
            match &result.pool {
                Some(pool) => svc.metadata.annotations.insert("metallb.io/ip-allocated-from-pool".into(), pool.clone()),
                None => svc.metadata.annotations.remove("metallb.io/ip-allocated-from-pool"),
            };
        }
        let second = plan(&config, &resources.services, None);
        let strip =
            |r: &[ferrolb_ipam::ServiceResult]| r.iter().map(|r| (r.ips.clone(), r.pool.clone())).collect::<Vec<_>>();
        assert_eq!(strip(&first), strip(&second), "{}", dir.display());
    }
}
