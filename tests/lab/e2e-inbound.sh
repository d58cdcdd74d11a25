#!/usr/bin/env bash
# End-to-end test of inbound BGP sessions (`--bgp-listen-port 179`): a router that initiates.
# `ferrolb run --node node1 --source dir:DIR --bgp-listen-port 179` in node1 with two BGPPeers:
# FRR (172.30.0.2, here configured to dial node1: its `passive` line is removed) and BIRD
# (172.30.0.1, passive as in every lab test, so node1 dials it).
#   1. the speaker cannot dial FRR: nftables in node1 drops its SYNs to 172.30.0.2:179 (counted);
#      FRR's own connection is taken instead: FRR Established with node1, the Service's /32 at FRR,
#      node1's log names the connection from the peer; BIRD's session (dialled by node1) is up too
#   2. a connection to node1:179 from an address that is no BGPPeer of node1 (172.30.0.3, from the
#      router namespace) is closed at once without a byte, counted in
#      ferrolb_bgp_inbound_refused_total and logged
#   3. a collision: FRR's session reset; node1 redials while FRR's packets with data on node1's
#      connection are dropped for a while (nftables), so that connection waits in OpenSent and
#      FRR's own connection arrives meanwhile: node1 holds it until FRR's OPEN comes through,
#      then, FRR's router ID (172.30.0.2) being lower than node1's (172.30.0.11), keeps its own
#      connection and closes FRR's (RFC 4271 §6.8); Established, no flapping for 10 s
#   4. without --bgp-listen-port (the default) node1, restarted, dials BIRD and listens on no :179
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Needs nft. Root; about 40 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SYN_TABLE=ferrolb_lab_syn
lab_setup_ferrolb 2
command -v nft >/dev/null || fatal "no nft (tests/lab/install.sh installs nftables)"

lab_manifests
lab_nodes_yaml node1 node2 | put cluster.yaml
{
  lab_bgp_pool_yaml
  lab_bgp_peer_yaml bird 172.30.0.1 node1
  lab_bgp_peer_yaml frr 172.30.0.2 node1
} | put config.yaml
lab_service_yaml -4 web 1 Cluster node2 ips=10.50.0.7 | put svc-web.yaml

# FRR dials node1: the lab's config without node1's `passive`
sed '/neighbor 172.30.0.11 passive/d' "$LAB_HOME/peers/frr.conf" >"$LAB_DIR/frr-active.conf"
lab start frr "$LAB_DIR/frr-active.conf" >/dev/null || fatal "start FRR"
lab start bird >/dev/null || fatal "start BIRD"

# node1's SYNs to FRR are dropped: only FRR's connection can make the session
cat >"$LAB_DIR/syn.nft" <<EOF
table inet $SYN_TABLE {
  chain output {
    type filter hook output priority 0; policy accept;
    ip daddr 172.30.0.2 tcp dport 179 tcp flags & (syn | ack) == syn counter drop
  }
}
EOF
lab exec node1 nft -f "$LAB_DIR/syn.nft" || fatal "nft"
_syn_teardown() { lab exec node1 nft delete table inet "$SYN_TABLE" 2>/dev/null || true; }
lab_at_teardown _syn_teardown

run_ferrolb node1 ferrolb-node1 --bgp-listen-port 179 || fatal "spawn ferrolb in node1"

frr_established() { lab vtysh -c "show bgp neighbors 172.30.0.11 json" | grep -q '"bgpState":"Established"'; }
frr_has_route() { lab vtysh -c "show bgp ipv4 unicast 10.50.0.7/32 json" | grep -q '"peerId":"172.30.0.11"'; }
bird_established() { bird_cli show protocols node1 | grep -q Established; }
syn_drops() { lab exec node1 nft list table inet "$SYN_TABLE" | sed -n 's/.*counter packets \([0-9]*\).*/\1/p'; }

# ---- 1. the router dials ----
wait_for 20 "FRR (which dials) is Established with node1 although node1's SYNs to it are dropped" frr_established
check "node1's own SYNs to FRR were dropped ($(syn_drops) packets)" test "$(syn_drops)" -gt 0
wait_for 5 "FRR has 10.50.0.7/32 from node1" frr_has_route
check "node1's log names the connection FRR opened" grep -q "BGP connection from the peer.*from=172.30.0.2" "$LAB_DIR/ferrolb-node1.log"
wait_for 10 "BIRD (passive, dialled by node1) is Established too" bird_established
check "metrics: node1 metallb_bgp_session_up{peer=\"172.30.0.2:179\"} 1" metric_is node1 'metallb_bgp_session_up{peer="172.30.0.2:179"}' 1

# ---- 2. a stranger ----
stranger() { # connects from 172.30.0.3 (no BGPPeer of node1); prints what it read before the close
  lab exec router "$PY" -c '
import socket
s = socket.create_connection(("172.30.0.11", 179), timeout=3, source_address=("172.30.0.3", 0))
s.settimeout(3)
print(len(s.recv(100)))'
}
got="$(stranger 2>&1)"
check "a connection from 172.30.0.3 (no BGPPeer) is closed at once, nothing sent (read: $got)" test "$got" = 0
wait_for 3 "metrics: node1 ferrolb_bgp_inbound_refused_total 1" metric_is node1 ferrolb_bgp_inbound_refused_total 1
check "node1 logged the refusal" grep -q "BGP connection refused: not a configured BGPPeer" "$LAB_DIR/ferrolb-node1.log"
check "FRR's session is untouched" frr_established

# ---- 3. both dial: a collision ----
# node1 redials after the reset, but FRR's answers on node1's connection (from port 179, with
# data) are dropped for a while, so that connection waits in OpenSent while FRR dials too
_syn_teardown
cat >"$LAB_DIR/open.nft" <<EOF
table inet $SYN_TABLE {
  chain input {
    type filter hook input priority 0; policy accept;
    ip saddr 172.30.0.2 tcp sport 179 tcp flags & syn == 0 ip length > 52 counter drop
  }
}
EOF
lab exec node1 nft -f "$LAB_DIR/open.nft" || fatal "nft"
l1="$(log_lines ferrolb-node1)"
lab vtysh -c "clear bgp 172.30.0.11" >/dev/null
held() { log_since ferrolb-node1 "$l1" | grep -q "the peer's connection waits for the OPEN on ours"; }
wait_for 15 "collision: FRR dials while node1's own connection waits for FRR's OPEN (held)" held
nap 2
_syn_teardown
wait_for 20 "collision resolved: FRR Established with node1 again" frr_established
log_since ferrolb-node1 "$l1" | grep -E "collision|connection from the peer|peer's connection|-> " | cut -c1-200 | sed 's/^/#   /'
check "collision: node1 closed the peer's connection, its own is kept (FRR's BGP ID 172.30.0.2 is lower)" \
  sh -c "tail -n +$((l1 + 1)) '$LAB_DIR/ferrolb-node1.log' | grep -q 'collision resolved for the session.s own connection'"
nap 10
check "no flapping: still Established 10 s later" frr_established
check "FRR has 10.50.0.7/32 from node1 after the collision" frr_has_route

# ---- 4. the default does not listen ----
lab kill ferrolb-node1 TERM >/dev/null
nap 1
mv "$LAB_DIR/ferrolb-node1.log" "$LAB_DIR/ferrolb-node1.log.prev"
run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb in node1 again"
wait_for 10 "without --bgp-listen-port: node1 dials BIRD again" bird_established
check "without --bgp-listen-port nothing listens on :179 in node1" sh -c "! '$LAB_SH' exec node1 ss -Hltn 'sport = :179' | grep -q LISTEN"
no_panic
summary
