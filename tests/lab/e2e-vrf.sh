#!/usr/bin/env bash
# End-to-end test of BGPPeers with `vrf`: `ferrolb run --node node1 --source dir:DIR` in node1.
#   1. always: a peer in a VRF node1 does not have (`vrf: blue`) next to a plain peer (BIRD,
#      172.30.0.1): the plain session comes up and BIRD gets the Service's /32; the blue one is
#      isolated and reported: ConfigurationState stays Valid with bgpPeersServed False naming
#      "VRF blue does not exist on this node", ferrolb_bgp_peers_unserved 1
#   2. where the kernel has the VRF device type (checked with a probe device in node1; otherwise
#      each check of this part is reported skipped, never passed): node1's eth0 is enslaved to a
#      VRF `red` (table 100), the plain peer is replaced by one with `vrf: red`; the session to
#      BIRD comes up through red (the socket is bound to the device: `ss` shows `%red`), BIRD has
#      the /32 again, and no unserved peer is left but blue
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 15 s. Prints one line per check and "N passed, M failed[, K skipped]" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 2
lab_manifests
lab_nodes_yaml node1 node2 | put cluster.yaml
config() { # the plain or the red peer, and blue
  lab_bgp_pool_yaml
  if [ "$1" = red ]; then lab_bgp_peer_yaml red 172.30.0.1 node1 "vrf: red"; else lab_bgp_peer_yaml plain 172.30.0.1 node1; fi
  lab_bgp_peer_yaml blue 172.30.0.1 node1 "vrf: blue"
}
config plain | put config.yaml
lab_service_yaml -4 web 1 Cluster node2 ips=10.50.0.9 | put svc-web.yaml
check "ferrolb validate accepts the manifests" "$FERROLB" validate "$DIR"

lab start bird >/dev/null || fatal "start BIRD"
run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb in node1"

S1="$STATE/configurationstates/speaker-node1.json"
bird_up() { bird_cli show protocols node1 | grep -q Established; }
bird_has() { bird_cli show route 10.50.0.9/32 | grep -q "via 172.30.0.11"; }
notes_are() { # WORDS: bgpPeersServed is False and its message holds WORDS
  local c
  c="$(jget "$S1" '[x for x in d["conditions"] if x["type"] == "bgpPeersServed"][0]')" || return 1
  case "$c" in *"'status': 'False'"*"$1"*) ;; *) echo "$c" && return 1 ;; esac
}
result_valid() { test "$(jget "$S1" 'd["result"]')" = Valid; }

# ---- 1. a VRF node1 does not have ----
wait_for 15 "the plain peer: BIRD Established with node1" bird_up
wait_for 5 "BIRD has 10.50.0.9/32 from node1" bird_has
wait_for 3 "ConfigurationState Valid with the blue peer in the configuration" result_valid
wait_for 3 "bgpPeersServed False: BGPPeer/blue: VRF blue does not exist on this node" notes_are "BGPPeer/blue: VRF blue does not exist on this node"
check "metrics: ferrolb_bgp_peers_unserved 1" metric_is node1 ferrolb_bgp_peers_unserved 1

# ---- 2. a session in a VRF ----
if lab exec node1 ip link add ferrolb-vrf-probe type vrf table 4242 2>"$LAB_DIR/vrf-probe.err"; then
  lab exec node1 ip link del ferrolb-vrf-probe
  lab exec node1 ip link add red type vrf table 100 || fatal "ip link add red type vrf"
  lab exec node1 ip link set red up
  lab exec node1 ip link set eth0 master red || fatal "ip link set eth0 master red"
  config red | put config.yaml
  red_up() { bird_up && lab exec node1 ss -Htn state established 'dport = :179' | grep -q '%red'; }
  wait_for 20 "the red peer: BIRD Established with node1 over a socket bound to VRF red" red_up
  wait_for 5 "BIRD has 10.50.0.9/32 from node1 through VRF red" bird_has
  wait_for 3 "only blue is left unserved" notes_are "BGPPeer/blue: VRF blue does not exist"
  check "metrics: ferrolb_bgp_peers_unserved 1" metric_is node1 ferrolb_bgp_peers_unserved 1
else
  why="this kernel has no VRF device type: $(head -c 120 "$LAB_DIR/vrf-probe.err" | tr '\n' ' ')"
  for name in "the red peer: a session over a socket bound to VRF red" \
    "BIRD has the /32 through VRF red" "only blue is left unserved with red served"; do
    skip "$name" "$why"
  done
fi
no_panic
summary
