//! MetalLB's command line, as MetalLB's images and manifests run it.
//!
//! MetalLB's images start `/controller` or `/speaker` with Go-style flags and no subcommand
//! (`--port=9120 --log-level=info`), and its speaker pods (FRR flavour) copy files with
//! `/cp-tool SRC DST`. So the binary looks at the name it was started under: `controller` and
//! `speaker` run that role (the `k8s` source unless one is given), `cp-tool` copies a file.
//! Every other name is ferrolb's own command line.
//!
//! The flags of MetalLB's controller and speaker that ferrolb has no use for are accepted and
//! named in one warning each at start ([`MetallbArgs::notices`]), never refused: a flag that
//! MetalLB's chart renders must not stop the pod.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::Args;
use clap::builder::FalseyValueParser;

/// What the binary was started as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `ferrolb SUBCOMMAND ...`.
    Ferrolb,
    /// MetalLB's `/controller` or `/speaker` entrypoint: the role's subcommand is implied.
    Role(&'static str),
    /// MetalLB's `/cp-tool SRC DST`.
    CpTool,
    /// The FRR flavour's `frr-reloader.sh`, copied out of the speaker image and run in the
    /// FRR container: a stand-in, since ferrolb drives no FRR.
    FrrReloader,
    /// The FRR flavour's `frr-metrics`: a stand-in answering the FRR container's probes.
    FrrMetrics,
}

/// The entry point named by `argv[0]` (its file name, whatever the directory).
pub fn entry_of(argv0: &OsStr) -> Entry {
    match Path::new(argv0).file_name().and_then(OsStr::to_str) {
        Some("controller") => Entry::Role("controller"),
        Some("speaker") => Entry::Role("speaker"),
        Some("cp-tool") => Entry::CpTool,
        Some("frr-reloader.sh") => Entry::FrrReloader,
        Some("frr-metrics") => Entry::FrrMetrics,
        _ => Entry::Ferrolb,
    }
}

/// The command line clap parses for `entry`: under a role name the subcommand is inserted,
/// `--source=k8s` added unless a source is given (`source_in_env`: `FERROLB_SOURCE` is set),
/// and Go's single-dash long flags (`-port=9120`, which Go's flag package accepts) spelled
/// with two dashes.
pub fn command_line(entry: Entry, args: Vec<OsString>, source_in_env: bool) -> Vec<OsString> {
    let Entry::Role(role) = entry else { return args };
    let mut args = args.into_iter();
    let mut out: Vec<OsString> = args.next().into_iter().collect();
    out.push(role.into());
    let rest: Vec<OsString> = args.map(go_flag).collect();
    let has_source = rest.iter().any(|a| a == "--source" || a.to_str().is_some_and(|a| a.starts_with("--source=")));
    if !has_source && !source_in_env {
        out.push("--source=k8s".into());
    }
    out.extend(rest);
    out
}

/// `-name[=value]` as `--name[=value]`; everything else as it is.
fn go_flag(arg: OsString) -> OsString {
    match arg.to_str() {
        Some(a)
            if a.len() > 2 && a.starts_with('-') && !a.starts_with("--") && a.as_bytes()[1].is_ascii_alphabetic() =>
        {
            format!("-{a}").into()
        }
        _ => arg,
    }
}

/// `cp-tool SRC DST`: copies SRC to DST (a file, or into a directory), permissions included.
pub fn cp_tool(args: &[OsString]) -> Result<(), String> {
    let [src, dst] = args else {
        return Err(format!("cp-tool: usage: cp-tool SRC DST (got {} arguments)", args.len()));
    };
    let src = Path::new(src);
    let mut dst = PathBuf::from(dst);
    if dst.is_dir() {
        let Some(name) = src.file_name() else { return Err(format!("cp-tool: {} names no file", src.display())) };
        dst.push(name);
    }
    std::fs::copy(src, &dst)
        .map(|_| ())
        .map_err(|e| format!("cp-tool: cannot copy {} to {}: {e}", src.display(), dst.display()))
}

/// MetalLB's frr-metrics listens here unless told otherwise.
const FRR_METRICS_DEFAULT_PORT: u16 = 7473;

/// The address `frr-metrics` serves on, from MetalLB's `--metrics-port` and
/// `--metrics-bind-address` (`=VALUE` or a separate value, Go-style single dashes too), and
/// the other arguments, which it has no use for (each to be named in a warning).
pub fn frr_metrics_args(args: &[OsString]) -> Result<(SocketAddr, Vec<String>), String> {
    let mut port = FRR_METRICS_DEFAULT_PORT;
    let mut ip = IpAddr::from([0, 0, 0, 0]);
    let mut ignored = Vec::new();
    let mut args = args.iter().map(|a| go_flag(a.clone()).to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if name != "--metrics-port" && name != "--metrics-bind-address" {
            ignored.push(arg);
            continue;
        }
        let value = inline.or_else(|| args.next()).ok_or_else(|| format!("frr-metrics: {name} needs a value"))?;
        if name == "--metrics-port" {
            port = value.parse().map_err(|_| format!("frr-metrics: --metrics-port '{value}' is not a port number"))?;
        } else {
            ip = value
                .parse()
                .map_err(|_| format!("frr-metrics: --metrics-bind-address '{value}' is not an IP address"))?;
        }
    }
    Ok((SocketAddr::new(ip, port), ignored))
}

/// Where membership listens, as given: MetalLB passes a bare IP (the pod's, `status.podIP`)
/// and the port apart (`--ml-bindport`); ferrolb's own form is `IP:PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindAddr {
    Socket(SocketAddr),
    Ip(IpAddr),
}

impl FromStr for BindAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(socket) = s.parse() {
            return Ok(BindAddr::Socket(socket));
        }
        s.parse()
            .map(BindAddr::Ip)
            .map_err(|_| format!("'{s}' is neither an IP address nor IP:PORT (e.g. 10.0.0.5 or 0.0.0.0:7946)"))
    }
}

/// The membership listening address from the bind address and MetalLB's separate port.
pub fn membership_bind(bind: Option<BindAddr>, port: Option<u16>, default_port: u16) -> SocketAddr {
    let port = port.unwrap_or(default_port);
    match bind {
        Some(BindAddr::Socket(socket)) => socket,
        Some(BindAddr::Ip(ip)) => SocketAddr::new(ip, port),
        None => SocketAddr::from(([0, 0, 0, 0], port)),
    }
}

/// MetalLB's key path is a directory holding `secretkey` (the memberlist Secret, mounted);
/// ferrolb's is the file itself. Both are accepted.
pub fn membership_key_file(path: &Path) -> PathBuf {
    if path.is_dir() { path.join("secretkey") } else { path.to_owned() }
}

/// MetalLB's controller and speaker flags that ferrolb accepts without using them (the ones
/// it uses are ferrolb's own flags, under MetalLB's names).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Accepted for MetalLB compatibility (not used)")]
pub struct MetallbArgs {
    /// MetalLB's membership port, with a bare --ml-bindaddr (default 7946).
    #[arg(long, env = "METALLB_ML_BIND_PORT")]
    pub ml_bindport: Option<u16>,
    /// MetalLB's HTTP host; unused, as in MetalLB.
    #[arg(long, env = "METALLB_HOST")]
    pub host: Option<String>,
    /// MetalLB's BGP implementation (native, frr, frr-k8s): ferrolb's one speaker serves all.
    #[arg(long = "bgp-type", env = "METALLB_BGP_TYPE", hide = true)]
    pub bgp_type: Option<String>,
    /// Ignored (no profiling endpoint).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub enable_pprof: bool,
    /// Ignored (no profiling endpoint).
    #[arg(long)]
    pub pprof_bind_address: Option<String>,
    /// Ignored (EndpointSlices are always read).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub disable_epslices: bool,
    /// Ignored (see --membership-probe-interval-ms).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub ml_wan_config: bool,
    /// Ignored (no FRR-K8s).
    #[arg(long)]
    pub frrk8s_namespace: Option<String>,
    /// Ignored (no FRR-K8s).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub frrk8s_secret_passthrough: bool,
    /// Ignored (BGP changes apply at once).
    #[arg(long)]
    pub bgp_debounce_timeout: Option<String>,
    /// Ignored (the webhook server speaks HTTP/1.1).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = FalseyValueParser::new())]
    pub webhook_http2: bool,
    /// Ignored (rustls defaults).
    #[arg(long)]
    pub tls_cipher_suites: Option<String>,
    /// Ignored (rustls defaults).
    #[arg(long)]
    pub tls_curve_preferences: Option<String>,
}

/// A line to log once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
    pub text: String,
}

impl MetallbArgs {
    /// One line per MetalLB flag given that ferrolb does not apply, saying what it does instead.
    pub fn notices(&self) -> Vec<Notice> {
        let mut out = Vec::new();
        let mut warn = |given: bool, text: &str| {
            if given {
                out.push(Notice { warning: true, text: text.to_owned() });
            }
        };
        warn(self.enable_pprof, "--enable-pprof is ignored: ferrolb has no profiling endpoint");
        warn(self.pprof_bind_address.is_some(), "--pprof-bind-address is ignored: ferrolb has no profiling endpoint");
        warn(self.disable_epslices, "--disable-epslices is ignored: ferrolb always reads EndpointSlices");
        warn(
            self.ml_wan_config,
            "--ml-wan-config is ignored: set the membership timers with --membership-probe-interval-ms and --membership-probe-timeout-ms",
        );
        warn(
            self.frrk8s_namespace.is_some(),
            "--frrk8s-namespace is ignored: ferrolb speaks BGP itself, without FRR-K8s",
        );
        warn(
            self.frrk8s_secret_passthrough,
            "--frrk8s-secret-passthrough is ignored: ferrolb speaks BGP itself, without FRR-K8s",
        );
        warn(
            self.bgp_debounce_timeout.is_some(),
            "--bgp-debounce-timeout is ignored: ferrolb applies BGP changes at once",
        );
        warn(self.webhook_http2, "--webhook-http2 is ignored: the webhook server speaks HTTP/1.1 only");
        warn(
            self.tls_cipher_suites.is_some(),
            "--tls-cipher-suites is ignored: TLS uses rustls's default cipher suites",
        );
        warn(
            self.tls_curve_preferences.is_some(),
            "--tls-curve-preferences is ignored: TLS uses rustls's default key exchange groups",
        );
        if let Some(kind) = &self.bgp_type {
            out.push(Notice {
                warning: false,
                text: format!(
                    "METALLB_BGP_TYPE={kind}: ferrolb speaks BGP itself in every mode (no FRR, no FRR-K8s), from the same metallb.io objects"
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn frr_metrics_takes_metallbs_flags_and_names_the_rest() {
        let (addr, ignored) =
            frr_metrics_args(&os(&["--metrics-port=9121", "--metrics-bind-address=0.0.0.0"])).unwrap();
        assert_eq!(addr, "0.0.0.0:9121".parse().unwrap());
        assert!(ignored.is_empty());
        let (addr, ignored) =
            frr_metrics_args(&os(&["-metrics-port", "9200", "--metrics-bind-address", "fd00:30::1", "--host=x"]))
                .unwrap();
        assert_eq!(addr, "[fd00:30::1]:9200".parse().unwrap());
        assert_eq!(ignored, ["--host=x"]);
        assert_eq!(frr_metrics_args(&[]).unwrap().0, "0.0.0.0:7473".parse().unwrap());
        assert_eq!(
            frr_metrics_args(&os(&["--metrics-port=http"])).unwrap_err(),
            "frr-metrics: --metrics-port 'http' is not a port number"
        );
        assert_eq!(
            frr_metrics_args(&os(&["--metrics-port"])).unwrap_err(),
            "frr-metrics: --metrics-port needs a value"
        );
        assert!(frr_metrics_args(&os(&["--metrics-bind-address=node"])).unwrap_err().contains("not an IP address"));
    }

    #[test]
    fn the_entry_is_the_file_name_of_argv0() {
        assert_eq!(entry_of(OsStr::new("/controller")), Entry::Role("controller"));
        assert_eq!(entry_of(OsStr::new("speaker")), Entry::Role("speaker"));
        assert_eq!(entry_of(OsStr::new("/usr/local/bin/cp-tool")), Entry::CpTool);
        assert_eq!(entry_of(OsStr::new("/etc/frr_reloader/frr-reloader.sh")), Entry::FrrReloader);
        assert_eq!(entry_of(OsStr::new("/etc/frr_metrics/frr-metrics")), Entry::FrrMetrics);
        assert_eq!(entry_of(OsStr::new("/ferrolb")), Entry::Ferrolb);
        assert_eq!(entry_of(OsStr::new("kubectl-ferrolb")), Entry::Ferrolb);
        assert_eq!(entry_of(OsStr::new("/bin/controller-old")), Entry::Ferrolb);
    }

    #[test]
    fn a_role_name_implies_its_subcommand_and_the_k8s_source() {
        let line = command_line(Entry::Role("speaker"), os(&["/speaker", "--port=9120", "--log-level=info"]), false);
        assert_eq!(line, os(&["/speaker", "speaker", "--source=k8s", "--port=9120", "--log-level=info"]));
    }

    #[test]
    fn a_given_source_is_kept() {
        let line = command_line(Entry::Role("controller"), os(&["controller", "--source", "dir:/x"]), false);
        assert_eq!(line, os(&["controller", "controller", "--source", "dir:/x"]));
        let line = command_line(Entry::Role("controller"), os(&["controller", "--source=dir:/x"]), false);
        assert_eq!(line, os(&["controller", "controller", "--source=dir:/x"]));
        let line = command_line(Entry::Role("controller"), os(&["controller"]), true);
        assert_eq!(line, os(&["controller", "controller"]), "FERROLB_SOURCE decides");
    }

    #[test]
    fn go_single_dash_flags_get_two_dashes_and_nothing_else_changes() {
        let line = command_line(
            Entry::Role("controller"),
            os(&["c", "-port=9120", "-log-level", "debug", "-", "-1", "--x"]),
            true,
        );
        assert_eq!(line, os(&["c", "controller", "--port=9120", "--log-level", "debug", "-", "-1", "--x"]));
    }

    #[test]
    fn ferrolbs_own_command_line_is_untouched() {
        let args = os(&["ferrolb", "run", "-o", "json"]);
        assert_eq!(command_line(Entry::Ferrolb, args.clone(), false), args);
    }

    #[test]
    fn the_membership_address_takes_metallbs_split_form_and_ferrolbs() {
        let ip: BindAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(membership_bind(Some(ip), None, 7946), "10.0.0.5:7946".parse().unwrap());
        assert_eq!(membership_bind(Some(ip), Some(7000), 7946), "10.0.0.5:7000".parse().unwrap());
        let v6: BindAddr = "fd00::5".parse().unwrap();
        assert_eq!(membership_bind(Some(v6), None, 7946), "[fd00::5]:7946".parse().unwrap());
        let socket: BindAddr = "0.0.0.0:7947".parse().unwrap();
        assert_eq!(membership_bind(Some(socket), Some(1), 7946), "0.0.0.0:7947".parse().unwrap());
        assert_eq!(membership_bind(None, Some(8000), 7946), "0.0.0.0:8000".parse().unwrap());
        assert_eq!(membership_bind(None, None, 7946), "0.0.0.0:7946".parse().unwrap());
        let err = "node1".parse::<BindAddr>().unwrap_err();
        assert!(err.contains("'node1' is neither an IP address nor IP:PORT"), "{err}");
    }

    #[test]
    fn the_key_path_may_be_metallbs_directory_or_the_file() {
        let dir = std::env::temp_dir().join(format!("ferrolb-keydir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(membership_key_file(&dir), dir.join("secretkey"));
        let file = dir.join("secretkey");
        std::fs::write(&file, "k").unwrap();
        assert_eq!(membership_key_file(&file), file);
        assert_eq!(membership_key_file(Path::new("/nonexistent/k")), PathBuf::from("/nonexistent/k"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cp_tool_copies_into_a_file_or_a_directory_and_names_what_fails() {
        let dir = std::env::temp_dir().join(format!("ferrolb-cptool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("into")).unwrap();
        let src = dir.join("frr-reloader.sh");
        std::fs::write(&src, "#!/bin/sh\n").unwrap();
        cp_tool(&[src.clone().into(), dir.join("copy").into()]).unwrap();
        cp_tool(&[src.clone().into(), dir.join("into").into()]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("copy")).unwrap(), "#!/bin/sh\n");
        assert_eq!(std::fs::read_to_string(dir.join("into/frr-reloader.sh")).unwrap(), "#!/bin/sh\n");
        let err = cp_tool(&[dir.join("missing").into(), dir.join("x").into()]).unwrap_err();
        assert!(err.starts_with("cp-tool: cannot copy ") && err.contains("missing"), "{err}");
        assert!(cp_tool(&[src.into()]).unwrap_err().contains("usage: cp-tool SRC DST (got 1 arguments)"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_unused_flag_given_is_named_once_and_none_when_none_is_given() {
        assert_eq!(MetallbArgs::default().notices(), []);
        let args = MetallbArgs {
            enable_pprof: true,
            tls_cipher_suites: Some("TLS_AES_128_GCM_SHA256".into()),
            bgp_type: Some("frr-k8s".into()),
            ..MetallbArgs::default()
        };
        let notices = args.notices();
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[0].warning && notices[0].text.starts_with("--enable-pprof is ignored"));
        assert!(notices[1].warning && notices[1].text.starts_with("--tls-cipher-suites is ignored"));
        assert!(!notices[2].warning && notices[2].text.starts_with("METALLB_BGP_TYPE=frr-k8s: "));
    }
}
