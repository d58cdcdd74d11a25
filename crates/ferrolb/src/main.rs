//! `ferrolb`: one binary for the controller, the speaker and the offline tools.
#![forbid(unsafe_code)]

mod cli;
mod inputs;
mod logging;
mod manifests;
mod metallb;
mod output;
mod plan;
mod validate;
mod why;

use std::process::ExitCode;

use clap::Parser;
use ferrolb_runtime::Roles;

/// jemalloc, configured in `.cargo/config.toml` (one arena, freed pages returned within
/// 200 ms): with 100,000 Services `ferrolb run` peaks at 485 MB with it where glibc's malloc
/// (one arena, the best of its settings) reached 575-615 MB for the same live heap, the
/// difference being memory freed by one pass and held on to (docs/performance/scale.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let entry = args.first().map_or(metallb::Entry::Ferrolb, |argv0| metallb::entry_of(argv0));
    if entry == metallb::Entry::CpTool {
        return match metallb::cp_tool(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(code) = frr_stand_in(entry, &args[1..]) {
        return code;
    }
    let source_in_env = std::env::var_os("FERROLB_SOURCE").is_some();
    let cli = cli::Cli::parse_from(metallb::command_line(entry, args, source_in_env));
    match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Plan(args) => plan::run(&args),
        cli::Command::Why(args) => why::run(&args),
        cli::Command::Controller(args) => serve(Roles::Controller, &args),
        cli::Command::Speaker(args) => serve(Roles::Speaker, &args),
        cli::Command::Run(args) => serve(Roles::Both, &args),
        cli::Command::Crds => match output::emit(&ferrolb_api::crds::render_yaml()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        cli::Command::Manifests(args) => match manifests::render_yaml(&manifests::Options { image: args.image }) {
            Ok(yaml) => match output::emit(&yaml) {
                Ok(()) => ExitCode::SUCCESS,
                Err(code) => code,
            },
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}

/// Under the names of the FRR flavour's helpers, their stand-ins (ferrolb drives no FRR;
/// `ferrolb_runtime::frr_stand_in` says why they exist).
fn frr_stand_in(entry: metallb::Entry, args: &[std::ffi::OsString]) -> Option<ExitCode> {
    let info = || logging::init(cli::LogFormat::Json, cli::LogLevel::Info);
    match entry {
        metallb::Entry::FrrReloader => {
            info();
            Some(ferrolb_runtime::frr_stand_in::reloader())
        }
        metallb::Entry::FrrMetrics => Some(match metallb::frr_metrics_args(args) {
            Ok((addr, ignored)) => {
                info();
                for arg in ignored {
                    tracing::warn!(
                        "{arg} is ignored: the frr-metrics stand-in only answers the FRR container's probes"
                    );
                }
                ferrolb_runtime::frr_stand_in::metrics(addr)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }),
        _ => None,
    }
}

fn serve(roles: Roles, args: &cli::RuntimeArgs) -> ExitCode {
    logging::init(args.log_format, args.log_level);
    for notice in args.notices() {
        if notice.warning {
            tracing::warn!("{}", notice.text);
        } else {
            tracing::info!("{}", notice.text);
        }
    }
    match args.to_config(roles) {
        Ok(config) => ferrolb_runtime::run(&config),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(2)
        }
    }
}
