//! `ferrolb`: one binary for the controller, the speaker and the offline tools.
#![forbid(unsafe_code)]

mod cli;
mod inputs;
mod output;
mod plan;
mod validate;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Plan(args) => plan::run(&args),
        cli::Command::Crds => match output::emit(&ferrolb_api::crds::render_yaml()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
    }
}
