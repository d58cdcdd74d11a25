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
# poll SECS CMD...           CMD every 50 ms until it succeeds (0) or SECS pass (1): no check line
#
# lab_at_teardown FUNC         FUNC runs at teardown, before lab.sh down
#
# Shared writers and probes (see each one's comment): find_ferrolb, lab_setup_ferrolb, series,
# series_ge, probe_all / macs_answer / macs_only, mac_answers / mac_only, plan_winner, lab_binary,
# lab_manifests + put, run_ferrolb, lab_l2_pool_yaml, lab_bgp_pool_yaml, garp_filter, na_filter,
# lab_nodes_yaml, lab_service_yaml, jget, mac_of / ip_of / ipv4_hex, log_lines / log_since /
# log_ms / bird_ms, bird_cli / established / not_established, cpu_ticks / io_writes / wait_idle.
# Speakers on one dir: source (NODES, FLAGS, SVC, PLAN): service / svc_yaml, refresh_plan /
# winner_with, others_of, start_speaker(s) / speaker_pid, nlog / log_count / log_more, no_panic,
# metrics / metric / metric_is / metric_positive / members_all / quorum_all, announces(_not/_none).

LAB_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_SH="$LAB_HOME/lab.sh"
export LAB_PREFIX="${LAB_PREFIX-fl-}"
export LAB_DIR="${LAB_DIR:-/tmp/ferrolb-lab-$LAB_PREFIX}"
CHECK_TIMEOUT="${CHECK_TIMEOUT:-10}"

_lab_pass=0
_lab_fail=0
_lab_skip=0
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
# skip NAME WHY: a check that cannot run here (the kernel lacks what it needs), counted as
# skipped in the summary ("N passed, M failed, K skipped"), never as passed
skip() {
  echo "skip - $1 ($2)"
  _lab_skip=$((_lab_skip + 1))
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

poll() { # SECS CMD...
  local end=$(($(now_ms) + $1 * 1000))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$end" ] || return 1
    nap 0.05
  done
}

# the interpreter itself, not a version manager's shim (a shim costs ~0.1 s per call)
PY="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" || PY=python3

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

# lab_at_teardown FUNC: lab_teardown calls FUNC (a shell function, output discarded, bounded by
# 10 s) before lab.sh down, e.g. to undo something done inside a namespace; in the order registered
_lab_hooks=()
lab_at_teardown() { _lab_hooks+=("$1"); }

lab_teardown() {
  [ "$_lab_up" = 1 ] || return 0
  _lab_up=0
  local log="${TMPDIR:-/tmp}/ferrolb-lab-down.$$.log" h
  for h in "${_lab_hooks[@]}"; do _bounded 10000 "$h" || true; done
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
# ARP_WAIT (seconds, default 0.5) and ND_WAIT (ms per try, default 300) bound the wait for answers.
arp_macs() { lab exec router arping -i eth0 -c 1 -w "${ARP_WAIT:-0.5}" -r "$1" | sort -u; }
# nd_macs IP6: the MACs answering one neighbour solicitation (two tries).
nd_macs() { lab exec router ndisc6 -m -q -r 2 -w "${ND_WAIT:-300}" "$1" eth0 | tr 'A-F' 'a-f' | sort -u; }
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
mac_only() { # IP MAC: arp_only for an IPv4 address, nd_only for an IPv6 one
  case "$1" in *:*) nd_only "$@" ;; *) arp_only "$@" ;; esac
}

# ---------------------------------------------------------------- the lab's nodes
mac_of() { echo "02:00:00:00:00:1${1#node}"; } # nodeK -> its eth0 MAC (lab.sh)
ip_of() { echo "172.30.0.1${1#node}"; }         # nodeK -> its eth0 IPv4 address
# IPV4 -> 0xAC1E0064, for tcpdump filters that compare ARP fields
ipv4_hex() { "$PY" -c 'import ipaddress,sys; print(hex(int(ipaddress.IPv4Address(sys.argv[1]))))' "$1"; }

# ---------------------------------------------------------------- manifests for a dir: source
# lab_manifests: sets DIR (what `--source dir:$DIR` reads), STATE (its state directory) and
# STAGE (on the same file system, so that put's rename is atomic), and creates them.
lab_manifests() {
  DIR="$LAB_DIR/manifests"
  STATE="$DIR/.ferrolb"
  STAGE="$LAB_DIR/stage"
  mkdir -p "$DIR" "$STAGE"
}
put() { # FILE: stdin into DIR/FILE atomically (a speaker never reads half a file)
  cat >"$STAGE/$1"
  mv -f "$STAGE/$1" "$DIR/$1"
}
# run_ferrolb NODE NAME [FLAG...]: `ferrolb run --node NODE --source dir:$DIR` spawned in NODE's
# namespace as the lab process NAME (its log: $LAB_DIR/NAME.log), text logs at LOG_LEVEL
# (default debug); FLAGs are appended
run_ferrolb() {
  local node="$1" name="$2"
  shift 2
  lab spawn "$node" "$name" "$FERROLB" run --node "$node" --source "dir:$DIR" \
    --log-format text --log-level "${LOG_LEVEL:-debug}" "$@" >/dev/null
}
# JSON of a file: jget FILE PYTHON-EXPR (d = the document); nothing and exit 1 when unreadable
jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

# a Service's addresses in the controller's state (STATE/services/default/NAME.json): all of them
# (space-separated), the IPv4 one, the IPv6 one
svc_ips() { jget "$STATE/services/default/$1.json" '" ".join(i["ip"] for i in d["ingress"])'; }
svc_ip4() { jget "$STATE/services/default/$1.json" '[i["ip"] for i in d["ingress"] if ":" not in i["ip"]][0]'; }
svc_ip6() { jget "$STATE/services/default/$1.json" '[i["ip"] for i in d["ingress"] if ":" in i["ip"]][0]'; }

# lab_nodes_yaml [-6] [-n] [-c NODE] [-l NODE LABELS] NODE...: the default Namespace and one Node
# object per NODE (nodeK), labelled kubernetes.io/hostname, with InternalIP 172.30.0.1K;
#   -6  also the InternalIP fd00:30::1K
#   -n  no Hostname address (by default there is one, the node's name)
#   -c NODE   NODE is cordoned (spec.unschedulable)
#   -l NODE LABELS   more labels on NODE, as YAML flow-map entries (e.g. 'l2: "yes"')
lab_nodes_yaml() {
  local v6="" hostname=1 cordoned="" labelled="" extra="" n labels
  while [ "$#" -gt 0 ]; do
    case "$1" in
      -6) v6=1 ;;
      -n) hostname="" ;;
      -c) cordoned="$2" && shift ;;
      -l) labelled="$2" extra="$3" && shift 2 ;;
      *) break ;;
    esac
    shift
  done
  echo "apiVersion: v1"
  echo "kind: Namespace"
  echo "metadata: {name: default}"
  for n in "$@"; do
    labels="kubernetes.io/hostname: $n"
    [ "$n" != "$labelled" ] || labels="$labels, $extra"
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata:\n  name: %s\n  labels: {%s}\n' "$n" "$labels"
    [ "$n" != "$cordoned" ] || echo "spec: {unschedulable: true}"
    printf 'status:\n  addresses:\n    - {type: InternalIP, address: %s}\n' "$(ip_of "$n")"
    [ -z "$v6" ] || echo "    - {type: InternalIP, address: \"fd00:30::1${n#node}\"}"
    [ -z "$hostname" ] || echo "    - {type: Hostname, address: $n}"
  done
}

# lab_service_yaml [-4] NAME IDX ETP NODE POOL [INGRESS_IP...]: a dual-stack LoadBalancer Service
# (clusterIPs 10.96.0.IDX and fd00:96::IDX, externalTrafficPolicy ETP) and its EndpointSlice with
# one ready endpoint on NODE. POOL is a pool name (the address-pool annotation), ips=A[,B] (the
# loadBalancerIPs annotation) or - (neither). With INGRESS_IPs the Service carries them as its
# status (plan's input, or a restart's). -4: single-stack, clusterIP 10.96.0.IDX only.
lab_service_yaml() {
  local single="" ip sep=""
  [ "$1" != -4 ] || { single=1 && shift; }
  local name="$1" idx="$2" etp="$3" node="$4" pool="$5"
  shift 5
  echo "apiVersion: v1"
  echo "kind: Service"
  echo "metadata:"
  echo "  name: $name"
  echo "  namespace: default"
  case "$pool" in
    -) ;;
    ips=*) echo "  annotations: {metallb.io/loadBalancerIPs: \"${pool#ips=}\"}" ;;
    *) echo "  annotations: {metallb.io/address-pool: $pool}" ;;
  esac
  echo "spec:"
  echo "  type: LoadBalancer"
  echo "  clusterIP: 10.96.0.$idx"
  if [ -z "$single" ]; then
    echo "  clusterIPs: [10.96.0.$idx, \"fd00:96::$idx\"]"
    echo "  ipFamilies: [IPv4, IPv6]"
    echo "  ipFamilyPolicy: PreferDualStack"
  fi
  cat <<EOF
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

# lab_l2_pool_yaml NAME ADDRESS...: an IPAddressPool NAME with those addresses (ranges or CIDRs)
# and an L2Advertisement NAME of it
lab_l2_pool_yaml() {
  local name="$1" list="" a
  shift
  for a in "$@"; do list="${list:+$list, }\"$a\""; done
  cat <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: $name, namespace: metallb-system}
spec:
  addresses: [$list]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: $name, namespace: metallb-system}
spec:
  ipAddressPools: [$name]
EOF
}

# lab_key FILE...: a fresh membership key in each FILE (16 random bytes, base64), mode 600
lab_key() {
  local f
  for f in "$@"; do head -c 16 /dev/urandom | base64 | tr -d '=' >"$f" && chmod 600 "$f"; done
}

# lab_bgp_peer_yaml NAME ADDRESS NODE [SPEC_LINE...]: a BGPPeer document (leading "---") from
# node NODE (AS 64512) to ADDRESS (AS 64500, the lab's routers), with more spec lines such as
# "vrf: red" or "holdTime: 9s"
lab_bgp_peer_yaml() {
  local name="$1" address="$2" node="$3" line
  shift 3
  printf -- '---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: %s, namespace: metallb-system}\n' "$name"
  printf 'spec:\n  myASN: 64512\n  peerASN: 64500\n  peerAddress: %s\n' "$address"
  for line in "$@"; do echo "  $line"; done
  printf '  nodeSelectors:\n    - matchLabels: {kubernetes.io/hostname: %s}\n' "$node"
}

# lab_bgp_pool_yaml [CIDR...]: the IPAddressPool "pool" (of the CIDRs; 10.50.0.0/24 without
# any) and a BGPAdvertisement "adv" of it
lab_bgp_pool_yaml() {
  local addresses="10.50.0.0/24" cidr
  if [ "$#" -gt 0 ]; then
    addresses=""
    for cidr in "$@"; do addresses="${addresses:+$addresses, }\"$cidr\""; done
  fi
  cat <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec:
  addresses: [$addresses]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: adv, namespace: metallb-system}
spec:
  ipAddressPools: [pool]
EOF
}

# ---------------------------------------------------------------- packet filters (tcpdump)
# garp_filter [IP|any [MAC|!MAC]]: a gratuitous ARP (sender IP = target IP = IP) from MAC;
# "!MAC": from any MAC but MAC; without MAC from anyone; without IP (or "any") for any address
garp_filter() {
  local f="arp and arp[14:4] == arp[24:4]"
  [ -z "${1:-}" ] || [ "$1" = any ] || f="$f and arp[24:4] == $(ipv4_hex "$1")"
  case "${2:-}" in
    "") ;;
    !*) f="$f and not ether src ${2#!}" ;;
    *) f="$f and ether src $2" ;;
  esac
  echo "$f"
}
na_filter() { # IP6 MAC: an unsolicited neighbour advertisement (S flag clear) for target IP6 from MAC
  local w
  w="$("$PY" -c '
import ipaddress, sys
p = ipaddress.IPv6Address(sys.argv[1]).packed
print(" and ".join("ip6[%d:4] == 0x%s" % (48 + i, p[i:i + 4].hex()) for i in range(0, 16, 4)))' "$1")"
  echo "icmp6 and ip6[40] == 136 and ip6[44] & 0x40 == 0 and $w and ether src $2"
}

# ---------------------------------------------------------------- captures (router's eth0)
# cap_start NAME FILTER [SECS]: tcpdump on the router's eth0 as the lab process NAME (its output:
# $LAB_DIR/NAME.log), epoch timestamps (-tt), link-level headers (-e), bounded by SECS (default
# 20) with timeout; waits until it listens (a failure counts and returns 1)
cap_start() {
  local i
  lab kill "$1" TERM >/dev/null 2>&1
  lab spawn router "$1" timeout "${3:-20}" tcpdump -i eth0 -n -e -l -tt "$2" >/dev/null || return 1
  for i in $(seq 60); do
    grep -q 'listening on' "$LAB_DIR/$1.log" 2>/dev/null && return 0
    nap 0.05
  done
  echo "FAIL - tcpdump $1 is not listening"
  _lab_fail=$((_lab_fail + 1))
  return 1
}
# cap_stop NAME: TERM, which timeout passes on to tcpdump (a KILL would end timeout only and
# leave tcpdump writing to the log until the teardown)
cap_stop() { lab kill "$1" TERM >/dev/null 2>&1; }
# cap_after NAME T: the capture has a packet stamped at or after T (epoch seconds, fractional);
# the first one is printed
cap_after() {
  awk -v t="$2" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 >= t + 0 { print; found = 1; exit } END { exit !found }' "$LAB_DIR/$1.log"
}
# cap_none_before NAME T: no packet stamped before T (those there are printed)
cap_none_before() {
  awk -v t="$2" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 < t + 0 { print; n++ } END { exit n > 0 }' "$LAB_DIR/$1.log"
}

# probe_all PROBE: PROBE IP MAC for every address in the array ips[] and the MAC at the same
# index of the array macs[] (both set by the caller), in parallel; each probe's output printed;
# fails if any probe failed
probe_all() {
  local i rc=0 pids=()
  for i in "${!ips[@]}"; do
    "$1" "${ips[$i]}" "${macs[$i]}" >"$LAB_DIR/probe.$i" 2>&1 &
    pids+=($!)
  done
  for i in "${!ips[@]}"; do
    wait "${pids[$i]}" || rc=1
    cat "$LAB_DIR/probe.$i"
  done
  return "$rc"
}
macs_answer() { probe_all mac_answers; } # each address answers with its MAC (one request)
macs_only() { probe_all mac_only; }      # ... and no other MAC answers it (arping -d, ndisc6 -m)

# plan_winner NAME: the node that the plan in $PLAN (`ferrolb plan -o json`) says announces the
# Service default/NAME by layer2; fails unless there is exactly one
plan_winner() {
  "$PY" -c '
import json, sys
plan = json.load(open(sys.argv[1]))
s = [s for s in plan["services"] if s["namespace"] == "default" and s["name"] == sys.argv[2]]
w = [a["node"] for a in (s[0].get("announcements") or []) if a["protocol"] == "layer2"] if s else []
if len(w) != 1:
    sys.exit("plan: %s has %d layer2 winners" % (sys.argv[2], len(w)))
print(w[0])' "$PLAN" "$1"
}

# ---------------------------------------------------------------- speakers on one dir: source
# Shared by the scripts that run one speaker per node on DIR (e2e-membership.sh, e2e-fencing.sh):
#   NODES        the Node objects in DIR (the speakers a script starts)
#   FLAGS[NODE]  extra `ferrolb run` flags of NODE's speaker
#   SVC[NAME]    "IDX ETP ENDPOINT_NODE [-4]" of each Service written with `service`
#   PLANIN PLAN  plan's input directory (a copy of DIR) and its JSON output (refresh_plan)
NODES=()
declare -gA SVC=() FLAGS=()
PLANIN="${LAB_DIR}/plan-input"
PLAN="${LAB_DIR}/plan.json"

csv() { # words -> a,b,c
  local IFS=,
  echo "$*"
}
others_of() { # NODE: the other NODES
  local n out=()
  for n in "${NODES[@]}"; do [ "$n" = "$1" ] || out+=("$n"); done
  echo "${out[*]}"
}

# svc_yaml NAME [INGRESS_IP...]: SVC[NAME]'s Service and EndpointSlice (one ready endpoint),
# dual-stack unless -4; with INGRESS_IPs the Service carries them as its status (plan's input)
svc_yaml() {
  local name="$1" idx etp node fam
  shift
  read -r idx etp node fam <<<"${SVC[$name]}"
  lab_service_yaml ${fam:+"$fam"} "$name" "$idx" "$etp" "$node" - "$@"
}
service() { # NAME IDX ETP ENDPOINT_NODE [-4]: record it in SVC and write DIR/svc-NAME.yaml
  SVC[$1]="$2 $3 $4 ${5:-}"
  svc_yaml "$1" | put "svc-$1.yaml"
}

# plan on a copy of DIR whose Services carry their current addresses -> $PLAN
# refresh_plan LIVE_NODE...: the speakers membership should see alive (none given: all NODES)
refresh_plan() {
  local name live
  [ "$#" -gt 0 ] || set -- "${NODES[@]}"
  live="$(csv "$@")"
  rm -rf "$PLANIN"
  mkdir -p "$PLANIN"
  cp "$DIR/cluster.yaml" "$DIR/pools.yaml" "$PLANIN/"
  for name in "${!SVC[@]}"; do
    # shellcheck disable=SC2046 # one word per address
    svc_yaml "$name" $(svc_ips "$name") >"$PLANIN/svc-$name.yaml"
  done
  "$FERROLB" plan -o json --live-nodes "$live" "$PLANIN" >"$PLAN" 2>"$PLAN.err"
}
winner_with() { # NAME LIVE_NODE...: plan's winner when only LIVE_NODEs are alive
  local name="$1"
  shift
  refresh_plan "$@" && plan_winner "$name"
}

# start_speaker NODE: (re)start ferrolb in NODE as ferrolb-NODE with FLAGS[NODE]; an earlier
# log is kept in ferrolb-NODE.log.prev (nlog reads both)
start_speaker() {
  local n="$1" f
  f="$LAB_DIR/ferrolb-$n.log"
  if [ -f "$f" ]; then cat "$f" >>"$f.prev" && rm -f "$f"; fi
  # shellcheck disable=SC2086 # FLAGS holds several words
  run_ferrolb "$n" "ferrolb-$n" ${FLAGS[$n]:-}
}
start_speakers() { # every one of NODES
  local n
  for n in "${NODES[@]}"; do start_speaker "$n" || fatal "spawn ferrolb in $n"; done
}
speaker_pid() { lab pid "ferrolb-$1"; } # NODE
# full log of NODE's speaker(s) so far (earlier incarnations included)
nlog() {
  local f
  for f in "$LAB_DIR/ferrolb-$1.log.prev" "$LAB_DIR/ferrolb-$1.log"; do
    if [ -f "$f" ]; then cat "$f"; fi
  done
}
log_count() { nlog "$1" | grep -c -- "$2"; } # NODE PATTERN: lines matching
log_more() { # NODE PATTERN COUNT: more than COUNT lines match (something new was logged)
  local c
  c="$(log_count "$1" "$2")"
  echo "$1: $c lines with '$2' (had $3)"
  [ "$c" -gt "$3" ]
}
no_panic() { check "no panic in any ferrolb log" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log*"; }

# ---------------------------------------------------------------- a speaker's /metrics
# series NODE SERIES: the value of one series of NODE's /metrics, e.g.
# metallb_bgp_session_up{peer="172.30.0.1:179"}; "absent" when the endpoint answers without it;
# fails when the endpoint does not answer
series() {
  lab exec "$1" "$PY" -c '
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:9120/metrics", timeout=2).read().decode()
for line in body.splitlines():
    if line.rsplit(" ", 1)[0] == sys.argv[1]:
        print(line.rsplit(" ", 1)[1]); break
else:
    print("absent")' "$2"
}
series_ge() { # NODE SERIES MIN: present and at least MIN (the value printed)
  local v
  v="$(series "$1" "$2")" || return 1
  echo "$2 = $v"
  [ "$v" != absent ] && awk -v v="$v" -v m="$3" 'BEGIN { exit !(v + 0 >= m + 0) }'
}
metrics() { lab exec "$1" curl -s --max-time 1 "http://127.0.0.1:9120/metrics"; } # NODE: its /metrics
metric() { # NODE NAME: the value of an unlabelled sample (or of the first labelled one)
  metrics "$1" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 { print $2; exit }'
}
metric_is() { # NODE NAME VALUE
  local v
  v="$(metric "$1" "$2")"
  echo "$1: $2 = ${v:-absent} (want $3)"
  [ -n "$v" ] && awk -v a="$v" -v b="$3" 'BEGIN { exit !(a + 0 == b + 0) }'
}
metric_positive() { # NODE NAME
  local v
  v="$(metric "$1" "$2")"
  echo "$1: $2 = ${v:-absent}"
  [ -n "$v" ] && awk -v a="$v" 'BEGIN { exit !(a + 0 > 0) }'
}
members_all() { # COUNT NODE...: every NODE reports COUNT members (ferrolb_membership_members)
  local want="$1" n rc=0
  shift
  for n in "$@"; do metric_is "$n" ferrolb_membership_members "$want" || rc=1; done
  return "$rc"
}
quorum_all() { # VALUE NODE...: every NODE reports ferrolb_membership_quorum_bool VALUE
  local want="$1" n rc=0
  shift
  for n in "$@"; do metric_is "$n" ferrolb_membership_quorum_bool "$want" || rc=1; done
  return "$rc"
}
# announces NODE IP: NODE announces IP by layer2 (metallb_speaker_announced present and 1)
announces() {
  metrics "$1" | grep '^metallb_speaker_announced{' | grep 'protocol="layer2"' | grep -F "ip=\"$2\"" | grep ' 1$' >/dev/null
}
announces_not() { ! announces "$@"; }
announces_none() { ! metrics "$1" | grep '^metallb_speaker_announced{' | grep 'protocol="layer2"' | grep ' 1$'; } # NODE

# ---------------------------------------------------------------- a process's CPU time and writes
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; } # PID: utime + stime (ticks)
io_writes() { awk '/^write_bytes:/{print $2}' "/proc/$1/io"; }               # PID: bytes it sent to storage so far
# wait_idle PID SECS: until PID has used < 3 ticks of CPU and written at most 16 KiB to storage
# (a process busy with fsync'ed state files uses little CPU; a heartbeat renewal is a page or
# two) in each of two consecutive 0.5 s windows (at most SECS); fails on timeout or when PID is gone
wait_idle() {
  local pid="$1" end=$(($(now_ms) + $2 * 1000)) a b w v quiet=0
  a="$(cpu_ticks "$pid")" && w="$(io_writes "$pid")" || return 1
  while [ "$(now_ms)" -lt "$end" ]; do
    nap 0.5
    b="$(cpu_ticks "$pid")" && v="$(io_writes "$pid")" || return 1
    # a few pages written are the heartbeat the speaker renews every second (fencing's
    # witness on the dir: source), not bookkeeping
    if [ $((b - a)) -lt 3 ] && [ $((v - w)) -le 16384 ]; then quiet=$((quiet + 1)); else quiet=0; fi
    [ "$quiet" -ge 2 ] && return 0
    a="$b" w="$v"
  done
  return 1
}

# ---------------------------------------------------------------- logs ($LAB_DIR/NAME.log)
log_lines() { wc -l <"$LAB_DIR/$1.log"; }                    # LOGNAME
log_since() { tail -n +"$(($2 + 1))" "$LAB_DIR/$1.log"; }   # LOGNAME LINE: what came after LINE
# ms since the epoch of the first line matching REGEX after LINE in a ferrolb log (RFC 3339 UTC)
# or in BIRD's (local time, "%F %T.%3f"); nothing (exit 1) when there is none
log_ms() { # LOGNAME LINE REGEX
  local ts
  ts="$(log_since "$1" "$2" | grep -m1 -E "$3" | awk '{print $1}')"
  [ -n "$ts" ] && date -d "$ts" +%s%3N
}
bird_ms() { # LINE REGEX
  local ts
  ts="$(log_since bird "$1" | grep -m1 -E "$2" | awk '{print $1, $2}')"
  [ -n "$ts" ] && date -d "$ts" +%s%3N
}

# ---------------------------------------------------------------- BIRD (lab.sh start bird)
bird_cli() { timeout 3 "$LAB_SH" birdc "$@"; } # birdc, bounded (it waits for ever on a frozen BIRD)
established() { bird_cli show protocols "$1" | grep -q Established; } # PROTO
not_established() { # PROTO: not Established (and BIRD answers)
  local o
  o="$(bird_cli show protocols "$1")" || return 1
  echo "$o"
  ! grep -q Established <<<"$o"
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
  if [ "$_lab_skip" -gt 0 ]; then
    echo "$_lab_pass passed, $_lab_fail failed, $_lab_skip skipped"
  else
    echo "$_lab_pass passed, $_lab_fail failed"
  fi
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

# lab_binary VAR PATH CARGO_ARGS...: the binary under test in the variable VAR: as given, or
# target/debug/PATH (target/release/PATH when CARGO_ARGS has --release; under
# $CARGO_TARGET_DIR if set) rebuilt first with `cargo build -q CARGO_ARGS` (a no-op when it
# is fresh), so a test never runs a stale one. Sets REPO, the repository root. Call it
# before lab_setup: a failed build ends the script with a summary.
lab_binary() {
  local var="$1" path rel="$2" profile=debug
  shift 2
  [[ " $* " == *" --release "* ]] && profile=release
  REPO="$(cd "$LAB_HOME/../.." && pwd)"
  path="${!var:-}"
  if [ -z "$path" ]; then
    path="${CARGO_TARGET_DIR:-$REPO/target}/$profile/$rel"
    if command -v cargo >/dev/null; then
      (cd "$REPO" && cargo build -q "$@") || {
        echo "FAIL - cargo build $*"
        echo "0 passed, 1 failed"
        exit 1
      }
    fi
  fi
  case "$path" in /*) ;; *) path="$REPO/$path" ;; esac
  printf -v "$var" '%s' "$path"
}
find_ferrolb() { lab_binary FERROLB ferrolb -p ferrolb; }                   # FERROLB: `ferrolb`
find_ferrolb_release() { lab_binary FERROLB ferrolb --release -p ferrolb; } # the same, optimised (benchmarks)

# lab_setup_ferrolb N: find_ferrolb, lab_setup N, and a check that the binary runs `ferrolb run`
lab_setup_ferrolb() {
  find_ferrolb
  lab_setup "$1"
  [ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
  "$FERROLB" run --help >/dev/null 2>&1 || fatal "'ferrolb run' is not available in $FERROLB"
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
