//! `ferrolb plan`: what the controller and every speaker would do with these objects.
//!
//! This is the user's "why is my service (not) getting an address" tool and the end-to-end
//! tests' oracle: it runs the same pure decisions the processes run, once, from the
//! services' current status (as after a controller restart).

use std::fmt::Write as _;
use std::process::ExitCode;

use ferrolb_config::Options;
use ferrolb_ipam::ServiceResult;
use serde::Serialize;

use crate::cli::{Output, PlanArgs};
use crate::{inputs, output};

#[derive(Serialize)]
struct Plan<'a> {
    services: &'a [ServiceResult],
}

pub fn run(args: &PlanArgs) -> ExitCode {
    let (resources, _report) = match inputs::load(&args.paths) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let options = Options { namespace: args.namespace.clone(), ..Options::default() };
    let config = match ferrolb_config::parse(&resources, &options) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let lb_class = args.lb_class.as_deref().filter(|c| !c.is_empty());
    let services = ferrolb_ipam::plan(&config, &resources.services, lb_class);
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

/// One paragraph per service: its addresses or why it has none, then the events the
/// controller would record.
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
        let repeats_error = |message: &str| service.error.as_deref() == Some(message);
        for event in service.events.iter().filter(|e| !repeats_error(&e.message)) {
            let _ = writeln!(out, "  event {:?} {}: {}", event.type_, event.reason, event.message);
        }
    }
    out
}
