#!/usr/bin/env bash
# Smoke test of the demo (issue 10, item 1): runs `scripts/demo.sh --no-build` the way a user
# would, non-interactively, and checks what it promises:
#   1. a run exits 0 and prints each step's success line (addresses assigned, BIRD route, ARP
#      owner, failover with a time in ms, torn down), no failure or warning
#   2. a second run right after it works the same
#   3. a run with --keep leaves its lab up; the next run removes it first and succeeds
#   4. interrupted: Ctrl-C (SIGINT to the demo's whole process group) after ~3 s, and SIGINT to
#      the demo's own pid only after ~1.5 s: it exits 130 and says it tore everything down
#   5. not root: a clear message, exit 1, nothing created
# After every run: no demo-* namespace, no /tmp/ferrolb-lab-demo- directory, no process of the
# demo's process group and none of the processes seen in its namespaces is left.
# The demo runs in its own lab (LAB_PREFIX=demo-, set by the demo itself), so this script does
# not call lab_setup; it only uses lib.sh's check / summary.
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 45 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
export LAB_PREFIX=demo- # the demo's own (it forces it too): lib.sh and lab.sh then look at that lab
export LAB_DIR=/tmp/ferrolb-lab-demo-
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb
DEMO="$REPO/scripts/demo.sh"
export FERROLB

OUT="$(mktemp -d "${TMPDIR:-/tmp}/ferrolb-e2e-demo.XXXXXX")"
DEMO_PID=""
DEMO_RC=""
DEMO_SECS=""
LAST_PGID=""
declare -A SEEN=() # "pid" -> start time, of every process seen in a demo- namespace

starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }
alive() { # exists, is not a zombie, and has start time $2 (if given)
  local st
  st="$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ] || return 1
  [ -z "${2:-}" ] || [ "$(starttime "$1")" = "$2" ]
}
demo_namespaces() { ip netns list 2>/dev/null | awk '$1 ~ /^demo-/ { print $1 }'; }
sample_pids() {
  local ns p
  for ns in $(demo_namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do
      [ -n "${SEEN[$p]:-}" ] || SEEN[$p]="$(starttime "$p")"
    done
  done
}

# stop a demo that is still running (this script interrupted or timed out): TERM to its group
# (the demo tears its lab down on TERM), KILL after 20 s, then the lab's own teardown
stop_demo() {
  [ -n "$DEMO_PID" ] || return 0
  local i
  kill -TERM -- "-$DEMO_PID" 2>/dev/null
  for ((i = 0; i < 200; i++)); do
    alive "$DEMO_PID" || break
    nap 0.1
  done
  kill -KILL -- "-$DEMO_PID" 2>/dev/null
  wait "$DEMO_PID" 2>/dev/null
  DEMO_PID=""
  timeout 60 "$LAB_SH" down >/dev/null 2>&1
}
cleanup() {
  stop_demo
  [ -z "$(demo_namespaces)" ] || timeout 60 "$LAB_SH" down >/dev/null 2>&1
  rm -rf "$OUT"
}
finish() {
  cleanup
  summary
}
trap 'echo "FAIL - e2e-demo.sh ended early"; _lab_fail=$((_lab_fail + 1)); finish; exit 1' EXIT
trap 'echo "FAIL - interrupted"; _lab_fail=$((_lab_fail + 1)); finish; exit 130' INT TERM

# run_demo NAME INTERRUPT ARGS...: scripts/demo.sh --no-build ARGS... in its own process group
# (as a terminal would run it), output to $OUT/NAME.out; INTERRUPT is "" or "SECS group|pid":
# SIGINT after SECS to the whole group (Ctrl-C) or to the demo's pid only. Bounded by 120 s.
# Sets DEMO_RC and DEMO_SECS.
run_demo() {
  local name="$1" intr="$2" start secs target sent=0 end
  shift 2
  read -r secs target <<<"$intr"
  start="$(now_ms)"
  end=$((start + 120000))
  set -m # job control: the demo gets its own process group, and SIGINT is not ignored in it
  "$DEMO" --no-build "$@" </dev/null >"$OUT/$name.out" 2>&1 &
  DEMO_PID=$!
  LAST_PGID="$DEMO_PID" # job control: its process group id is its pid
  set +m
  while alive "$DEMO_PID"; do
    sample_pids
    if [ -n "$intr" ] && [ "$sent" = 0 ] && [ "$(elapsed_ms "$start")" -ge "$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')" ]; then
      if [ "$target" = group ]; then kill -INT -- "-$DEMO_PID"; else kill -INT "$DEMO_PID"; fi
      sent=1
    fi
    if [ "$(now_ms)" -ge "$end" ]; then
      echo "FAIL - $name: the demo still runs after 120 s; stopping it"
      _lab_fail=$((_lab_fail + 1))
      stop_demo
      break
    fi
    nap 0.1
  done
  if [ -n "$DEMO_PID" ]; then
    wait "$DEMO_PID"
    DEMO_RC=$?
  else
    DEMO_RC=124
  fi
  DEMO_SECS="$(($(elapsed_ms "$start") / 1000)).$(($(elapsed_ms "$start") % 1000 / 100))"
  DEMO_PID=""
}

# ---------------------------------------------------------------- checks on one run's output
has_line() { # NAME ERE: the output of run NAME has a line matching ERE
  grep -Eq -- "$2" "$OUT/$1.out" || {
    echo "no line matching: $2"
    echo "--- output:"
    tail -n 25 "$OUT/$1.out"
    return 1
  }
}
no_line() { # NAME ERE
  ! grep -E -- "$2" "$OUT/$1.out"
}
exit_is() { # NAME RC
  [ "$DEMO_RC" = "$2" ] || {
    echo "exit status $DEMO_RC, want $2"
    tail -n 25 "$OUT/$1.out"
    return 1
  }
}
nothing_left() { # PGID
  local bad=0 p
  if [ -n "$(demo_namespaces)" ]; then echo "namespaces left: $(demo_namespaces | paste -sd' ')" && bad=1; fi
  if [ -e "$LAB_DIR" ]; then echo "$LAB_DIR left" && bad=1; fi
  # zombies are dead already (PID 1 may reap late here)
  p="$(ps -e -o pgid=,pid=,stat=,args= | awk -v g="$1" '$1 == g && $3 !~ /^Z/' | head -n 5)"
  if [ -n "$p" ]; then echo "processes of the demo's group left: $p" && bad=1; fi
  for p in "${!SEEN[@]}"; do
    if alive "$p" "${SEEN[$p]}"; then echo "process $p (seen in a demo namespace) left: $(ps -o args= -p "$p")" && bad=1; fi
  done
  return "$bad"
}
check_nothing_left() { # NAME
  check "$1: nothing left (no demo- namespace, no $LAB_DIR, none of the ${#SEEN[@]} processes seen in the lab nor of the demo's group)" \
    nothing_left "$LAST_PGID"
  SEEN=()
}

IP4='[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
MAC='02:00:00:00:00:1[1-3]'
full_run_checks() { # NAME
  local n="$1" owner new ms
  check "$n: exit status 0 (${DEMO_SECS} s)" exit_is "$n" 0
  check "$n: step 1, the Services got their IPs" has_line "$n" "\[ok\] web got 10\.50\.0\.10 and fd00:50::10, dns got 172\.30\.0\.1[0-2][0-9] "
  check "$n: step 2, BIRD learned the routes over BGP" has_line "$n" "\[ok\] BIRD learned 10\.50\.0\.10/32 and fd00:50::10/128 over BGP from node1 \(eBGP\), node2 and node3 \(iBGP\), community 64500:100"
  check "$n: step 2, BIRD's table is printed (AS path 64512 via 172.30.0.11, community)" \
    has_line "$n" "10\.50\.0\.10/32 +from node1 +AS path 64512 +next hop 172\.30\.0\.11 +community \(64500,100\)"
  check "$n: step 3, the Layer 2 address answers ARP from the elected node's MAC" has_line "$n" "\[ok\] $IP4 answers ARP from node[1-3] \($MAC\), the node ferrolb elected"
  check "$n: step 3, arping's answer is printed" has_line "$n" "arping \(from the router\): [0-9]+ bytes from $MAC"
  ms="$(sed -nE 's/.*\[ok\] failover: .* took over .* ([0-9]+\.[0-9]) ms after the kill.*/\1/p' "$OUT/$n.out")"
  check "$n: step 4, failover to another node with a time in ms (${ms:-none} ms)" has_line "$n" "\[ok\] failover: node[1-3] \($MAC\) took over $IP4 [0-9]+\.[0-9] ms after the kill of node[1-3]"
  owner="$(sed -nE 's/.*answers ARP from (node[1-3]) .*/\1/p' "$OUT/$n.out" | head -n 1)"
  new="$(sed -nE 's/.*\[ok\] failover: (node[1-3]) .*/\1/p' "$OUT/$n.out")"
  check "$n: step 4, the new owner ($new) is not the killed one ($owner)" test -n "$new" -a "$new" != "$owner"
  check "$n: step 4, the gratuitous ARP from the new owner is printed" has_line "$n" "tcpdump \(router\): [0-9]+\.[0-9]+ $MAC > ff:ff:ff:ff:ff:ff: Request who-has"
  check "$n: step 5, torn down" has_line "$n" "\[ok\] torn down"
  check "$n: no failure, warning or note in the output" no_line "$n" "\[failed\]|warning|note:|teardown failed"
}

# ================================================================ runs
[ "$(id -u)" = 0 ] || fatal "the demo needs root"
[ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
# a demo lab left over by something else would make the first checks meaningless
timeout 60 "$LAB_SH" down >/dev/null 2>&1

echo "# a full run"
run_demo first ""
full_run_checks first
check_nothing_left first

echo "# a second run right after"
run_demo second ""
full_run_checks second
check "second: no leftovers of the first run to remove" no_line second "removed what an earlier"
check_nothing_left second

echo "# --keep, then a run that must clean up first"
run_demo keep "" --keep
check "keep: exit status 0 (${DEMO_SECS} s)" exit_is keep 0
check "keep: prints how to tear down" has_line keep "Tear it all down: +sudo LAB_PREFIX=demo- tests/lab/lab.sh down"
check "keep: the lab is still up (5 demo- namespaces)" test "$(demo_namespaces | wc -l)" = 5
check "keep: ferrolb runs on all three nodes (the killed one restarted)" \
  sh -c "for n in node1 node2 node3; do '$LAB_SH' pid ferrolb-\$n >/dev/null || exit 1; done"
run_demo after-keep ""
check "after-keep: says it removed the earlier run's leftovers" has_line after-keep "removed what an earlier, interrupted run left behind"
full_run_checks after-keep
check_nothing_left after-keep

echo "# interrupted"
run_demo ctrl-c "3 group"
check "ctrl-c (SIGINT to the process group after 3 s): exit status 130" exit_is ctrl-c 130
check "ctrl-c: says it tore everything down" has_line ctrl-c "Interrupted: tearing the lab down"
check "ctrl-c: says nothing is left" has_line ctrl-c "Done: nothing is left behind"
check_nothing_left ctrl-c
run_demo sigint-pid "1.5 pid"
check "sigint-pid (SIGINT to the demo's pid only after 1.5 s): exit status 130" exit_is sigint-pid 130
check "sigint-pid: says nothing is left" has_line sigint-pid "Done: nothing is left behind"
check_nothing_left sigint-pid
run_demo again ""
check "after the interruptions a run still succeeds (${DEMO_SECS} s)" has_line again "\[ok\] torn down"
check_nothing_left again

echo "# not root"
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -r "$DEMO"; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$DEMO" --no-build >"$OUT/nonroot.out" 2>&1
  DEMO_RC=$?
  check "not root: exit status 1" exit_is nonroot 1
  check "not root: says it needs root and how to run it" has_line nonroot "needs root"
  check "not root: nothing created" sh -c "test -z \"\$(ip netns list | grep '^demo-')\" && test ! -e '$LAB_DIR'"
else
  echo "# (skipped: user 65534 cannot read $DEMO)"
fi

trap - EXIT INT TERM
finish
