#!/usr/bin/env bash
# Multi-hop BFD (RFC 5883) for an iBGP peer two hops away, between the speaker and FRR's bfdd.
# Topology (every address only inside the lab's namespaces):
#   node1 (ferrolb, 172.30.0.11) -- router (plain Linux forwarding, 172.30.0.1 / 172.31.0.1, no
#   BGP) -- node2 taken off the bridge and linked to the router alone (172.31.0.2): FRR's zebra,
#   bgpd and bfdd, AS 64500, `neighbor 172.30.0.11 remote-as internal` with `bfd profile mh`
#   (100 ms x 3). Static routes both ways through the router.
# node1 runs `ferrolb run` with an iBGP BGPPeer (myASN = peerASN = 64500) to 172.31.0.2 whose
# bfdProfile is 100 ms x 3. Neither side is configured for multi-hop: each decides it as FRR
# does, the iBGP peer not being on a connected network.
#   * the path is two hops: node1's route to 172.31.0.2 goes through 172.30.0.1
#   * the BGP session is Established on both sides and FRR holds the Service's 10.50.0.1/32
#     with next hop 172.30.0.11
#   * FRR's BFD session with node1 is up and multihop (`show bfd peers`); the speaker logs the
#     session added with multihop=true and up, metallb_bfd_session_up is 1
#   * no flap: 2 s later neither side has counted a BFD down event nor FRR a dropped BGP
#     session (the speaker follows FRR's rate the moment FRR asks for it)
#   * tcpdump on the router (node1's side) sees BFD control packets on UDP 4784 both ways,
#     none on 3784: node1's sent with TTL 255, FRR's arriving forwarded with TTL 254, and the
#     speaker drops none of them (ferrolb_bfd_dropped_packets: TTL against minimumTtl 254, port)
#   * nftables in the router drops forwarded UDP 4784 (BGP's TCP still passes): the speaker's
#     BFD goes Down (Control Detection Time Expired) and it resets the BGP session, FRR's
#     bgpd drops the session too; the detection time (nft command -> the speaker's Down) is
#     printed and must be under 1 s (3 x 100 ms configured; the hold time is 90 s)
#   * the rule removed: BFD Up again on both sides, the BGP session Established and FRR holds
#     10.50.0.1/32 again (with TCP passing, both sides had set BGP up again at once anyway)
#   * the whole path cut (the router's forward chain drops everything): the speaker's BFD Down
#     (timed), metallb_bgp_session_up 0 within 2 s and staying 0, FRR's session down and its
#     route gone (timed); forwarding back: BFD up, Established, the route at FRR again (timed)
#   * end: no panic
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by
# `cargo build -p ferrolb`. Root; about 12 s. One line per check, "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 2
lab_manifests
for d in zebra bgpd bfdd; do
  [ -x "/usr/lib/frr/$d" ] || fatal "FRR's $d is not installed (tests/lab/install.sh installs frr)"
done
command -v nft >/dev/null || fatal "nft is not installed"

FAR=172.31.0.2   # FRR, two hops from node1
NEAR=172.30.0.11 # node1

# ---- topology: node2 leaves the bridge and hangs off the router on 172.31.0.0/24 ----
lab exec node2 ip link del eth0 || fatal "cannot take node2 off the bridge"
lab exec router ip link add eth1 type veth peer name eth1 netns "${LAB_PREFIX}node2" ||
  fatal "cannot link the router to node2"
lab exec router ip addr add 172.31.0.1/24 dev eth1
lab exec router ip link set eth1 up
lab exec node2 ip addr add "$FAR/24" dev eth1
lab exec node2 ip link set eth1 up
lab exec router sysctl -qw net.ipv4.ip_forward=1 || fatal "cannot turn on IP forwarding in the router"
lab exec node1 ip route add 172.31.0.0/24 via 172.30.0.1 || fatal "route node1 -> 172.31.0.0/24"
lab exec node2 ip route add 172.30.0.0/24 via 172.31.0.1 || fatal "route node2 -> 172.30.0.0/24"
check "node1 reaches FRR's $FAR through the router" lab exec node1 ping -c1 -W2 "$FAR"
check "the path is two hops: node1's route to $FAR goes via 172.30.0.1" \
  bash -c "'$LAB_SH' exec node1 ip route get $FAR | grep -q 'via 172.30.0.1 '"
check "TTL 1 from node1 does not reach $FAR (a router in between)" bash -c "! '$LAB_SH' exec node1 ping -c1 -W1 -t 1 $FAR"

# ---- FRR in node2: zebra, bfdd, bgpd ----
FRR_DIR="$LAB_DIR/frr"
mkdir -p "$FRR_DIR"
chown frr:frr "$FRR_DIR"
install -o frr -g frr -m 640 /dev/null "$FRR_DIR/zebra.conf"
install -o frr -g frr -m 640 /dev/stdin "$FRR_DIR/bfdd.conf" <<'CONF'
frr defaults traditional
log stdout informational
!
bfd
 profile mh
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
 !
!
CONF
install -o frr -g frr -m 640 /dev/stdin "$FRR_DIR/bgpd.conf" <<CONF
frr defaults traditional
hostname far-frr
log stdout informational
!
router bgp 64500
 bgp router-id $FAR
 no bgp default ipv4-unicast
 ! iBGP, not on a connected network: FRR runs multi-hop BFD for it (no ebgp-multihop needed)
 neighbor $NEAR remote-as internal
 neighbor $NEAR passive
 neighbor $NEAR update-source $FAR
 neighbor $NEAR timers connect 5
 neighbor $NEAR bfd
 neighbor $NEAR bfd profile mh
 !
 address-family ipv4 unicast
  neighbor $NEAR activate
  neighbor $NEAR route-map NONE out
 exit-address-family
!
route-map NONE deny 10
!
CONF
frr_common=(--vty_socket "$FRR_DIR" -z "$FRR_DIR/zserv.api" -A 127.0.0.1 -P 0 --log stdout)
lab spawn node2 frr-zebra /usr/lib/frr/zebra -f "$FRR_DIR/zebra.conf" -i "$FRR_DIR/zebra.pid" \
  "${frr_common[@]}" >/dev/null || fatal "zebra did not start"
poll 10 test -e "$FRR_DIR/zserv.api" || fatal "zebra has no zserv socket"
lab spawn node2 frr-bfdd /usr/lib/frr/bfdd -f "$FRR_DIR/bfdd.conf" -i "$FRR_DIR/bfdd.pid" \
  --bfdctl "$FRR_DIR/bfdd.sock" "${frr_common[@]}" >/dev/null || fatal "bfdd did not start"
# -l: bgpd listens on FRR's address only (and, implied -n, installs nothing in the kernel)
lab spawn node2 frr-bgpd /usr/lib/frr/bgpd -f "$FRR_DIR/bgpd.conf" -i "$FRR_DIR/bgpd.pid" \
  "${frr_common[@]}" -l "$FAR" >/dev/null || fatal "bgpd did not start"
wait_for 10 "bgpd and bfdd answer on their vty" \
  bash -c "'$LAB_SH' vtysh -d bgpd -c 'show bgp summary' >/dev/null 2>&1 && '$LAB_SH' vtysh -d bfdd -c 'show bfd peers' >/dev/null 2>&1"

# ---- ferrolb in node1: an iBGP peer two hops away, with BFD ----
lab_nodes_yaml node1 | put cluster.yaml
{
  lab_bgp_pool_yaml
  cat <<YAML
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: far, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64500
  peerAddress: $FAR
  bfdProfile: fast
  nodeSelectors:
    - matchLabels: {kubernetes.io/hostname: node1}
YAML
} | put config.yaml
lab_service_yaml -4 web 1 Cluster node1 ips=10.50.0.1 | put svc-web.yaml

# node1's side of the router: BFD on either port, -v for the TTLs
lab spawn router bfd-cap timeout 60 tcpdump -i eth0 -n -v -l -tt 'udp port 4784 or udp port 3784' >/dev/null
wait_for 3 "tcpdump on the router listens" grep -q 'listening on' "$LAB_DIR/bfd-cap.log"

run_ferrolb node1 ferrolb-node1
LOG="$LAB_DIR/ferrolb-node1.log"
BFD_UP="metallb_bfd_session_up{peer=\"$FAR\"}"
BGP_UP="metallb_bgp_session_up{peer=\"$FAR:179\"}"

frr_neighbor() { # FIELD: of `show bgp neighbors NEAR json`
  timeout 3 "$LAB_SH" vtysh -d bgpd -c "show bgp neighbors $NEAR json" 2>/dev/null |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]].get(sys.argv[2], "absent"))' "$NEAR" "$1" 2>/dev/null
}
frr_established() { [ "$(frr_neighbor bgpState)" = Established ]; }
frr_not_established() { [ "$(frr_neighbor bgpState)" != Established ]; }
frr_route() { # 10.50.0.1/32 from node1 with next hop NEAR (the JSON printed)
  local out
  out="$(timeout 3 "$LAB_SH" vtysh -d bgpd -c 'show bgp ipv4 unicast 10.50.0.1/32 json' 2>/dev/null)"
  echo "$out"
  "$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
ok = any(h.get("ip") == sys.argv[2] for p in d.get("paths", []) for h in p.get("nexthops", []))
sys.exit(0 if ok else 1)' "$out" "$NEAR"
}
frr_no_route() { ! frr_route >/dev/null; }
frr_bfd() { # FIELD: of FRR's BFD session with node1
  timeout 3 "$LAB_SH" vtysh -d bfdd -c 'show bfd peers json' 2>/dev/null |
    "$PY" -c '
import json, sys
peers = [p for p in json.load(sys.stdin) if p.get("peer") == sys.argv[1]]
print(peers[0].get(sys.argv[2], "absent") if peers else "absent")' "$NEAR" "$1" 2>/dev/null
}
frr_bfd_counter() { # FIELD: of FRR's BFD counters for node1
  timeout 3 "$LAB_SH" vtysh -d bfdd -c 'show bfd peers counters json' 2>/dev/null |
    "$PY" -c '
import json, sys
peers = [p for p in json.load(sys.stdin) if p.get("peer") == sys.argv[1]]
print(peers[0].get(sys.argv[2], "absent") if peers else "absent")' "$NEAR" "$1" 2>/dev/null
}
frr_bfd_up() { [ "$(frr_bfd status)" = up ]; }
frr_bfd_down() { [ "$(frr_bfd status)" != up ]; }
speaker_is() { [ "$(series node1 "$1")" = "$2" ]; } # SERIES VALUE

wait_for 20 "the BGP session is Established at FRR" frr_established
wait_for 5 "metrics: $BGP_UP 1" speaker_is "$BGP_UP" 1
wait_for 5 "FRR holds 10.50.0.1/32 with next hop $NEAR" frr_route
check "FRR's neighbor is iBGP (internal link)" test "$(frr_neighbor nbrInternalLink)" = True
wait_for 10 "FRR's BFD session with node1 is up" frr_bfd_up
check "FRR's BFD session with node1 is multihop" test "$(frr_bfd multihop)" = True
check "FRR's show bfd peers names it multihop, local $FAR" \
  bash -c "'$LAB_SH' vtysh -d bfdd -c 'show bfd peers' | grep -A2 'peer $NEAR' | grep -q 'multihop.*local-address $FAR'"
check "FRR's BFD session runs at 100 ms (remote receive interval)" test "$(frr_bfd remote-receive-interval)" = 100
wait_for 5 "metrics: $BFD_UP 1" speaker_is "$BFD_UP" 1
check "the speaker logs the BFD session added multi-hop" grep -q "BFD session added.*multihop=true" "$LOG"
check "the speaker logs the BFD session up" grep -q "BFD session up.*address=$FAR" "$LOG"
# Once up, the session stays up: FRR's detection time follows our 100 ms rate the moment it
# is Up, so a packet of ours due at the slow start pace (1 s) would bring it down.
nap 2
check "no flap: the speaker counts no BFD down event" speaker_is "metallb_bfd_session_down_events{peer=\"$FAR\"}" 0
check "no flap: FRR counts no BFD session down" test "$(frr_bfd_counter session-down)" = 0
check "no flap: FRR's bgpd never dropped the BGP session" test "$(frr_neighbor connectionsDropped)" = 0
nap 1
cap_stop bfd-cap
CAP="$LAB_DIR/bfd-cap.log"
# tcpdump -v prints the IP header (ttl) on one line and the UDP addresses on the next
cap_pairs() { awk '/ ttl [0-9]+/ { match($0, / ttl [0-9]+/); ttl = substr($0, RSTART + 5, RLENGTH - 5); next } / > / && ttl != "" { print ttl, $1, $3; ttl = "" }' "$CAP"; }
check "capture: node1 sends control packets to $FAR:4784 with TTL 255" \
  bash -c "$(declare -f cap_pairs); CAP='$CAP'; cap_pairs | grep -E '^255 $NEAR\.[0-9]+ $FAR\.4784:$' | head -n 1 | grep ."
check "capture: FRR's control packets to $NEAR:4784 arrive forwarded, TTL 254" \
  bash -c "$(declare -f cap_pairs); CAP='$CAP'; cap_pairs | grep -E '^254 $FAR\.[0-9]+ $NEAR\.4784:$' | head -n 1 | grep ."
check "capture: no BFD on the single-hop port 3784" bash -c "! grep -E '\\.3784[: ]' '$CAP'"
echo "#    capture: $(grep -c '\.4784: ' "$CAP") packets on 4784, $(grep -c '\.3784[: ]' "$CAP") on 3784"
# FRR's packets pass the speaker's checks: TTL 254 against minimumTtl 254, port 4784, the session
bfd_drops() { metrics node1 | grep -E '^ferrolb_bfd_dropped_packets\{' | grep -v ' 0$'; }
check "the speaker dropped none of FRR's BFD packets (no ferrolb_bfd_dropped_packets above 0)" \
  bash -c "! ( $(declare -f bfd_drops metrics lab); LAB_SH='$LAB_SH'; bfd_drops )"

# ---- the path broken for BFD alone: the router drops forwarded UDP 4784 ----
lab_at_teardown "lab exec router nft delete table inet mh-drop 2>/dev/null"
line="$(log_lines ferrolb-node1)"
dropped_before="$(frr_neighbor connectionsDropped)"
asked_at=$(now_ms)
lab exec router nft -f - <<'NFT' || fatal "nft rule not added"
table inet mh-drop {
  chain forward {
    type filter hook forward priority 0; policy accept;
    udp dport 4784 drop
  }
}
NFT
speaker_bfd_down() { log_since ferrolb-node1 "$line" | grep -q "BFD session down.*address=$FAR"; }
if wait_for 5 "UDP 4784 dropped: the speaker's BFD goes Down" speaker_bfd_down; then
  down_ms="$(log_ms ferrolb-node1 "$line" "BFD session down.*address=$FAR")"
  detect_ms=$((down_ms - asked_at))
  echo "#    multi-hop BFD detection, nft drop -> the speaker's Down: ${detect_ms} ms (3 x 100 ms configured; hold time 90 s)"
  check "detection under 1 s (${detect_ms} ms), far under the 90 s hold time" test "$detect_ms" -lt 1000
  check "the diagnostic is Control Detection Time Expired" \
    bash -c "tail -n +$((line + 1)) '$LOG' | grep 'BFD session down' | grep -qi 'detection time expired'"
fi
check "the speaker resets the BGP session on the BFD Down" \
  bash -c "tail -n +$((line + 1)) '$LOG' | grep -q 'resetting the BGP session'"
wait_for 3 "FRR's BFD session with node1 goes down" frr_bfd_down
gt_dropped() { [ "$(frr_neighbor connectionsDropped)" -gt "$dropped_before" ]; }
wait_for 3 "FRR's bgpd dropped the BGP session (connectionsDropped $dropped_before -> more)" gt_dropped

# ---- restored ----
lab exec router nft delete table inet mh-drop
restored_at=$(now_ms)
wait_for 15 "rule removed: FRR's BFD session with node1 is up again" frr_bfd_up
wait_for 15 "rule removed: metrics: $BFD_UP 1" speaker_is "$BFD_UP" 1
wait_for 30 "rule removed: the BGP session is Established at FRR again" frr_established
wait_for 10 "rule removed: FRR holds 10.50.0.1/32 again" frr_route
echo "#    restore -> Established again at FRR: $(($(now_ms) - restored_at)) ms"
check "FRR's session is still multihop" test "$(frr_bfd multihop)" = True
# With BGP's TCP still passing, both sides set the session up again at once while BFD was
# down (FRR's bgpd accepts it as well): what the drop above shows is the reset, not a
# withdrawal that lasts. The whole path broken does show one.

# ---- the whole path broken: the router forwards nothing ----
frr_ready() { frr_bfd_up && frr_route; }
wait_for 5 "before the cut: FRR's BFD session is up and the route is there" frr_ready
line="$(log_lines ferrolb-node1)"
cut_at=$(now_ms)
lab exec router nft -f - <<'NFT' || fatal "nft rule not added"
table inet mh-cut {
  chain forward {
    type filter hook forward priority 0; policy drop;
  }
}
NFT
lab_at_teardown "lab exec router nft delete table inet mh-cut 2>/dev/null"
if wait_for 5 "path cut: the speaker's BFD goes Down" speaker_bfd_down; then
  down_ms="$(log_ms ferrolb-node1 "$line" "BFD session down.*address=$FAR")"
  echo "#    multi-hop BFD detection, forwarding cut -> the speaker's Down: $((down_ms - cut_at)) ms"
fi
wait_for 2 "path cut: metrics: $BGP_UP 0 (the BGP session reset, not waiting for the 90 s hold time)" speaker_is "$BGP_UP" 0
wait_for 2 "path cut: FRR's bgpd dropped the session on its BFD Down" frr_not_established
wait_for 2 "path cut: FRR no longer holds 10.50.0.1/32" frr_no_route
echo "#    path cut -> FRR without the route: $(($(now_ms) - cut_at)) ms"
nap 1
check "path cut: the BGP session stays down while the path is (metrics: $BGP_UP 0)" speaker_is "$BGP_UP" 0
lab exec router nft delete table inet mh-cut
uncut_at=$(now_ms)
wait_for 15 "path back: FRR's BFD session with node1 is up" frr_bfd_up
wait_for 15 "path back: the BGP session is Established at FRR" frr_established
wait_for 10 "path back: FRR holds 10.50.0.1/32" frr_route
echo "#    path back -> FRR holds the route again: $(($(now_ms) - uncut_at)) ms"

lab kill ferrolb-node1 TERM
check "no panic in the speaker's log" bash -c "! grep -q 'panicked' '$LOG'"
summary
