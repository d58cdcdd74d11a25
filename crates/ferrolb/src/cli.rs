//! The command-line contract (DESIGN.md section 2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "ferrolb",
    version,
    about = "Load balancer addresses for bare-metal Kubernetes: a drop-in MetalLB replacement"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check metallb.io configuration files and print the effective configuration.
    Validate(ValidateArgs),
    /// Show the addresses every LoadBalancer service would get, and why not.
    Plan(PlanArgs),
    /// Print the metallb.io CustomResourceDefinitions as YAML.
    Crds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The namespace metallb.io objects and password Secrets are read from.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = ferrolb_config::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// YAML files or directories (multi-document; directories are read recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// The namespace metallb.io objects and password Secrets are read from.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = ferrolb_config::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Handle only services of this spec.loadBalancerClass (default: only services without one).
    #[arg(long, env = "METALLB_LB_CLASS")]
    pub lb_class: Option<String>,
    /// YAML files or directories: configuration, Services (with their current status), Nodes, Namespaces.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}
