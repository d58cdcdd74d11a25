#!/usr/bin/env bash
# Benchmark (issue 7, "Speed and safety"; docs/design.md, Performance targets): Layer 2 failover time, kill of the
# owning speaker -> first gratuitous ARP from another MAC on the router's wire. Not a test: run-all
# does not pick it up (perf-*), and no figure is asserted.
#
# With 2 and with 3 nodes (`ferrolb run` with membership and a shared key on one dir: source),
# RUNS times (default 10) for SIGKILL and RUNS times for SIGTERM:
#   1. find the owner of the test address (the MAC that answers ARP from the router);
#   2. start tcpdump on the router's eth0 (nanosecond epoch timestamps) for gratuitous ARPs
#      (`arp and arp[14:4] == arp[24:4]`) for the address from any MAC but the owner's;
#   3. note the time, signal the owner (bash's builtin kill, right after reading EPOCHREALTIME);
#   4. the first such GARP's timestamp - kill time = the failover figure; the new owner's MAC is
#      compared with plan's winner among the remaining nodes;
#   5. after the failover: only one MAC answers (arping -d); restart the killed speaker and wait
#      until every speaker sees N members and plan's winner answers alone (arping -d again).
# GARPs from a non-owner captured before the kill are counted as "stray" (they would poison ARP
# caches). Prints each run, a summary table (min / median / p90 / max per case) and writes the raw
# numbers to $OUT (default $LAB_DIR/failover.csv, written after the lab is torn down).
#
#   sudo tests/lab/perf-failover.sh
#   sudo RUNS=20 OUT=/tmp/failover.csv FERROLB=target/release/ferrolb tests/lab/perf-failover.sh
# Env: RUNS (default 10), OUT, FERROLB (default: cargo build, target/debug/ferrolb), NODE_SETS
# (default "2 3"), SIGNALS (default "KILL TERM"). Root; about 4 s per run (~3 min for the default).
# Last line: "N passed, M failed" (a run fails when no GARP from a new owner arrives within 5 s,
# the new owner is not plan's, two MACs answer, or the lab does not converge).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb

RUNS="${RUNS:-10}"
OUT="${OUT:-$LAB_DIR/failover.csv}"
NODE_SETS="${NODE_SETS:-2 3}"
SIGNALS="${SIGNALS:-KILL TERM}"
GARP_WAIT=5 # seconds to wait for the new owner's first GARP
ROWS="$(mktemp "${TMPDIR:-/tmp}/ferrolb-failover.XXXXXX")"
echo "nodes,signal,run,owner,new_owner,plan_new_owner,kill_epoch,garp_epoch,kill_to_garp_ms,stray_garps_before_kill,two_macs_after_failover,two_macs_after_restart,restart_converge_ms" >"$ROWS"

node_of_mac() { # 02:00:00:00:00:1K -> nodeK
  case "$1" in 02:00:00:00:00:1[1-9]) echo "node${1: -1}" ;; *) echo "?" ;; esac
}

DIR=""
STATE=""
NODES=()

manifests() {
  lab_nodes_yaml -n "${NODES[@]}" | put cluster.yaml
  lab_l2_pool_yaml lan 172.30.0.100-172.30.0.109 | put pools.yaml
  svc_yaml | put svc-web.yaml
}
svc_yaml() { # [IP]: the test Service (status IP given: plan's input)
  lab_service_yaml -4 web 10 Cluster node1 - "$@"
}
web_ip() { jget "$STATE/services/default/web.json" 'd["ingress"][0]["ip"]'; }
plan_winner() { # LIVE_NODE...: plan's layer2 winner for web
  local d="$LAB_DIR/plan-input" live
  live="$(
    IFS=,
    echo "$*"
  )"
  rm -rf "$d"
  mkdir -p "$d"
  cp "$DIR/cluster.yaml" "$DIR/pools.yaml" "$d/"
  svc_yaml "$VIP" >"$d/svc-web.yaml"
  "$FERROLB" plan -o json --live-nodes "$live" "$d" | "$PY" -c '
import json, sys
s = [s for s in json.load(sys.stdin)["services"] if s["name"] == "web"]
w = [a["node"] for a in (s[0].get("announcements") or []) if a["protocol"] == "layer2"] if s else []
print(w[0] if len(w) == 1 else "none")'
}

start_speaker() {
  local n="$1" f="$LAB_DIR/ferrolb-$1.log"
  if [ -f "$f" ]; then cat "$f" >>"$f.prev" && rm -f "$f"; fi
  LOG_LEVEL=info run_ferrolb "$n" "ferrolb-$n" --membership-key-file "$LAB_DIR/key"
}
members() { lab exec "$1" curl -s --max-time 1 http://127.0.0.1:9120/metrics | awk '$1 == "ferrolb_membership_members" { print $2 }'; }
all_members() { # every speaker sees N members
  local n
  for n in "${NODES[@]}"; do [ "$(members "$n")" = "${#NODES[@]}" ] || return 1; done
}
answer_mac() { lab exec router arping -i eth0 -c 1 -w 0.5 -r "$VIP" 2>/dev/null | head -n 1; }
# only MAC answers three requests (arping -d: exit 1 when two MACs answer)
only_mac() { # MAC
  local out
  out="$(lab exec router arping -d -i eth0 -c 3 -W 0.2 -w 2 -r "$VIP" 2>/dev/null)" || return 1
  [ "$(echo "$out" | sort -u)" = "$1" ]
}
two_macs() { # 1 if two MACs answer three requests (arping -d), else 0
  local out
  out="$(lab exec router arping -d -i eth0 -c 3 -W 0.2 -w 2 -r "$VIP" 2>/dev/null)"
  if [ "$(echo "$out" | grep . | sort -u | wc -l)" -gt 1 ]; then echo 1; else echo 0; fi
}
gone() { ! lab pid "ferrolb-$1"; }
converged() { # OWNER: all speakers see N members, OWNER's MAC alone answers
  all_members && only_mac "$(mac_of "$1")"
}
# first packet of capture NAME stamped at or after T: "EPOCH MAC"
first_after() {
  awk -v t="$2" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 >= t + 0 { print $1, $2; exit }' "$LAB_DIR/$1.log" 2>/dev/null
}
stray_before() { awk -v t="$2" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 < t + 0 { n++ } END { print n + 0 }' "$LAB_DIR/$1.log" 2>/dev/null; }
ms_between() { "$PY" -c 'import sys; from decimal import Decimal as D; print("%.3f" % ((D(sys.argv[2]) - D(sys.argv[1])) * 1000))' "$1" "$2"; }

one_run() { # N SIGNAL RUN
  local n="$1" sig="$2" run="$3" mac owner expect pid t0 first garp_ts new_mac new_owner lat stray d1 d2 t1 conv ok=1 i
  mac="$(answer_mac)"
  owner="$(node_of_mac "$mac")"
  if [ "$owner" = "?" ]; then
    echo "FAIL - $n nodes SIG$sig run $run: nobody answers $VIP"
    _lab_fail=$((_lab_fail + 1))
    return 1
  fi
  expect="${NEXT[$owner]}"
  lab kill cap KILL >/dev/null 2>&1
  lab spawn router cap timeout $((GARP_WAIT + 10)) tcpdump -i eth0 -n -e -l -tt --time-stamp-precision=nano \
    "arp and arp[14:4] == arp[24:4] and arp[24:4] == $VIPHEX and not ether src $mac" >/dev/null
  poll 3 grep -q 'listening on' "$LAB_DIR/cap.log" || echo "# tcpdump not listening"
  pid="$(lab pid "ferrolb-$owner")" || pid=""
  t0="$EPOCHREALTIME"
  kill -s "$sig" "$pid"
  first=""
  for ((i = 0; i < GARP_WAIT * 50; i++)); do
    first="$(first_after cap "$t0")"
    [ -z "$first" ] || break
    nap 0.02
  done
  stray="$(stray_before cap "$t0")"
  lab kill cap KILL >/dev/null 2>&1
  if [ -n "$first" ]; then
    read -r garp_ts new_mac <<<"$first"
    new_owner="$(node_of_mac "$new_mac")"
    lat="$(ms_between "$t0" "$garp_ts")"
  else
    garp_ts=""
    new_owner=none
    lat=""
    ok=0
  fi
  [ "$new_owner" = "$expect" ] || ok=0
  [ "$stray" = 0 ] || ok=0
  # the killed speaker is gone (TERM: let it exit by itself, within 5 s; then clean up its pid file)
  poll 5 gone "$owner" || echo "# ferrolb-$owner still running 5 s after SIG$sig"
  lab kill "ferrolb-$owner" KILL >/dev/null 2>&1
  # after the failover: the new owner alone answers
  poll 3 only_mac "$(mac_of "$expect")" || true
  d1="$(two_macs)"
  [ "$d1" = 0 ] || ok=0
  # restart the killed speaker, wait until it has the address back (plan with all nodes alive)
  t1="$(now_ms)"
  start_speaker "$owner"
  if poll 15 converged "$OWNER_ALL"; then conv="$(elapsed_ms "$t1")"; else
    conv=""
    ok=0
  fi
  d2="$(two_macs)"
  [ "$d2" = 0 ] || ok=0
  printf '%s nodes SIG%-4s run %2d: %s -> %s (plan: %s) kill->GARP %s ms; stray GARPs %s; two MACs after failover %s, after restart %s; restart converged in %s ms\n' \
    "$n" "$sig" "$run" "$owner" "$new_owner" "$expect" "${lat:-none}" "$stray" "$d1" "$d2" "${conv:-never}"
  echo "$n,$sig,$run,$owner,$new_owner,$expect,$t0,$garp_ts,$lat,$stray,$d1,$d2,$conv" >>"$ROWS"
  if [ "$ok" = 1 ]; then _lab_pass=$((_lab_pass + 1)); else
    echo "FAIL - $n nodes SIG$sig run $run"
    _lab_fail=$((_lab_fail + 1))
  fi
}

declare -A NEXT=()
for N in $NODE_SETS; do
  echo "# $N nodes"
  lab_setup "$N"
  "$FERROLB" run --help 2>/dev/null | grep -q -- --membership-bind ||
    fatal "'ferrolb run' in $FERROLB has no --membership-bind (membership not wired yet)"
  lab_manifests
  head -c 16 /dev/urandom | base64 | tr -d '=' >"$LAB_DIR/key"
  NODES=()
  for k in $(seq 1 "$N"); do NODES+=("node$k"); done
  VIP=""
  manifests
  for k in "${NODES[@]}"; do start_speaker "$k" || fatal "spawn ferrolb in $k"; done
  poll 10 web_ip || fatal "web gets no address"
  VIP="$(web_ip)"
  VIPHEX="$(ipv4_hex "$VIP")"
  OWNER_ALL="$(plan_winner "${NODES[@]}")"
  NEXT=()
  for k in "${NODES[@]}"; do
    rest=()
    for o in "${NODES[@]}"; do [ "$o" = "$k" ] || rest+=("$o"); done
    NEXT[$k]="$(plan_winner "${rest[@]}")"
  done
  echo "# $VIP: plan's owner $OWNER_ALL; without it: ${NEXT[$OWNER_ALL]}"
  poll 15 converged "$OWNER_ALL" || fatal "$N nodes: no convergence at start (members, $OWNER_ALL answering alone)"
  nap 1
  for sig in $SIGNALS; do
    for run in $(seq 1 "$RUNS"); do one_run "$N" "$sig" "$run"; done
  done
  if grep -l 'panicked at' "$LAB_DIR"/ferrolb-*.log* 2>/dev/null; then
    echo "FAIL - $N nodes: a ferrolb log has a panic"
    _lab_fail=$((_lab_fail + 1))
  fi
  lab_teardown
done

# ---------------------------------------------------------------- summary
"$PY" - "$ROWS" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def pct(xs, p):  # nearest rank
    xs = sorted(xs)
    k = max(1, -(-len(xs) * p // 100))
    return xs[int(k) - 1]
print()
print("| case | runs | GARP seen | min ms | median ms | p90 ms | max ms | wrong new owner | stray GARPs | runs with two MACs |")
print("|---|---|---|---|---|---|---|---|---|---|")
cases = []
for r in rows:
    c = (int(r["nodes"]), r["signal"])
    if c not in cases:
        cases.append(c)
for sig in ("KILL", "TERM"):
    for n in sorted({c[0] for c in cases}):
        rs = [r for r in rows if (int(r["nodes"]), r["signal"]) == (n, sig)]
        if not rs:
            continue
        lat = [float(r["kill_to_garp_ms"]) for r in rs if r["kill_to_garp_ms"]]
        med = statistics.median(lat) if lat else 0
        f = lambda v: "%.1f" % v if lat else "-"
        wrong = sum(1 for r in rs if r["new_owner"] != r["plan_new_owner"])
        stray = sum(int(r["stray_garps_before_kill"] or 0) for r in rs)
        two = sum(1 for r in rs if r["two_macs_after_failover"] != "0" or r["two_macs_after_restart"] != "0")
        print("| %d nodes SIG%s | %d | %d | %s | %s | %s | %s | %d | %d | %d |" % (
            n, sig, len(rs), len(lat), f(min(lat) if lat else 0), f(med), f(pct(lat, 90) if lat else 0),
            f(max(lat) if lat else 0), wrong, stray, two))
EOF
# $LAB_DIR is removed with the lab: the CSV is written once the last lab is down
mkdir -p "$(dirname "$OUT")"
cp "$ROWS" "$OUT" && echo "raw numbers: $OUT"
rm -f "$ROWS"
summary
