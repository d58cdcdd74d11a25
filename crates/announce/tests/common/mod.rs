//! Fixtures: clusters written as the YAML a user would apply, parsed as ferrolb parses it.
#![allow(dead_code)]

use ferrolb_announce::{BgpDecision, Cluster, L2Decision, Liveness, ServiceDecision, ServiceKey, Snapshot};
use ferrolb_api::Resources;
use ferrolb_config::{Config, Options};
pub use ferrolb_testkit::manifests::*;

pub struct World {
    pub resources: Resources,
    pub config: Config,
}

impl World {
    pub fn new(documents: &[String]) -> Self {
        let mut resources = Resources::default();
        ferrolb_api::load_str(&documents.join("\n---\n"), "test", &mut resources).unwrap();
        let config = ferrolb_config::parse(&resources, &Options::default()).unwrap();
        Self { resources, config }
    }

    pub fn cluster<'a>(&'a self, liveness: &'a Liveness) -> Cluster<'a> {
        Cluster::new(
            &self.config,
            &self.resources.services,
            &self.resources.endpoint_slices,
            &self.resources.nodes,
            liveness,
        )
    }

    /// Every node's Layer 2 decision for `default/<service>`.
    pub fn l2(&self, cluster: &Cluster<'_>, service: &str) -> Vec<(String, Option<L2Decision>)> {
        let snapshot = Snapshot::new(cluster);
        let nodes: Vec<&str> = snapshot.node_names().collect();
        nodes.iter().map(|n| ((*n).to_owned(), l2_of(&snapshot.decide(n).services[&key(service)]))).collect()
    }

    pub fn bgp(&self, cluster: &Cluster<'_>, node: &str, service: &str) -> Option<BgpDecision> {
        match &Snapshot::new(cluster).decide(node).services[&key(service)] {
            ServiceDecision::Evaluated { bgp, .. } => bgp.clone(),
            ServiceDecision::Withdraw(reason) => panic!("withdrawn: {reason}"),
        }
    }
}

pub fn key(service: &str) -> ServiceKey {
    ServiceKey::new("default", service)
}

fn l2_of(decision: &ServiceDecision) -> Option<L2Decision> {
    match decision {
        ServiceDecision::Evaluated { l2, .. } => l2.clone(),
        ServiceDecision::Withdraw(reason) => panic!("withdrawn: {reason}"),
    }
}

pub fn announce_all() -> L2Decision {
    L2Decision::Announce { interfaces: ferrolb_announce::Interfaces::All }
}
