#!/usr/bin/env bash
# End-to-end test of the hitless node lifecycle over BGP (issue 8, "Done when"): BFD, graceful
# restart (RFC 4724) and graceful shutdown (RFC 8326) of `ferrolb run` against BIRD
# (peers/bird-lifecycle.conf: 'bfd on' and 'graceful restart on' on the sessions with node1 and
# node2, BIRD's own BFD intervals 20 ms so the speaker's BFDProfile decides the timers).
# Two nodes run `ferrolb run --node nodeK --source dir:DIR`; BGPPeers towards BIRD 172.30.0.1:
# node1 eBGP (AS 64512), node2 iBGP (AS 64500), both with bfdProfile "lab" (receiveInterval
# 200, transmitInterval 100, detectMultiplier 3) and enableGracefulRestart. One Service,
# 10.50.0.1, endpoint on node2, ETP Cluster: both nodes announce it.
#   (a) BFD
#     * BIRD's BFD sessions with both nodes are Up with Interval 0.200 (BIRD sends at the
#       profile's receiveInterval) and Timeout 0.300 (transmitInterval x detectMultiplier);
#       metallb_bfd_session_up{peer="172.30.0.1"} 1, packet counters move, "BFD session up"
#     * `lab.sh cut node1`: BIRD's BGP session with node1 goes down within 300 ms + 50 % (its
#       BFD detection time; the measured figure from BIRD's log is printed), last error "BFD
#       session down", node1's route withdrawn; the speaker's BFD goes down too and it resets
#       its BGP session; restore brings the session, BFD and the route back
#     * SIGSTOP of BIRD: the speaker's BFD goes down within 600 ms + 20 % (BIRD's multiplier 3
#       x the profile's receiveInterval; printed), it logs the BGP session reset and
#       metallb_bgp_session_up drops to 0 (the hold time is 90 s: only BFD can do this);
#       SIGCONT brings everything back
#   (b) graceful restart
#     * with plain 'bfd on', BIRD takes the stopping speaker's BFD AdminDown as a failure and
#       flushes the routes: printed as a note, not checked (a BIRD choice, see the config)
#     * BIRD switched to 'bfd graceful' (birdc configure): SIGTERM of node1's speaker closes
#       the session without a NOTIFICATION; BIRD keeps the route as stale ("Neighbor graceful
#       restart active", channel "Neighbor GR: Regular") for 5 s; the restarted speaker's OPEN
#       has the R bit ("Restart recovery"), it re-sends the route and End-of-RIB (BIRD ends
#       the restart long before its stale timer), and the route was present in every 50 ms
#       sample from the SIGTERM to the end; BIRD received no withdraw
#   (c) graceful shutdown
#     * `--graceful-shutdown-delay 3`, SIGTERM: within 1 s BIRD has node1's route with
#       BGP.community (65535,0); it is withdrawn 3 s (2.9..4.5 s) after the signal, and BIRD
#       received a CEASE (no graceful restart left behind)
#     * cordon: spec.unschedulable on node2's Node: node2's route carries (65535,0), node1's
#       does not; uncordon removes it
#   end: no panic in any log.
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by
# `cargo build -p ferrolb`. Root; about 25 s. One line per check, "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 2

lab_manifests
BIRD_CONF="$LAB_HOME/peers/bird-lifecycle.conf"
BIRD_GR_CONF="$LAB_DIR/bird-lifecycle-graceful.conf" # the same with 'bfd graceful'
SVC=10.50.0.1/32

# ---------------------------------------------------------------- manifests

cluster() { # [CORDONED_NODE]
  lab_nodes_yaml -6 ${1:+-c "$1"} node1 node2
}

peer_yaml() { # NAME NODE MY_ASN
  cat <<EOF
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: $1, namespace: metallb-system}
spec:
  myASN: $3
  peerASN: 64500
  peerAddress: 172.30.0.1
  bfdProfile: lab
  enableGracefulRestart: true
  # both families on the session, so that graceful restart covers (F bit) both
  dualStackAddressFamily: true
  nodeSelectors:
    - matchLabels: {kubernetes.io/hostname: $2}
EOF
}

config() {
  lab_bgp_pool_yaml
  cat <<EOF
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: lab, namespace: metallb-system}
spec:
  receiveInterval: 200
  transmitInterval: 100
  detectMultiplier: 3
  passiveMode: false
EOF
  peer_yaml node1-bird node1 64512
  peer_yaml node2-bird node2 64500
}

cluster | put cluster.yaml
config | put config.yaml
lab_service_yaml -4 web 1 Cluster node2 ips=10.50.0.1 | put svc-web.yaml

check "ferrolb validate accepts the manifests (with the BFDProfile)" "$FERROLB" validate "$DIR" ||
  fatal "manifests rejected"

# ---------------------------------------------------------------- helpers

# bird_cli, established and not_established: lib.sh
proto_all_has() { bird_cli show protocols all "$1" | grep -qE "$2"; } # PROTO REGEX
proto_all_lacks() { # PROTO REGEX (and BIRD answers)
  local o
  o="$(bird_cli show protocols all "$1")" || return 1
  ! grep -E "$2" <<<"$o"
}
# BIRD's BFD session with ADDR: "STATE INTERVAL TIMEOUT", e.g. "Up 0.200 0.300"
bfd_line() { bird_cli show bfd sessions | awk -v a="$1" '$1 == a { print $3, $(NF - 1), $NF }'; }
bfd_is() { # ADDR "STATE INTERVAL TIMEOUT"
  local got
  got="$(bfd_line "$1")"
  echo "BIRD's BFD session with $1: $got"
  [ "$got" = "$2" ]
}
bfd_up() { bfd_line "$1" | grep -q '^Up '; } # ADDR
route_block() { bird_cli show route "$SVC" all protocol "$1"; } # PROTO
has_route() { route_block "$1" | grep -q "^${SVC//./\\.} "; }
no_route() {
  local o
  o="$(route_block "$1")" || return 1
  ! grep -q "^${SVC//./\\.} " <<<"$o"
}
has_gshut() { route_block "$1" | grep -q 'BGP.community:.*(65535,0)'; }
# the route is there, without GRACEFUL_SHUTDOWN
plain_route() {
  local o
  o="$(route_block "$1")" || return 1
  echo "$o"
  grep -q "^${SVC//./\\.} " <<<"$o" && ! grep -q '(65535,0)' <<<"$o"
}
node_up() { established "$1" && has_route "$1" && bfd_up "$2"; } # PROTO ADDR
# "Import withdraws:" received by PROTO's ipv4 channel
withdraws_received() { bird_cli show protocols all "$1" | awk '/Channel ipv4/ { c = 1 } c && /Import withdraws:/ { print $3; exit }'; }

# series and series_ge (one series of a /metrics): lib.sh
metric_is() { # NODE SERIES VALUE
  local v
  v="$(series "$1" "$2")" || return 1
  echo "$2 = $v"
  [ "$v" = "$3" ]
}
metric_not_one() { # NODE SERIES: 0 or absent, and the endpoint answers
  local v
  v="$(series "$1" "$2")" || return 1
  echo "$2 = $v"
  [ "$v" != 1 ]
}
BFD_UP='metallb_bfd_session_up{peer="172.30.0.1"}'
BGP_UP='metallb_bgp_session_up{peer="172.30.0.1:179"}'

log_has() { log_since "$1" "$2" | grep -qE "$3"; } # LOGNAME LINE REGEX (log_since, log_ms, bird_ms: lib.sh)
# ms from T0 until FUNC ARGS... succeeds (polled every 10 ms), or "timeout" after SECS
time_until() { # T0 SECS FUNC ARGS...
  local t0="$1" end=$(($1 + $2 * 1000))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$end" ] || { echo timeout; return 1; }
    nap 0.01
  done
  elapsed_ms "$t0"
}
bfd_counters() { # NODE
  series_ge "$1" 'metallb_bfd_control_packet_input{peer="172.30.0.1"}' 10 &&
    series_ge "$1" 'metallb_bfd_control_packet_output{peer="172.30.0.1"}' 10 &&
    series_ge "$1" 'metallb_bfd_session_up_events{peer="172.30.0.1"}' 1
}
within() { [ "$1" != timeout ] && [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; } # MS MIN MAX

start_node() { # NODE [ARGS...]
  local n="$1"
  shift
  run_ferrolb "$n" "ferrolb-$n" "$@"
}
ferrolb_gone() { ! lab pid "ferrolb-$1" >/dev/null; }

# ---------------------------------------------------------------- (a) BFD

lab start bird "$BIRD_CONF" >/dev/null || fatal "BIRD did not start"
for n in node1 node2; do start_node "$n" || fatal "spawn ferrolb in $n"; done

wait_for 15 "BIRD: node1 (eBGP) Established" established node1
wait_for 15 "BIRD: node2 (iBGP) Established" established node2
established node1 || fatal "node1's BGP session did not come up: the rest depends on it"
both_routes() { has_route node1 && has_route node2; }
wait_for 5 "BIRD: $SVC from node1 and from node2" both_routes
wait_for 10 "BIRD: BFD with node1 Up, Interval 0.200 (receiveInterval), Timeout 0.300 (transmitInterval x 3)" \
  bfd_is 172.30.0.11 "Up 0.200 0.300"
wait_for 10 "BIRD: BFD with node2 Up, Interval 0.200, Timeout 0.300" bfd_is 172.30.0.12 "Up 0.200 0.300"
for n in node1 node2; do
  wait_for 3 "metrics: $n $BFD_UP 1" metric_is "$n" "$BFD_UP" 1
  # the counters are refreshed once a second
  wait_for 3 "metrics: $n metallb_bfd_control_packet_input/output >= 10, session_up_events >= 1" bfd_counters "$n"
  check "log: $n says \"BFD session up\"" log_has "ferrolb-$n" 0 'BFD session up'
done

# ---- cut node1's link: BIRD's BFD (300 ms) takes the BGP session down ----
wait_for 5 "before the cut: BIRD's BFD with node1 Up" bfd_up 172.30.0.11
l1="$(log_lines ferrolb-node1)"
b0="$(log_lines bird)"
d0="$(series node1 'metallb_bfd_session_down_events{peer="172.30.0.1"}')"
t0="$(now_ms)"
lab cut node1
ms="$(time_until "$t0" 5 not_established node1)"
logged="$(bird_ms "$b0" 'node1: State changed to (stop|flush|down)')"
[ -z "$logged" ] || logged=$((logged - t0))
echo "#    cut node1: BIRD's session down ${logged:-?} ms after the cut (BIRD's log), seen by polling after $ms ms; BFD detection time 300 ms"
check "cut node1: BIRD's BGP session with node1 down within 450 ms (300 ms + 50 %): ${logged:-?} ms by BIRD's log" \
  within "${logged:-timeout}" 0 450
check "cut node1: BIRD's last error for node1 is \"BFD session down\"" proto_all_has node1 'Last error: +Error: BFD session down'
wait_for 2 "cut node1: BIRD withdrew node1's route" no_route node1
node2_stays() { established node2 && has_route node2; }
check "cut node1: node2's session and route stay" node2_stays
wait_for 3 "cut node1: the speaker's BFD went down (metric 0)" metric_is node1 "$BFD_UP" 0
reset_logged() { log_has ferrolb-node1 "$1" 'BFD session down' && log_has ferrolb-node1 "$1" 'BGP session Established -> '; }
check "cut node1: the speaker logged \"BFD session down\" and reset its BGP session" reset_logged "$l1"
check "cut node1: metallb_bfd_session_down_events grew (was $d0)" \
  series_ge node1 'metallb_bfd_session_down_events{peer="172.30.0.1"}' "$((${d0/absent/0} + 1))"
t0="$(now_ms)"
lab restore node1
wait_for 20 "restore node1: BIRD Established, BFD Up, the route back" node_up node1 172.30.0.11
echo "#    restore node1: back after $(elapsed_ms "$t0") ms"
wait_for 3 "restore node1: metrics: node1 $BFD_UP 1" metric_is node1 "$BFD_UP" 1

# ---- freeze BIRD: the speaker's BFD (3 x 200 ms) resets its BGP session ----
both_bfd_up() { bfd_up 172.30.0.11 && bfd_up 172.30.0.12; }
wait_for 10 "before the freeze: BFD with both nodes Up at BIRD" both_bfd_up
wait_for 5 "before the freeze: node1 $BGP_UP 1" metric_is node1 "$BGP_UP" 1
l1="$(log_lines ferrolb-node1)"
t0="$(now_ms)"
lab kill bird STOP
wait_for 3 "SIGSTOP BIRD: the speaker's BFD went down (metric 0)" metric_is node1 "$BFD_UP" 0
down="$(log_ms ferrolb-node1 "$l1" 'BFD session down')"
[ -z "$down" ] || down=$((down - t0))
echo "#    SIGSTOP BIRD: the speaker logged \"BFD session down\" ${down:-?} ms after the signal; detection time 600 ms"
check "SIGSTOP BIRD: the speaker's BFD down within 720 ms (600 ms + 20 %): ${down:-?} ms" within "${down:-timeout}" 0 720
check "SIGSTOP BIRD: the speaker logged the BGP session reset" \
  log_has ferrolb-node1 "$l1" 'BFD session down: resetting the BGP session'
check "SIGSTOP BIRD: the BGP session left Established at once (hold time 90 s)" \
  log_has ferrolb-node1 "$l1" 'BGP session Established -> '
check "SIGSTOP BIRD: node1 $BGP_UP is not 1" metric_not_one node1 "$BGP_UP"
t0="$(now_ms)"
lab kill bird CONT
wait_for 20 "SIGCONT BIRD: node1 Established, BFD Up, the route back" node_up node1 172.30.0.11
wait_for 20 "SIGCONT BIRD: node2 Established, BFD Up, the route back" node_up node2 172.30.0.12
echo "#    SIGCONT BIRD: both back after $(elapsed_ms "$t0") ms"
both_up_metrics() { metric_is node1 "$BFD_UP" 1 && metric_is node1 "$BGP_UP" 1; }
wait_for 3 "SIGCONT BIRD: metrics: node1 $BFD_UP 1 and $BGP_UP 1" both_up_metrics

# ---------------------------------------------------------------- (b) graceful restart

# With 'bfd on', the stopping speaker's BFD AdminDown makes BIRD flush the routes (a note only).
wait_for 5 "GR with 'bfd on': node1 Established and the route there before SIGTERM" node_up node1 172.30.0.11
lab kill ferrolb-node1 TERM >/dev/null
nap 1
if has_route node1; then flushed=no; else flushed=yes; fi
echo "#    GR with 'bfd on': 1 s after SIGTERM BIRD flushed node1's route: $flushed ($(bird_cli show protocols node1 | awk '$1 == "node1" { $1 = $2 = $3 = $4 = $5 = ""; print }' | xargs))"

sed 's/^\( *\)bfd on;/\1bfd graceful;/' "$BIRD_CONF" >"$BIRD_GR_CONF"
check "GR: BIRD reconfigured with 'bfd graceful' (BFD down starts a graceful restart)" \
  sh -c "grep -q 'bfd graceful;' '$BIRD_GR_CONF' && '$LAB_SH' birdc configure '\"$BIRD_GR_CONF\"' | grep -q Reconfigured"
start_node node1 || fatal "restart ferrolb in node1"
wait_for 20 "GR: node1 Established, BFD Up, the route there" node_up node1 172.30.0.11
wait_for 10 "GR: BIRD and the speaker both offer graceful restart (restart time 120)" \
  sh -c "'$LAB_SH' birdc show protocols all node1 | awk '/Neighbor capabilities/ { n = 1 } n && /Restart time: 120/ { f = 1 } END { exit !f }'"
wait_for 10 "GR: no restart in progress at BIRD before the SIGTERM" proto_all_lacks node1 'Neighbor GR:|graceful restart active'

# the route's presence at BIRD every 50 ms, in the background, until $POLL.stop appears (60 s at most)
POLL="$LAB_DIR/gr-presence"
presence_poll() {
  local end=$(($(now_ms) + 60000)) t0 o
  t0="$(now_ms)"
  while [ "$(now_ms)" -lt "$end" ] && [ ! -e "$POLL.stop" ]; do
    if ! o="$(route_block node1 2>&1)"; then
      echo "$(elapsed_ms "$t0") error"
    elif grep -q "^${SVC//./\\.} " <<<"$o"; then
      echo "$(elapsed_ms "$t0") present"
    else
      echo "$(elapsed_ms "$t0") ABSENT"
    fi
    nap 0.05
  done >"$POLL"
}
w0="$(withdraws_received node1)"
b0="$(log_lines bird)"
l1="$(log_lines ferrolb-node1)"
presence_poll &
poll_pid=$!
nap 0.3
t0="$(now_ms)"
lab kill ferrolb-node1 TERM >/dev/null
check "GR: SIGTERM: node1's speaker exited within 5 s ($(elapsed_ms "$t0") ms)" ferrolb_gone node1
check "GR: the speaker closed for a graceful restart, without a NOTIFICATION" \
  log_has ferrolb-node1 "$l1" 'graceful restart.*no NOTIFICATION|no NOTIFICATION.*graceful restart'
wait_for 3 "GR: BIRD: \"Neighbor graceful restart active\" for node1" proto_all_has node1 'Neighbor graceful restart active'
check "GR: BIRD holds node1's ipv4 routes as stale (channel \"Neighbor GR: Regular\")" proto_all_has node1 'Neighbor GR: +Regular'
check "GR: BIRD received no NOTIFICATION from node1" sh -c "! tail -n +$((b0 + 1)) '$LAB_DIR/bird.log' | grep 'node1: Received:'"
nap 5
still_stale() { has_route node1 && proto_all_has node1 'Neighbor GR: +Regular'; }
check "GR: 5 s later the route is still at BIRD, still stale" still_stale
t0="$(now_ms)"
start_node node1 || fatal "restart ferrolb in node1"
wait_for 20 "GR: restarted speaker: BIRD Established with node1" established node1
echo "#    GR: Established again $(elapsed_ms "$t0") ms after the restart"
check "GR: the restarted speaker's OPEN has the R bit (BIRD: \"Restart recovery\")" \
  proto_all_has node1 'Restart recovery'
neighbor_preserves() { # F bits: the forwarding state of both families was preserved
  bird_cli show protocols all node1 | awk '/Neighbor capabilities/ { n = 1 } n && /AF preserved: +ipv4 ipv6/ { f = 1 } END { exit !f }'
}
check "GR: ... and the F bits for ipv4 and ipv6 (BIRD: \"AF preserved: ipv4 ipv6\")" neighbor_preserves
wait_for 10 "GR: the restart is over at BIRD (End-of-RIB received; stale timer is 360 s)" \
  proto_all_lacks node1 'Neighbor GR:|graceful restart active'
check "GR: the route is at BIRD, fresh" has_route node1
touch "$POLL.stop"
wait "$poll_pid" 2>/dev/null
samples="$(wc -l <"$POLL")"
absent="$(grep -vc ' present$' "$POLL")"
echo "#    GR: $samples samples of BIRD's table every 50 ms over $(tail -n 1 "$POLL" | awk '{print $1}') ms; not present in $absent"
check "GR: the route was present in every sample from before the SIGTERM to the end ($samples samples)" \
  sh -c "[ '$samples' -ge 50 ] && ! grep -v ' present\$' '$POLL'"
check "GR: BIRD received no withdraw from node1 (Import withdraws received: $w0 -> $(withdraws_received node1))" \
  test "$(withdraws_received node1)" = "$w0"

# ---------------------------------------------------------------- (c) graceful shutdown

lab kill ferrolb-node1 TERM >/dev/null
start_node node1 --graceful-shutdown-delay 3 || fatal "restart ferrolb in node1 with --graceful-shutdown-delay 3"
wait_for 20 "GS: node1 (--graceful-shutdown-delay 3) Established, its route without (65535,0)" plain_route node1
wait_for 10 "GS: graceful restart over at BIRD" proto_all_lacks node1 'Neighbor GR:|graceful restart active'
GS="$LAB_DIR/gs-poll"
b0="$(log_lines bird)"
t0="$(now_ms)"
kill -TERM "$(lab pid ferrolb-node1)"
# every 50 ms until the route is gone (10 s at most): "MS present|gshut|gone"
end=$((t0 + 10000))
while [ "$(now_ms)" -lt "$end" ]; do
  if ! o="$(route_block node1 2>&1)"; then
    s=error
  elif ! grep -q "^${SVC//./\\.} " <<<"$o"; then
    s=gone
  elif grep -q 'BGP.community:.*(65535,0)' <<<"$o"; then
    s=gshut
  else
    s=present
  fi
  echo "$(elapsed_ms "$t0") $s" >>"$GS"
  [ "$s" != gone ] || break
  nap 0.05
done
first_gshut="$(awk '$2 == "gshut" { print $1; exit }' "$GS")"
last_gshut="$(awk '$2 == "gshut" { t = $1 } END { print t }' "$GS")"
gone="$(awk '$2 == "gone" { print $1; exit }' "$GS")"
echo "#    GS: (65535,0) at BIRD from ${first_gshut:-never} ms to ${last_gshut:-never} ms after SIGTERM, route gone at ${gone:-never (10 s)} ms"
check "GS: BIRD has node1's route with community (65535,0) within 1 s of SIGTERM (${first_gshut:-never} ms)" \
  within "${first_gshut:-timeout}" 0 1000
check "GS: BIRD still has it with (65535,0) 2.5 s after SIGTERM (until ${last_gshut:-never} ms)" \
  within "${last_gshut:-timeout}" 2500 100000
check "GS: the route is withdrawn 2.9..4.5 s after SIGTERM (${gone:-never} ms)" within "${gone:-timeout}" 2900 4500
check "GS: no sample without the community between SIGTERM+1 s and the withdraw" \
  sh -c "! awk '\$1 > 1000 && \$2 != \"gshut\" && \$2 != \"gone\"' '$GS' | grep ."
wait_for 3 "GS: node1's speaker exited" ferrolb_gone node1
check "GS: BIRD received a CEASE from node1" \
  sh -c "tail -n +$((b0 + 1)) '$LAB_DIR/bird.log' | grep -E 'node1: Received: (Administrative shutdown|Peer de-configured|Cease)'"
check "GS: no graceful restart left at BIRD (routes not kept as stale)" \
  proto_all_lacks node1 'Neighbor GR:|graceful restart active'
check "GS: node2's route has no (65535,0)" plain_route node2

# ---- cordon node2: its routes carry GRACEFUL_SHUTDOWN ----
start_node node1 || fatal "restart ferrolb in node1"
wait_for 20 "cordon: node1 back, its route without (65535,0)" plain_route node1
cluster node2 | put cluster.yaml
wait_for 2 "cordon node2 (spec.unschedulable): node2's route at BIRD carries (65535,0)" has_gshut node2
check "cordon node2: node1's route does not" plain_route node1
check "cordon node2: node2 is still Established (no reset)" established node2
cluster | put cluster.yaml
wait_for 2 "uncordon node2: node2's route without (65535,0)" plain_route node2

check "no panic in any ferrolb log" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log"
for n in node1 node2; do lab kill "ferrolb-$n" TERM >/dev/null; done
summary
