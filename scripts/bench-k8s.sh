#!/usr/bin/env bash
# The k8s source at scale: a controller and a speaker (release builds) against an in-memory
# API server on 127.0.0.1 holding N LoadBalancer Services. Prints the time the controller
# takes to give every Service its address and the peak memory of both processes.
#
#   scripts/bench-k8s.sh            # 10,000 services
#   scripts/bench-k8s.sh 1000 20000 # several sizes
#
# No root needed; nothing leaves loopback. Builds go to CARGO_TARGET_DIR when set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --release -p ferrolb --bin ferrolb --example k8s_scale
for n in "${@:-10000}"; do
    "$target/release/examples/k8s_scale" "$n" "$target/release/ferrolb"
done
