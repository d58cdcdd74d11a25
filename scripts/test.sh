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

step "tests"
# Tests that need root (network namespaces) live in modules named `needs_root`. Without root
# they are left out here, so the runner reports them as skipped instead of them passing
# having done nothing; as root every test runs.
if cargo nextest --version >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        cargo nextest run --workspace --locked --no-fail-fast
    else
        echo "not root: the needs_root tests are skipped"
        cargo nextest run --workspace --locked --no-fail-fast -E 'not test(/needs_root::/)'
    fi
else
    if [ "$(id -u)" -eq 0 ]; then
        cargo test --workspace --locked --no-fail-fast
    else
        echo "not root: the needs_root tests are skipped"
        cargo test --workspace --locked --no-fail-fast -- --skip needs_root::
    fi
fi

step "network lab end-to-end tests (tests/lab, root only)"
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: the lab needs root (network namespaces, raw sockets)"
else
    cargo build -p ferrolb --locked
    FERROLB="${CARGO_TARGET_DIR:-target}/debug/ferrolb"
    export FERROLB
    bash tests/lab/run-all.sh
fi
