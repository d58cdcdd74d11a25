#!/usr/bin/env bash
# The speaker's BFD beside FRR's bfdd on the same node. MetalLB's FRR and FRR-K8s manifests run
# FRR on every node's host network, with bfdd holding UDP 3784 and 4784 on every address; when
# only their images are swapped for ferrolb's, that FRR stays, idle, beside ferrolb's speaker,
# whose own BFD sessions must still work.
# node1 runs FRR's bfdd (no session configured), then `ferrolb run` with a BGPPeer towards BIRD
# 172.30.0.1 (peers/bird-lifecycle.conf, 'bfd on') with bfdProfile "lab" (200/100 ms x 3):
#   * bfdd holds 0.0.0.0:3784 and 0.0.0.0:4784 in node1 before the speaker starts
#   * BIRD's BFD session with node1 comes Up; metallb_bfd_session_up 1; the speaker's log has
#     no "cannot start BFD" and no "cannot add BFD session"
#   * SIGSTOP of BIRD: the speaker's BFD goes Down (the packets were the speaker's, not bfdd's);
#     SIGCONT brings it back Up
#   * bfdd restarted after the speaker: BIRD's session stays Up, with no new Down on either side
#   * end: no panic in the log
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by
# `cargo build -p ferrolb`. Root; about 15 s. One line per check, "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 1
lab_manifests
[ -x /usr/lib/frr/bfdd ] || fatal "FRR's bfdd is not installed (tests/lab/install.sh installs frr)"

lab_nodes_yaml node1 | put cluster.yaml
{
  lab_bgp_pool_yaml
  cat <<YAML
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: lab, namespace: metallb-system}
spec: {receiveInterval: 200, transmitInterval: 100, detectMultiplier: 3}
YAML
  lab_bgp_peer_yaml bird 172.30.0.1 node1 "bfdProfile: lab"
} | put config.yaml
lab_service_yaml -4 web 1 Cluster node1 ips=10.50.0.1 | put svc-web.yaml

# FRR's bfdd as FRR starts it in those pods (its own user, no session configured), in node1.
BFDD_DIR="$LAB_DIR/bfdd"
mkdir -p "$BFDD_DIR"
chown frr:frr "$BFDD_DIR"
start_bfdd() {
  lab spawn node1 bfdd /usr/lib/frr/bfdd -N lab-bfdd --vty_socket "$BFDD_DIR" -i "$BFDD_DIR/bfdd.pid" \
    -u frr -g frr --bfdctl "$BFDD_DIR/bfdd.sock" -A 127.0.0.1 -P 0 --log stdout >/dev/null
}
bfdd_holds() { lab exec node1 ss -ulpnH "sport = :$1" | grep -q '"bfdd"'; } # PORT

bfd_line() { bird_cli show bfd sessions | awk -v a="$1" '$1 == a { print $3 }'; }
bfd_up() { [ "$(bfd_line 172.30.0.11)" = Up ]; }
bfd_down() { [ "$(bfd_line 172.30.0.11)" = Down ]; }
BFD_UP='metallb_bfd_session_up{peer="172.30.0.1"}'
speaker_bfd_is() { [ "$(series node1 "$BFD_UP")" = "$1" ]; } # 0|1
down_events() { series node1 'metallb_bfd_session_down_events{peer="172.30.0.1"}'; }

lab start bird "$LAB_HOME/peers/bird-lifecycle.conf" >/dev/null || fatal "BIRD did not start"
start_bfdd
wait_for 5 "bfdd holds UDP 3784 in node1" bfdd_holds 3784
wait_for 2 "bfdd holds UDP 4784 in node1" bfdd_holds 4784

run_ferrolb node1 ferrolb-node1
wait_for 15 "BIRD: BFD session with node1 Up, beside bfdd" bfd_up
wait_for 5 "metrics: $BFD_UP 1" speaker_bfd_is 1
check "the speaker's log has no 'cannot start BFD'" bash -c "! grep -q 'cannot start BFD' '$LAB_DIR/ferrolb-node1.log'"
check "the speaker's log has no 'cannot add BFD session'" bash -c "! grep -q 'cannot add BFD session' '$LAB_DIR/ferrolb-node1.log'"
check "bfdd still runs" lab pid bfdd

lab kill bird STOP
wait_for 3 "SIGSTOP of BIRD: the speaker's BFD goes Down (its packets were its own)" speaker_bfd_is 0
lab kill bird CONT
wait_for 10 "SIGCONT: BIRD's BFD with node1 Up again" bfd_up
wait_for 5 "SIGCONT: the speaker's BFD Up again" speaker_bfd_is 1

before="$(down_events)"
lab kill bfdd TERM
start_bfdd
wait_for 5 "bfdd restarted after the speaker holds UDP 3784" bfdd_holds 3784
nap 2
check "BIRD's BFD with node1 stays Up across the bfdd restart" bfd_up
check "the speaker's BFD saw no new Down (down events $before -> $(down_events))" test "$(down_events)" = "$before"

lab kill ferrolb-node1 TERM
lab kill bfdd TERM
check "no panic in the speaker's log" bash -c "! grep -q 'panicked' '$LAB_DIR/ferrolb-node1.log'"
summary
