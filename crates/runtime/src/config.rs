//! The runtime's own configuration: what the roles need, typed and checked once.
//!
//! The binary builds a [`RuntimeConfig`] from its command line (flags and environment
//! variables) through [`RuntimeConfig::new`]; nothing in this crate sees the command line
//! itself. Every check that can be made before anything starts is made here, so a bad
//! setting is one line at start-up and never a surprise later: the speaker's node name, the
//! membership key file (read and checked), the membership timers, the Lease duration.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ferrolb_gossip::{FenceMode, Key, Timers};
use ferrolb_webhook::{TlsMinVersion, WebhookSettings};

/// Which roles this process plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Roles {
    Controller,
    Speaker,
    Both,
}

impl Roles {
    pub fn controller(self) -> bool {
        matches!(self, Roles::Controller | Roles::Both)
    }

    pub fn speaker(self) -> bool {
        matches!(self, Roles::Speaker | Roles::Both)
    }
}

/// Where the cluster state comes from (`--source`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// `k8s`: the Kubernetes API.
    Kubernetes,
    /// `dir:PATH`: a directory of manifests; status is written to a state directory.
    Dir(PathBuf),
}

impl FromStr for SourceSpec {
    type Err = String;

    /// `k8s` or `dir:PATH`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "k8s" => Ok(SourceSpec::Kubernetes),
            _ => match text.strip_prefix("dir:") {
                Some(path) if !path.is_empty() => Ok(SourceSpec::Dir(PathBuf::from(path))),
                _ => Err(format!("invalid source {text:?}: expected k8s or dir:PATH")),
            },
        }
    }
}

/// Webhooks beside the controller (`--webhook-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMode {
    /// Served by every controller replica; the Lease only decides who reconciles.
    Enabled,
    Disabled,
    /// Only the webhooks, no reconcilers.
    OnlyWebhook,
}

/// A setting that cannot work: one line naming the flag and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

/// Everything a `controller`, `speaker` or `run` process needs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub roles: Roles,
    pub source: SourceConfig,
    /// The namespace metallb.io objects and Secrets are read from.
    pub namespace: String,
    /// `spec.loadBalancerClass` handled (`None`: only Services without one).
    pub lb_class: Option<String>,
    /// This node's name, when one was given (the speaker requires it; the controller uses it
    /// as its identity on the `dir:` source).
    pub node: Option<String>,
    pub http: HttpConfig,
    /// Present when the roles include the speaker.
    pub speaker: Option<SpeakerConfig>,
}

/// The source and what is specific to it.
#[derive(Debug, Clone)]
pub enum SourceConfig {
    Dir(DirConfig),
    Kubernetes(Box<KubernetesConfig>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirConfig {
    /// The manifests watched.
    pub manifests: PathBuf,
    /// Where status is written (default `<manifests>/.ferrolb`).
    pub state_dir: PathBuf,
}

/// `/metrics`, `/healthz` and `/readyz`; `None` disables a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub metrics: Option<SocketAddr>,
    /// Health probes, on 127.0.0.1, always plain HTTP and open (the kubelet probes them).
    pub health: Option<SocketAddr>,
    /// How the metrics port serves.
    pub serving: MetricsServing,
}

/// How the metrics port serves `/metrics` (`/healthz` and `/readyz` are open on it in
/// every case: the kubelet's probes carry no token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsServing {
    /// Plain HTTP, no authentication: `--metrics-insecure`, and the `dir:` source by default.
    Plain,
    /// HTTPS; with `authenticated`, each scrape's bearer token is reviewed by the API server
    /// (MetalLB's secure metrics, controller-runtime's `WithAuthenticationAndAuthorization`).
    Tls { certificate: MetricsCertificate, min_version: TlsMinVersion, authenticated: bool },
}

/// The metrics port's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsCertificate {
    /// Made at start, as controller-runtime does without a certificate directory.
    SelfSigned,
    /// `--metrics-cert-dir`: `tls.crt` and `tls.key`, re-read when they change.
    Dir(PathBuf),
}

impl MetricsCertificate {
    /// The directory to watch for a renewed certificate.
    pub fn dir(&self) -> Option<PathBuf> {
        match self {
            MetricsCertificate::SelfSigned => None,
            MetricsCertificate::Dir(dir) => Some(dir.clone()),
        }
    }
}

impl MetricsServing {
    /// The secure default on the `k8s` source, as MetalLB serves: HTTPS, every scrape's token
    /// reviewed. The `dir:` source has no API server to review tokens with, so it serves
    /// plain HTTP, as it always has (the lab and single-host setups read it with curl), or
    /// HTTPS without authentication when given a certificate: a user who names a
    /// certificate wants TLS. `--metrics-insecure` is plain HTTP everywhere.
    pub fn choose(
        kubernetes: bool,
        insecure: bool,
        cert_dir: Option<PathBuf>,
        min_version: TlsMinVersion,
    ) -> MetricsServing {
        let certificate = cert_dir.map_or(MetricsCertificate::SelfSigned, MetricsCertificate::Dir);
        match (insecure, kubernetes, certificate) {
            (true, _, _) => MetricsServing::Plain,
            (false, true, certificate) => MetricsServing::Tls { certificate, min_version, authenticated: true },
            (false, false, MetricsCertificate::SelfSigned) => MetricsServing::Plain,
            (false, false, certificate) => MetricsServing::Tls { certificate, min_version, authenticated: false },
        }
    }

    /// One line for the log at start: how a scraper reads `/metrics`.
    pub fn summary(&self, kubernetes: bool) -> &'static str {
        match (self, kubernetes) {
            (MetricsServing::Plain, true) => "/metrics over plain HTTP without authentication (--metrics-insecure)",
            (MetricsServing::Plain, false) => {
                "/metrics over plain HTTP without authentication: the dir: source has no API server to check tokens with"
            }
            (MetricsServing::Tls { authenticated: true, .. }, _) => {
                "/metrics over HTTPS: a scrape needs a bearer token allowed to get /metrics"
            }
            (MetricsServing::Tls { authenticated: false, .. }, _) => {
                "/metrics over HTTPS without authentication: the dir: source has no API server to check tokens with"
            }
        }
    }
}

/// The `k8s` source, the controller's Lease and its webhooks.
#[derive(Debug, Clone)]
pub struct KubernetesConfig {
    /// kubeconfig file (default: in-cluster config, else $KUBECONFIG, else ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    /// This process's Pod: owner of the status objects it creates, Lease holder identity.
    pub pod_name: Option<String>,
    /// The controller's Deployment, owner of the memberlist Secret it creates.
    pub deployment: String,
    /// The Secret holding the membership key; the controller creates it when absent.
    pub ml_secret_name: String,
    /// Label selector of the speaker Pods whose nodes take part in membership.
    pub ml_labels: Option<String>,
    pub lease_name: String,
    /// How long a Lease stays valid without renewal: the controller takeover delay.
    pub lease_duration: Duration,
    pub webhook_mode: WebhookMode,
    pub webhook: WebhookSettings,
}

/// What the speaker of one node needs beyond the common settings.
#[derive(Debug, Clone)]
pub struct SpeakerConfig {
    pub node: String,
    /// Announce even from nodes labelled `node.kubernetes.io/exclude-from-external-load-balancers`.
    pub ignore_exclude_lb: bool,
    pub layer2: Layer2Config,
    pub membership: MembershipConfig,
    /// On SIGTERM, how long routes carry GRACEFUL_SHUTDOWN (RFC 8326) before they are withdrawn.
    pub graceful_shutdown_delay: Duration,
    /// `--bgp-listen-port`: where the peers' own connections are accepted; 0 (the default,
    /// as MetalLB): nowhere, the sessions only dial.
    pub bgp_listen_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer2Config {
    /// False with `--disable-layer2`: decisions are made and reported, nothing is answered.
    pub data_plane: bool,
    /// Gratuitous ARP / unsolicited NA refresh after the takeover burst (`None`: none).
    pub refresh: Option<Duration>,
    /// MetalLB's `metallb-excludel2` list, as mounted.
    pub exclude_interfaces_file: PathBuf,
}

/// How this speaker takes part in membership.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// `--no-membership` turns this off: every Node object counts as a live speaker.
    pub enabled: bool,
    pub bind: SocketAddr,
    /// The shared secret, read and checked at start-up; `None` runs unauthenticated.
    pub key: Option<Key>,
    pub timers: Timers,
    /// Without quorum this speaker stops answering ARP/NDP (`--no-fencing` turns it off).
    pub fencing: bool,
    /// Witnessed (the default): fenced only when the heartbeats show a live majority
    /// elsewhere; strict (`--strict-fencing`): on quorum alone.
    pub fence_mode: FenceMode,
}

impl MembershipConfig {
    /// Membership as it runs by default: on, fenced, unauthenticated, MetalLB's port.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            enabled: true,
            bind,
            key: None,
            timers: Timers::default(),
            fencing: true,
            fence_mode: FenceMode::Witnessed,
        }
    }
}

/// The settings as the command line gives them, before they are checked: the binary fills
/// this in and [`RuntimeConfig::new`] turns it into a configuration that can run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub roles: Roles,
    pub source: SourceSpec,
    pub node: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub namespace: String,
    pub lb_class: Option<String>,
    /// 0 disables.
    pub metrics_port: u16,
    pub metrics_address: IpAddr,
    /// 0 disables.
    pub health_probe_port: u16,
    /// `--metrics-insecure`: plain HTTP without authentication, on every source.
    pub metrics_insecure: bool,
    /// `--metrics-cert-dir`: the metrics port's `tls.crt` and `tls.key`.
    pub metrics_cert_dir: Option<PathBuf>,
    /// `--tls-min-version`, for the metrics port as for the webhooks.
    pub metrics_tls_min_version: TlsMinVersion,
    pub ignore_exclude_lb: bool,
    /// 0 sends no refresh.
    pub l2_refresh_interval: Duration,
    pub graceful_shutdown_delay: Duration,
    pub bgp_listen_port: u16,
    pub disable_layer2: bool,
    pub exclude_interfaces_file: PathBuf,
    pub no_membership: bool,
    pub membership_bind: SocketAddr,
    pub membership_key_file: Option<PathBuf>,
    pub no_fencing: bool,
    pub strict_fencing: bool,
    pub membership_probe_interval: Option<Duration>,
    pub membership_probe_timeout: Option<Duration>,
    pub membership_suspicion_multiplier: Option<f64>,
    pub kubernetes: KubernetesConfig,
}

impl RuntimeConfig {
    /// Checks `settings` and builds the configuration the roles run with.
    pub fn new(settings: Settings) -> Result<Self, ConfigError> {
        let node = settings.node.filter(|n| !n.is_empty());
        let serving = MetricsServing::choose(
            settings.source == SourceSpec::Kubernetes,
            settings.metrics_insecure,
            settings.metrics_cert_dir,
            settings.metrics_tls_min_version,
        );
        let source = match settings.source {
            SourceSpec::Dir(manifests) => {
                let state_dir = settings.state_dir.unwrap_or_else(|| manifests.join(".ferrolb"));
                SourceConfig::Dir(DirConfig { manifests, state_dir })
            }
            SourceSpec::Kubernetes => {
                let mut kubernetes = settings.kubernetes;
                if kubernetes.lease_duration < MIN_LEASE_DURATION {
                    // A shorter Lease cannot be renewed in time over a slow API server; MetalLB's
                    // elector has the same floor in effect.
                    kubernetes.lease_duration = MIN_LEASE_DURATION;
                }
                kubernetes.webhook.namespace = settings.namespace.clone();
                SourceConfig::Kubernetes(Box::new(kubernetes))
            }
        };
        let speaker = if settings.roles.speaker() {
            let node = node.clone().ok_or_else(|| ConfigError::new("the speaker needs --node"))?;
            Some(SpeakerConfig {
                node,
                ignore_exclude_lb: settings.ignore_exclude_lb,
                layer2: Layer2Config {
                    data_plane: !settings.disable_layer2,
                    refresh: (!settings.l2_refresh_interval.is_zero()).then_some(settings.l2_refresh_interval),
                    exclude_interfaces_file: settings.exclude_interfaces_file,
                },
                membership: membership(
                    !settings.no_membership,
                    settings.membership_bind,
                    settings.membership_key_file.as_deref(),
                    match (settings.no_fencing, settings.strict_fencing) {
                        (true, _) => None,
                        (false, false) => Some(FenceMode::Witnessed),
                        (false, true) => Some(FenceMode::Strict),
                    },
                    (
                        settings.membership_probe_interval,
                        settings.membership_probe_timeout,
                        settings.membership_suspicion_multiplier,
                    ),
                )?,
                graceful_shutdown_delay: settings.graceful_shutdown_delay,
                bgp_listen_port: settings.bgp_listen_port,
            })
        } else {
            None
        };
        let on = |port: u16, ip: IpAddr| (port != 0).then(|| SocketAddr::new(ip, port));
        Ok(Self {
            roles: settings.roles,
            source,
            namespace: settings.namespace,
            lb_class: settings.lb_class.filter(|c| !c.is_empty()),
            node,
            http: HttpConfig {
                metrics: on(settings.metrics_port, settings.metrics_address),
                health: on(settings.health_probe_port, IpAddr::V4(Ipv4Addr::LOCALHOST)),
                serving,
            },
            speaker,
        })
    }

    /// The Kubernetes settings, on the `k8s` source.
    pub fn kubernetes(&self) -> Option<&KubernetesConfig> {
        match &self.source {
            SourceConfig::Kubernetes(k) => Some(k),
            SourceConfig::Dir(_) => None,
        }
    }

    /// Whether this process runs the controller's reconcilers (not with `onlywebhook`).
    pub fn reconciles_as_controller(&self) -> bool {
        self.roles.controller() && self.kubernetes().is_none_or(|k| k.webhook_mode != WebhookMode::OnlyWebhook)
    }

    /// How this controller is known: its Pod, else its node, else `controller`.
    pub fn identity(&self) -> String {
        self.kubernetes()
            .and_then(|k| k.pod_name.clone())
            .or_else(|| self.node.clone())
            .unwrap_or_else(|| "controller".into())
    }

    /// How long the orderly stop may take: the drain, with 2 s to spare.
    pub fn stop_budget(&self) -> Duration {
        self.speaker.as_ref().map_or(Duration::ZERO, |s| s.graceful_shutdown_delay) + Duration::from_secs(2)
    }
}

/// The shortest Lease the controller campaigns with.
const MIN_LEASE_DURATION: Duration = Duration::from_secs(3);

/// Membership from its settings. A key file that cannot be read is fatal: running
/// unauthenticated by accident would let any host on the LAN join.
fn membership(
    enabled: bool,
    bind: SocketAddr,
    key_file: Option<&Path>,
    fencing: Option<FenceMode>,
    (interval, timeout, multiplier): (Option<Duration>, Option<Duration>, Option<f64>),
) -> Result<MembershipConfig, ConfigError> {
    let key = match key_file {
        None => None,
        Some(path) => Some(
            Key::from_file(path)
                .map_err(|e| ConfigError::new(format!("cannot use membership key file {}: {e}", path.display())))?,
        ),
    };
    let mut timers = Timers::default();
    if let Some(interval) = interval {
        timers.probe_period = interval;
    }
    if let Some(timeout) = timeout {
        timers.probe_timeout = timeout;
    }
    if let Some(multiplier) = multiplier {
        timers.suspicion_multiplier = multiplier;
    }
    if enabled {
        timers.validate().map_err(|e| ConfigError::new(format!("invalid membership timers: {e}")))?;
    }
    Ok(MembershipConfig {
        enabled,
        bind,
        key,
        timers,
        fencing: fencing.is_some(),
        fence_mode: fencing.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line's defaults.
    pub(crate) fn settings(roles: Roles, source: &str) -> Settings {
        Settings {
            roles,
            source: source.parse().unwrap(),
            node: Some("node1".into()),
            state_dir: None,
            namespace: "metallb-system".into(),
            lb_class: None,
            metrics_port: 9120,
            metrics_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            health_probe_port: 17472,
            metrics_insecure: false,
            metrics_cert_dir: None,
            metrics_tls_min_version: TlsMinVersion::Tls13,
            ignore_exclude_lb: false,
            l2_refresh_interval: Duration::ZERO,
            graceful_shutdown_delay: Duration::ZERO,
            bgp_listen_port: 0,
            disable_layer2: false,
            exclude_interfaces_file: "/etc/metallb/excludel2.yaml".into(),
            no_membership: false,
            membership_bind: "0.0.0.0:7946".parse().unwrap(),
            membership_key_file: None,
            no_fencing: false,
            strict_fencing: false,
            membership_probe_interval: None,
            membership_probe_timeout: None,
            membership_suspicion_multiplier: None,
            kubernetes: KubernetesConfig {
                kubeconfig: None,
                pod_name: None,
                deployment: "controller".into(),
                ml_secret_name: "memberlist".into(),
                ml_labels: None,
                lease_name: "ferrolb-controller".into(),
                lease_duration: Duration::from_secs(15),
                webhook_mode: WebhookMode::Enabled,
                webhook: WebhookSettings::default(),
            },
        }
    }

    #[test]
    fn a_source_is_k8s_or_a_directory() {
        assert_eq!("k8s".parse::<SourceSpec>(), Ok(SourceSpec::Kubernetes));
        assert_eq!("dir:/srv/lb".parse::<SourceSpec>(), Ok(SourceSpec::Dir("/srv/lb".into())));
        assert_eq!("dir:".parse::<SourceSpec>().unwrap_err(), "invalid source \"dir:\": expected k8s or dir:PATH");
        assert!("kubernetes".parse::<SourceSpec>().is_err());
    }

    #[test]
    fn the_state_directory_defaults_to_a_hidden_directory_in_the_manifests() {
        let config = RuntimeConfig::new(settings(Roles::Both, "dir:/srv/lb")).unwrap();
        match &config.source {
            SourceConfig::Dir(dir) => assert_eq!(dir.state_dir, PathBuf::from("/srv/lb/.ferrolb")),
            SourceConfig::Kubernetes(_) => panic!("a dir: source"),
        }
        assert_eq!(config.identity(), "node1");
    }

    #[test]
    fn the_speaker_needs_a_node_name_and_the_controller_does_not() {
        let mut s = settings(Roles::Speaker, "k8s");
        s.node = None;
        assert_eq!(RuntimeConfig::new(s.clone()).unwrap_err().to_string(), "the speaker needs --node");
        s.roles = Roles::Controller;
        let config = RuntimeConfig::new(s).unwrap();
        assert!(config.speaker.is_none());
        assert_eq!(config.identity(), "controller");
    }

    #[test]
    fn zero_ports_disable_their_listeners_and_health_is_on_loopback() {
        let mut s = settings(Roles::Controller, "k8s");
        s.metrics_port = 0;
        let config = RuntimeConfig::new(s).unwrap();
        assert_eq!(config.http.metrics, None);
        assert_eq!(config.http.health, Some("127.0.0.1:17472".parse().unwrap()));
    }

    #[test]
    fn metrics_are_secured_on_k8s_and_plain_on_dir_unless_told_otherwise() {
        let tls = |certificate, authenticated| MetricsServing::Tls {
            certificate,
            min_version: TlsMinVersion::Tls13,
            authenticated,
        };
        let dir = || Some(PathBuf::from("/certs"));
        let cases = [
            // (k8s, --metrics-insecure, --metrics-cert-dir, serving)
            (true, false, None, tls(MetricsCertificate::SelfSigned, true)),
            (true, false, dir(), tls(MetricsCertificate::Dir("/certs".into()), true)),
            (true, true, None, MetricsServing::Plain),
            (true, true, dir(), MetricsServing::Plain),
            (false, false, None, MetricsServing::Plain),
            (false, false, dir(), tls(MetricsCertificate::Dir("/certs".into()), false)),
            (false, true, dir(), MetricsServing::Plain),
        ];
        for (k8s, insecure, cert_dir, expected) in cases {
            let chosen = MetricsServing::choose(k8s, insecure, cert_dir.clone(), TlsMinVersion::Tls13);
            assert_eq!(chosen, expected, "k8s {k8s}, insecure {insecure}, {cert_dir:?}");
        }
        let mut s = settings(Roles::Controller, "k8s");
        s.metrics_tls_min_version = TlsMinVersion::Tls12;
        let MetricsServing::Tls { min_version, .. } = RuntimeConfig::new(s).unwrap().http.serving else { panic!() };
        assert_eq!(min_version, TlsMinVersion::Tls12);
        let config = RuntimeConfig::new(settings(Roles::Both, "dir:/srv/lb")).unwrap();
        assert_eq!(config.http.serving, MetricsServing::Plain);
    }

    #[test]
    fn an_empty_load_balancer_class_means_none() {
        let mut s = settings(Roles::Controller, "k8s");
        s.lb_class = Some(String::new());
        assert_eq!(RuntimeConfig::new(s).unwrap().lb_class, None);
    }

    #[test]
    fn an_unreadable_membership_key_file_is_refused_at_start() {
        let mut s = settings(Roles::Speaker, "k8s");
        s.membership_key_file = Some("/nonexistent/ferrolb/secretkey".into());
        let error = RuntimeConfig::new(s).unwrap_err().to_string();
        assert!(error.starts_with("cannot use membership key file /nonexistent/ferrolb/secretkey: "), "{error}");
    }

    #[test]
    fn membership_timers_that_cannot_work_are_refused_at_start() {
        let mut s = settings(Roles::Speaker, "k8s");
        s.membership_probe_interval = Some(Duration::from_millis(50));
        s.membership_probe_timeout = Some(Duration::from_millis(80));
        let error = RuntimeConfig::new(s.clone()).unwrap_err().to_string();
        assert!(error.starts_with("invalid membership timers: probe_timeout"), "{error}");
        s.no_membership = true;
        assert!(RuntimeConfig::new(s).is_ok(), "timers do not matter with membership off");
    }

    #[test]
    fn a_short_lease_is_raised_to_the_floor_and_the_webhook_follows_the_namespace() {
        let mut s = settings(Roles::Controller, "k8s");
        s.kubernetes.lease_duration = Duration::from_secs(1);
        s.namespace = "lb".into();
        let config = RuntimeConfig::new(s).unwrap();
        let k = config.kubernetes().unwrap();
        assert_eq!(k.lease_duration, Duration::from_secs(3));
        assert_eq!(k.webhook.namespace, "lb");
    }

    #[test]
    fn onlywebhook_runs_no_controller_reconcilers() {
        let mut s = settings(Roles::Controller, "k8s");
        s.kubernetes.webhook_mode = WebhookMode::OnlyWebhook;
        assert!(!RuntimeConfig::new(s).unwrap().reconciles_as_controller());
        assert!(RuntimeConfig::new(settings(Roles::Controller, "dir:/x")).unwrap().reconciles_as_controller());
    }
}
