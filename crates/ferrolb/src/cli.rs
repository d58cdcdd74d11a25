//! The command-line contract (docs/design.md, The command-line contract).

use std::path::PathBuf;

use std::str::FromStr;
use std::time::Duration;

use clap::builder::FalseyValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ferrolb_api::install;
use ferrolb_runtime::config::{
    ConfigError, KubernetesConfig, Roles, RuntimeConfig, Settings, SourceSpec, WebhookMode as RuntimeWebhookMode,
};
use ferrolb_webhook::{TlsMinVersion, WebhookSettings};

use crate::metallb::{self, BindAddr, MetallbArgs};

/// Where a Pod finds its own namespace.
const SERVICE_ACCOUNT_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

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
    /// Explain, from the live cluster (or a dir: state directory), whether each Service is
    /// announced, by which nodes, and why the others do not. Also runs as `kubectl ferrolb why`.
    Why(WhyArgs),
    /// Print the metallb.io CustomResourceDefinitions as YAML.
    Crds,
    /// Print the whole install (namespace, CRDs, RBAC, controller, speaker, webhooks) as YAML.
    Manifests(ManifestsArgs),
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

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// Services to explain: NAME (in --namespace) or NAMESPACE/NAME. None: every
    /// LoadBalancer Service (of --namespace, when given).
    pub services: Vec<String>,
    /// The Services' namespace, as kubectl's -n.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// One line per LoadBalancer Service of the cluster: fully announced, partly, or not.
    #[arg(short = 'A', long)]
    pub all: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Where to read: `k8s` (the cluster of the kubeconfig) or `dir:PATH`.
    #[arg(long, default_value = "k8s", value_parser = SourceSpec::from_str)]
    pub source: SourceSpec,
    /// The `dir:` source's state directory (default: PATH/.ferrolb).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Where ferrolb (or MetalLB) is installed: its metallb.io objects, Secrets, status.
    #[arg(long, env = "METALLB_NAMESPACE", default_value = ferrolb_config::DEFAULT_NAMESPACE)]
    pub metallb_namespace: String,
    /// The controller's and speakers' --lb-class, if they run with one.
    #[arg(long)]
    pub lb_class: Option<String>,
    /// The speakers' --ignore-exclude-lb, if they run with it.
    #[arg(long)]
    pub ignore_exclude_lb: bool,
    /// Colours: on a terminal only (auto, and never with NO_COLOR set), always, never.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ManifestsArgs {
    /// The container image the controller and the speaker run.
    #[arg(long, default_value = crate::manifests::DEFAULT_IMAGE)]
    pub image: String,
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

/// MetalLB's flags are Go flags: `--name=true` for booleans, and the last of a repeated flag
/// wins (`args_override_self`).
#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct RuntimeArgs {
    /// Where the cluster state comes from: `k8s` or `dir:PATH`.
    #[arg(long, env = "FERROLB_SOURCE", value_parser = SourceSpec::from_str)]
    pub source: SourceSpec,
    /// This node's name, as in its Node object (required for the speaker).
    #[arg(long, visible_alias = "node-name", env = "METALLB_NODE_NAME")]
    pub node: Option<String>,
    /// Where the `dir:` source keeps status (default: PATH/.ferrolb).
    #[arg(long, env = "FERROLB_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The namespace metallb.io objects and Secrets are read from (default: the Pod's own,
    /// from its service account, else metallb-system).
    #[arg(long, env = "METALLB_NAMESPACE")]
    pub namespace: Option<String>,
    /// Handle only services of this spec.loadBalancerClass (default: only services without one).
    #[arg(long, env = "METALLB_LB_CLASS")]
    pub lb_class: Option<String>,
    /// Port for /metrics, /healthz and /readyz; 0 disables. On the `k8s` source /metrics is
    /// HTTPS and needs a bearer token allowed to `get` /metrics (see --metrics-insecure).
    #[arg(long, env = "METALLB_PORT", default_value_t = install::METRICS_PORT)]
    pub port: u16,
    /// Address the metrics port listens on.
    #[arg(long, env = "METALLB_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: std::net::IpAddr,
    /// Port for /healthz and /readyz on 127.0.0.1, plain HTTP and open; 0 disables.
    #[arg(long, env = "METALLB_HEALTH_PROBE_PORT", default_value_t = install::HEALTH_PROBE_PORT)]
    pub health_probe_port: u16,
    /// Serve /metrics over plain HTTP without authentication, also on the `k8s` source
    /// (the `dir:` source does by default).
    #[arg(long, env = "FERROLB_METRICS_INSECURE", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub metrics_insecure: bool,
    /// Directory holding the metrics port's tls.crt and tls.key, re-read when they change
    /// (default: a self-signed certificate made at start). On the `dir:` source it turns on
    /// HTTPS, without authentication.
    #[arg(long, env = "FERROLB_METRICS_CERT_DIR")]
    pub metrics_cert_dir: Option<PathBuf>,
    /// Announce even from nodes labelled node.kubernetes.io/exclude-from-external-load-balancers.
    #[arg(long, env = "METALLB_IGNORE_EXCLUDE_LB", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
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
    /// TCP port on which the speaker also accepts the BGP connections its peers open (179
    /// for routers configured to initiate); connections from other addresses are closed.
    /// 0 (the default, as MetalLB, whose FRR never listens either) only dials, and leaves
    /// the port to other BGP daemons of the host.
    #[arg(long, env = "FERROLB_BGP_LISTEN_PORT", default_value_t = 0)]
    pub bgp_listen_port: u16,
    /// Turn membership off: every Node object counts as a live speaker and failover follows
    /// Node changes only (MetalLB with memberlist disabled).
    #[arg(long, env = "FERROLB_NO_MEMBERSHIP")]
    pub no_membership: bool,
    /// Where the membership protocol listens (UDP): IP:PORT, or an IP with the port from
    /// --ml-bindport (default 0.0.0.0:7946).
    #[arg(long, visible_alias = "ml-bindaddr", env = "METALLB_ML_BIND_ADDR")]
    pub membership_bind: Option<BindAddr>,
    /// The shared membership secret: the file, or (as MetalLB mounts it) the directory
    /// holding `secretkey`; without it gossip is neither encrypted nor authenticated.
    #[arg(long, visible_alias = "ml-secret-key-path", env = "METALLB_ML_SECRET_KEY_PATH")]
    pub membership_key_file: Option<PathBuf>,
    /// Keep answering ARP/NDP without a quorum of the known speakers (fencing is on by default).
    #[arg(long, env = "FERROLB_NO_FENCING")]
    pub no_fencing: bool,
    /// Fence on quorum alone: without a majority stop answering even when the speakers'
    /// heartbeats show the others dead (by default a speaker fences only when they show a
    /// live majority elsewhere, so the survivor of a double failure keeps serving).
    #[arg(long, env = "FERROLB_STRICT_FENCING", conflicts_with = "no_fencing")]
    pub strict_fencing: bool,
    /// Membership probe period in milliseconds (default 100): raise it on slow networks.
    #[arg(long)]
    pub membership_probe_interval_ms: Option<u64>,
    /// Membership probe timeout in milliseconds (default 50): above the LAN's round-trip time.
    #[arg(long)]
    pub membership_probe_timeout_ms: Option<u64>,
    /// Suspicion timeout in probe periods before a silent member is declared dead (default 4).
    #[arg(long)]
    pub membership_suspicion_multiplier: Option<f64>,
    /// The interface exclusion list (MetalLB's `metallb-excludel2` ConfigMap, mounted): the
    /// interfaces matching its `announcedInterfacesToExclude` patterns never answer ARP/NDP.
    /// Without the file, MetalLB's default list applies.
    #[arg(long, env = "FERROLB_EXCLUDE_INTERFACES_FILE", default_value = "/etc/metallb/excludel2.yaml")]
    pub exclude_interfaces_file: PathBuf,
    /// Make and report Layer 2 decisions but answer no ARP/NDP (no raw sockets are opened).
    #[arg(long, env = "FERROLB_DISABLE_LAYER2")]
    pub disable_layer2: bool,
    #[command(flatten)]
    pub kubernetes: KubernetesArgs,
    #[command(flatten)]
    pub metallb: MetallbArgs,
    /// Log format.
    #[arg(long, env = "METALLB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Log level.
    #[arg(long, env = "METALLB_LOG_LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,
}

/// Settings of the `k8s` source, the controller's Lease and its webhooks; ignored on `dir:`.
/// Names and defaults follow MetalLB's manifests, so an existing install's Secrets, Services
/// and webhook configuration keep their names.
#[derive(Debug, Clone, Args)]
pub struct KubernetesArgs {
    /// kubeconfig file (default: in-cluster config, else $KUBECONFIG, else ~/.kube/config).
    #[arg(long, env = "FERROLB_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// This process's Pod name: owner of the status objects it creates, Lease holder identity.
    #[arg(long, env = "METALLB_POD_NAME")]
    pub pod_name: Option<String>,
    /// The controller's Deployment, owner of the memberlist Secret it creates.
    #[arg(long, env = "METALLB_DEPLOYMENT", default_value = "controller")]
    pub deployment: String,
    /// The Secret holding the membership key (`secretkey`); the controller creates it when absent.
    #[arg(long, env = "METALLB_ML_SECRET_NAME", default_value = install::MEMBERLIST_SECRET)]
    pub ml_secret_name: String,
    /// Label selector of the speaker Pods (in --namespace) whose IPs seed membership, e.g.
    /// `app.kubernetes.io/component=speaker`; without it speakers find each other through
    /// their Nodes' addresses only.
    #[arg(long, env = "METALLB_ML_LABELS")]
    pub ml_labels: Option<String>,
    /// The coordination.k8s.io Lease the controller replicas compete for.
    #[arg(long, env = "FERROLB_LEASE_NAME", default_value = install::CONTROLLER_LEASE)]
    pub lease_name: String,
    /// Seconds a Lease stays valid without renewal: the controller takeover delay.
    #[arg(long, env = "FERROLB_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration: u64,
    /// Webhooks: `enabled` (with the controller), `disabled`, or `onlywebhook` (no reconcilers).
    #[arg(long, env = "FERROLB_WEBHOOK_MODE", value_enum, default_value_t = WebhookMode::Enabled)]
    pub webhook_mode: WebhookMode,
    /// Port the webhook server listens on (HTTPS).
    #[arg(long, env = "FERROLB_WEBHOOK_PORT", default_value_t = install::WEBHOOK_PORT)]
    pub webhook_port: u16,
    /// The Secret holding the webhook's serving certificate and its CA.
    #[arg(long, env = "FERROLB_WEBHOOK_SECRET", default_value = install::WEBHOOK_SECRET)]
    pub webhook_secret: String,
    /// The Service in front of the webhook server (the certificate's DNS name).
    #[arg(long, env = "FERROLB_CERT_SERVICE_NAME", default_value = install::WEBHOOK_SERVICE)]
    pub cert_service_name: String,
    /// The ValidatingWebhookConfiguration whose caBundle the controller keeps current.
    #[arg(long, env = "FERROLB_WEBHOOK_CONFIGURATION", default_value = install::WEBHOOK_CONFIGURATION)]
    pub webhook_configuration: String,
    /// Where the serving certificate is read from when rotation is disabled (tls.crt, tls.key).
    #[arg(long, env = "FERROLB_CERT_DIR", default_value = install::CERT_DIR)]
    pub cert_dir: PathBuf,
    /// Use the certificate in --cert-dir instead of generating, storing and rotating one.
    #[arg(long, env = "FERROLB_DISABLE_CERT_ROTATION", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub disable_cert_rotation: bool,
    /// Lowest TLS version the webhook server and the HTTPS metrics port accept.
    #[arg(long, env = "FERROLB_TLS_MIN_VERSION", value_enum, default_value_t = TlsVersion::Tls13)]
    pub tls_min_version: TlsVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WebhookMode {
    Enabled,
    Disabled,
    Onlywebhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsVersion {
    #[value(name = "VersionTLS12", alias = "1.2")]
    Tls12,
    #[value(name = "VersionTLS13", alias = "1.3")]
    Tls13,
}

impl RuntimeArgs {
    /// The runtime's configuration for `roles`, checked once: the one place the command line
    /// meets the runtime.
    pub fn to_config(&self, roles: Roles) -> Result<RuntimeConfig, ConfigError> {
        let k8s = &self.kubernetes;
        let namespace = self.namespace();
        RuntimeConfig::new(Settings {
            roles,
            source: self.source.clone(),
            node: self.node.clone(),
            state_dir: self.state_dir.clone(),
            namespace: namespace.clone(),
            lb_class: self.lb_class.clone(),
            metrics_port: self.port,
            metrics_address: self.bind_address,
            health_probe_port: self.health_probe_port,
            metrics_insecure: self.metrics_insecure,
            metrics_cert_dir: self.metrics_cert_dir.clone(),
            metrics_tls_min_version: tls_min_version(k8s.tls_min_version),
            ignore_exclude_lb: self.ignore_exclude_lb,
            l2_refresh_interval: Duration::from_secs(self.l2_refresh_interval),
            graceful_shutdown_delay: Duration::from_secs(self.graceful_shutdown_delay),
            bgp_listen_port: self.bgp_listen_port,
            disable_layer2: self.disable_layer2,
            exclude_interfaces_file: self.exclude_interfaces_file.clone(),
            no_membership: self.no_membership,
            membership_bind: metallb::membership_bind(
                self.membership_bind,
                self.metallb.ml_bindport,
                install::MEMBERSHIP_PORT,
            ),
            membership_key_file: self.membership_key_file.as_deref().map(metallb::membership_key_file),
            no_fencing: self.no_fencing,
            strict_fencing: self.strict_fencing,
            membership_probe_interval: self.membership_probe_interval_ms.map(Duration::from_millis),
            membership_probe_timeout: self.membership_probe_timeout_ms.map(Duration::from_millis),
            membership_suspicion_multiplier: self.membership_suspicion_multiplier,
            kubernetes: KubernetesConfig {
                kubeconfig: k8s.kubeconfig.clone(),
                pod_name: k8s.pod_name.clone(),
                deployment: k8s.deployment.clone(),
                ml_secret_name: k8s.ml_secret_name.clone(),
                ml_labels: k8s.ml_labels.clone(),
                lease_name: k8s.lease_name.clone(),
                lease_duration: Duration::from_secs(k8s.lease_duration),
                webhook_mode: match k8s.webhook_mode {
                    WebhookMode::Enabled => RuntimeWebhookMode::Enabled,
                    WebhookMode::Disabled => RuntimeWebhookMode::Disabled,
                    WebhookMode::Onlywebhook => RuntimeWebhookMode::OnlyWebhook,
                },
                webhook: WebhookSettings {
                    namespace,
                    port: k8s.webhook_port,
                    bind: std::net::IpAddr::from([0, 0, 0, 0]),
                    secret_name: k8s.webhook_secret.clone(),
                    service_name: k8s.cert_service_name.clone(),
                    configuration_name: k8s.webhook_configuration.clone(),
                    cert_dir: k8s.cert_dir.clone(),
                    rotate_certificates: !k8s.disable_cert_rotation,
                    tls_min_version: tls_min_version(k8s.tls_min_version),
                },
            },
        })
    }
}

fn tls_min_version(version: TlsVersion) -> TlsMinVersion {
    match version {
        TlsVersion::Tls12 => TlsMinVersion::Tls12,
        TlsVersion::Tls13 => TlsMinVersion::Tls13,
    }
}

impl RuntimeArgs {
    /// The lines to log once at start about flags given that do nothing: MetalLB's, and a
    /// certificate directory that --metrics-insecure overrides.
    pub fn notices(&self) -> Vec<metallb::Notice> {
        let mut out = self.metallb.notices();
        if self.metrics_insecure && self.metrics_cert_dir.is_some() {
            out.push(metallb::Notice {
                warning: true,
                text: "--metrics-cert-dir is ignored with --metrics-insecure: /metrics is served over plain HTTP"
                    .to_owned(),
            });
        }
        out
    }

    /// --namespace / METALLB_NAMESPACE, else the Pod's own namespace (as MetalLB reads it from
    /// the service account), else metallb-system.
    pub fn namespace(&self) -> String {
        if let Some(namespace) = &self.namespace {
            return namespace.clone();
        }
        match std::fs::read_to_string(SERVICE_ACCOUNT_NAMESPACE) {
            Ok(namespace) if !namespace.trim().is_empty() => namespace.trim().to_owned(),
            _ => ferrolb_config::DEFAULT_NAMESPACE.to_owned(),
        }
    }
}
