//! Every `examples/plan/*` directory planned and compared with its `expected.json`, so
//! `ferrolb plan` reproduces them. `FERROLB_BLESS=1` rewrites the expected files.

use std::path::Path;

use ferrolb_config::Options;
use ferrolb_ipam::plan;
use ferrolb_testkit::examples::{assert_expected, load, scenarios};

/// The plan as `ferrolb plan -o json` prints its `services` array, fields in order.
fn planned(dir: &Path) -> String {
    let resources = load(dir);
    let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
    serde_json::to_string_pretty(&plan(&config, &resources.services, None)).unwrap() + "\n"
}

#[test]
fn every_plan_example_produces_its_expected_json() {
    let dirs = scenarios("plan");
    assert!(dirs.len() >= 6, "examples found: {dirs:?}");
    for dir in dirs {
        assert_expected(&dir, &planned(&dir));
    }
}

#[test]
fn planning_the_planned_state_again_changes_nothing() {
    for dir in scenarios("plan") {
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
