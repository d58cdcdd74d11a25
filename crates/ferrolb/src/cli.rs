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
    /// Run the controller: address management (one active instance, elected).
    Controller(RuntimeArgs),
    /// Run the speaker of one node: announcement.
    Speaker(RuntimeArgs),
    /// Run the controller (elected) and this node's speaker in one process.
    Run(RuntimeArgs),
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
    /// The speakers membership sees alive, comma-separated (default: membership disabled,
    /// every Node is a live speaker).
    #[arg(long, value_delimiter = ',')]
    pub live_nodes: Option<Vec<String>>,
    /// Announce even from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers.
    #[arg(long)]
    pub ignore_exclude_lb: bool,
    /// YAML files or directories: configuration, Services (with their current status), Nodes, Namespaces.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Where the cluster state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// The Kubernetes API.
    Kubernetes,
    /// A directory of manifests; status is written to a state directory.
    Dir(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    All,
    Debug,
    Info,
    Warn,
    Error,
    None,
}

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Where the cluster state comes from: `k8s` or `dir:PATH`.
    #[arg(long, env = "FERROLB_SOURCE", value_parser = crate::runtime::parse_source)]
    pub source: SourceSpec,
    /// This node's name, as in its Node object (required for the speaker).
    #[arg(long, visible_alias = "node-name", env = "METALLB_NODE_NAME")]
    pub node: Option<String>,
    /// Where the `dir:` source keeps status (default: PATH/.ferrolb).
    #[arg(long, env = "FERROLB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The namespace metallb.io objects and Secrets are read from.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = ferrolb_config::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Handle only services of this spec.loadBalancerClass (default: only services without one).
    #[arg(long, env = "METALLB_LB_CLASS")]
    pub lb_class: Option<String>,
    /// Port for /metrics, /healthz and /readyz; 0 disables.
    #[arg(long, env = "METALLB_PORT", default_value_t = 9120)]
    pub port: u16,
    /// Address the metrics port listens on.
    #[arg(long, env = "METALLB_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: std::net::IpAddr,
    /// Port for /healthz and /readyz on 127.0.0.1; 0 disables.
    #[arg(long, env = "METALLB_HEALTH_PROBE_PORT", default_value_t = 17472)]
    pub health_probe_port: u16,
    /// Announce even from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers.
    #[arg(long, env = "METALLB_IGNORE_EXCLUDE_LB")]
    pub ignore_exclude_lb: bool,
    /// Seconds between gratuitous ARP / unsolicited NA refreshes of every announced address,
    /// after the takeover burst; 0 (the default, as MetalLB) sends none.
    #[arg(long, env = "FERROLB_L2_REFRESH_INTERVAL", default_value_t = 0)]
    pub l2_refresh_interval: u64,
    /// Seconds during which, on SIGTERM, every BGP route carries the GRACEFUL_SHUTDOWN
    /// community (RFC 8326) before it is withdrawn; 0 withdraws at once. Keep it below the
    /// pod's termination grace period.
    #[arg(long, env = "FERROLB_GRACEFUL_SHUTDOWN_DELAY", default_value_t = 0)]
    pub graceful_shutdown_delay: u64,
    /// Turn membership off: every Node object counts as a live speaker and failover follows
    /// Node changes only (MetalLB with memberlist disabled).
    #[arg(long, env = "FERROLB_NO_MEMBERSHIP")]
    pub no_membership: bool,
    /// Where the membership protocol listens (UDP).
    #[arg(long, env = "METALLB_ML_BIND_ADDR", default_value = "0.0.0.0:7946")]
    pub membership_bind: std::net::SocketAddr,
    /// File holding the shared membership secret (MetalLB's `secretkey`); without it gossip
    /// is neither encrypted nor authenticated.
    #[arg(long, env = "METALLB_ML_SECRET_KEY_PATH")]
    pub membership_key_file: Option<PathBuf>,
    /// Keep answering ARP/NDP without a quorum of the known speakers (fencing is on by default).
    #[arg(long, env = "FERROLB_NO_FENCING")]
    pub no_fencing: bool,
    /// Membership probe period in milliseconds (default 100): raise it on slow networks.
    #[arg(long)]
    pub membership_probe_interval_ms: Option<u64>,
    /// Membership probe timeout in milliseconds (default 50): above the LAN's round-trip time.
    #[arg(long)]
    pub membership_probe_timeout_ms: Option<u64>,
    /// Suspicion timeout in probe periods before a silent member is declared dead (default 4).
    #[arg(long)]
    pub membership_suspicion_multiplier: Option<f64>,
    /// Make and report Layer 2 decisions but answer no ARP/NDP (no raw sockets are opened).
    #[arg(long, env = "FERROLB_DISABLE_LAYER2")]
    pub disable_layer2: bool,
    /// Log format.
    #[arg(long, env = "METALLB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Log level.
    #[arg(long, env = "METALLB_LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
}
