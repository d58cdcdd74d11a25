#!/usr/bin/env bash
# BFD echo mode (RFC 5880 §6.4) between the speaker and FRR's bfdd, both with echo on.
# The router runs FRR (zebra, bgpd from peers/frr.conf, and bfdd with a configured peer
# 172.30.0.11: 300/300 ms x 3, echo-mode, echo interval 50 ms); node1 runs `ferrolb run` with a
# BGPPeer towards FRR 172.30.0.2 whose bfdProfile "echo" has echoMode: true, echoInterval: 50.
# IP forwarding is turned on inside the two lab namespaces (each side loops the other's echoes
# back through its kernel).
#   * FRR's BFD session with node1 comes Up, FRR's echo counters rise (its echoes come back
#     through node1) and so do the speaker's (metallb_bfd_echo_packet_input/_output: its echoes
#     come back through the router); the speaker logs "BFD echo function running"
#   * FRR sees node1's control packets slowed to 1000 ms while echo runs (RFC 5880 §6.8.9)
#   * tcpdump on the router's eth0 sees UDP 3785 both ways: node1's echoes (172.30.0.11 to
#     itself, to the router's MAC and back from it) and FRR's (172.30.0.2 to itself)
#   * nftables in node1 drops node1's own echoes as they leave (netdev egress, where AF_PACKET
#     frames pass; ip saddr 172.30.0.11 udp dport 3785): the speaker's session goes Down with
#     "Echo Function Failed", its Down packet to FRR carries that diagnostic (tcpdump -v) and
#     FRR's session goes down too; the time from the nft command to the speaker's Down, and
#     from the last echo of node1's the router saw, are printed (3 x 50 ms configured); FRR's
#     own echoes are not dropped, so the Down is ours, not FRR's
#   * the rule removed: the session is Up again, the speaker's echoes come back and it stays Up
#   * before the drop, the speaker counts FRR's echoes passing through node1 as echo_not_ours
#     and drops no echo frame for any other reason (but echo_inactive: one back late)
#   * bad input: raw frames from the router posing as node1's returning echoes, one with a
#     truncated payload and one with an unknown discriminator, are counted (echo_truncated,
#     echo_unknown_session) and the session stays Up with its echoes coming back
#   * end: no panic
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by
# `cargo build -p ferrolb`. Root; about 20 s. One line per check, "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 1
lab_manifests
[ -x /usr/lib/frr/bfdd ] || fatal "FRR's bfdd is not installed (tests/lab/install.sh installs frr)"
command -v nft >/dev/null || fatal "nft is not installed"

for ns in router node1; do
  lab exec "$ns" sysctl -qw net.ipv4.ip_forward=1 || fatal "cannot turn on IP forwarding in $ns"
  # Forwarding an echo back out of the interface it came in on would also send a redirect.
  lab exec "$ns" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
done

lab_nodes_yaml node1 | put cluster.yaml
{
  lab_bgp_pool_yaml
  cat <<YAML
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: echo, namespace: metallb-system}
spec: {receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3, echoMode: true, echoInterval: 50}
YAML
  lab_bgp_peer_yaml frr 172.30.0.2 node1 "bfdProfile: echo"
} | put config.yaml
lab_service_yaml -4 web 1 Cluster node1 ips=10.50.0.1 | put svc-web.yaml

lab start frr >/dev/null || fatal "FRR did not start"
FRR_DIR="$LAB_DIR/frr"
cat >"$FRR_DIR/bfdd.conf" <<'CONF'
frr defaults traditional
log stdout informational
!
bfd
 peer 172.30.0.11 local-address 172.30.0.2
  receive-interval 300
  transmit-interval 300
  detect-multiplier 3
  echo-mode
  echo receive-interval 50
  echo transmit-interval 50
 !
!
CONF
chown frr:frr "$FRR_DIR/bfdd.conf"
lab spawn router frr-bfdd /usr/lib/frr/bfdd -f "$FRR_DIR/bfdd.conf" -i "$FRR_DIR/bfdd.pid" \
  --vty_socket "$FRR_DIR" -z "$FRR_DIR/zserv.api" --bfdctl "$FRR_DIR/bfdd.sock" \
  -A 127.0.0.1 -P 0 --log stdout >/dev/null || fatal "bfdd did not start"
wait_for 5 "bfdd answers on its vty" bash -c "'$LAB_SH' vtysh -d bfdd -c 'show bfd peers' >/dev/null 2>&1"

# FRR's view of the peer node1, one JSON field: frr_peer FIELD [counters]
frr_peer() {
  local what="show bfd peer 172.30.0.11 json"
  [ "${2:-}" = counters ] && what="show bfd peer 172.30.0.11 counters json"
  timeout 3 "$LAB_SH" vtysh -d bfdd -c "$what" 2>/dev/null |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], "absent"))' "$1" 2>/dev/null
}
frr_up() { [ "$(frr_peer status)" = up ]; }
frr_echo_in() { frr_peer echo-packet-input counters; }
frr_echo_out() { frr_peer echo-packet-output counters; }
BFD_UP='metallb_bfd_session_up{peer="172.30.0.2"}'
ECHO_IN='metallb_bfd_echo_packet_input{peer="172.30.0.2"}'
ECHO_OUT='metallb_bfd_echo_packet_output{peer="172.30.0.2"}'
speaker_bfd_is() { [ "$(series node1 "$BFD_UP")" = "$1" ]; }
speaker_echo_in() { series node1 "$ECHO_IN"; }
rises() { # NAME CMD: CMD's number is higher a second later (both printed)
  local before after
  before="$("${@:2}")"
  nap 1
  after="$("${@:2}")"
  echo "$1: $before -> $after"
  awk -v a="$before" -v b="$after" 'BEGIN { exit !(a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b + 0 > a + 0) }'
}

cap_start echo-cap 'udp port 3785' 60 || fatal "tcpdump did not start"
run_ferrolb node1 ferrolb-node1
wait_for 15 "FRR's BFD session with node1 is Up" frr_up
wait_for 5 "metrics: $BFD_UP 1" speaker_bfd_is 1
wait_for 5 "the speaker logs 'BFD echo function running'" grep -q 'BFD echo function running' "$LAB_DIR/ferrolb-node1.log"
check "FRR's echo packets come back through node1 (FRR's echo input rises)" rises "FRR echo input" frr_echo_in
check "FRR sends echoes (FRR's echo output rises)" rises "FRR echo output" frr_echo_out
check "the speaker's echoes come back through the router ($ECHO_IN rises)" rises "speaker echo input" speaker_echo_in
check "the speaker sends echoes ($ECHO_OUT at least 10)" series_ge node1 "$ECHO_OUT" 10
check "FRR sees node1 advertise a 50 ms echo receive interval" test "$(frr_peer remote-echo-receive-interval)" = 50
wait_for 5 "FRR sees node1's control packets slowed to 1000 ms while echo runs" \
  bash -c "[ \"\$(timeout 3 '$LAB_SH' vtysh -d bfdd -c 'show bfd peer 172.30.0.11 json' | '$PY' -c 'import json,sys; print(json.load(sys.stdin)[\"remote-transmit-interval\"])')\" = 1000 ]"

cap_stop echo-cap
CAP="$LAB_DIR/echo-cap.log"
ours_to_router() { grep -E '02:00:00:00:00:11 > 02:00:00:00:00:01.* 172\.30\.0\.11\.3785 > 172\.30\.0\.11\.3785: ' "$CAP" | head -n 1; }
ours_back() { grep -E '02:00:00:00:00:01 > 02:00:00:00:00:11.* 172\.30\.0\.11\.3785 > 172\.30\.0\.11\.3785: ' "$CAP" | head -n 1; }
frr_to_node() { grep -E '02:00:00:00:00:01 > 02:00:00:00:00:11.* 172\.30\.0\.2\.3785 > 172\.30\.0\.2\.3785: ' "$CAP" | head -n 1; }
frr_back() { grep -E '02:00:00:00:00:11 > 02:00:00:00:00:01.* 172\.30\.0\.2\.3785 > 172\.30\.0\.2\.3785: ' "$CAP" | head -n 1; }
check "capture: node1's echo to the router's MAC, addressed to node1 itself" bash -c "$(declare -f ours_to_router); CAP='$CAP'; ours_to_router | grep ."
check "capture: node1's echo looped back by the router's kernel" bash -c "$(declare -f ours_back); CAP='$CAP'; ours_back | grep ."
check "capture: FRR's echo to node1's MAC" bash -c "$(declare -f frr_to_node); CAP='$CAP'; frr_to_node | grep ."
check "capture: FRR's echo looped back by node1's kernel" bash -c "$(declare -f frr_back); CAP='$CAP'; frr_back | grep ."

# Echo drops other than FRR's echoes passing through node1 (echo_not_ours) and echoes of ours
# back after their session stopped echoing (echo_inactive), one per line.
unexpected_drops() {
  metrics node1 | grep -E '^ferrolb_bfd_dropped_packets\{reason="echo_' | grep -vE 'reason="echo_(not_ours|inactive)"' | grep -v ' 0$'
}
check "the speaker counts FRR's echoes passing through as not ours" bash -c "'$LAB_SH' exec node1 curl -s http://127.0.0.1:9120/metrics | grep -E '^ferrolb_bfd_dropped_packets\\{reason=\"echo_not_ours\"\\} [1-9]'"
check "no echo frame dropped for another reason" bash -c "! ( $(declare -f unexpected_drops metrics lab); LAB_SH='$LAB_SH'; unexpected_drops )"

# Bad input: frames that look like node1's echoes coming back (to node1's MAC, 172.30.0.11 to
# itself, UDP 3785, TTL 254), sent raw from the router: a truncated ferrolb payload and one
# with a discriminator no session has. Each is counted under its reason; the session stays Up.
inject() { # PAYLOAD_HEX
  lab exec router "$PY" - "$1" <<'PYEOF'
import socket, struct, sys
payload = bytes.fromhex(sys.argv[1])
addr = socket.inet_aton("172.30.0.11")
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
udp = struct.pack("!HHHH", 3785, 3785, 8 + len(payload), 0) + payload
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xc0, 20 + len(udp), 1, 0, 254, 17, 0, addr, addr)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
frame = bytes.fromhex("020000000011" "020000000001" "0800") + ip + udp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(frame)
PYEOF
}
dropped() { # REASON: ferrolb_bfd_dropped_packets for it (0 when absent)
  local v
  v="$(series node1 "ferrolb_bfd_dropped_packets{reason=\"$1\"}")"
  [ "$v" = absent ] && v=0
  echo "$v"
}
truncated_before="$(dropped echo_truncated)"
unknown_before="$(dropped echo_unknown_session)"
downs_before_bad="$(series node1 'metallb_bfd_session_down_events{peer="172.30.0.2"}')"
inject "464c424501" || fatal "cannot send a raw frame from the router"
inject "464c42450110000012345678000000" || true
inject "464c4245011000000badd00d00000001" || true
gt() { [ "$($1 "$2")" -gt "$3" ]; }
wait_for 3 "a truncated echo payload is counted (echo_truncated)" gt dropped echo_truncated "$truncated_before"
wait_for 3 "an echo with an unknown discriminator is counted (echo_unknown_session)" gt dropped echo_unknown_session "$unknown_before"
check "after the bad echoes the session is still Up, with no down event" \
  bash -c "[ \"\$('$LAB_SH' exec node1 curl -s http://127.0.0.1:9120/metrics | awk '\$1 == \"metallb_bfd_session_down_events{peer=\\\"172.30.0.2\\\"}\" {print \$2}')\" = '$downs_before_bad' ]"
check "after the bad echoes the speaker's echoes still come back" rises "speaker echo input" speaker_echo_in

# Drop node1's own echoes as they leave it (AF_PACKET frames skip the IP hooks, not egress).
lab_at_teardown "lab exec node1 nft delete table netdev echo-drop 2>/dev/null"
down_before="$(series node1 'metallb_bfd_session_down_events{peer="172.30.0.2"}')"
line="$(log_lines ferrolb-node1)"
cap_start drop-cap 'udp port 3785 and src host 172.30.0.11' 20 || fatal "tcpdump did not start"
lab spawn router diag-cap timeout 20 tcpdump -i eth0 -n -v -l 'udp dst port 3784 and src host 172.30.0.11' >/dev/null
wait_for 3 "tcpdump -v of node1's control packets listens" grep -q 'listening on' "$LAB_DIR/diag-cap.log"
frr_downs="$(frr_peer session-down counters)"
asked_at=$(now_ms)
lab exec node1 nft -f - <<'NFT' || fatal "nft rule not added"
table netdev echo-drop {
  chain egress {
    type filter hook egress device "eth0" priority 0; policy accept;
    ip saddr 172.30.0.11 udp dport 3785 drop
  }
}
NFT
dropped_at=$(now_ms)
speaker_down_echo() { log_since ferrolb-node1 "$line" | grep -q 'BFD session down.*Echo Function Failed'; }
if wait_for 5 "echoes dropped: the speaker's BFD goes Down with Echo Function Failed" speaker_down_echo; then
  nap 0.5
  cap_stop drop-cap
  cap_stop diag-cap
  down_ms="$(log_ms ferrolb-node1 "$line" 'BFD session down.*Echo Function Failed')"
  detect_ms=$((down_ms - asked_at))
  # The last of node1's echoes the router saw before the Down: detection proper starts there.
  last_echo_ms="$(awk -v d="$down_ms" '$1 ~ /^[0-9]+\.[0-9]+$/ && /\.3785 > / && $1 * 1000 < d { t = $1 } END { if (t) printf "%.0f", t * 1000 }' "$LAB_DIR/drop-cap.log")"
  echo "#    echo-mode detection, nft drop -> the speaker's Down: ${detect_ms} ms (3 x 50 ms configured; from the start of the nft command, which took $((dropped_at - asked_at)) ms)"
  if [ -n "$last_echo_ms" ]; then
    echo "#    echo-mode detection, the last echo through -> the speaker's Down: $((down_ms - last_echo_ms)) ms"
  else
    echo "#    no echo of node1's in the drop capture before the Down"
  fi
  check "echo-mode detection under 300 ms from the nft drop (${detect_ms} ms)" test "$detect_ms" -lt 300
fi
check "FRR's session went down too (FRR's session-down $frr_downs -> $(frr_peer session-down counters))" \
  test "$(frr_peer session-down counters)" -gt "$frr_downs"
# The Down packet node1 sent FRR, as decoded by tcpdump -v: diagnostic 2.
check "capture: node1 told FRR 'Echo Function Failed' in a control packet" grep -qi 'Diagnostic: Echo Function Failed' "$LAB_DIR/diag-cap.log"
check "the speaker counted a down event ($down_before -> more)" \
  bash -c "[ \"\$('$LAB_SH' exec node1 curl -s http://127.0.0.1:9120/metrics | awk '\$1 == \"metallb_bfd_session_down_events{peer=\\\"172.30.0.2\\\"}\" {print \$2}')\" -gt '$down_before' ]"

lab exec node1 nft delete table netdev echo-drop
wait_for 15 "rule removed: the speaker's BFD is Up" speaker_bfd_is 1
wait_for 5 "rule removed: FRR's session with node1 is Up" frr_up
check "rule removed: the speaker's echoes come back again" rises "speaker echo input" speaker_echo_in
downs="$(series node1 'metallb_bfd_session_down_events{peer="172.30.0.2"}')"
nap 2
check "rule removed: the session stays Up with echo (no down event in 2 s)" \
  test "$(series node1 'metallb_bfd_session_down_events{peer="172.30.0.2"}')" = "$downs"

lab kill ferrolb-node1 TERM
lab kill frr-bfdd TERM
check "no panic in the speaker's log" bash -c "! grep -q 'panicked' '$LAB_DIR/ferrolb-node1.log'"
summary
