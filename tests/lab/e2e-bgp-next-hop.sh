#!/usr/bin/env bash
# A BGP session that carries a family it has no next hop for, reported on its BGPPeer.
# node1 runs `ferrolb run` with an eBGP BGPPeer "frr" to FRR (172.30.0.2, peers/frr.conf: IPv4
# and IPv6 unicast activated for node1) with dualStackAddressFamily: true, and a dual-stack
# Service (10.50.0.1, fd00:50::1). node1 has no IPv6 next hop: its Node object has no IPv6
# address and its eth0 only a link-local one (the global fd00:30::11 is removed first).
#   * the session is Established and FRR holds 10.50.0.1/32 but not fd00:50::1/128
#   * the speaker reports the peer served in part: ConfigurationState stays Valid with
#     bgpPeersServed True / PeerServedInPart naming the family and the fix, the note is logged
#     once (on the dir: source the BGPPeer event is that log line), ferrolb_bgp_peers_served_in_part
#     1, ferrolb_bgp_prefixes_without_next_hop{family="ipv6-unicast"} 1 (ipv4-unicast 0)
#   * a second IPv6 Service: ferrolb_bgp_prefixes_without_next_hop counts 2, no new note
#   * the fix: fd00:30::11 back on eth0 and on the Node object: the session restarts, FRR holds
#     both /128s with next hop fd00:30::11, the gauges go to 0 and the condition goes
#   * end: no panic
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by
# `cargo build -p ferrolb`. Root; about 5 s. One line per check, "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 1
lab_manifests
lab exec node1 ip -6 addr del fd00:30::11/64 dev eth0 || fatal "cannot remove node1's global IPv6 address"
lab_nodes_yaml node1 | put cluster.yaml
{
  lab_bgp_pool_yaml 10.50.0.0/24 fd00:50::/64
  lab_bgp_peer_yaml frr 172.30.0.2 node1 "dualStackAddressFamily: true"
} | put config.yaml
lab_service_yaml web 1 Cluster node1 "ips=10.50.0.1,fd00:50::1" | put svc-web.yaml

lab start frr >/dev/null || fatal "FRR did not start"
run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb in node1"
LOG="$LAB_DIR/ferrolb-node1.log"
S1="$STATE/configurationstates/speaker-node1.json"
HELD6='ferrolb_bgp_prefixes_without_next_hop{peer="172.30.0.2:179",family="ipv6-unicast"}'
HELD4='ferrolb_bgp_prefixes_without_next_hop{peer="172.30.0.2:179",family="ipv4-unicast"}'
NOTE='ipv6-unicast routes are not sent to this peer'

frr_established() { lab vtysh -c 'show bgp neighbors 172.30.0.11 json' | grep -q '"bgpState":"Established"'; }
frr_has() { # PREFIX [NEXT_HOP]: FRR holds PREFIX from node1 (with that next hop)
  local afi=ipv4
  case "$1" in *:*) afi=ipv6 ;; esac
  timeout 3 "$LAB_SH" vtysh -c "show bgp $afi unicast $1 json" 2>/dev/null |
    "$PY" -c '
import json, sys
d = json.load(sys.stdin)
hops = [h.get("ip") for p in d.get("paths", []) for h in p.get("nexthops", [])]
print(sys.argv[1], "next hops", hops)
sys.exit(0 if hops and (len(sys.argv) < 3 or sys.argv[2] in hops) else 1)' "$@"
}
frr_lacks() { ! frr_has "$1"; }
served_condition() { # the bgpPeersServed condition, printed; fails when there is none
  jget "$S1" '[x for x in d["conditions"] if x["type"] == "bgpPeersServed"][0]'
}
in_part_naming() { # WORDS: bgpPeersServed True / PeerServedInPart and its message holds WORDS
  local c
  c="$(served_condition)" || return 1
  echo "$c"
  case "$c" in *"'status': 'True'"*) ;; *) return 1 ;; esac
  case "$c" in *"PeerServedInPart"*) ;; *) return 1 ;; esac
  case "$c" in *"$1"*) ;; *) return 1 ;; esac
}
no_served_condition() { ! served_condition; }
result_valid() { test "$(jget "$S1" 'd["result"]')" = Valid; }
note_logged() { grep -F "$NOTE" "$LOG" | grep -c "served=true"; }

wait_for 15 "FRR Established with node1" frr_established
wait_for 5 "FRR holds 10.50.0.1/32 from node1" frr_has 10.50.0.1/32 172.30.0.11
check "FRR has no fd00:50::1/128 (node1 has no IPv6 next hop)" frr_lacks fd00:50::1/128
wait_for 5 "metrics: $HELD6 1" metric_is node1 "$HELD6" 1
check "metrics: $HELD4 0" metric_is node1 "$HELD4" 0
wait_for 3 "metrics: ferrolb_bgp_peers_served_in_part 1" metric_is node1 ferrolb_bgp_peers_served_in_part 1
check "metrics: ferrolb_bgp_peers_unserved 0" metric_is node1 ferrolb_bgp_peers_unserved 0
wait_for 3 "ConfigurationState: bgpPeersServed True, PeerServedInPart, BGPPeer/frr: $NOTE" in_part_naming "BGPPeer/frr: $NOTE"
check "the condition names the fix (an IPv6 address on the Node or on the interface towards the peer)" \
  in_part_naming "give the Node an IPv6 address or put a global IPv6 address on the interface towards the peer"
check "ConfigurationState stays Valid" result_valid
check "the speaker logs the note (the BGPPeer's event on this source)" test "$(note_logged)" -ge 1

lab_service_yaml web2 2 Cluster node1 "ips=10.50.0.2,fd00:50::2" | put svc-web2.yaml
wait_for 5 "a second dual-stack Service: FRR holds 10.50.0.2/32" frr_has 10.50.0.2/32 172.30.0.11
wait_for 5 "metrics: $HELD6 2" metric_is node1 "$HELD6" 2
nap 1.5
check "the note is said once (logged once, not again for the second Service)" test "$(note_logged)" = 1

# ---- the fix: an IPv6 address on the interface and on the Node ----
lab exec node1 ip -6 addr add fd00:30::11/64 dev eth0 nodad || fatal "cannot give node1 its IPv6 address back"
lab_nodes_yaml -6 node1 | put cluster.yaml
wait_for 15 "fixed: FRR holds fd00:50::1/128 with next hop fd00:30::11" frr_has fd00:50::1/128 fd00:30::11
wait_for 5 "fixed: FRR holds fd00:50::2/128 too" frr_has fd00:50::2/128 fd00:30::11
wait_for 5 "fixed: metrics: $HELD6 0" metric_is node1 "$HELD6" 0
wait_for 3 "fixed: metrics: ferrolb_bgp_peers_served_in_part 0" metric_is node1 ferrolb_bgp_peers_served_in_part 0
wait_for 3 "fixed: ConfigurationState has no bgpPeersServed condition" no_served_condition
check "fixed: ConfigurationState Valid" result_valid
check "fixed: the speaker logs that the note no longer holds" grep -q "no longer: $NOTE" "$LOG"

lab kill ferrolb-node1 TERM
no_panic
summary
