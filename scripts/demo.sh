#!/usr/bin/env bash
# The ferrolb demo: one command that shows what ferrolb does, on this machine, without touching
# its network. It builds a small lab out of network namespaces (a BIRD router and three nodes on
# one virtual LAN, 172.30.0.0/24), runs `ferrolb run` on every node with the manifests of
# examples/demo, and shows, with the evidence:
#   1. the Services got addresses (web over BGP, dns over Layer 2);
#   2. BIRD learned web's routes over BGP (AS path, next hop, community);
#   3. dns's address answers ARP with the MAC of the node ferrolb elected;
#   4. that node is killed (kill -9) and another one answers, with the measured failover time;
#   5. everything is torn down (also on failure and on Ctrl-C).
#
#   sudo scripts/demo.sh              install the lab packages, build ferrolb (release), run the demo
#   sudo scripts/demo.sh --keep       leave the lab running afterwards to look around
#   sudo scripts/demo.sh --no-build   use $FERROLB (default target/release/ferrolb) as it is
#
# Needs root (network namespaces, raw sockets), Debian or Ubuntu (apt installs bird2, arping,
# tcpdump, ...; see tests/lab/install.sh) and, unless --no-build, a Rust toolchain (cargo).
# Everything runs in namespaces named demo-* (tests/lab/lab.sh with LAB_PREFIX=demo-); addresses
# exist only there. Command output goes to $LAB_DIR/demo.log, kept on failure.
# Exit status: 0 success, 1 failure, 130 interrupted.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_SH="$REPO/tests/lab/lab.sh"
# a fixed prefix and directory: a second run (or one after an interrupted run) finds and removes
# what an earlier one left; the lab's own tests use other prefixes, so they are never touched
export LAB_PREFIX=demo-
export LAB_DIR=/tmp/ferrolb-lab-demo-
LOG="$LAB_DIR/demo.log"
KEPT_LOGS=/tmp/ferrolb-demo-logs # where the logs go when the demo fails
DIR="$LAB_DIR/manifests"
STATE="$DIR/.ferrolb"
NODES=(node1 node2 node3)
KEEP=0
BUILD=1

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage && exit 0 ;;
    *) echo "demo.sh: unknown option '$1' (try --help)" >&2 && exit 2 ;;
  esac
  shift
done

# ---------------------------------------------------------------- output
if [ -t 1 ]; then
  B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
  B="" G="" R="" D="" N=""
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s%s%s\n' "$B" "$*" "$N"; }
ok() { printf '   %s[ok]%s %s\n' "$G" "$N" "$*"; }
show() { sed "s/^/      $D|$N /"; } # evidence, indented
log() { printf '%s\n' "$*" >>"$LOG" 2>/dev/null || true; }
# run CMD..., its output to the log; its status is returned
quiet() {
  log "\$ $*"
  "$@" >>"$LOG" 2>&1
}
lab() { "$LAB_SH" "$@"; }

TICKER=""

stop_ticker() {
  if [ -n "$TICKER" ]; then
    kill "$TICKER" 2>/dev/null
    wait "$TICKER" 2>/dev/null
    TICKER=""
    [ -t 1 ] && printf '\r\e[K'
  fi
  return 0
}

# the lab (namespaces, BIRD, ferrolb, captures, $LAB_DIR) goes, whatever state it is in
teardown() {
  timeout 60 "$LAB_SH" down >/dev/null 2>&1
  ! ip netns list 2>/dev/null | grep -q "^${LAB_PREFIX}" && [ ! -e "$LAB_DIR" ]
}

# stop a process and everything below it (stopped first, so that nothing new is forked)
kill_tree() {
  local p="$1" c
  kill -STOP "$p" 2>/dev/null
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do kill_tree "$c"; done
  kill -KILL "$p" 2>/dev/null
}

die() { # in the worker: report, keep the logs, exit 1 (the supervisor tears down)
  stop_ticker
  printf '\n   %s[failed]%s %s\n' "$R" "$N" "$*"
  if [ -s "$LOG" ]; then
    rm -rf "$KEPT_LOGS"
    mkdir -p "$KEPT_LOGS"
    cp "$LAB_DIR"/*.log "$KEPT_LOGS/" 2>/dev/null
    say "   The last lines of the log:"
    tail -n 12 "$LOG" | show
    say "   Logs (demo.log: every command; ferrolb-nodeK.log, bird.log: the daemons): $KEPT_LOGS/"
  fi
  exit 1
}

# poll SECS CMD...: run CMD every 50 ms until it succeeds (0) or SECS have passed (1)
poll() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.05
  done
}
us_now() { echo "${EPOCHREALTIME/./}"; } # microseconds since the epoch
mac_of() { echo "02:00:00:00:00:1${1#node}"; }
node_of_mac() { case "$1" in 02:00:00:00:00:1[1-9]) echo "node${1: -1}" ;; *) echo "an unknown host" ;; esac; }
jfield() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }
svc_ips() { jfield "$STATE/services/default/$1.json" '" ".join(i["ip"] for i in d["ingress"])'; }
elapsed() { # seconds -> "1m 05s" / "12s"
  if [ "$1" -ge 60 ]; then printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); else printf '%ds' "$1"; fi
}

# `birdc show route all` for both prefixes, one line per path
condense() {
  awk '
    /unicast \[/ { if (p != "") print line; match($0, /\[[a-z0-9_]+ /); p = substr($0, RSTART + 1, RLENGTH - 2)
                   pre = ($1 ~ /\//) ? $1 : pre; best = ($0 ~ / \* /) ? " (best)" : ""
                   line = sprintf("%-16s from %-6s", pre, p) }
    /BGP.as_path:/   { a = $0; sub(/.*BGP.as_path: */, "", a); if (a == "") a = "(empty: iBGP)"; line = line sprintf("  AS path %-14s", a) }
    /BGP.next_hop:/  { sub(/.*BGP.next_hop: */, ""); line = line sprintf("  next hop %-12s", $1) }
    /BGP.community:/ { sub(/.*BGP.community: */, ""); line = line "  community " $0 best }
    END { if (p != "") print line }'
}
winner() { # LIVE_NODE...: the node `ferrolb plan` says answers ARP for dns
  local live
  live="$(
    IFS=,
    echo "$*"
  )"
  "$FERROLB" plan -o json --live-nodes "$live" "$DIR" 2>/dev/null | python3 -c '
import json, sys
s = [s for s in json.load(sys.stdin)["services"] if s["name"] == "dns"]
w = [a["node"] for a in (s[0].get("announcements") or []) if a["protocol"] == "layer2"] if s else []
print(w[0] if len(w) == 1 else "none")'
}

# ---------------------------------------------------------------- 0. preparations
say "${B}ferrolb demo${N}: a BIRD router and three Kubernetes-like nodes, each in its own network"
say "namespace on one virtual LAN (172.30.0.0/24). Nothing here touches this machine's real network."

if [ "$(id -u)" != 0 ]; then
  say ""
  say "The demo creates network namespaces and answers ARP on them, so it needs root:"
  say "    sudo $0 $*"
  exit 1
fi

# The demo itself runs in the background (the worker); this shell only waits for it, so that a
# Ctrl-C or a TERM is acted on at once, whatever the worker is doing (bash defers a trap until
# the foreground command ends, and may lose it in a command substitution). Worker exit status:
# 0 done and torn down, 3 done with --keep (the lab stays), anything else failed.
# shellcheck disable=SC2317 # the small helpers defined inside are called through poll
worker() {
  # leftovers of an earlier, interrupted run
  if ip netns list 2>/dev/null | grep -q "^${LAB_PREFIX}" || [ -e "$LAB_DIR" ]; then
    timeout 60 "$LAB_SH" down >/dev/null 2>&1 || true
    ! ip netns list 2>/dev/null | grep -q "^${LAB_PREFIX}" ||
      { say "Could not remove the namespaces of an earlier run: sudo LAB_PREFIX=$LAB_PREFIX $LAB_SH down" && exit 1; }
    say "(removed what an earlier, interrupted run left behind)"
  fi
  mkdir -p "$LAB_DIR"
  : >"$LOG"

  step "Preparing"
  printf '   installing the lab tools (bird2, arping, tcpdump, ...) if missing... '
  quiet timeout 900 "$REPO/tests/lab/install.sh" || { say ""; die "installing the packages failed (tests/lab/install.sh)"; }
  say "ready"

  if [ "$BUILD" = 1 ]; then
    OWNER="$(stat -c %U "$REPO")"
    CARGO="$(command -v cargo || true)"
    # under sudo, cargo is often only in the invoking user's ~/.cargo/bin
    if [ -z "$CARGO" ] && [ -n "${SUDO_USER:-}" ]; then
      h="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
      [ -x "$h/.cargo/bin/cargo" ] && CARGO="$h/.cargo/bin/cargo"
    fi
    if [ -z "$CARGO" ]; then
      say ""
      say "cargo (the Rust toolchain, 1.89 or newer) is needed to build ferrolb. Install it with:"
      say "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
      say "then run the demo again (or build elsewhere and use: sudo FERROLB=/path/to/ferrolb $0 --no-build)."
      exit 1
    fi
    FERROLB="${CARGO_TARGET_DIR:-$REPO/target}/release/ferrolb"
    # build as the owner of the checkout (not root), so target/ stays theirs
    BUILD_AS=()
    if [ "$OWNER" != root ] && [ "${SUDO_USER:-}" = "$OWNER" ] && command -v runuser >/dev/null; then
      BUILD_AS=(runuser -u "$OWNER" -- env "PATH=$(dirname "$CARGO"):$PATH" "HOME=$(getent passwd "$OWNER" | cut -d: -f6)")
    fi
    t=$SECONDS
    msg="   building ferrolb (cargo build --release; a few minutes the first time)..."
    printf '%s ' "$msg"
    if [ -t 1 ]; then
      (
        while kill -0 "$$" 2>/dev/null && sleep 1; do printf '\r%s %s ' "$msg" "$(elapsed $((SECONDS - t)))"; done
      ) &
      TICKER=$!
    fi
    (cd "$REPO" && quiet "${BUILD_AS[@]}" "$CARGO" build -q --release -p ferrolb) ||
      { stop_ticker && say "" && die "cargo build --release -p ferrolb failed"; }
    stop_ticker # (on a terminal it cleared the line)
    [ -t 1 ] && printf '%s ' "$msg"
    printf 'done (%s)\n' "$(elapsed $((SECONDS - t)))"
  else
    FERROLB="${FERROLB:-${CARGO_TARGET_DIR:-$REPO/target}/release/ferrolb}"
    case "$FERROLB" in /*) ;; *) FERROLB="$PWD/$FERROLB" ;; esac
  fi
  [ -x "$FERROLB" ] || die "no ferrolb binary at $FERROLB (build it: cargo build --release -p ferrolb)"
  "$FERROLB" run --help >/dev/null 2>&1 || die "$FERROLB has no 'run' command: rebuild it"
  say "   using $FERROLB"

  printf '   starting the lab: namespaces demo-router, demo-node1..3, demo-sw (the LAN)... '
  quiet lab up 3 || { say "" && die "could not create the lab namespaces"; }
  quiet lab start bird || { say "" && die "could not start BIRD"; }
  say "up"

  mkdir -p "$DIR"
  cp "$REPO"/examples/demo/*.yaml "$DIR/"
  # the speakers' shared gossip key (MetalLB's memberlist secretkey)
  head -c 16 /dev/urandom | base64 | tr -d '=' >"$LAB_DIR/memberlist.key"
  chmod 600 "$LAB_DIR/memberlist.key"
  quiet "$FERROLB" validate "$DIR" || die "ferrolb validate rejects examples/demo"
  start_ferrolb() { # NODE
    quiet lab spawn "$1" "ferrolb-$1" "$FERROLB" run --node "$1" --source "dir:$DIR" \
      --membership-key-file "$LAB_DIR/memberlist.key" --log-format text --log-level info
  }
  for n in "${NODES[@]}"; do start_ferrolb "$n" || die "could not start ferrolb on $n"; done
  say "   ferrolb runs on node1, node2 and node3:  ferrolb run --node nodeK --source dir:<examples/demo>"
  say "   ${D}(router BIRD: 172.30.0.1, AS 64500; node1 peers by eBGP from AS 64512, node2 and node3 by iBGP)${N}"

  # ---------------------------------------------------------------- 1. addresses
  step "1. The Services get their IP addresses"
  say "   examples/demo asks for web (dual-stack, pool \"bgp\", announced over BGP) and dns"
  say "   (pool \"lan\", announced by ARP on the LAN). The elected controller assigns them:"
  has_ips() { [ -n "$(svc_ips "$1")" ]; }
  if ! poll 10 has_ips web; then
    for n in "${NODES[@]}"; do
      lab pid "ferrolb-$n" >/dev/null || log "ferrolb on $n is not running; its log ends with: $(tail -n 5 "$LAB_DIR/ferrolb-$n.log")"
    done
    die "web got no address within 10 s (see ferrolb-node*.log)"
  fi
  poll 10 has_ips dns || die "dns got no address within 10 s (see ferrolb-node*.log)"
  WEB="$(svc_ips web)"
  WEB4="${WEB%% *}"
  WEB6="${WEB##* }"
  VIP="$(svc_ips dns)"
  [ "$WEB" = "10.50.0.10 fd00:50::10" ] || die "web got '$WEB', expected 10.50.0.10 and fd00:50::10"
  LEADER="$(jfield "$STATE/leader.json" 'd["node"]')"
  for s in web dns; do
    printf '%s  %s\n' ".ferrolb/services/default/$s.json" "$(jfield "$STATE/services/default/$s.json" 'json.dumps(d)')"
  done | show
  ok "web got $WEB4 and $WEB6, dns got $VIP (assigned by the controller on ${LEADER:-?})"

  # ---------------------------------------------------------------- 2. BGP
  step "2. BIRD learns web's routes over BGP"
  say "   Every node has a ready web pod, so each one announces web's addresses to the router:"
  # the number of paths BIRD has for PREFIX
  paths() { lab birdc show route all "$1" 2>/dev/null | grep -c 'BGP.as_path'; }
  three_paths() { [ "$(paths "$WEB4/32")" = 3 ] && [ "$(paths "$WEB6/128")" = 3 ]; }
  poll 30 three_paths || {
    lab birdc show protocols >>"$LOG" 2>&1
    die "BIRD did not get $WEB4/32 and $WEB6/128 from all three nodes within 30 s"
  }
  {
    echo "birdc show route all $WEB4/32; ... $WEB6/128  (one line per path)"
    lab birdc show route all "$WEB4/32" | condense
    lab birdc show route all "$WEB6/128" | condense
    echo "ip route show $WEB4   (the router's kernel table: BIRD installs the best paths, ECMP)"
    lab exec router ip route show "$WEB4" | sed -e 's/^[[:space:]]*/  /' -e 's/[[:space:]]*$//'
  } | show
  grep -q '(64500,100)' < <(lab birdc show route all "$WEB4/32") || die "BIRD's route has no community 64500:100"
  ok "BIRD learned $WEB4/32 and $WEB6/128 over BGP from node1 (eBGP), node2 and node3 (iBGP), community 64500:100"

  # ---------------------------------------------------------------- 3. ARP
  step "3. dns's address $VIP answers ARP from the elected node"
  OWNER="$(winner "${NODES[@]}")"
  answer() { lab exec router arping -i eth0 -c 1 -w 1 "$VIP" 2>/dev/null | grep -m1 'bytes from'; }
  answer_mac() { answer | awk '{ print $4 }'; }
  owner_answers() { [ "$(answer_mac)" = "$(mac_of "$OWNER")" ]; }
  poll 10 owner_answers || die "$VIP does not answer ARP from $OWNER (plan's choice) within 10 s; answer: '$(answer)'"
  L2FILE="$(cd "$STATE/servicel2status/default/dns" 2>/dev/null && ls)"
  {
    echo "ferrolb plan: $("$FERROLB" plan "$DIR" 2>/dev/null | grep -m1 'answers ARP' | sed 's/^ *layer2: //')"
    echo "arping (from the router): $(answer)"
    echo ".ferrolb/servicel2status/default/dns/: ${L2FILE//$'\n'/ }"
  } | show
  [ "$L2FILE" = "$OWNER.json" ] || die "ServiceL2Status for dns is '$L2FILE', expected $OWNER.json"
  ok "$VIP answers ARP from $OWNER ($(mac_of "$OWNER")), the node ferrolb elected"

  # ---------------------------------------------------------------- 4. failover
  step "4. Failover: kill -9 the ferrolb on $OWNER"
  REST=()
  for n in "${NODES[@]}"; do [ "$n" = "$OWNER" ] || REST+=("$n"); done
  NEXT="$(winner "${REST[@]}")"
  say "   The speakers gossip (UDP 7946); when $OWNER stops answering, the others elect a new owner"
  say "   ($NEXT, says ferrolb plan --live-nodes $(IFS=,; echo "${REST[*]}")), which announces itself by a gratuitous ARP."
  # tcpdump on the router's wire: gratuitous ARPs for VIP from any MAC but the owner's
  # shellcheck disable=SC2086 # one word per byte
  hex="$(printf '0x%02x%02x%02x%02x' ${VIP//./ })"
  quiet lab spawn router garp timeout 20 tcpdump -i eth0 -n -e -l -tt \
    "arp and arp[14:4] == arp[24:4] and arp[24:4] == $hex and not ether src $(mac_of "$OWNER")" ||
    die "could not start tcpdump in the router namespace"
  listening() { grep -q 'listening on' "$LAB_DIR/garp.log"; }
  poll 5 listening || die "tcpdump did not start"
  PID="$(lab pid "ferrolb-$OWNER")" || die "ferrolb on $OWNER is not running"
  T0="$(us_now)"
  kill -KILL "$PID"
  # the first one captured after the kill (one from before it would be a stray: two owners)
  first_garp() { awk -v t="${T0:0:10}.${T0:10}" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 >= t + 0 { print; exit }' "$LAB_DIR/garp.log"; }
  strays() { awk -v t="${T0:0:10}.${T0:10}" '$1 ~ /^[0-9]+\.[0-9]+$/ && $1 + 0 < t + 0 { n++ } END { print n + 0 }' "$LAB_DIR/garp.log"; }
  garp_seen() { [ -n "$(first_garp)" ]; }
  poll 5 garp_seen || die "no gratuitous ARP for $VIP from another node within 5 s of the kill"
  GARP="$(first_garp)"
  TS="${GARP%% *}"
  TS="${TS/./}"
  MS=$(((TS - T0) / 1000))
  FRAC=$((((TS - T0) % 1000) / 100))
  NEWMAC="$(awk '{ print $2 }' <<<"$GARP")"
  NEW="$(node_of_mac "$NEWMAC")"
  new_answers() { [ "$(answer_mac)" = "$NEWMAC" ]; }
  poll 3 new_answers || die "$VIP does not answer from $NEW after the gratuitous ARP"
  {
    echo "kill -9 $PID (ferrolb on $OWNER) at $(date -d "@${T0:0:10}.${T0:10}" +%T.%3N)"
    echo "tcpdump (router): $(sed -e 's/, ethertype ARP (0x0806), length [0-9]*:/:/' -e 's/ ([0-9a-f:]*) tell/ tell/' -e 's/, length [0-9]*$//' <<<"$GARP")  (gratuitous ARP)"
    echo "arping (router):  $(answer)"
  } | show
  [ "$NEW" = "$NEXT" ] || say "   note: $NEW took over, plan expected $NEXT"
  [ "$(strays)" = 0 ] || say "   ${R}warning${N}: $(strays) gratuitous ARP(s) for $VIP from another node before the kill"
  if [ "$LEADER" = "$OWNER" ]; then
    leader_moved() { [ "$(jfield "$STATE/leader.json" 'd["node"]')" != "$OWNER" ]; }
    if poll 3 leader_moved; then
      say "   $OWNER was also the controller: $(jfield "$STATE/leader.json" 'd["node"]') took that role over (.ferrolb/leader.json)."
    fi
  fi
  ok "failover: $NEW ($NEWMAC) took over $VIP ${MS}.${FRAC} ms after the kill of $OWNER"

  if [ "$KEEP" = 1 ]; then
    start_ferrolb "$OWNER" || die "could not restart ferrolb on $OWNER"
  fi

  # ---------------------------------------------------------------- 5. teardown
  if [ "$KEEP" = 1 ]; then
    step "5. The lab stays up (--keep); ferrolb on $OWNER was restarted"
    P="sudo LAB_PREFIX=$LAB_PREFIX tests/lab/lab.sh"
    say "   Look around (from $REPO):"
    {
      echo "$P status|namespaces, addresses, processes"
      echo "$P birdc show route all|BIRD's routes"
      echo "$P exec router arping -i eth0 -c 3 $VIP|who answers for dns"
      echo "$P exec node1 curl -s 127.0.0.1:9120/metrics|node1's metrics"
      echo "$FERROLB plan $DIR|what ferrolb decides, and why"
      echo "less $LAB_DIR/ferrolb-node1.log|node1's log (bird.log: BIRD's)"
    } | awk -F'|' '{ printf "     %-72s %s\n", $1, $2 }'
    say "   Edit or add YAML in $DIR: ferrolb picks changes up at once."
    say "   Tear it all down:  $P down"
    exit 3
  fi
  step "5. Tearing everything down"
  teardown || die "the lab could not be removed completely (ip netns list; $LAB_DIR)"
  ok "torn down: no demo- namespace, no process, no file left"
  say ""
  say "That was ferrolb: the same YAML as MetalLB, addresses over BGP and ARP, failover in ${MS} ms."
}

SIG=""
trap 'SIG=INT' INT
trap 'SIG=TERM' TERM
worker &
WORKER=$!
wait "$WORKER"
rc=$?
trap '' INT TERM # a second Ctrl-C must not stop the teardown half-way
if [ -n "$SIG" ]; then
  kill_tree "$WORKER"
  wait "$WORKER" 2>/dev/null
  printf '\n%sInterrupted: tearing the lab down...%s\n' "$B" "$N"
  if teardown; then
    say "Done: nothing is left behind."
  else
    say "${R}teardown failed${N}: see 'ip netns list'; remove it with: sudo LAB_PREFIX=$LAB_PREFIX $LAB_SH down"
  fi
  [ "$SIG" = INT ] && exit 130
  exit 143
fi
[ "$rc" != 3 ] || exit 0 # --keep
if ! teardown; then
  say "${R}teardown failed${N}: see 'ip netns list'; remove it with: sudo LAB_PREFIX=$LAB_PREFIX $LAB_SH down"
  [ "$rc" != 0 ] || rc=1
fi
exit "$rc"
