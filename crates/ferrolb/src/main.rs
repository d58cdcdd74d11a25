//! `ferrolb`: one binary for the controller, the speaker and the offline tools.
#![forbid(unsafe_code)]

mod cli;
mod inputs;
mod logging;
mod manifests;
mod output;
mod plan;
mod validate;

use std::process::ExitCode;

use clap::Parser;
use ferrolb_runtime::Roles;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Plan(args) => plan::run(&args),
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

fn serve(roles: Roles, args: &cli::RuntimeArgs) -> ExitCode {
    logging::init(args.log_format, args.log_level);
    match args.to_config(roles) {
        Ok(config) => ferrolb_runtime::run(&config),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(2)
        }
    }
}
