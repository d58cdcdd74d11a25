//! `ferrolb why`: the live answer to "why is my Service not reachable".
//!
//! [`from_cluster`] (the kubeconfig's cluster, read-only) or [`from_dir`] (a `dir:` state
//! directory) gathers what the cluster holds; [`explain`] decides, with the reconcilers' own
//! pure functions, what should be announced and sets it beside what is; [`render`] prints it.
//! The exit code is 0 when every Service asked about is fully announced, 1 when one is not,
//! 2 when the answer could not be computed.

mod explain;
mod from_cluster;
mod from_dir;
mod render;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::SystemTime;

use ferrolb_runtime::config::SourceSpec;

use self::explain::{Answer, Explanation, Observed, Settings, Verdict};
use crate::cli::{Colour, Output, WhyArgs};
use crate::output;

pub fn run(args: &WhyArgs) -> ExitCode {
    let observed = match gather(args) {
        Ok(observed) => observed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = Settings {
        namespace: args.metallb_namespace.clone(),
        lb_class: args.lb_class.clone(),
        ignore_exclude_lb: args.ignore_exclude_lb,
    };
    let answer = select(explain::explain(&observed, &settings), args);
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let text = match args.output {
        Output::Json => match serde_json::to_string_pretty(&answer) {
            Ok(json) => json + "\n",
            Err(e) => {
                eprintln!("error: cannot render the answer as JSON: {e}");
                return ExitCode::from(2);
            }
        },
        Output::Text if args.all => render::table(&answer, colour),
        Output::Text => render::text(&answer, colour),
    };
    match output::emit(&text) {
        Ok(()) if answer.fully_announced() => ExitCode::SUCCESS,
        Ok(()) => ExitCode::from(1),
        Err(code) => code,
    }
}

fn gather(args: &WhyArgs) -> Result<Observed, String> {
    match &args.source {
        SourceSpec::Dir(path) => from_dir::gather(path, args.state_dir.as_deref(), SystemTime::now()),
        SourceSpec::Kubernetes => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start: {e}"))?;
            runtime.block_on(async {
                let client = ferrolb_runtime::sources::k8s::connect_with(args.kubeconfig.as_deref()).await?;
                from_cluster::gather(client, &args.metallb_namespace, k8s_openapi::jiff::Timestamp::now()).await
            })
        }
    }
}

/// Keeps the Services asked about (every one with `--all` or no name), and names those that
/// do not exist as Services nobody announces.
fn select(mut answer: Answer, args: &WhyArgs) -> Answer {
    if args.all || args.services.is_empty() {
        if let Some(namespace) = &args.namespace
            && !args.all
        {
            answer.services.retain(|s| &s.namespace == namespace);
        }
        return answer;
    }
    let default_namespace = args.namespace.as_deref().unwrap_or("default");
    let wanted: Vec<(String, String)> = args
        .services
        .iter()
        .map(|s| match s.split_once('/') {
            Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
            None => (default_namespace.to_owned(), s.clone()),
        })
        .collect();
    let mut found: Vec<Explanation> = Vec::new();
    for (namespace, name) in wanted {
        match answer.services.iter().position(|s| s.namespace == namespace && s.name == name) {
            Some(i) => found.push(answer.services.swap_remove(i)),
            None => found.push(Explanation {
                namespace,
                name,
                verdict: Verdict::NotAnnounced,
                addresses: Vec::new(),
                pool: None,
                problems: vec!["no such Service of type LoadBalancer".to_owned()],
                announcing: Vec::new(),
                not_announcing: Vec::new(),
            }),
        }
    }
    answer.services = found;
    answer
}
