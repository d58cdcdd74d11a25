//! The binary run exactly as MetalLB's install manifests run their images (native, FRR and
//! FRR-K8s flavours): started as `/controller` or `/speaker` with MetalLB's arguments and
//! environment, it must get past its command line and configuration to the API-server
//! connection step. The manifests' containers are restated below (entrypoint, args, env with
//! the fieldRefs resolved); only loopback is ever contacted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-images-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary under `name` (as an image's entrypoint names it), in `dir`.
fn entrypoint(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ferrolb"), &link).unwrap();
    link
}

/// A kubeconfig whose API server is loopback port 1, where nothing listens.
fn unreachable_kubeconfig(dir: &Path) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: none\n",
    )
    .unwrap();
    path
}

/// One container of MetalLB's manifests.
struct Container {
    flavour: &'static str,
    entrypoint: &'static str,
    args: &'static [&'static str],
    env: Vec<(&'static str, &'static str)>,
}

/// What the speaker's env names but a test must not touch: the memberlist Secret's mount
/// point, replaced by a scratch directory holding `secretkey`.
const KEY_DIR: &str = "/etc/ml_secret_key";

const CONTROLLER_ENV: &[(&str, &str)] = &[
    ("METALLB_POD_NAME", "controller-7d4c8b9f6-x2x7q"),
    ("METALLB_ML_SECRET_NAME", "memberlist"),
    ("METALLB_DEPLOYMENT", "controller"),
];

/// The speaker's env with fieldRefs resolved: spec.nodeName, metadata.name, status.hostIP,
/// status.podIP (host network: the node's address; loopback here).
const SPEAKER_ENV: &[(&str, &str)] = &[
    ("METALLB_NODE_NAME", "node1"),
    ("METALLB_POD_NAME", "speaker-8qz2k"),
    ("METALLB_HOST", "127.0.0.1"),
    ("METALLB_ML_BIND_ADDR", "127.0.0.1"),
    ("METALLB_ML_LABELS", "app=metallb,component=speaker"),
    ("METALLB_ML_SECRET_KEY_PATH", KEY_DIR),
];

/// Both images in each flavour: the same arguments everywhere; FRR and FRR-K8s add
/// METALLB_BGP_TYPE, and FRR's speaker the reloader's files.
fn containers() -> Vec<Container> {
    let args: &'static [&'static str] = &["--port=9120", "--log-level=info"];
    let mut out = Vec::new();
    for flavour in ["native", "frr", "frr-k8s"] {
        for (entrypoint, base) in [("controller", CONTROLLER_ENV), ("speaker", SPEAKER_ENV)] {
            let mut env = base.to_vec();
            if flavour != "native" {
                env.insert(0, ("METALLB_BGP_TYPE", flavour));
            }
            if flavour == "frr" && entrypoint == "speaker" {
                env.insert(0, ("FRR_CONFIG_FILE", "/etc/frr_reloader/frr.conf"));
                env.insert(1, ("FRR_RELOADER_PID_FILE", "/etc/frr_reloader/reloader.pid"));
            }
            out.push(Container { flavour, entrypoint, args, env });
        }
    }
    out
}

/// Runs `program` with `args` and exactly `env` (plus PATH and HOME), the kubeconfig pointed
/// at loopback port 1, and, after the manifest's own arguments, the fixed ports turned off
/// (the last of a repeated flag wins, as with Go flags) and no raw sockets (no ARP/NDP on
/// this machine's interfaces).
fn run(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let key_dir = dir.join("ml_secret_key");
    std::fs::create_dir_all(&key_dir).unwrap();
    std::fs::write(key_dir.join("secretkey"), "c2VjcmV0LWtleS1mb3ItdGVzdHM").unwrap();
    let mut command = Command::new(program);
    command.args(args).args(["--port=0", "--health-probe-port=0", "--disable-layer2"]);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", dir);
    for (name, value) in env {
        let value = if *value == KEY_DIR { key_dir.to_str().unwrap() } else { value };
        command.env(name, value);
    }
    command.env("FERROLB_KUBECONFIG", unreachable_kubeconfig(dir));
    command.output().expect("the binary runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn every_container_of_metallbs_manifests_reaches_the_api_server() {
    for container in containers() {
        let dir = scratch(&format!("{}-{}", container.flavour, container.entrypoint));
        let program = entrypoint(&dir, container.entrypoint);
        let out = run(&dir, &program, container.args, &container.env);
        let what = format!("{} {} {:?}", container.flavour, container.entrypoint, container.args);
        let text = text(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {text}");
        assert!(text.contains("cannot reach the Kubernetes API server at http://127.0.0.1:1/"), "{what}: {text}");
        assert!(!text.contains("unexpected argument"), "{what}: {text}");
        if container.flavour != "native" {
            assert!(
                text.contains(&format!("METALLB_BGP_TYPE={}: ferrolb speaks BGP itself", container.flavour)),
                "{what}: {text}"
            );
        }
    }
}

#[test]
fn metallbs_flags_that_mean_nothing_here_are_named_once_and_do_not_stop_the_start() {
    let dir = scratch("unused-flags");
    let program = entrypoint(&dir, "controller");
    let flags = [
        "--enable-pprof",
        "--pprof-bind-address=:6060",
        "--webhook-http2=true",
        "--tls-cipher-suites=TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384",
        "--tls-curve-preferences=X25519",
        "--metrics-cert-dir=/tmp/k8s-metrics-server/metrics-certs",
        "--disable-epslices=false",
        "--log-format=text",
    ];
    let out = run(&dir, &program, &flags, CONTROLLER_ENV);
    let text = text(&out);
    assert!(text.contains("cannot reach the Kubernetes API server"), "{text}");
    for flag in
        ["--enable-pprof", "--pprof-bind-address", "--webhook-http2", "--tls-cipher-suites", "--tls-curve-preferences"]
    {
        let warning = format!("{flag} is ignored");
        assert_eq!(text.matches(&warning).count(), 1, "{warning}: {text}");
    }
    // It has a meaning now: the HTTPS metrics port's certificate (the port is off here).
    assert!(!text.contains("--metrics-cert-dir is ignored"), "{text}");
    assert!(!text.contains("--disable-epslices is ignored"), "=false is not given: {text}");
}

#[test]
fn go_style_single_dash_flags_and_boolean_values_are_accepted() {
    let dir = scratch("go-flags");
    let program = entrypoint(&dir, "controller");
    let out = run(
        &dir,
        &program,
        &[
            "-port=9120",
            "-log-level=debug",
            "--disable-cert-rotation=false",
            "--ignore-exclude-lb=true",
            "--metrics-insecure=false",
        ],
        CONTROLLER_ENV,
    );
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot reach the Kubernetes API server"), "{text}");
}

#[test]
fn a_bad_membership_address_is_named() {
    let dir = scratch("bad-bind");
    let program = entrypoint(&dir, "speaker");
    let mut env = SPEAKER_ENV.to_vec();
    env.retain(|(n, _)| *n != "METALLB_ML_BIND_ADDR");
    env.push(("METALLB_ML_BIND_ADDR", "node1"));
    let out = run(&dir, &program, &[], &env);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("'node1' is neither an IP address nor IP:PORT"), "{text}");
}

#[test]
fn cp_tool_copies_as_metallbs_init_containers_use_it() {
    let dir = scratch("cp-tool");
    let program = entrypoint(&dir, "cp-tool");
    std::fs::write(dir.join("frr-reloader.sh"), "#!/bin/sh\n").unwrap();
    std::fs::create_dir_all(dir.join("frr_reloader")).unwrap();
    let dst = dir.join("frr_reloader/frr-reloader.sh");
    let out = Command::new(&program).arg(dir.join("frr-reloader.sh")).arg(&dst).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&dst).unwrap(), "#!/bin/sh\n");
    let out = Command::new(&program).arg(dir.join("missing")).arg(&dst).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cp-tool: cannot copy"), "{}", text(&out));
}

#[test]
fn under_its_own_name_the_binary_still_needs_a_subcommand() {
    let dir = scratch("own-name");
    let program = entrypoint(&dir, "ferrolb");
    let out = Command::new(&program).arg("--port=9120").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unexpected argument '--port'"), "{}", text(&out));
}

/// The speaker image as the Dockerfile lays it out: the binary as `/speaker`, and `cp-tool`,
/// `frr-reloader.sh` and `frr-metrics` as links to it.
fn speaker_image(dir: &Path) -> PathBuf {
    let image = dir.join("image");
    std::fs::create_dir_all(&image).unwrap();
    entrypoint(&image, "speaker");
    for name in ["cp-tool", "frr-reloader.sh", "frr-metrics"] {
        std::os::unix::fs::symlink("speaker", image.join(name)).unwrap();
    }
    image
}

/// Kills the child when dropped, so a failing test leaves nothing running.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success(), "kill -{name}");
}

/// Waits up to 3 s for the child to exit.
fn exit_status(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// The FRR flavour's speaker pod copies `/frr-reloader.sh` and `/frr-metrics` out of the
/// speaker image (init containers `cp-reloader`, `cp-metrics`) and runs them in FRR's image.
/// From ferrolb's image they are stand-ins: the reloader stays up through SIGHUP until
/// SIGTERM; frr-metrics answers the FRR container's HTTPS `/livez` probe.
#[test]
fn the_frr_flavours_helper_containers_run_from_the_speaker_image() {
    let dir = scratch("frr-helpers");
    let image = speaker_image(&dir);
    for (file, volume) in [("frr-reloader.sh", "frr_reloader"), ("frr-metrics", "frr_metrics")] {
        std::fs::create_dir_all(dir.join(volume)).unwrap();
        let out = Command::new(image.join("cp-tool"))
            .arg(image.join(file))
            .arg(dir.join(volume).join(file))
            .output()
            .unwrap();
        assert!(out.status.success(), "cp-tool {file}: {}", text(&out));
        assert!(!dir.join(volume).join(file).is_symlink(), "the copy is the binary itself");
    }

    // reloader: command /etc/frr_reloader/frr-reloader.sh, no arguments.
    let mut reloader = Running(
        Command::new(dir.join("frr_reloader/frr-reloader.sh"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(&reloader.0, "HUP");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(reloader.0.try_wait().unwrap().is_none(), "the reloader stays up, through SIGHUP");
    signal(&reloader.0, "TERM");
    assert_eq!(exit_status(&mut reloader.0).and_then(|s| s.code()), Some(0), "SIGTERM ends it");

    // frr-metrics: MetalLB's arguments, on loopback instead of 0.0.0.0.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let mut metrics = Running(
        Command::new(dir.join("frr_metrics/frr-metrics"))
            .args([format!("--metrics-port={port}"), "--metrics-bind-address=127.0.0.1".to_owned()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = format!("https://127.0.0.1:{port}/livez");
    let mut answer = String::new();
    for _ in 0..100 {
        let out = Command::new("curl").args(["-sk", "-w", " %{http_code}", &url]).output().expect("curl runs");
        answer = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(answer.starts_with("ok: ferrolb speaks BGP and BFD itself") && answer.ends_with(" 200"), "{answer}");
    let plain = Command::new("curl").args(["-s", &format!("http://127.0.0.1:{port}/livez")]).output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).starts_with("ok"), "HTTPS only, as the probe asks");
    signal(&metrics.0, "TERM");
    assert_eq!(exit_status(&mut metrics.0).and_then(|s| s.code()), Some(0));

    // A bad argument is one line and exit code 2.
    let out = Command::new(dir.join("frr_metrics/frr-metrics")).arg("--metrics-port=web").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--metrics-port 'web' is not a port number"), "{}", text(&out));
}
