//! `controller`/`speaker --source k8s` without a reachable cluster: a clear one-line error and
//! exit code 2, never a hang or a panic. Only loopback is ever contacted.

use std::path::PathBuf;
use std::process::{Command, Output};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrolb-k8s-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs with no in-cluster environment and no ambient kubeconfig.
fn run(home: &PathBuf, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(args)
        .args(["--log-format", "text", "--port", "0", "--health-probe-port", "0"])
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("ferrolb runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

#[test]
fn no_configuration_at_all_is_a_clear_error() {
    let home = scratch("none");
    let out = run(&home, &["controller", "--source", "k8s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no Kubernetes configuration found"), "{}", stderr(&out));
}

#[test]
fn a_missing_kubeconfig_file_is_named() {
    let home = scratch("missing");
    let out = run(&home, &["controller", "--source", "k8s", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot read kubeconfig /nonexistent/kubeconfig"), "{}", stderr(&out));
}

#[test]
fn an_unreachable_api_server_is_named_with_its_address() {
    let home = scratch("unreachable");
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let kubeconfig = home.join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\nusers:\n- name: lab\n  user:\n    token: none\n",
    )
    .unwrap();
    for role in [&["controller"][..], &["speaker", "--node", "n1", "--disable-layer2", "--no-membership"][..]] {
        let mut args = role.to_vec();
        args.extend(["--source", "k8s", "--kubeconfig", kubeconfig.to_str().unwrap()]);
        let out = run(&home, &args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot reach the Kubernetes API server at http://127.0.0.1:1/"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_speaker_without_a_node_name_is_refused_before_connecting() {
    let home = scratch("nonode");
    let out = run(&home, &["speaker", "--source", "k8s", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("the speaker needs --node"), "{}", stderr(&out));
}

#[test]
fn an_unreadable_metrics_certificate_is_named_before_connecting() {
    let home = scratch("metrics-cert");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(["controller", "--source", "k8s", "--kubeconfig", "/nonexistent/kubeconfig", "--log-format", "text"])
        .args(["--port", &port, "--bind-address", "127.0.0.1", "--health-probe-port", "0"])
        .args(["--metrics-cert-dir", "/nonexistent/metrics-certs"])
        .env_clear()
        .env("HOME", &home)
        .output()
        .expect("ferrolb runs");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot use --metrics-cert-dir: cannot read /nonexistent/metrics-certs/tls.crt: "), "{text}");
    assert!(!text.contains("kubeconfig"), "refused before the API server is looked for: {text}");
    assert_eq!(text.lines().filter(|l| l.contains("ERROR")).count(), 1, "{text}");
}

#[test]
fn metrics_insecure_turns_off_the_metrics_certificate() {
    // With plain HTTP asked for, the certificate directory is not read (and says so).
    let home = scratch("insecure");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrolb"))
        .args(["controller", "--source", "k8s", "--kubeconfig", "/nonexistent/kubeconfig", "--log-format", "text"])
        .args(["--port", &port, "--bind-address", "127.0.0.1", "--health-probe-port", "0"])
        .args(["--metrics-cert-dir", "/nonexistent/metrics-certs", "--metrics-insecure"])
        .env_clear()
        .env("HOME", &home)
        .output()
        .expect("ferrolb runs");
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("--metrics-cert-dir is ignored with --metrics-insecure"), "{text}");
    assert!(text.contains("cannot read kubeconfig /nonexistent/kubeconfig"), "{text}");
}
