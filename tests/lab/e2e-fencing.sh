#!/usr/bin/env bash
# End-to-end test of fencing on evidence: `ferrolb run --node nodeK --source dir:DIR` in node1..node3
# on one shared manifest directory DIR (pool, L2Advertisement, Nodes with InternalIP 172.30.0.1K,
# five IPv4 Services and a dual-stack one), membership over UDP 7946 with a shared key file, and the
# fencing witness: each speaker renews DIR/.ferrolb/heartbeats/<node> every second (fresh for 3 s
# by the reader's clock) and reads them all every 250 ms. A speaker without a gossip majority
# stops answering ARP/NDP while those heartbeats show the speakers it cannot hear alive: at once
# while they are fresh, and after a 2 s grace only if they were renewed since it lost its quorum.
# Every failure is a real kill -9 by pid.
#   1. double failure: kill -9 two speakers (owners of some addresses): the survivor answers for
#      every address within 5 s (time from the kill to the first answer of the last address, and
#      to the moment every address answers steadily, printed in ms), logs "still serving", is
#      fenced ("lost quorum ... heartbeats show them alive" to "no longer fenced") for at most
#      GRACE_DARK ms (the grace and a reading); its heartbeat keeps being renewed and the dead
#      ones' go stale
#   2. the two restarted: 3 members, each address answers from plan's winner's MAC only
#   3. gossip-only partition of node3 (nftables drops UDP 7946 inside node3's namespace; the
#      heartbeats stay readable and fresh): node3 logs "lost quorum ... heartbeats show them alive"
#      (time printed) and answers nothing, node1/node2 keep quorum and serve every address (one MAC
#      each, as plan --live-nodes node1,node2 says); table deleted: node3 logs "no longer fenced"
#   4. one-node cold start: all three killed, heartbeats left > 3 s to go stale, only node1 started
#      (the three Node objects still there): node1 serves every address within 6 s, "still serving"
#   5. --strict-fencing (the old quorum-only rule): kill -9 two of three: the survivor logs "lost
#      quorum" and answers no address for 5 s after that
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Needs nft (nftables; installed with apt-get when missing). Root; about 60 s. Prints one line per
# check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MPORT=7946            # membership port (the default of --membership-bind)
SURVIVE=5             # seconds within which the survivor of a double failure answers every address
COLD=6                # seconds within which a lone speaker started cold answers every address
STRICT_QUIET=5        # seconds a strictly fenced survivor must stay silent
GRACE_DARK=3000       # ms the survivor of a double failure may stay fenced (2 s grace, 250 ms reads; a whole validity would be 3.6 s)
FENCE_TABLE=ferrolb_lab_fence
FENCED_NODE=""        # the node whose gossip is dropped now (undone at teardown)
ALIVE_LINE="heartbeats show them alive" # in the fencing line: "lost quorum: ... and their heartbeats show them alive; ..."
SERVING_LINE="still serving"            # "no quorum, but the speakers this one cannot hear are not renewing ...: still serving"
UNFENCED_LINE="no longer fenced"

lab_setup_ferrolb 3
"$FERROLB" run --help 2>/dev/null | grep -- --strict-fencing >/dev/null ||
  fatal "'ferrolb run' in $FERROLB has no --strict-fencing (fencing on evidence not there)"

# ---------------------------------------------------------------- nftables
ensure_nft() {
  command -v nft >/dev/null && return 0
  echo "# nft is missing: apt-get install nftables"
  {
    timeout 300 apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends nftables
  } >"$LAB_DIR/apt-nftables.log" 2>&1
  command -v nft >/dev/null || { tail -n 5 "$LAB_DIR/apt-nftables.log"; return 1; }
}
ensure_nft || fatal "no nft (apt-get install nftables failed)"

# gossip_cut NODE: drop NODE's gossip (UDP $MPORT, both ways) with a table of its own, in NODE's
# namespace only; ARP/NDP and the state directory are untouched
gossip_cut() {
  cat >"$LAB_DIR/fence.nft" <<EOF
table inet $FENCE_TABLE {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $MPORT drop
    udp sport $MPORT drop
  }
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport $MPORT drop
    udp sport $MPORT drop
  }
}
EOF
  lab exec "$1" nft -f "$LAB_DIR/fence.nft" && lab exec "$1" nft list table inet "$FENCE_TABLE"
}
gossip_heal() { lab exec "$1" nft delete table inet "$FENCE_TABLE"; } # NODE
_fence_teardown() { [ -z "$FENCED_NODE" ] || gossip_heal "$FENCED_NODE"; }
lab_at_teardown _fence_teardown

# ---------------------------------------------------------------- heartbeats (DIR/.ferrolb/heartbeats)
hb_file() { echo "$STATE/heartbeats/$1"; }
hb_age() { # NODE: ms since its heartbeat file was last written (fails when there is none)
  local m
  m="$(date -r "$(hb_file "$1")" +%s%3N)" || return 1
  echo $(($(now_ms) - m))
}
hb_fresh() { # NODE: written within the last 2 s (renewed every second)
  local a
  a="$(hb_age "$1")" || return 1
  echo "$1: heartbeat written $a ms ago"
  [ "$a" -lt 2000 ]
}
hb_stale() { # NODE: not written for more than 3 s (the validity)
  local a
  a="$(hb_age "$1")" || return 1
  echo "$1: heartbeat written $a ms ago"
  [ "$a" -gt 3000 ]
}
hb_changed() { # NODE TOKEN: its heartbeat no longer says TOKEN (it was renewed)
  local t
  t="$(cat "$(hb_file "$1")")" || return 1
  echo "$1: heartbeat '$t' (was '$2')"
  [ "$t" != "$2" ]
}

# ---------------------------------------------------------------- addresses and who should answer
svcs_ready() { # every Service in SVC has its addresses (2 when dual-stack, 1 with -4)
  local s want got
  for s in "${!SVC[@]}"; do
    want=2
    case "${SVC[$s]}" in *-4) want=1 ;; esac
    got="$(svc_ips "$s" | wc -w)"
    [ "$got" = "$want" ] || { echo "$s: $got addresses (want $want)" && return 1; }
  done
}
svc_names() { printf '%s\n' "${!SVC[@]}" | sort; }
ips=()
macs=()
OWNERS=()
expect_plan() { # LIVE_NODE...: ips[] = every address, macs[] / OWNERS[] = plan's winner for it
  local s w ip
  refresh_plan "$@" || { cat "$PLAN.err" && return 1; }
  ips=() macs=() OWNERS=()
  for s in $(svc_names); do
    w="$(plan_winner "$s")" || return 1
    for ip in $(svc_ips "$s"); do
      ips+=("$ip")
      macs+=("$(mac_of "$w")")
      OWNERS+=("$w")
    done
  done
}
expect_one() { # NODE: ips[] = every address, all of them answered by NODE's MAC
  local s ip
  ips=() macs=() OWNERS=()
  for s in $(svc_names); do
    for ip in $(svc_ips "$s"); do
      ips+=("$ip")
      macs+=("$(mac_of "$1")")
      OWNERS+=("$1")
    done
  done
}
owned() { # NODE: how many addresses OWNERS gives it
  local o c=0
  for o in "${OWNERS[@]}"; do [ "$o" != "$1" ] || c=$((c + 1)); done
  echo "$c"
}
owners_line() { # "IP:NODE ..." from ips[] / OWNERS[]
  local i out=()
  for i in "${!ips[@]}"; do out+=("${ips[$i]}:${OWNERS[$i]}"); done
  echo "${out[*]}"
}

# answering: each address of ips[] that answers one probe, "IP -> MAC..." (nothing when none does)
answering() {
  local ip
  for ip in "${ips[@]}"; do
    (
      case "$ip" in *:*) m="$(nd_macs "$ip")" ;; *) m="$(arp_macs "$ip")" ;; esac
      [ -z "$m" ] || echo "$ip -> $(paste -sd' ' <<<"$m")"
    ) &
  done
  wait
}
mac_absent() { # MAC: no address of ips[] is answered by MAC
  local seen
  seen="$(answering)"
  echo "${seen:-no address answers}"
  ! grep -F -- "$1" <<<"$seen" >/dev/null
}
silent_until() { # END_MS T_REF: no address of ips[] answers any probe until END_MS
  local seen
  while [ "$(now_ms)" -lt "$1" ]; do
    seen="$(answering)"
    if [ -n "$seen" ]; then
      echo "answered $(elapsed_ms "$2") ms after the fence: $seen"
      return 1
    fi
  done
  echo "no address answered until $(($1 - $2)) ms after the fence"
}

# watch_answers MAC SECS: every address of ips[] probed in a loop of its own (one request, 0.2 s
# wait) until it has answered from MAC alone for 1.5 s running, or SECS pass; probe times and
# verdicts in $LAB_DIR/watch.I ("MS 1|0" lines)
_watch_one() { # IP MAC END_MS FILE
  local t since=""
  : >"$4"
  while [ "$(now_ms)" -lt "$3" ]; do
    t="$(now_ms)"
    if ARP_WAIT=0.2 ND_WAIT=150 mac_answers "$1" "$2" >/dev/null 2>&1; then
      since="${since:-$t}"
      echo "$t 1" >>"$4"
      [ $((t - since)) -lt 1500 ] || break
    else
      since=""
      echo "$t 0" >>"$4"
    fi
  done
}
watch_answers() {
  local i end pids=()
  end=$(($(now_ms) + $2 * 1000))
  for i in "${!ips[@]}"; do
    _watch_one "${ips[$i]}" "$1" "$end" "$LAB_DIR/watch.$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
}
# watch_figures T0: one line per address (first answer, answering steadily since: ms after T0);
# sets FIRST_MAX and STEADY_MAX (the last address's; -1 when an address never got there)
FIRST_MAX=-1
STEADY_MAX=-1
watch_figures() {
  local i f s n
  FIRST_MAX=0 STEADY_MAX=0
  for i in "${!ips[@]}"; do
    read -r f s n < <(awk -v t0="$1" '
      { n++ }
      $2 == 1 && !got { first = $1 - t0; got = 1 }
      $2 == 0 { up = 0 }
      $2 == 1 && !up { steady = $1 - t0; up = 1 }
      END { print (got ? first : -1), (up ? steady : -1), n + 0 }' "$LAB_DIR/watch.$i")
    echo "#   ${ips[$i]}: first answer from ${macs[$i]} +$f ms, answering steadily from +$s ms ($n probes)"
    if [ "$f" -lt 0 ] || [ "$FIRST_MAX" -lt 0 ]; then FIRST_MAX=-1; elif [ "$f" -gt "$FIRST_MAX" ]; then FIRST_MAX="$f"; fi
    if [ "$s" -lt 0 ] || [ "$STEADY_MAX" -lt 0 ]; then STEADY_MAX=-1; elif [ "$s" -gt "$STEADY_MAX" ]; then STEADY_MAX="$s"; fi
  done
}
within_ms() { # VALUE LIMIT_MS: 0 <= VALUE < LIMIT_MS
  echo "$1 ms (limit $2 ms)"
  [ "$1" -ge 0 ] && [ "$1" -lt "$2" ]
}

# fence_events NODE LINE T0: NODE's fencing lines after line LINE of its current log, with their
# time after T0 (informational)
fence_events() {
  local ts line
  log_since "ferrolb-$1" "$2" | grep -E "$ALIVE_LINE|$UNFENCED_LINE|$SERVING_LINE" | while read -r ts line; do
    case "$line" in
      *"$ALIVE_LINE"*) line="lost quorum (heartbeats show them alive)" ;;
      *"$UNFENCED_LINE"*) line="no longer fenced" ;;
      *) line="no quorum: still serving" ;;
    esac
    echo "#   $1 +$(($(date -d "$ts" +%s%3N) - $3)) ms: $line"
  done
}

# no_more NODE PATTERN COUNT...: NODE's log has still COUNT lines matching PATTERN (any new one is
# printed); several NODE PATTERN COUNT triples may follow
no_more() {
  local rc=0
  while [ "$#" -ge 3 ]; do
    if [ "$(log_count "$1" "$2")" != "$3" ]; then
      echo "$1 logged '$2' again:"
      nlog "$1" | grep -- "$2" | tail -n +"$(($3 + 1))"
      rc=1
    fi
    shift 3
  done
  return "$rc"
}

# FENCE_KEEP_LOGS=DIR: the speakers' logs are copied there at teardown
_keep_logs() { [ -z "${FENCE_KEEP_LOGS:-}" ] || { mkdir -p "$FENCE_KEEP_LOGS" && cp "$LAB_DIR"/ferrolb-*.log* "$FENCE_KEEP_LOGS/"; }; }
lab_at_teardown _keep_logs

gossip_stats() { # NODE...: suspicion and refutation counters, local health (informational)
  local n
  for n in "$@"; do
    printf '%s: suspicions %s, refutations %s, local health %s; ' "$n" "$(metric "$n" ferrolb_membership_suspicions_total)" \
      "$(metric "$n" ferrolb_membership_refutations_total)" "$(metric "$n" ferrolb_membership_local_health)"
  done
  echo
}

kill9() { # NODE...: kill -9 their speakers by pid, then forget the pid files
  local n p
  for n in "$@"; do
    p="$(speaker_pid "$n")" && kill -KILL "$p"
  done
  for n in "$@"; do lab kill "ferrolb-$n" KILL >/dev/null 2>&1; done
}

# ================================================================ setup
lab_manifests
NODES=(node1 node2 node3)
for n in "${NODES[@]}"; do FLAGS[$n]="--membership-key-file $LAB_DIR/key"; done
lab_key "$LAB_DIR/key"
lab_nodes_yaml "${NODES[@]}" | put cluster.yaml
lab_l2_pool_yaml lan 172.30.0.100-172.30.0.119 fd00:30::100-fd00:30::119 | put pools.yaml
for i in 1 2 3 4 5; do service "s$i" "2$i" Cluster "node$(((i - 1) % 3 + 1))" -4; done
service web 10 Cluster node2
start_speakers

echo "# three speakers, membership with a shared key, witness: $STATE/heartbeats"
wait_for 6 "every speaker sees 3 members" members_all 3 "${NODES[@]}"
check "every speaker has quorum" quorum_all 1 "${NODES[@]}"
wait_for 4 "the 6 services have their addresses (5 IPv4, web dual-stack)" svcs_ready || fatal "services without addresses"
all_fresh() { local n; for n in "${NODES[@]}"; do hb_fresh "$n" || return 1; done; }
wait_for 3 "each speaker renews its heartbeat file" all_fresh
expect_plan "${NODES[@]}" || fatal "plan names no winners: $(cat "$PLAN.err")"
echo "# plan, all three alive: $(owners_line)"
wait_for 5 "start: each of the ${#ips[@]} addresses answers with plan's winner's MAC" macs_answer
check "start: and no other MAC answers (arping -d, ndisc6)" macs_only

# ================================================================ 1. double failure
# the survivor: the node that owns the fewest addresses, so the two killed own some (most)
S=""
for n in "${NODES[@]}"; do
  if [ -z "$S" ] || [ "$(owned "$n")" -lt "$(owned "$S")" ]; then S="$n"; fi
done
read -r -a DEAD <<<"$(others_of "$S")"
echo "# 1. double failure: kill -9 ${DEAD[*]} (own $(($(owned "${DEAD[0]}") + $(owned "${DEAD[1]}"))) of ${#ips[@]} addresses); $S survives"
line0="$(log_lines "ferrolb-$S")"
alive0="$(log_count "$S" "$ALIVE_LINE")"
serving0="$(log_count "$S" "$SERVING_LINE")"
expect_one "$S"
T0="$(now_ms)"
kill9 "${DEAD[@]}"
watch_answers "$(mac_of "$S")" 9
watch_figures "$T0"
SURVIVOR_FIRST="$FIRST_MAX"
SURVIVOR_STEADY="$STEADY_MAX"
echo "# 1. survivor $S: last address first answered +$FIRST_MAX ms, every address answering steadily from +$STEADY_MAX ms after the kill"
check "double failure: $S answers every address within $SURVIVE s of the kill (first answer of the last one)" within_ms "$FIRST_MAX" $((SURVIVE * 1000))
check "double failure: every address answers steadily from $S within $SURVIVE s" within_ms "$STEADY_MAX" $((SURVIVE * 1000))
check "double failure: only $S's MAC answers each address (arping -d, ndisc6)" macs_only
wait_for 2 "double failure: $S logs '... $SERVING_LINE'" log_more "$S" "$SERVING_LINE" "$serving0"
# ms from the survivor's fence line to its unfence line (0: never fenced)
fenced_for() {
  local a u
  a="$(log_ms "ferrolb-$S" "$line0" "$ALIVE_LINE")" || { echo 0 && return; }
  u="$(log_ms "ferrolb-$S" "$line0" "$UNFENCED_LINE")" || { echo 999999 && return; }
  echo $((u - a))
}
DARK_MS="$(fenced_for)"
echo "# 1. survivor $S fenced for $DARK_MS ms"
check "double failure: $S is fenced for at most $GRACE_DARK ms (the grace: the dead heartbeats were not renewed since the loss)" within_ms "$DARK_MS" "$GRACE_DARK"
fence_events "$S" "$line0" "$T0"
wait_for 3 "double failure: $S sees 1 member" metric_is "$S" ferrolb_membership_members 1
check "double failure: $S reports no quorum" metric_is "$S" ferrolb_membership_quorum_bool 0
all_announced() { local ip; for ip in "${ips[@]}"; do announces "$1" "$ip" || { echo "$1 does not announce $ip" && return 1; }; done; }
check "double failure: $S announces every address (metallb_speaker_announced)" all_announced "$S"
tok="$(cat "$(hb_file "$S")")"
wait_for 2.5 "double failure: $S keeps renewing its heartbeat" hb_changed "$S" "$tok"
check "double failure: $S's heartbeat is fresh" hb_fresh "$S"
wait_for 4 "double failure: ${DEAD[0]}'s heartbeat is stale" hb_stale "${DEAD[0]}"
check "double failure: ${DEAD[1]}'s heartbeat is stale" hb_stale "${DEAD[1]}"

# ================================================================ 2. the two restarted
echo "# 2. restart ${DEAD[*]}"
for n in "${DEAD[@]}"; do start_speaker "$n" || fatal "restart ferrolb in $n"; done
wait_for 6 "restarted: every speaker sees 3 members" members_all 3 "${NODES[@]}"
check "restarted: every speaker has quorum" quorum_all 1 "${NODES[@]}"
wait_for 3 "restarted: ${DEAD[0]}'s heartbeat is fresh again" hb_fresh "${DEAD[0]}"
check "restarted: ${DEAD[1]}'s heartbeat is fresh again" hb_fresh "${DEAD[1]}"
expect_plan "${NODES[@]}" || fatal "plan names no winners: $(cat "$PLAN.err")"
wait_for 5 "restarted: each address answers with plan's winner's MAC" macs_answer
check "restarted: and no other MAC answers (arping -d, ndisc6)" macs_only

# ================================================================ 3. gossip-only partition of node3
P=node3
echo "# 3. gossip partition: UDP $MPORT dropped in $P's namespace (nft table $FENCE_TABLE); heartbeats still shared"
echo "#    $P owns $(owned "$P") of ${#ips[@]} addresses with all three alive"
line0="$(log_lines "ferrolb-$P")"
alive0="$(log_count "$P" "$ALIVE_LINE")"
unfenced0="$(log_count "$P" "$UNFENCED_LINE")"
l1="$(log_lines ferrolb-node1)"
l2="$(log_lines ferrolb-node2)"
lost1="$(log_count node1 "lost quorum")"
lost2="$(log_count node2 "lost quorum")"
echo "#    before: $(gossip_stats node1 node2)"
T0="$(now_ms)"
FENCED_NODE="$P"
check "partition: nft drops UDP $MPORT in and out of $P" gossip_cut "$P"
wait_for 3 "partition: $P logs 'lost quorum ... $ALIVE_LINE'" log_more "$P" "$ALIVE_LINE" "$alive0"
FENCE_MS=-1
t="$(log_ms "ferrolb-$P" "$line0" "$ALIVE_LINE")" && FENCE_MS=$((t - T0))
echo "# 3. $P fenced itself $FENCE_MS ms after its gossip was dropped"
echo "#    $(log_since "ferrolb-$P" "$line0" | grep -m1 "$ALIVE_LINE" | grep -o 'witness=Some([^)]*)' || true)"
wait_for 1 "partition: $P announces nothing (metallb_speaker_announced)" announces_none "$P"
check "partition: $P reports no quorum" metric_is "$P" ferrolb_membership_quorum_bool 0
check "partition: $P's heartbeat stays fresh (the witness is reachable)" hb_fresh "$P"
wait_for 3 "partition: node1 and node2 see 2 members" members_all 2 node1 node2
check "partition: node1 and node2 keep quorum" quorum_all 1 node1 node2
expect_plan node1 node2 || fatal "plan names no winners: $(cat "$PLAN.err")"
wait_for 3 "partition: each address answers as plan --live-nodes node1,node2 says" macs_answer
check "partition: and from that MAC only (arping -d, ndisc6)" macs_only
check "partition: $P's MAC ($(mac_of "$P")) answers no address" mac_absent "$(mac_of "$P")"
check "partition: neither node1 nor node2 logs 'lost quorum'" no_more node1 "lost quorum" "$lost1" node2 "lost quorum" "$lost2"
echo "#    during: $(gossip_stats node1 node2)"
fence_events node1 "$l1" "$T0"
fence_events node2 "$l2" "$T0"
check "partition: $P is still fenced ($(($(now_ms) - T0)) ms in)" no_more "$P" "$UNFENCED_LINE" "$unfenced0"
T1="$(now_ms)"
check "partition healed: nft table deleted in $P" gossip_heal "$P" && FENCED_NODE=""
wait_for 5 "partition healed: every speaker sees 3 members" members_all 3 "${NODES[@]}"
wait_for 3 "partition healed: $P logs '$UNFENCED_LINE'" log_more "$P" "$UNFENCED_LINE" "$unfenced0"
t="$(log_ms "ferrolb-$P" "$line0" "$UNFENCED_LINE")" && echo "# 3. $P unfenced $((t - T1)) ms after the table was deleted"
check "partition healed: $P has quorum" metric_is "$P" ferrolb_membership_quorum_bool 1
expect_plan "${NODES[@]}" || fatal "plan names no winners: $(cat "$PLAN.err")"
wait_for 5 "partition healed: each address answers with plan's winner's MAC" macs_answer
check "partition healed: and no other MAC answers (arping -d, ndisc6)" macs_only

# ================================================================ 4. one-node cold start
echo "# 4. cold start: kill -9 all three, heartbeats left to go stale, then node1 alone"
TK="$(now_ms)"
kill9 "${NODES[@]}"
nap 3.5
all_stale() { local n; for n in "${NODES[@]}"; do hb_stale "$n" || return 1; done; }
wait_for 2 "cold start: every heartbeat is stale ($(elapsed_ms "$TK") ms after the kill)" all_stale
serving0="$(log_count node1 "$SERVING_LINE")"
expect_one node1
T0="$(now_ms)"
start_speaker node1 || fatal "start ferrolb in node1"
watch_answers "$(mac_of node1)" 10
watch_figures "$T0"
COLD_FIRST="$FIRST_MAX"
COLD_STEADY="$STEADY_MAX"
echo "# 4. node1 alone: last address first answered +$FIRST_MAX ms, every address steadily from +$STEADY_MAX ms after its start"
check "cold start: node1 answers every address within $COLD s of its start" within_ms "$FIRST_MAX" $((COLD * 1000))
check "cold start: every address answers steadily from node1 within $COLD s" within_ms "$STEADY_MAX" $((COLD * 1000))
wait_for 2 "cold start: node1 logs '... $SERVING_LINE'" log_more node1 "$SERVING_LINE" "$serving0"
fence_events node1 0 "$T0"
check "cold start: node1 sees 1 member, of 3 Node objects" metric_is node1 ferrolb_membership_members 1
check "cold start: only node1's MAC answers each address (arping -d, ndisc6)" macs_only

# ================================================================ 5. --strict-fencing
echo "# 5. --strict-fencing: quorum alone decides"
kill9 node1
for n in "${NODES[@]}"; do FLAGS[$n]="${FLAGS[$n]} --strict-fencing"; done
start_speakers
# (once seen failing in CI with node1's metrics absent for the whole wait: the speakers' log
# tails say why, should it happen again)
wait_for 6 "strict: every speaker sees 3 members" members_all 3 "${NODES[@]}" || for n in "${NODES[@]}"; do
  echo "# $n's log, last lines:"
  tail -n 12 "$LAB_DIR/ferrolb-$n.log" 2>/dev/null | sed 's/^/#   /'
done
check "strict: every speaker has quorum" quorum_all 1 "${NODES[@]}"
expect_plan "${NODES[@]}" || fatal "plan names no winners: $(cat "$PLAN.err")"
wait_for 5 "strict: each address answers with plan's winner's MAC" macs_answer
S=""
for n in "${NODES[@]}"; do
  if [ -z "$S" ] || [ "$(owned "$n")" -gt "$(owned "$S")" ]; then S="$n"; fi
done
read -r -a DEAD <<<"$(others_of "$S")"
echo "# 5. kill -9 ${DEAD[*]}; $S (owner of $(owned "$S") addresses) survives"
line0="$(log_lines "ferrolb-$S")"
alive0="$(log_count "$S" "$ALIVE_LINE")"
serving0="$(log_count "$S" "$SERVING_LINE")"
T0="$(now_ms)"
kill9 "${DEAD[@]}"
wait_for 3 "strict: $S logs 'lost quorum'" log_more "$S" "$ALIVE_LINE" "$alive0"
DET="$(log_ms "ferrolb-$S" "$line0" "$ALIVE_LINE")" || DET="$(now_ms)"
STRICT_MS=$((DET - T0))
echo "# 5. $S fenced itself $STRICT_MS ms after the kill"
check "strict: $S answers no address for $STRICT_QUIET s after it fenced itself" silent_until $((DET + STRICT_QUIET * 1000)) "$DET"
check "strict: $S reports no quorum" metric_is "$S" ferrolb_membership_quorum_bool 0
check "strict: $S announces nothing" announces_none "$S"
check "strict: $S never logs '$SERVING_LINE'" no_more "$S" "$SERVING_LINE" "$serving0"
check "strict: $S is still fenced" test "$(log_since "ferrolb-$S" "$line0" | grep -c "$UNFENCED_LINE")" = 0

no_panic
echo "# figures: double failure $SURVIVOR_FIRST ms (fenced $DARK_MS ms) (steady $SURVIVOR_STEADY ms); partition fence $FENCE_MS ms; cold start $COLD_FIRST ms (steady $COLD_STEADY ms); strict fence $STRICT_MS ms"
summary
