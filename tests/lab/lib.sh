# shellcheck shell=bash
# A small library for the lab's end-to-end scripts. Source it:
#
#   #!/usr/bin/env bash
#   set -uo pipefail                 # no -e: a failed check must not stop the run
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   lab_setup 3                      # install packages, lab.sh up 3, teardown trap on EXIT/INT/TERM
#   check    "router reaches node1"     lab exec router ping -c1 -W1 172.30.0.11
#   wait_for 5 "file appears"           test -f "$LAB_DIR/x"
#   summary                          # tears down, prints "N passed, M failed" last, non-zero if any failed
#
# check NAME CMD...          runs CMD once (bounded by CHECK_TIMEOUT, default 10 s): one line "ok" / "FAIL"
# wait_for SECS NAME CMD...  runs CMD every 50 ms until it succeeds or SECS pass: one line "ok (x.xx s)" / "FAIL"
# Both return CMD's verdict (0 or 1) so a script can skip what depends on it: `check ... || skip=1`.
# CMD may be a shell function; it runs in a subshell (its variable assignments do not survive).
# CMD's arguments are expanded once, when check/wait_for is called: `wait_for 2 X test "$(f)" = 1`
# polls a fixed string. Put whatever must be re-read on each poll inside a function.
# On FAIL the last lines of CMD's output are printed, indented.
#
# lab ARGS...                tests/lab/lab.sh ARGS... with this script's LAB_PREFIX / LAB_DIR
# fatal MSG                  counts a failure and ends the script (teardown + summary)
# now_ms / elapsed_ms START  wall clock in ms / ms since START
# nap SECS                   sleep without a child process (fractions allowed)

LAB_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_SH="$LAB_HOME/lab.sh"
export LAB_PREFIX="${LAB_PREFIX-fl-}"
export LAB_DIR="${LAB_DIR:-/tmp/ferrolb-lab-$LAB_PREFIX}"
CHECK_TIMEOUT="${CHECK_TIMEOUT:-10}"

_lab_pass=0
_lab_fail=0
_lab_up=0
_lab_summarized=0
_lab_out="$(mktemp "${TMPDIR:-/tmp}/ferrolb-lab-check.XXXXXX")"

lab() { "$LAB_SH" "$@"; }

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
elapsed_ms() { echo $(($(now_ms) - $1)); }

_ok() {
  echo "ok   - $*"
  _lab_pass=$((_lab_pass + 1))
}
_bad() {
  echo "FAIL - $*"
  _lab_fail=$((_lab_fail + 1))
  if [ -s "$_lab_out" ]; then tail -n 5 "$_lab_out" | sed 's/^/       | /'; fi
}

# kill a process and all its descendants, by pid
_kill_tree() {
  local p="$1" c
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do _kill_tree "$c"; done
  kill -KILL "$p" 2>/dev/null || true
}

# A fifo nobody writes to, held open read-write: `read -t S -u $_lab_fd` is a sleep without a child
# process, so the watchdog below is a single process that one kill ends.
_lab_fifo="$(mktemp -u "${TMPDIR:-/tmp}/ferrolb-lab-fifo.XXXXXX")"
mkfifo -m 600 "$_lab_fifo"
exec {_lab_fd}<>"$_lab_fifo"
rm -f "$_lab_fifo"

# _bounded MS CMD...: run CMD (output to $_lab_out), kill it and its children after MS milliseconds.
# Returns CMD's status (124 on timeout).
_bounded() {
  local ms="$1" pid wd rc
  shift
  "$@" </dev/null >"$_lab_out" 2>&1 &
  pid=$!
  (
    read -r -t "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" -u "$_lab_fd" _ || _kill_tree "$pid"
  ) </dev/null >/dev/null 2>&1 &
  wd=$!
  wait "$pid" 2>/dev/null
  rc=$?
  kill -KILL "$wd" 2>/dev/null
  wait "$wd" 2>/dev/null
  [ "$rc" -lt 128 ] || rc=124
  return "$rc"
}

nap() { read -r -t "$1" -u "$_lab_fd" _ || true; }

check() { # NAME CMD...
  local name="$1"
  shift
  if _bounded "$((CHECK_TIMEOUT * 1000))" "$@"; then
    _ok "$name"
    return 0
  fi
  _bad "$name"
  return 1
}

wait_for() { # SECS NAME CMD...
  local secs="$1" name="$2" start end left t
  shift 2
  start="$(now_ms)"
  # SECS may be fractional (e.g. 0.5)
  end=$((start + $(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 }')))
  while :; do
    left=$((end - $(now_ms)))
    [ "$left" -gt 50 ] || left=50
    if _bounded "$left" "$@"; then
      t="$(elapsed_ms "$start")"
      _ok "$name ($((t / 1000)).$(printf '%02d' $((t % 1000 / 10))) s)"
      return 0
    fi
    [ "$(now_ms)" -lt "$end" ] || break
    read -r -t 0.05 -u "$_lab_fd" _ || true
  done
  _bad "$name (not within $secs s)"
  return 1
}

lab_teardown() {
  [ "$_lab_up" = 1 ] || return 0
  _lab_up=0
  local log="${TMPDIR:-/tmp}/ferrolb-lab-down.$$.log"
  if ! timeout 60 "$LAB_SH" down >"$log" 2>&1; then
    echo "FAIL - teardown: lab.sh down failed"
    sed 's/^/       | /' "$log"
    _lab_fail=$((_lab_fail + 1))
  fi
  rm -f "$log"
  # nothing of this lab may be left behind
  if ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX}(sw|router|node[1-9])$" >/dev/null; then
    echo "FAIL - teardown: lab namespaces left"
    _lab_fail=$((_lab_fail + 1))
  fi
}

# Layer 2 probes from the router namespace's eth0.
# arp_macs IP: the MACs answering one ARP request (sorted, one per line; exit 1 if none).
arp_macs() { lab exec router arping -i eth0 -c 1 -w 0.5 -r "$1" | sort -u; }
# nd_macs IP6: the MACs answering one neighbour solicitation.
nd_macs() { lab exec router ndisc6 -m -q -r 2 -w 300 "$1" eth0 | tr 'A-F' 'a-f' | sort -u; }
mac_answers() { # IP MAC: the only MAC that answers is MAC
  local got
  case "$1" in *:*) got="$(nd_macs "$1")" ;; *) got="$(arp_macs "$1")" ;; esac
  echo "$1 -> ${got:-no answer} (want $2)"
  [ "$got" = "$2" ]
}
arp_only() { # IP MAC: only MAC answers three ARP requests, and arping -d sees no second MAC
  local out
  out="$(lab exec router arping -d -i eth0 -c 3 -W 0.2 -w 2 -r "$1")" || {
    echo "arping -d failed: $(echo "$out" | sort -u | paste -sd' ')"
    return 1
  }
  out="$(echo "$out" | sort -u)"
  echo "$1 -> ${out:-no answer} (want $2)"
  [ "$out" = "$2" ]
}
nd_only() { # IP6 MAC: all the NAs that come back (ndisc6 -m, 3 tries) are from MAC
  local out
  out="$(lab exec router ndisc6 -m -q -r 3 -w 400 "$1" eth0 | tr 'A-F' 'a-f' | sort -u)"
  echo "$1 -> ${out:-no answer} (want $2)"
  [ "$out" = "$2" ]
}

# lab_service_yaml NAME IDX ETP NODE POOL [INGRESS_IP...]: a dual-stack LoadBalancer Service
# (clusterIPs 10.96.0.IDX and fd00:96::IDX, externalTrafficPolicy ETP, the address-pool
# annotation unless POOL is -) and its EndpointSlice with one ready endpoint on NODE; with
# INGRESS_IPs the Service carries them as its status (plan's input, or a restart's).
lab_service_yaml() {
  local name="$1" idx="$2" etp="$3" node="$4" pool="$5" ip sep=""
  shift 5
  echo "apiVersion: v1"
  echo "kind: Service"
  echo "metadata:"
  echo "  name: $name"
  echo "  namespace: default"
  [ "$pool" = - ] || echo "  annotations: {metallb.io/address-pool: $pool}"
  cat <<EOF
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.$idx
  clusterIPs: [10.96.0.$idx, "fd00:96::$idx"]
  ipFamilies: [IPv4, IPv6]
  ipFamilyPolicy: PreferDualStack
  externalTrafficPolicy: $etp
  selector: {app: $name}
  ports:
    - {name: http, port: 80, protocol: TCP, targetPort: 8080}
EOF
  if [ "$#" -gt 0 ]; then
    printf '%s' "status: {loadBalancer: {ingress: ["
    for ip in "$@"; do
      printf '%s{ip: "%s"}' "$sep" "$ip"
      sep=", "
    done
    echo "]}}"
  fi
  cat <<EOF
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $name-ep1
  namespace: default
  labels: {kubernetes.io/service-name: $name}
addressType: IPv4
endpoints:
  - addresses: [10.244.$idx.1]
    conditions: {ready: true}
    nodeName: $node
ports:
  - {name: http, port: 8080, protocol: TCP}
EOF
}

# After a failure, the end of every ferrolb log in the lab: a red CI run must say why
# without a rerun. Bounded: the last 25 lines of each, at most 6 files.
_lab_show_logs() {
  [ "$_lab_fail" != 0 ] && [ -d "${LAB_DIR:-}" ] || return 0
  local f
  for f in $(ls "$LAB_DIR"/ferrolb-*.log 2>/dev/null | head -n 6); do
    echo "#    --- last lines of $(basename "$f") ---"
    tail -n 25 "$f" | sed 's/^/#    | /'
  done
}

summary() {
  trap - EXIT INT TERM
  _lab_show_logs
  lab_teardown
  rm -f "$_lab_out"
  _lab_summarized=1
  echo "$_lab_pass passed, $_lab_fail failed"
  [ "$_lab_fail" = 0 ]
}

fatal() {
  echo "FAIL - $*"
  _lab_fail=$((_lab_fail + 1))
  summary
  exit 1
}

_lab_on_exit() {
  local rc=$?
  [ "$_lab_summarized" = 1 ] && return 0
  echo "FAIL - script ended before its summary (exit $rc)"
  _lab_fail=$((_lab_fail + 1))
  summary
  exit 1
}
_lab_on_signal() {
  echo "FAIL - interrupted by SIG$1"
  _lab_fail=$((_lab_fail + 1))
  summary
  exit 130
}

# The ferrolb binary under test, in FERROLB: as given, or target/debug/ferrolb rebuilt first
# (cargo is a no-op when the binary is fresh), so a test never runs a stale one. Sets REPO, the
# repository root. Call it before lab_setup: a failed build ends the script with a summary.
find_ferrolb() {
  REPO="$(cd "$LAB_HOME/../.." && pwd)"
  if [ -z "${FERROLB:-}" ]; then
    FERROLB="${CARGO_TARGET_DIR:-$REPO/target}/debug/ferrolb"
    # cargo is a no-op when the binary is fresh; building here keeps the test from running a stale one
    if command -v cargo >/dev/null; then
      (cd "$REPO" && cargo build -q -p ferrolb) || {
        echo "FAIL - cargo build -p ferrolb"
        echo "0 passed, 1 failed"
        exit 1
      }
    fi
  fi
  case "$FERROLB" in /*) ;; *) FERROLB="$REPO/$FERROLB" ;; esac
}

lab_setup() { # [N nodes, default 3]
  trap _lab_on_exit EXIT
  trap '_lab_on_signal INT' INT
  trap '_lab_on_signal TERM' TERM
  [ "$(id -u)" = 0 ] || fatal "the lab needs root"
  timeout 600 "$LAB_HOME/install.sh" >/dev/null || fatal "tests/lab/install.sh failed"
  # a lab left over by an earlier killed run with the same prefix
  timeout 60 "$LAB_SH" down >/dev/null 2>&1 || true
  _lab_up=1
  timeout 60 "$LAB_SH" up "${1:-3}" >"$_lab_out" 2>&1 || {
    cat "$_lab_out"
    fatal "lab.sh up"
  }
}
