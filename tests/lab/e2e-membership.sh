#!/usr/bin/env bash
# End-to-end test of speaker membership and fenced Layer 2 failover (issue 7, "Done when"):
# `ferrolb run --node nodeK --source dir:DIR` in the node namespaces on one shared manifest
# directory DIR (pool, L2Advertisement, Nodes with InternalIP 172.30.0.1K, dual-stack Services),
# membership over UDP 7946 with a shared key file. Observed from the router namespace (arping,
# ndisc6, tcpdump) and from each node's /metrics and log.
#   phase 1, three nodes:
#     * every speaker sees 3 members and quorum; the address answers with plan's winner W only
#     (a) kill -9 W: the address answers from the winner plan names for the two others (W2),
#         a gratuitous ARP and an unsolicited NA from W2 are on the wire, the others see 2
#         members and log "member down"; W restarted: it takes the address back (plan) with a GARP
#     (b) lab.sh cut W: W logs "lost quorum", its metrics say no quorum and no announcement, the
#         router sees only W2's MAC (GARP from W2), the majority keeps 2 members and quorum;
#         restore: 3 members again, W logs "no longer fenced", the address answers from plan's
#         winner (W) only, with a GARP after the restore (ARP requests answered by two MACs
#         during the rejoin are reported)
#     (b') partition between the nodes only (routes into a hole; ARP from the router still reaches
#         W): W fences itself, so the router sees only W2's MAC although W still hears its
#         requests, and no ARP request sent meanwhile gets answers from two MACs (no split
#         brain, not even while W2 takes over); healed: W answers again with a GARP
#     * SIGTERM of the owner: the others see it leave at once and W2 answers
#   phase 2, two nodes (c): kill -9 the owner: the survivor answers (GARP); cut the owner's link:
#     the survivor answers and nobody fences; restore: one MAC (plan's winner) answers
#   phase 3, wrong key (d): node3 with a different key is never admitted: node1 and node2 see 2
#     members and quorum, node3 sees 1 and no quorum, node1 counts bad-key drops, node3's MAC
#     answers none of the services' addresses, which answer as plan --live-nodes node1,node2 says
#   phase 4, --no-membership (e): no gossip port; every node takes part in the election (plan
#     without liveness); deleting the owner's Node object moves the address (plan agrees, GARP)
# `plan` is the oracle: it is run on a copy of DIR whose Services carry the addresses the
# controller gave them, with --live-nodes naming the speakers that should be alive.
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 55 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb

MPORT=7946       # membership port (the default of --membership-bind)
DETECT=3         # seconds allowed for a membership change to show (the target is well under 1 s)

# ---------------------------------------------------------------- manifests
DIR=""
STATE=""
STAGE=""
# NODES, FLAGS, SVC, PLANIN, PLAN: lib.sh's conventions for speakers on one dir: source

cluster_yaml() { lab_nodes_yaml "$@"; } # NODE...: the Node objects

pools_yaml() { lab_l2_pool_yaml lan 172.30.0.100-172.30.0.119 fd00:30::100-fd00:30::119; }

# service, svc_yaml (SVC), refresh_plan, winner_with (PLAN) are in lib.sh

# ---------------------------------------------------------------- state and oracle
has_dual() { [ "$(jget "$STATE/services/default/$1.json" 'sorted(":" in i["ip"] for i in d["ingress"])')" = "[False, True]" ]; }
all_dual() {
  local n
  for n in "$@"; do has_dual "$n" || return 1; done
}

# ---------------------------------------------------------------- probes (router namespace)
# arp_macs, nd_macs, mac_answers, arp_only and nd_only are in lib.sh

# ---------------------------------------------------------------- captures (router's eth0)
# cap_start, cap_stop, cap_after and cap_none_before are in lib.sh

# Split-brain watch: the router sends an ARP request for IP every 0.1 s while tcpdump records the
# requests and the solicited replies (gratuitous ones excluded); a request answered by two MACs is
# a split brain. watch_start NAME IP SECS / watch_verdict NAME
watch_start() {
  local h
  h="$(ipv4_hex "$2")"
  cap_start "$1" "arp and not arp[14:4] == arp[24:4] and ((arp[6:2] == 1 and arp[24:4] == $h) or (arp[6:2] == 2 and arp[14:4] == $h))" || return 1
  lab spawn router "$1-ping" arping -i eth0 -c "$(($3 * 10))" -W 0.1 "$2" >/dev/null
}
watch_verdict() { # NAME [T0]: T0 = the event's epoch time, for the offsets printed
  local i
  for i in $(seq 100); do
    lab pid "$1-ping" >/dev/null 2>&1 || break
    nap 0.1
  done
  lab kill "$1-ping" KILL >/dev/null 2>&1
  nap 0.2
  cap_stop "$1"
  "$PY" - "$LAB_DIR/$1.log" "${2:-0}" <<'EOF'
import re, sys
t0 = float(sys.argv[2])
reqs = []  # per request: [time, set of MACs that replied before the next request]
for line in open(sys.argv[1]):
    f = line.split()
    if not f or not re.match(r"^\d+\.\d+$", f[0]):
        continue
    if "Request who-has" in line:
        reqs.append([float(f[0]), set()])
    m = re.search(r"Reply \S+ is-at ([0-9a-f:]{17})", line)
    if m and reqs:
        reqs[-1][1].add(m.group(1))
answered = sum(1 for _, r in reqs if r)
double = [(t, sorted(r)) for t, r in reqs if len(r) > 1]
macs = sorted(set().union(*(r for _, r in reqs))) if reqs else []
print("%d requests, %d answered, %d answered by two MACs; MACs seen: %s" % (len(reqs), answered, len(double), " ".join(macs) or "none"))
if double:
    rel = lambda t: "%+.0f ms" % ((t - t0) * 1000) if t0 else "%.3f" % t
    print("two MACs (%s) answered requests sent from %s to %s after the event" % (" ".join(double[0][1]), rel(double[0][0]), rel(double[-1][0])))
sys.exit(1 if double or not reqs else 0)
EOF
}

# ---------------------------------------------------------------- speakers, metrics, logs
# start_speaker(s), speaker_pid, nlog, log_count, log_more, no_panic, others_of, the metric
# readers (metric, metric_is, members_all, quorum_all, announces...) are in lib.sh
# a "member up"/"member down" line naming NAME
# (no grep -q at the end of a pipe: with pipefail its early exit can fail the pipe with SIGPIPE)
member_logged() { nlog "$1" | grep -- "$2" | grep -w -- "member=$3" >/dev/null; }

port_bound() { lab exec "$1" ss -Hunl "sport = :$MPORT" | grep . >/dev/null; }
port_free() { ! port_bound "$1"; }

status_has() { test -f "$STATE/servicel2status/default/$1/$2.json"; } # NAME NODE
stop_all() {
  local n
  for n in "${NODES[@]}"; do kill -TERM "$(speaker_pid "$n" 2>/dev/null)" 2>/dev/null || true; done
  for n in "${NODES[@]}"; do
    wait_for 5 "SIGTERM: ferrolb-$n exits" sh -c "! '$LAB_SH' pid 'ferrolb-$n' >/dev/null"
  done
}

start_phase() { # N
  local n
  lab_setup "$1"
  [ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
  "$FERROLB" run --help 2>/dev/null | grep -- --membership-bind >/dev/null ||
    fatal "'ferrolb run' in $FERROLB has no --membership-bind (membership not wired yet)"
  lab_manifests
  PLANIN="$LAB_DIR/plan-input"
  PLAN="$LAB_DIR/plan.json"
  NODES=()
  for n in $(seq 1 "$1"); do NODES+=("node$n"); done
  SVC=()
  FLAGS=()
  cluster_yaml "${NODES[@]}" | put cluster.yaml
  pools_yaml | put pools.yaml
  # a shared secret like MetalLB's memberlist secretkey (16 random bytes, unpadded base64)
  lab_key "$LAB_DIR/key-a" "$LAB_DIR/key-b"
}


# the address of web answers with plan's winner (for LIVE nodes) only, v4 and v6
answers_from() { # LABEL NODE
  local mac
  mac="$(mac_of "$2")"
  wait_for "$DETECT" "$1: $V4 answers with $2's MAC $mac" mac_answers "$V4" "$mac"
  check "$1: only $2's MAC answers $V4 (arping -d)" arp_only "$V4" "$mac"
  wait_for 2 "$1: $V6 answers with $2's MAC (ndisc6)" nd_only "$V6" "$mac"
}

# ================================================================ phase 1: three nodes
echo "# three nodes, membership with a shared key"
start_phase 3
for n in "${NODES[@]}"; do FLAGS[$n]="--membership-key-file $LAB_DIR/key-a"; done
service web 10 Cluster node2
start_speakers

wait_for 5 "every speaker sees 3 members" members_all 3 "${NODES[@]}"
check "every speaker has quorum" quorum_all 1 "${NODES[@]}"
all_bound() { local n; for n in "${NODES[@]}"; do port_bound "$n" || { echo "$n: nothing on UDP $MPORT"; return 1; }; done; }
check "every speaker listens on UDP $MPORT" all_bound
ups_logged() { # every speaker logged "member up" naming each other node
  local n o rc=0
  for n in "${NODES[@]}"; do
    for o in $(others_of "$n"); do member_logged "$n" "member up" "$o" || { echo "$n: no 'member up' for $o" && rc=1; }; done
  done
  return "$rc"
}
wait_for 2 "each log says 'member up' for both other nodes" ups_logged
wait_for 3 "web gets a v4 and a v6 address" has_dual web || fatal "web has no addresses"
V4="$(svc_ip4 web)"
V6="$(svc_ip6 web)"
W="$(winner_with web "${NODES[@]}")" || fatal "plan names no winner for web: $(cat "$PLAN.err")"
read -r -a REST <<<"$(others_of "$W")"
W2="$(winner_with web "${REST[@]}")" || fatal "plan names no winner for web among ${REST[*]}"
echo "# web: $V4 $V6; owner $W; plan names $W2 when $W is gone"
answers_from "start" "$W"
check "start: $W announces $V4 (metallb_speaker_announced)" announces "$W" "$V4"

# ---- (a) kill -9 the owner
cap_start cap-a-garp "$(garp_filter "$V4" "$(mac_of "$W2")")"
cap_start cap-a-na "$(na_filter "$V6" "$(mac_of "$W2")")"
pid="$(speaker_pid "$W")"
T0="$EPOCHREALTIME"
kill -KILL "$pid"
answers_from "kill -9 $W" "$W2"
wait_for 3 "kill -9 $W: gratuitous ARP for $V4 from $W2's MAC after the kill" cap_after cap-a-garp "$T0"
wait_for 3 "kill -9 $W: unsolicited NA for $V6 from $W2's MAC after the kill" cap_after cap-a-na "$T0"
cap_stop cap-a-garp
cap_stop cap-a-na
wait_for "$DETECT" "kill -9 $W: ${REST[*]} see 2 members" members_all 2 "${REST[@]}"
check "kill -9 $W: ${REST[*]} keep quorum (2 of 3)" quorum_all 1 "${REST[@]}"
check "kill -9 $W: ${REST[0]} logs 'member down' naming $W" member_logged "${REST[0]}" "member down" "$W"
check "kill -9 $W: ${REST[1]} logs 'member down' naming $W" member_logged "${REST[1]}" "member down" "$W"
wait_for 2 "kill -9 $W: $W2 writes its ServiceL2Status for web" status_has web "$W2"
lab kill "ferrolb-$W" KILL >/dev/null

# restart: W takes the address back (plan with all three)
cap_start cap-a2-garp "$(garp_filter "$V4" "$(mac_of "$W")")"
T0="$EPOCHREALTIME"
start_speaker "$W" || fatal "restart ferrolb in $W"
wait_for 5 "$W restarted: every speaker sees 3 members" members_all 3 "${NODES[@]}"
answers_from "$W restarted" "$W"
wait_for 3 "$W restarted: gratuitous ARP for $V4 from $W's MAC" cap_after cap-a2-garp "$T0"
cap_stop cap-a2-garp
wait_for 2 "$W restarted: $W2 no longer announces $V4" announces_not "$W2" "$V4"

# ---- (b) cut the owner's link (3 nodes: the owner is the minority and fences itself)
nap 1 # let the restart's bursts end before watching for stray GARPs
cap_start cap-b-garp "$(garp_filter "$V4" "$(mac_of "$W2")")"
lost0="$(log_count "$W" "lost quorum")"
regained0="$(log_count "$W" "no longer fenced")"
rlost0="$(log_count "${REST[0]}" "lost quorum") $(log_count "${REST[1]}" "lost quorum")"
T0="$EPOCHREALTIME"
lab cut "$W"
check "no gratuitous ARP from $W2 (not the owner) before the cut" cap_none_before cap-b-garp "$T0"
wait_for "$DETECT" "cut $W: $W logs 'lost quorum'" log_more "$W" "lost quorum" "$lost0"
wait_for 1 "cut $W: $W no longer announces $V4 (metallb_speaker_announced)" announces_not "$W" "$V4"
check "cut $W: $W reports quorum 0" metric_is "$W" ferrolb_membership_quorum_bool 0
wait_for 3 "cut $W: $W sees 1 member (itself)" metric_is "$W" ferrolb_membership_members 1
answers_from "cut $W" "$W2"
wait_for 3 "cut $W: gratuitous ARP for $V4 from $W2's MAC after the cut" cap_after cap-b-garp "$T0"
cap_stop cap-b-garp
check "cut $W: ${REST[*]} see 2 members" members_all 2 "${REST[@]}"
check "cut $W: ${REST[*]} keep quorum" quorum_all 1 "${REST[@]}"
check "cut $W: neither ${REST[0]} nor ${REST[1]} logs 'lost quorum' after the cut" \
  test "$(log_count "${REST[0]}" "lost quorum") $(log_count "${REST[1]}" "lost quorum")" = "$rlost0"
wait_for 2 "cut $W: $W2 writes its ServiceL2Status for web" status_has web "$W2"
wait_for 2 "cut $W: $W's ServiceL2Status for web is gone (it withdrew)" sh -c "! test -e '$STATE/servicel2status/default/web/$W.json'"

# restore: ownership as plan says for all three (back to W), GARP, no double answer while rejoining
cap_start cap-b2-garp "$(garp_filter "$V4" "$(mac_of "$W")")"
watch_start watch-b "$V4" 4
T0="$EPOCHREALTIME"
lab restore "$W"
wait_for 5 "restore $W: every speaker sees 3 members" members_all 3 "${NODES[@]}"
wait_for 3 "restore $W: $W logs 'no longer fenced'" log_more "$W" "no longer fenced" "$regained0"
check "restore $W: $W reports quorum 1" metric_is "$W" ferrolb_membership_quorum_bool 1
check "restore $W: plan (all three alive) still names $W" test "$(winner_with web "${NODES[@]}")" = "$W"
answers_from "restore $W" "$W"
wait_for 3 "restore $W: gratuitous ARP for $V4 from $W's MAC after the restore" cap_after cap-b2-garp "$T0"
cap_stop cap-b2-garp
# a handover at the rejoin may overlap by one request (make-before-break; the owner's burst then
# fixes caches): reported, not counted
watch_verdict watch-b "$T0" | sed 's/^/# restore, rejoin watch (informational): /'
check "restore $W: $W announces $V4" announces "$W" "$V4"
check "restore $W: $W2 no longer announces $V4" announces_not "$W2" "$V4"

# ---- (b') partition between the nodes only: W still hears the router's ARP requests and could
# answer them, only fencing keeps it quiet. Routes via an address nobody has (172.30.0.250) make
# the nodes' datagrams to each other vanish silently, as in a real partition; ARP is untouched.
HOLE=172.30.0.250
part_routes() { # add|del NODE: routes between NODE and the other nodes into the hole
  local o rc=0
  for o in $(others_of "$2"); do
    lab exec "$2" ip route "$1" "$(ip_of "$o")/32" via "$HOLE" dev eth0 || rc=1
    lab exec "$o" ip route "$1" "$(ip_of "$2")/32" via "$HOLE" dev eth0 || rc=1
  done
  return "$rc"
}
nap 1
lost0="$(log_count "$W" "lost quorum")"
regained0="$(log_count "$W" "no longer fenced")"
cap_start cap-p-garp "$(garp_filter "$V4" "$(mac_of "$W2")")"
watch_start watch-p "$V4" 4
T0="$EPOCHREALTIME"
check "node partition: $W and ${REST[*]} can no longer reach each other (routes into $HOLE)" part_routes add "$W"
wait_for "$DETECT" "node partition: $W logs 'lost quorum'" log_more "$W" "lost quorum" "$lost0"
wait_for 1 "node partition: $W no longer announces $V4" announces_not "$W" "$V4"
answers_from "node partition" "$W2"
check "node partition: the router still reaches $W (ping $(ip_of "$W"))" lab exec router ping -c1 -W1 "$(ip_of "$W")"
wait_for 3 "node partition: gratuitous ARP for $V4 from $W2's MAC" cap_after cap-p-garp "$T0"
cap_stop cap-p-garp
check "node partition: no ARP request was answered by two MACs (split brain fenced)" watch_verdict watch-p "$T0"
check "node partition: ${REST[*]} see 2 members" members_all 2 "${REST[@]}"
check "node partition: ${REST[*]} keep quorum" quorum_all 1 "${REST[@]}"
cap_start cap-p2-garp "$(garp_filter "$V4" "$(mac_of "$W")")"
watch_start watch-p2 "$V4" 4
T0="$EPOCHREALTIME"
check "node partition healed (routes removed)" part_routes del "$W"
wait_for 5 "node partition healed: every speaker sees 3 members" members_all 3 "${NODES[@]}"
wait_for 3 "node partition healed: $W logs 'no longer fenced'" log_more "$W" "no longer fenced" "$regained0"
answers_from "node partition healed" "$W"
wait_for 3 "node partition healed: gratuitous ARP for $V4 from $W's MAC" cap_after cap-p2-garp "$T0"
cap_stop cap-p2-garp
watch_verdict watch-p2 "$T0" | sed 's/^/# partition healed, rejoin watch (informational): /'

# ---- SIGTERM: graceful leave
cap_start cap-t-garp "$(garp_filter "$V4" "$(mac_of "$W2")")"
pid="$(speaker_pid "$W")"
down0="$(log_count "${REST[0]}" "member down")"
T0="$EPOCHREALTIME"
kill -TERM "$pid"
wait_for 1 "SIGTERM $W: ${REST[*]} see 2 members within 1 s (graceful leave)" members_all 2 "${REST[@]}"
answers_from "SIGTERM $W" "$W2"
wait_for 3 "SIGTERM $W: gratuitous ARP for $V4 from $W2's MAC" cap_after cap-t-garp "$T0"
cap_stop cap-t-garp
check "SIGTERM $W: ${REST[0]} logs 'member down' for $W" log_more "${REST[0]}" "member down" "$down0"
wait_for 5 "SIGTERM: ferrolb-$W exits" sh -c "! '$LAB_SH' pid 'ferrolb-$W' >/dev/null"
no_panic
NODES=("${REST[@]}")
stop_all
lab_teardown

# ================================================================ phase 2: two nodes
echo "# two nodes (no fencing: the survivor keeps serving)"
start_phase 2
for n in "${NODES[@]}"; do FLAGS[$n]="--membership-key-file $LAB_DIR/key-a --membership-bind 0.0.0.0:$MPORT"; done
service web 10 Cluster node1
start_speakers
wait_for 5 "2 nodes: both speakers see 2 members" members_all 2 "${NODES[@]}"
wait_for 3 "2 nodes: web gets a v4 and a v6 address" has_dual web || fatal "web has no addresses"
V4="$(svc_ip4 web)"
V6="$(svc_ip6 web)"
W="$(winner_with web "${NODES[@]}")" || fatal "plan names no winner for web"
S="$(others_of "$W")"
check "2 nodes: plan names $S when $W is gone" test "$(winner_with web "$S")" = "$S"
echo "# web: $V4 $V6; owner $W; survivor $S"
answers_from "2 nodes" "$W"

# (c) kill -9 the owner
cap_start cap-c-garp "$(garp_filter "$V4" "$(mac_of "$S")")"
pid="$(speaker_pid "$W")"
T0="$EPOCHREALTIME"
kill -KILL "$pid"
answers_from "2 nodes, kill -9 $W" "$S"
wait_for 3 "2 nodes, kill -9 $W: gratuitous ARP from $S's MAC" cap_after cap-c-garp "$T0"
cap_stop cap-c-garp
check "2 nodes, kill -9 $W: $S sees 1 member" metric_is "$S" ferrolb_membership_members 1
check "2 nodes, kill -9 $W: $S announces $V4" announces "$S" "$V4"
lab kill "ferrolb-$W" KILL >/dev/null
cap_start cap-c2-garp "$(garp_filter "$V4" "$(mac_of "$W")")"
T0="$EPOCHREALTIME"
start_speaker "$W" || fatal "restart ferrolb in $W"
wait_for 5 "2 nodes, $W restarted: both see 2 members" members_all 2 "${NODES[@]}"
answers_from "2 nodes, $W restarted" "$W"
wait_for 3 "2 nodes, $W restarted: gratuitous ARP from $W's MAC" cap_after cap-c2-garp "$T0"
cap_stop cap-c2-garp

# (c) cut the owner's link: the survivor serves, nobody fences
nap 1
cap_start cap-c3-garp "$(garp_filter "$V4" "$(mac_of "$S")")"
lost0="$(log_count "$W" "lost quorum") $(log_count "$S" "lost quorum")"
T0="$EPOCHREALTIME"
lab cut "$W"
answers_from "2 nodes, cut $W" "$S"
wait_for 3 "2 nodes, cut $W: gratuitous ARP from $S's MAC" cap_after cap-c3-garp "$T0"
cap_stop cap-c3-garp
check "2 nodes, cut $W: $S sees 1 member" metric_is "$S" ferrolb_membership_members 1
check "2 nodes, cut $W: $S announces $V4" announces "$S" "$V4"
check "2 nodes, cut $W: $W keeps announcing on its side (no fencing with 2)" announces "$W" "$V4"
check "2 nodes, cut $W: neither speaker logs 'lost quorum' after the cut" \
  test "$(log_count "$W" "lost quorum") $(log_count "$S" "lost quorum")" = "$lost0"
cap_start cap-c4-garp "$(garp_filter "$V4" "$(mac_of "$W")")"
watch_start watch-c "$V4" 4
T0="$EPOCHREALTIME"
lab restore "$W"
wait_for 5 "2 nodes, restore $W: both see 2 members" members_all 2 "${NODES[@]}"
answers_from "2 nodes, restore $W" "$W"
wait_for 3 "2 nodes, restore $W: gratuitous ARP from $W's MAC after the restore" cap_after cap-c4-garp "$T0"
cap_stop cap-c4-garp
wait_for 2 "2 nodes, restore $W: $S no longer announces $V4" announces_not "$S" "$V4"
# with two nodes both served during the partition: a short overlap at the rejoin is expected
watch_verdict watch-c "$T0" | sed 's/^/# 2 nodes, rejoin watch (informational): /'
no_panic
stop_all
lab_teardown

# ================================================================ phase 3: wrong key
echo "# wrong key: node3 is not admitted"
start_phase 3
FLAGS[node1]="--membership-key-file $LAB_DIR/key-a"
FLAGS[node2]="--membership-key-file $LAB_DIR/key-a"
FLAGS[node3]="--membership-key-file $LAB_DIR/key-b"
for i in 1 2 3 4 5 6; do service "e$i" "4$i" Cluster node1; done
start_speakers
wait_for 5 "wrong key: node1 and node2 see 2 members" members_all 2 node1 node2
check "wrong key: node1 and node2 have quorum (2 of 3)" quorum_all 1 node1 node2
wait_for 3 "wrong key: node3 sees 1 member (itself)" metric_is node3 ferrolb_membership_members 1
check "wrong key: node3 has no quorum" metric_is node3 ferrolb_membership_quorum_bool 0
wait_for 3 "wrong key: node1 counts dropped bad-key datagrams" metric_positive node1 ferrolb_membership_dropped_bad_key_total
echo "# wrong key: node3's own bad-key drops (informational): $(metric node3 ferrolb_membership_dropped_bad_key_total)"
names=(e1 e2 e3 e4 e5 e6)
wait_for 4 "wrong key: the 6 services have v4 and v6 addresses" all_dual "${names[@]}"
refresh_plan "${NODES[@]}"
n3=()
for s in "${names[@]}"; do [ "$(plan_winner "$s")" != node3 ] || n3+=("$s"); done
check "wrong key: with all three alive plan would give node3 some services (${n3[*]:-none})" test "${#n3[@]}" -gt 0
refresh_plan node1 node2
ips=()
macs=()
for s in "${names[@]}"; do
  w="$(plan_winner "$s")" || w=none
  for ip in $(svc_ips "$s"); do
    ips+=("$ip")
    macs+=("$(mac_of "$w")")
  done
done
wait_for 4 "wrong key: each of the ${#ips[@]} addresses answers as plan --live-nodes node1,node2 says" macs_answer
allm="$(for ip in "${ips[@]}"; do
  case "$ip" in *:*) nd_macs "$ip" & ;; *) arp_macs "$ip" & ;; esac
done | sort -u | paste -sd' ')"
check "wrong key: node3's MAC answers none of them (MACs answering: $allm)" test "${allm/$(mac_of node3)/}" = "$allm"
nap 1
check "wrong key: still not admitted 1 s later (node3: 1 member)" metric_is node3 ferrolb_membership_members 1
check "wrong key: node1 and node2 still see 2 members" members_all 2 node1 node2
check "wrong key: neither node1 nor node2 logs 'member up' for node3" \
  sh -c "! cat '$LAB_DIR/ferrolb-node1.log' '$LAB_DIR/ferrolb-node2.log' | grep 'member up' | grep -w member=node3"
check "wrong key: node3 announces none of the addresses" announces_none node3
no_panic
stop_all
lab_teardown

# ================================================================ phase 4: --no-membership
echo "# --no-membership: every Node object is a live speaker"
start_phase 3
for n in "${NODES[@]}"; do FLAGS[$n]="--no-membership"; done
service web 10 Cluster node2
for i in 1 2 3 4 5; do service "e$i" "4$i" Cluster node1; done
start_speakers
names=(web e1 e2 e3 e4 e5)
wait_for 4 "no membership: the 6 services have v4 and v6 addresses" all_dual "${names[@]}"
none_bound() { local n; for n in "${NODES[@]}"; do port_free "$n" || { echo "$n: UDP $MPORT is bound"; return 1; }; done; }
check "no membership: nothing listens on UDP $MPORT" none_bound
refresh_plan "${NODES[@]}"
ips=()
macs=()
win=()
for s in "${names[@]}"; do
  w="$(plan_winner "$s")" || w=none
  win+=("$w")
  for ip in $(svc_ips "$s"); do
    ips+=("$ip")
    macs+=("$(mac_of "$w")")
  done
done
got="$(printf '%s\n' "${win[@]}" | sort -u | paste -sd' ')"
check "no membership: plan's winners are every node ($got)" test "$got" = "${NODES[*]}"
wait_for 4 "no membership: each of the ${#ips[@]} addresses answers with plan's winner's MAC" macs_answer
V4="$(svc_ip4 web)"
V6="$(svc_ip6 web)"
W="$(plan_winner web)"
read -r -a REST <<<"$(others_of "$W")"
W2="$(winner_with web "${REST[@]}")"
check "no membership: only $W's MAC answers $V4 (arping -d)" arp_only "$V4" "$(mac_of "$W")"
# delete W's Node object: the address moves to plan's winner without W
cap_start cap-e-garp "$(garp_filter "$V4" "$(mac_of "$W2")")"
cap_start cap-e-na "$(na_filter "$V6" "$(mac_of "$W2")")"
T0="$EPOCHREALTIME"
cluster_yaml "${REST[@]}" | put cluster.yaml
ALL=("${NODES[@]}")
NODES=("${REST[@]}")
refresh_plan
check "no membership, Node $W deleted: plan names $W2 for web" test "$(plan_winner web)" = "$W2"
answers_from "no membership, Node $W deleted" "$W2"
wait_for 3 "no membership, Node $W deleted: gratuitous ARP from $W2's MAC" cap_after cap-e-garp "$T0"
wait_for 3 "no membership, Node $W deleted: unsolicited NA from $W2's MAC" cap_after cap-e-na "$T0"
cap_stop cap-e-garp
cap_stop cap-e-na
wait_for 2 "no membership, Node $W deleted: $W no longer announces $V4" announces_not "$W" "$V4"
NODES=("${ALL[@]}")
no_panic
stop_all

summary
