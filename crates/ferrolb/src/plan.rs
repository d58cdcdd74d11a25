//! `ferrolb plan`: what the controller and every speaker would do with these objects.
//!
//! This is the user's "why is my service (not) getting an address" tool and the end-to-end
//! tests' oracle: it runs the same pure decisions the processes run, once, from the
//! services' current status (as after a controller restart).

use std::fmt::Write as _;
use std::process::ExitCode;

use ferrolb_announce::{Cluster, Liveness, ServiceKey};
use ferrolb_api::Resources;
use ferrolb_api::core::LoadBalancerIngress;
use ferrolb_config::Config;
use ferrolb_ipam::ServiceResult;
use serde::Serialize;

use crate::cli::{Output, PlanArgs};
use crate::{inputs, output};

#[derive(Serialize)]
struct Plan<'a> {
    services: &'a [ServiceResult],
}

pub fn run(args: &PlanArgs) -> ExitCode {
    let (resources, _report, config) = match inputs::load_config(&args.paths, &args.namespace) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let lb_class = args.lb_class.as_deref().filter(|c| !c.is_empty());
    let mut services = ferrolb_ipam::plan(&config, &resources.services, lb_class);
    let liveness = match &args.live_nodes {
        None => Liveness::Disabled,
        Some(nodes) => Liveness::Members(nodes.iter().filter(|n| !n.is_empty()).cloned().collect()),
    };
    add_announcements(&mut services, &resources, &config, &liveness, lb_class, args.ignore_exclude_lb);
    let text = match args.output {
        Output::Json => match serde_json::to_string_pretty(&Plan { services: &services }) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("error: cannot render the plan as JSON: {e}");
                return ExitCode::from(2);
            }
        },
        Output::Text => summary(&services),
    };
    match output::emit(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// Runs every speaker's decisions on the services as the controller would leave them (with
/// the planned addresses), and records per service which nodes announce it and why the
/// others do not.
fn add_announcements(
    results: &mut [ServiceResult],
    resources: &Resources,
    config: &Config,
    liveness: &Liveness,
    lb_class: Option<&str>,
    ignore_exclude_lb: bool,
) {
    // by namespace and name: a search of the results per Service would be quadratic
    let by_key: std::collections::HashMap<(&str, &str), &ServiceResult> =
        results.iter().map(|r| ((r.namespace.as_str(), r.name.as_str()), r)).collect();
    let planned: Vec<ferrolb_api::Service> = resources
        .services
        .iter()
        .map(|service| {
            let mut service = service.clone();
            let namespace = service.metadata.namespace.get_or_insert_with(|| "default".to_owned()).clone();
            let result = by_key.get(&(namespace.as_str(), service.metadata.name.as_str()));
            service.status.load_balancer.ingress = result
                .map(|r| r.ips.iter().map(|ip| LoadBalancerIngress { ip: Some(ip.clone()), hostname: None }).collect())
                .unwrap_or_default();
            service
        })
        .collect();
    let mut cluster = Cluster::new(config, &planned, &resources.endpoint_slices, &resources.nodes, liveness);
    cluster.ignore_exclude_lb = ignore_exclude_lb;
    cluster.lb_class = lb_class;
    let mut plans = ferrolb_announce::plan_announcements(&cluster);
    for result in results {
        if let Some(plan) = plans.remove(&ServiceKey::new(&result.namespace, &result.name)) {
            result.announcements = plan.announcements.iter().filter_map(|a| serde_json::to_value(a).ok()).collect();
            result.skipped = plan.skipped.iter().filter_map(|s| serde_json::to_value(s).ok()).collect();
        }
    }
}

/// One paragraph per service: its addresses or why it has none, which nodes announce it and
/// why the others do not, then the events the controller would record.
fn summary(services: &[ServiceResult]) -> String {
    let mut out = String::new();
    if services.is_empty() {
        out.push_str("no Service of type LoadBalancer in the input\n");
    }
    for service in services {
        let id = format!("{}/{}", service.namespace, service.name);
        match (&service.error, service.ips.is_empty()) {
            (Some(error), _) => {
                let _ = writeln!(out, "{id}: no address: {error}");
            }
            (None, true) => {
                let _ = writeln!(out, "{id}: no address");
            }
            (None, false) => {
                let pool = service.pool.as_deref().unwrap_or("-");
                let _ = writeln!(out, "{id}: {} from pool {pool}", service.ips.join(", "));
            }
        }
        for a in &service.announcements {
            let node = a["node"].as_str().unwrap_or("?");
            match a["protocol"].as_str() {
                Some("bgp") => {
                    let _ = writeln!(
                        out,
                        "  bgp: {node} announces {} to {} (localPref {}, communities {})",
                        a["prefix"].as_str().unwrap_or("?"),
                        a["peer"].as_str().unwrap_or("?"),
                        a["localPref"],
                        a["communities"]
                    );
                }
                _ => {
                    let interfaces = match a["interfaces"].as_array() {
                        Some(list) if !list.is_empty() => {
                            list.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(",")
                        }
                        _ => "all interfaces".to_owned(),
                    };
                    let _ = writeln!(out, "  layer2: {node} answers ARP/NDP on {interfaces}");
                }
            }
        }
        for skipped in &service.skipped {
            let _ = writeln!(
                out,
                "  {}: {} does not announce: {}",
                skipped["protocol"].as_str().unwrap_or("?"),
                skipped["node"].as_str().unwrap_or("?"),
                skipped["reason"].as_str().unwrap_or("?")
            );
        }
        let repeats_error = |message: &str| service.error.as_deref() == Some(message);
        for event in service.events.iter().filter(|e| !repeats_error(&e.message)) {
            let _ = writeln!(out, "  event {:?} {}: {}", event.type_, event.reason, event.message);
        }
    }
    out
}
