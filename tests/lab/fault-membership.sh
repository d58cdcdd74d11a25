#!/usr/bin/env bash
# Fault benchmark: speaker membership (SWIM + Lifeguard over UDP 7946) under random gossip loss.
# Not run by run-all.sh (it runs smoke.sh and e2e-*.sh only): about 13 minutes with the defaults.
#
# Set-up (as e2e-membership.sh): `ferrolb run --node nodeK --source dir:DIR` in node1..node3 on
# one shared manifest directory (Nodes with InternalIP 172.30.0.1K, the pool 172.30.0.100-119
# with an L2Advertisement, SERVICES single-stack IPv4 Services, externalTrafficPolicy Cluster),
# membership on UDP 7946 with a shared key file. The owner of each address is plan's winner with
# all three alive (`ferrolb plan --live-nodes node1,node2,node3` on a copy of DIR), confirmed on
# the wire (the MAC that answers ARP from the router namespace); every node must own some.
#
# Loss: in each node namespace an nftables table inet ferrolb_lab_loss that drops N % of the UDP
# datagrams to port 7946 at random (`numgen random mod 100 < N`; the kernel here has no netem).
# "N % each way" (the default, LOSS_HOOKS=output) means each datagram, whichever way it goes,
# is dropped with probability N/100, once, as it leaves its sender (output hook); a probe and
# its ack then both arrive with (1 - N/100)^2 (25 %: 56 %). LOSS_HOOKS=both drops N % again,
# independently, as it reaches its receiver (input hook): a datagram then arrives with
# (1 - N/100)^2 (25 %: 56 %, i.e. 44 % lost) and a probe and its ack with (1 - N/100)^4
# (25 %: 32 %), a harsher test than the issue's "25 % each way". The rules count what they see
# and drop; the measured rates are printed. The tables are replaced
# from one level to the next, and deleted in the teardown.
#
# For each level N (LOSS_LEVELS, default "5 10 20 25:300"; N:SECS sets a level's duration,
# otherwise LOSS_SECONDS, default 120):
#   1. quiet period, loss on, nothing killed, SECS seconds: tcpdump in the router namespace
#      records every gratuitous ARP (lib.sh garp_filter); a GARP for an address from a MAC other
#      than its owner at the start is a false failover. Each node's /metrics is sampled every
#      SAMPLE s (ferrolb_membership_members, _quorum_bool, _local_health) and read before and
#      after (ferrolb_membership_suspicions_total, _refutations_total, _transitions_total{kind=
#      "down"}); "member down" and "lost quorum" lines of the speakers' logs are counted;
#   2. still under loss, KILLS times (default 3): kill -9 (by pid) the owner of one address (the
#      victim node rotates), time from the kill to the first GARP for that address from another
#      MAC (tcpdump's timestamp - the time read right before the kill), the GARP senders (one
#      MAC, and whether it is plan's winner without the victim); then the victim is restarted and
#      the run waits for 3 members everywhere and every address answering from its owner again.
# Checks: per level, no false GARP and the slowest detection under DETECT_MS (default 3000); per
# kill, the GARPs after the kill come from a single MAC; the set-up and each rejoin converge; no
# panic. Prints one line per check, one figure line per kill and per level, a table at the end,
# and "N passed, M failed" last; exit status 0 only when everything passed.
#
#   sudo FERROLB=target/debug/ferrolb LAB_PREFIX=lz tests/lab/fault-membership.sh
#   sudo LOSS_LEVELS="20" LOSS_SECONDS=30 KILLS=1 tests/lab/fault-membership.sh     # a short try
# Env: LOSS_LEVELS, LOSS_SECONDS, LOSS_HOOKS (output, default, or both), KILLS, SERVICES (3..20, default 10), DETECT_MS, SAMPLE (default
# 1 s), REJOIN (seconds allowed for a restarted speaker to be seen by all, default 30), LOG_LEVEL
# (default info), LOGS (a directory to copy the speakers' logs to before the teardown), FERROLB
# (default: cargo build -p ferrolb, target/debug/ferrolb), LAB_PREFIX / LAB_DIR as in lab.sh.
# Root, nftables (`nft`). Figures: docs/performance/membership.md.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb

LOSS_LEVELS="${LOSS_LEVELS:-5 10 20 25:300}"
LOSS_SECONDS="${LOSS_SECONDS:-120}"
KILLS="${KILLS:-3}"
SERVICES="${SERVICES:-10}"
DETECT_MS="${DETECT_MS:-3000}"
SAMPLE="${SAMPLE:-1}"
REJOIN="${REJOIN:-30}"
export LOG_LEVEL="${LOG_LEVEL:-info}"
MPORT=7946
TABLE=ferrolb_lab_loss
GARP_WAIT=10 # seconds to wait for a new owner's first GARP after a kill

for spec in $LOSS_LEVELS; do
  [[ "$spec" =~ ^[0-9]{1,2}(:[0-9]+)?$ ]] || {
    echo "LOSS_LEVELS: '$spec' is not N or N:SECS (N 0..99)"
    exit 2
  }
done
[[ "$LOSS_SECONDS" =~ ^[0-9]+$ ]] || { echo "LOSS_SECONDS must be a number of seconds" && exit 2; }
[[ "$KILLS" =~ ^[0-9]+$ ]] || { echo "KILLS must be a number" && exit 2; }
if ! [[ "$SERVICES" =~ ^[0-9]+$ ]] || [ "$SERVICES" -lt 3 ] || [ "$SERVICES" -gt 20 ]; then
  echo "SERVICES must be 3..20 (the pool has 20 addresses)"
  exit 2
fi

LOSS_HOOKS="${LOSS_HOOKS:-output}"
case "$LOSS_HOOKS" in
  output) EACH_WAY="N % each way: every node's nftables drops N % of the UDP datagrams to port $MPORT at random as they leave (output hook); a datagram between two speakers arrives with probability 1-N/100, a probe and its ack both with (1-N/100)^2" ;;
  both) EACH_WAY="N % each way, twice (LOSS_HOOKS=both): every node's nftables drops N % of the UDP datagrams to port $MPORT at random as they leave (output hook) and, independently, N % as they arrive (input hook); a datagram between two speakers arrives with probability (1-N/100)^2, a probe and its ack both with (1-N/100)^4" ;;
  *) echo "LOSS_HOOKS must be output or both" && exit 2 ;;
esac
input_pct() { if [ "$LOSS_HOOKS" = both ]; then echo "$1"; else echo 0; fi; } # PCT

# ---------------------------------------------------------------- loss (nftables in the nodes)
loss_set() { # NODE PCT: replace the table (counters start from 0)
  lab exec "$1" nft -f - <<EOF
table inet $TABLE
delete table inet $TABLE
table inet $TABLE {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport $MPORT counter
    udp dport $MPORT numgen random mod 100 < $(input_pct "$2") counter drop
  }
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport $MPORT counter
    udp dport $MPORT numgen random mod 100 < $2 counter drop
  }
}
EOF
}
loss_all() { # PCT
  local n rc=0
  for n in "${NODES[@]}"; do loss_set "$n" "$1" || rc=1; done
  return "$rc"
}
loss_teardown() { # teardown hook: the tables go (the namespaces are deleted right after anyway)
  local n
  for n in node1 node2 node3; do lab exec "$n" nft delete table inet "$TABLE" 2>/dev/null || true; done
}
# loss_counters NODE: "IN_SEEN IN_DROPPED OUT_SEEN OUT_DROPPED" (packets since the last loss_set)
loss_counters() {
  lab exec "$1" nft list table inet "$TABLE" | awk '
    /chain input/ { c = "in" } /chain output/ { c = "out" }
    /counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") v = $(i + 1); if (/ drop/) d[c] = v; else s[c] = v }
    END { printf "%d %d %d %d\n", s["in"], d["in"], s["out"], d["out"] }'
}

# ---------------------------------------------------------------- readings
# one /metrics read: "MEMBERS QUORUM HEALTH" ("? ? ?" when the endpoint does not answer)
sample_node() {
  local m
  m="$(metrics "$1")"
  [ -n "$m" ] || { echo "? ? ?" && return; }
  awk '$1 == "ferrolb_membership_members" { m = $2 } $1 == "ferrolb_membership_quorum_bool" { q = $2 }
       $1 == "ferrolb_membership_local_health" { h = $2 }
       END { print (m == "" ? "?" : m), (q == "" ? "?" : q), (h == "" ? "?" : h) }' <<<"$m"
}
num() { # a metric value or 0
  local v
  v="$(series "$1" "$2" 2>/dev/null)" || v=0
  [ "$v" != absent ] || v=0
  echo "${v%.*}"
}
# the speaker's own "member down" lines (not the gossip driver's "membership: member down")
md_count() { nlog "$1" | grep 'member down' | grep -vc 'membership: member down' || true; }
lq_count() { nlog "$1" | grep -c 'lost quorum' || true; }

all_have_ip() {
  local s
  for s in "${NAMES[@]}"; do test -n "$(svc_ip4 "$s")" || return 1; done
}
# owners at the start: OWN[NAME] = plan's winner with all three alive; ips[]/macs[] for macs_answer
declare -A OWN=() IP=()
set_owners() {
  local s w
  refresh_plan "${NODES[@]}" || return 1
  ips=()
  macs=()
  for s in "${NAMES[@]}"; do
    w="$(plan_winner "$s")" || return 1
    OWN[$s]="$w"
    IP[$s]="$(svc_ip4 "$s")"
    ips+=("${IP[$s]}")
    macs+=("$(mac_of "$w")")
  done
}
owner_counts() { # "node1 K1, node2 K2, node3 K3"
  local n s c out=()
  for n in "${NODES[@]}"; do
    c=0
    for s in "${NAMES[@]}"; do [ "${OWN[$s]}" != "$n" ] || c=$((c + 1)); done
    out+=("$n $c")
  done
  local IFS=,
  echo "${out[*]}" | sed 's/,/, /g'
}
every_node_owns() {
  local n s f
  for n in "${NODES[@]}"; do
    f=0
    for s in "${NAMES[@]}"; do [ "${OWN[$s]}" != "$n" ] || f=1; done
    [ "$f" = 1 ] || { echo "$n owns none of the addresses" && return 1; }
  done
}
node_of_mac() { case "$1" in 02:00:00:00:00:1[1-9]) echo "node${1: -1}" ;; *) echo "?" ;; esac; }

# a capture's gratuitous ARPs per (address, sender MAC) against the owners (ADDR=MAC arguments):
# prints "FALSE OWNER OTHER" first, then one line per false (address, MAC) pair
garp_tally() { # CAPTURE_LOG ADDR=OWNER_MAC...
  "$PY" - "$@" <<'EOF'
import re, sys
log, owners = sys.argv[1], dict(a.split("=") for a in sys.argv[2:])
pairs = {}
for line in open(log):
    f = line.split()
    if len(f) < 2 or not re.match(r"^\d+\.\d+$", f[0]):
        continue
    m = re.search(r"(?:who-has|Reply) (\d+\.\d+\.\d+\.\d+)", line)
    if not m:
        continue
    p = pairs.setdefault((m.group(1), f[1]), [0, float(f[0])])
    p[0] += 1
false = {k: v for k, v in pairs.items() if k[0] in owners and owners[k[0]] != k[1]}
owner = sum(v[0] for k, v in pairs.items() if owners.get(k[0]) == k[1])
other = sum(v[0] for k, v in pairs.items() if k[0] not in owners)
print(sum(v[0] for v in false.values()), owner, other)
for (ip, mac), (n, t) in sorted(false.items(), key=lambda kv: kv[1][1]):
    print("%s from %s (owner %s): %d GARPs, the first at %.6f" % (ip, mac, owners[ip], n, t))
EOF
}
# The start of the Python that reads speaker log lines between T0_MS and T1_MS (argv 1 and 2):
# ms(TIMESTAMP) turns a log line's RFC 3339 timestamp into epoch milliseconds
LOG_WINDOW_PY='import re, sys
from datetime import datetime, timezone
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
def ms(ts):
    d = datetime.strptime(ts[:26].rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc)
    return int(d.timestamp() * 1000)
'
# fence_windows T0_MS T1_MS NODE...: the fenced windows ("lost quorum" -> "no longer fenced")
# that began between T0 and T1 in the NODEs' logs: "COUNT TOTAL_MS LONGEST_MS" (a window still
# open at T1 ends at T1)
fence_windows() {
  local t0="$1" t1="$2" n
  shift 2
  for n in "$@"; do
    nlog "$n" | grep -E 'lost quorum|no longer fenced' | sed "s/^/$n /"
  done | "$PY" -c "$LOG_WINDOW_PY"'
open_at, wins = {}, []
for line in sys.stdin:
    f = line.split()
    node, t = f[0], ms(f[1])
    if "lost quorum" in line:
        open_at.setdefault(node, t)
    elif node in open_at:
        wins.append((open_at.pop(node), t))
wins += [(a, max(a, t1)) for a in open_at.values()]
wins = [(a, b) for a, b in wins if t0 <= a <= t1]
print(len(wins), sum(b - a for a, b in wins), max((b - a for a, b in wins), default=0))' "$t0" "$t1"
}
# down_windows T0_MS T1_MS NODE...: each "member down" a NODE logged between T0 and T1, with the
# time until its "member up" for the same member, one line each
down_windows() {
  local t0="$1" t1="$2" n
  shift 2
  for n in "$@"; do
    nlog "$n" | grep -E "^[^ ]+ +[A-Z]+ member (down|up) node=$n member=" | sed "s/^/$n /"
  done | "$PY" -c "$LOG_WINDOW_PY"'
down, out = {}, []
for line in sys.stdin:
    f = line.split()
    node, ts, m = f[0], f[1], re.search(r"member=(\S+)", line).group(1)
    if " member down " in line:
        down[(node, m)] = (ms(ts), ts)
    elif (node, m) in down:
        t, s = down.pop((node, m))
        out.append((t, "%s saw %s down at %s, up again %d ms later" % (node, m, s, ms(ts) - t)))
out += [(t, "%s saw %s down at %s, not up again" % (k[0], k[1], s)) for k, (t, s) in down.items()]
for t, line in sorted(out):
    if t0 <= t <= t1:
        print("member down: " + line)' "$t0" "$t1"
}
gmax() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "?") print b; else if (b == "?") print a; else print (a + 0 > b + 0 ? a : b) }'; }
gmin() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "?") print b; else if (b == "?") print a; else print (a + 0 < b + 0 ? a : b) }'; }

# ---------------------------------------------------------------- set-up
lab_setup 3
[ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
"$FERROLB" run --help 2>/dev/null | grep -q -- --membership-bind ||
  fatal "'ferrolb run' in $FERROLB has no --membership-bind (membership not wired yet)"
command -v nft >/dev/null || fatal "nft is missing (Debian package nftables)"
lab_at_teardown loss_teardown
lab_manifests
NODES=(node1 node2 node3)
lab_key "$LAB_DIR/key"
for n in "${NODES[@]}"; do FLAGS[$n]="--membership-key-file $LAB_DIR/key"; done
lab_nodes_yaml "${NODES[@]}" | put cluster.yaml
lab_l2_pool_yaml lan 172.30.0.100-172.30.0.119 | put pools.yaml
NAMES=()
for i in $(seq 1 "$SERVICES"); do
  service "s$i" "$((10 + i))" Cluster "node$(((i - 1) % 3 + 1))" -4
  NAMES+=("s$i")
done
check "nftables: the loss table loads in every node (numgen random, 0 % for now)" loss_all 0 ||
  fatal "cannot install the nftables loss rules"
loss_teardown
echo "# $EACH_WAY"

start_speakers
wait_for 10 "every speaker sees 3 members" members_all 3 "${NODES[@]}" || fatal "no membership"
check "every speaker has quorum" quorum_all 1 "${NODES[@]}"
wait_for 10 "the $SERVICES Services get an IPv4 address" all_have_ip || fatal "Services without addresses"
set_owners || fatal "plan names no single layer2 winner: $(cat "$PLAN.err" 2>/dev/null)"
echo "# owners (plan, all three alive): $(owner_counts)"
check "every node owns some of the addresses" every_node_owns
wait_for 10 "each of the $SERVICES addresses answers ARP with its owner's MAC" macs_answer ||
  fatal "the addresses do not answer as plan says"
nap 2 # the start-up GARP bursts are over before the first capture

# ---------------------------------------------------------------- one level
ROWS=()
KILLNO=0
level() { # PCT SECS
  local pct="$1" secs="$2" n s t0 t1 end cap tally false owner_g other_g m q h a b c d
  local sug=0 ref=0 mdown=0 lq=0 tdown=0 hmax="?" mmin="?" qmin="?" samples=0 silent=0 cin=0 cind=0 cout=0 coutd=0
  local -A S0=() R0=() MD0=() LQ0=() TD0=()
  echo "# ---- $pct % gossip loss each way: $secs s without a kill, then $KILLS kill(s) of an owner"
  wait_for 30 "$pct %: before: every speaker sees 3 members" members_all 3 "${NODES[@]}"
  set_owners || check "$pct %: plan names the owners" false
  wait_for 15 "$pct %: before: each address answers with its owner's MAC" macs_answer
  for n in "${NODES[@]}"; do
    S0[$n]="$(num "$n" ferrolb_membership_suspicions_total)"
    R0[$n]="$(num "$n" ferrolb_membership_refutations_total)"
    TD0[$n]="$(num "$n" 'ferrolb_membership_transitions_total{kind="down"}')"
    MD0[$n]="$(md_count "$n")"
    LQ0[$n]="$(lq_count "$n")"
  done
  cap="garp-$pct"
  cap_start "$cap" "$(garp_filter)" $((secs + 60)) || return
  t0="$(now_ms)"
  check "$pct %: loss on (nftables in node1..node3)" loss_all "$pct" || { cap_stop "$cap" && return; }
  end=$((t0 + secs * 1000))
  while [ "$(now_ms)" -lt "$end" ]; do
    for n in "${NODES[@]}"; do
      read -r m q h <<<"$(sample_node "$n")"
      samples=$((samples + 1))
      [ "$m" != "?" ] || silent=$((silent + 1))
      hmax="$(gmax "$hmax" "$h")"
      mmin="$(gmin "$mmin" "$m")"
      qmin="$(gmin "$qmin" "$q")"
    done
    nap "$SAMPLE"
  done
  t1="$(now_ms)"
  for n in "${NODES[@]}"; do
    read -r a b c d <<<"$(loss_counters "$n")"
    cin=$((cin + a)) cind=$((cind + b)) cout=$((cout + c)) coutd=$((coutd + d))
    s="$(num "$n" ferrolb_membership_suspicions_total)"
    sug=$((sug + s - S0[$n]))
    s="$(num "$n" ferrolb_membership_refutations_total)"
    ref=$((ref + s - R0[$n]))
    s="$(num "$n" 'ferrolb_membership_transitions_total{kind="down"}')"
    tdown=$((tdown + s - TD0[$n]))
    s="$(md_count "$n")"
    mdown=$((mdown + s - MD0[$n]))
    s="$(lq_count "$n")"
    lq=$((lq + s - LQ0[$n]))
    echo "#    $n: suspicions +$(($(num "$n" ferrolb_membership_suspicions_total) - S0[$n])), refutations +$(($(num "$n" ferrolb_membership_refutations_total) - R0[$n])), 'member down' +$(($(md_count "$n") - MD0[$n])), 'lost quorum' +$(($(lq_count "$n") - LQ0[$n])); nft: in $a seen / $b dropped, out $c seen / $d dropped"
  done
  local fcount ftotal flong
  read -r fcount ftotal flong <<<"$(fence_windows "$t0" "$t1" "${NODES[@]}")"
  nap 1 # a GARP sent at the very end reaches the capture
  cap_stop "$cap"
  local args=()
  for s in "${NAMES[@]}"; do args+=("${IP[$s]}=$(mac_of "${OWN[$s]}")"); done
  tally="$(garp_tally "$LAB_DIR/$cap.log" "${args[@]}")"
  read -r false owner_g other_g <<<"$(head -n 1 <<<"$tally")"
  local rin rout
  rin="$(awk -v a="$cind" -v b="$cin" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')"
  rout="$(awk -v a="$coutd" -v b="$cout" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }')"
  echo "$pct % each way, $(((t1 - t0) / 1000)) s, no kill: false GARPs $false (owners' GARPs $owner_g), 'member down' $mdown (transitions down $tdown), 'lost quorum' $lq (fenced $fcount times, $ftotal ms in all, the longest $flong ms), suspicions $sug, refutations $ref, max local health $hmax, min members $mmin, min quorum $qmin; measured drop: input $rin % of $cin, output $rout % of $cout"
  [ "$silent" = 0 ] || echo "#    $silent of $samples /metrics reads got no answer"
  if [ "$false" != 0 ]; then
    tail -n +2 <<<"$tally" | sed 's/^/#    false GARP: /'
  fi
  if [ "$mdown" != 0 ]; then
    down_windows "$t0" "$t1" "${NODES[@]}" | head -n 30 | sed 's/^/#    /'
  fi
  check "$pct %: no gratuitous ARP from a non-owner in $secs s under loss ($false false, $mdown 'member down')" test "$false" = 0

  # ---- kills under loss
  local k victim vs vip expect pid tk first ts gmac gmacs ms kms=() kmax=0 knone=0 gcount
  for k in $(seq 1 "$KILLS"); do
    victim="${NODES[$((KILLNO % 3))]}"
    vs=""
    local cand=()
    for s in "${NAMES[@]}"; do [ "${OWN[$s]}" != "$victim" ] || cand+=("$s"); done
    [ "${#cand[@]}" -gt 0 ] && vs="${cand[$((KILLNO / 3 % ${#cand[@]}))]}"
    KILLNO=$((KILLNO + 1))
    [ -n "$vs" ] || { check "$pct %: kill $k: $victim owns an address" false && continue; }
    vip="${IP[$vs]}"
    read -r -a rest <<<"$(others_of "$victim")"
    expect="$(winner_with "$vs" "${rest[@]}")" || expect="?"
    cap="kill-$pct-$k"
    cap_start "$cap" "$(garp_filter "$vip" "!$(mac_of "$victim")")" $((GARP_WAIT + 30)) || continue
    local -A L0=()
    for n in "${rest[@]}"; do L0[$n]="$(log_lines "ferrolb-$n")"; done
    pid="$(speaker_pid "$victim")" || { check "$pct %: kill $k: ferrolb-$victim runs" false && cap_stop "$cap" && continue; }
    tk="$EPOCHREALTIME"
    kill -KILL "$pid"
    first=""
    end=$(($(now_ms) + GARP_WAIT * 1000))
    while [ "$(now_ms)" -lt "$end" ]; do
      first="$(cap_after "$cap" "$tk")" && break
      first=""
      nap 0.02
    done
    nap 1 # the rest of the new owner's burst (and any other sender's)
    cap_stop "$cap"
    local seen=() t
    for n in "${rest[@]}"; do # when the survivors logged the victim down (their log's clock)
      if t="$(log_ms "ferrolb-$n" "${L0[$n]}" " member down node=$n member=$victim\$")"; then
        seen+=("$n $(awk -v a="$tk" -v b="$t" 'BEGIN { printf "%d", b - a * 1000 }') ms")
      else
        seen+=("$n never")
      fi
    done
    gmacs="$(awk -v t="$tk" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 >= t + 0 { print $2 }' "$LAB_DIR/$cap.log" | sort -u | paste -sd' ')"
    gcount="$(awk -v t="$tk" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 >= t + 0 { n++ } END { print n + 0 }' "$LAB_DIR/$cap.log")"
    if [ -n "$first" ]; then
      ts="$(awk '{ print $1 }' <<<"$first")"
      gmac="$(awk '{ print $2 }' <<<"$first")"
      ms="$(awk -v a="$tk" -v b="$ts" 'BEGIN { printf "%d", (b - a) * 1000 }')"
      kms+=("$ms")
      [ "$ms" -le "$kmax" ] || kmax="$ms"
      echo "$pct % each way, kill $k: kill -9 $victim (pid $pid, owner of $vs $vip) -> first GARP for $vip from $gmac ($(node_of_mac "$gmac")) after $ms ms; plan without $victim: $expect ($([ "$(node_of_mac "$gmac")" = "$expect" ] && echo same || echo DIFFERENT)); $gcount GARPs in the next second from: $gmacs; 'member down' logged by $(printf '%s, ' "${seen[@]}" | sed 's/, $//')"
    else
      kms+=("none")
      knone=$((knone + 1))
      echo "$pct % each way, kill $k: kill -9 $victim (pid $pid, owner of $vs $vip) -> no GARP for $vip from another MAC within $GARP_WAIT s (plan without $victim: $expect); 'member down' logged by $(printf '%s, ' "${seen[@]}" | sed 's/, $//')"
    fi
    check "$pct %: kill $k: the GARPs for $vip after the kill come from one MAC (${gmacs:-none})" \
      test "$(wc -w <<<"$gmacs")" = 1
    # restart the victim; wait until all see 3 members and every address answers from its owner
    lab kill "ferrolb-$victim" KILL >/dev/null
    start_speaker "$victim" || fatal "restart ferrolb in $victim"
    wait_for "$REJOIN" "$pct %: kill $k: $victim restarted: every speaker sees 3 members" members_all 3 "${NODES[@]}"
    wait_for 15 "$pct %: kill $k: each address answers with its owner's MAC again" macs_answer
    nap 1
  done
  local kmaxs="-"
  if [ "${#kms[@]}" -gt 0 ]; then
    kmaxs="$kmax"
    [ "$knone" = 0 ] || kmaxs="none"
    check "$pct %: the slowest of the $KILLS detections (kill -> new owner's first GARP) is under $DETECT_MS ms (${kms[*]} ms)" \
      test "$knone" = 0 -a "$kmax" -lt "$DETECT_MS"
  fi
  ROWS+=("$pct|$secs|$false|$owner_g|$mdown|$lq|$ftotal/$flong|$sug|$ref|$hmax|$mmin|$qmin|$rin/$rout|${kms[*]:-}|$kmaxs")
}

for spec in $LOSS_LEVELS; do
  pct="${spec%%:*}"
  secs="$LOSS_SECONDS"
  [ "$spec" = "$pct" ] || secs="${spec#*:}"
  level "$pct" "$secs"
done

no_panic
check "every speaker still runs" sh -c "for n in ${NODES[*]}; do '$LAB_SH' pid ferrolb-\$n >/dev/null || exit 1; done"
if [ -n "${LOGS:-}" ]; then # keep the logs (the teardown removes LAB_DIR)
  mkdir -p "$LOGS" && cp "$LAB_DIR"/ferrolb-*.log* "$LAB_DIR"/garp-*.log "$LAB_DIR"/kill-*.log "$LOGS"/ 2>/dev/null
  echo "logs kept in $LOGS"
fi

echo
echo "three speakers, $SERVICES Layer 2 IPv4 addresses, gossip loss on UDP $MPORT ($EACH_WAY)"
printf '%-6s %5s %6s %6s %6s %6s %11s %7s %7s %6s %5s %5s %11s %-20s %7s\n' \
  loss secs falseG ownerG mdown lostQ "fenced ms" suspic refut maxLH minM minQ "drop in/out" "detect ms" "max ms"
for row in "${ROWS[@]}"; do
  IFS='|' read -r p s f o md lq fw su rf h mm qm dr km kx <<<"$row"
  printf '%-6s %5s %6s %6s %6s %6s %11s %7s %7s %6s %5s %5s %11s %-20s %7s\n' \
    "$p %" "$s" "$f" "$o" "$md" "$lq" "$fw" "$su" "$rf" "$h" "$mm" "$qm" "$dr" "${km// /,}" "$kx"
done
echo "(falseG: GARPs for an address from a MAC other than its owner's at the start of the quiet period;"
echo " ownerG: GARPs from the owners; mdown / lostQ: 'member down' / 'lost quorum' log lines of all three;"
echo " fenced ms: time the speakers spent fenced ('lost quorum' -> 'no longer fenced'), in all / the longest;"
echo " suspic / refut: increase of ferrolb_membership_suspicions_total / _refutations_total, summed;"
echo " maxLH: highest ferrolb_membership_local_health sampled; minM / minQ: lowest members / quorum sampled;"
echo " drop in/out: % of the UDP $MPORT datagrams the input / output rules dropped; detect: kill -9 of an"
echo " owner -> first GARP for its address from another MAC, per kill, under the same loss)"
summary
