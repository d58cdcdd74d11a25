#!/usr/bin/env bash
# Faults during a large BGP table push (issue 17, item 4): `ferrolb run` in node1 announces N
# (default 10,000) Service addresses to BIRD over one eBGP session, and while a fresh session is
# pushing the table the router is killed, or the link flaps; afterwards the set of routes BIRD
# holds is compared, prefix by prefix, with the set the Services call for, and the time to get
# there is printed. Not run by run-all.sh (it runs e2e-*.sh only): about 3 minutes.
#
# Set-up (as perf-bgp.sh): N Services s0..s(N-1) with their address already in
# status.loadBalancer.ingress (10.60.0.0 + K, pool 10.60.0.0/15, one ready endpoint on node1 each,
# tools/gen_services.py, 500 a file), a BGPAdvertisement with community 64500:100, BIRD without
# kernel protocols (peers/bird.conf otherwise), and a BGPPeer with holdTime HOLD (default 9 s, so
# the session's hold time is HOLD: BIRD offers 90).
#
# Each scenario starts from a converged session (BIRD holds exactly the N routes) and a quiet
# speaker (lib.sh wait_idle: no CPU, no disk writes), then:
#   1. node1's egress is shaped (tbf, RATE_KBIT, default the rate that makes a push of N routes
#      take PUSH_SECS = 2 s), only so that the fault lands reliably in the middle of the push: the
#      whole table is ~5 octets per /32, which an unshaped veth delivers in a few milliseconds;
#   2. `birdc restart node1`: BIRD drops the session, the speaker redials (1 s backoff) and
#      pushes the whole table again;
#   3. once BIRD has imported FAULT_AT % (default 25) of the routes, the fault, and the shaping
#      is removed at once (recovery runs at the link's speed):
#        kill        BIRD killed with SIGKILL (by pid) and started again KILL_GAP s (default 1) later
#        flap-short  node1's switch port (veth p-node1 in the bridge namespace) down for
#                    SHORT_FLAP s (default 2, shorter than the hold time: the TCP connection
#                    may survive by retransmission)
#        flap-long   the same for LONG_FLAP s (default HOLD + 4: both hold timers expire)
#        ifdown      node1's own eth0 set down for SHORT_FLAP s (its connected route goes with
#                    it; its IPv6 address is added back afterwards)
#      `+withdraw`: during the outage the first and the last manifest file are removed (1,000
#      Services with the default N: 500 whose routes BIRD already holds and 500 it has not been
#      sent yet), so BIRD must end without them (no stale routes);
#   4. the fault is undone (BIRD started, link up), and the time is taken to BIRD's session
#      Established and to the first poll at which BIRD holds exactly the expected set (the route
#      count polled every 50 ms, then `birdc show route` compared with the manifests,
#      tools/route_set_diff.py, which prints the missing and extra prefixes when they differ);
#      whether the session survived (BIRD's "since" time unchanged) and the reasons both sides
#      logged are printed;
#   5. with +withdraw the files come back and BIRD must hold all N again.
# `restart` is the reference: the same re-push unshaped and without a fault.
# Checks: the first push (BGPPeer written) gets all N to BIRD without the session dropping; each
# fault landed mid-push (0 < BIRD's count < N); BIRD ends with exactly the expected set; the long
# flap drops the session; the Services put back reach BIRD over the same session; the route
# attributes (AS path, next hop, community) of a sample; ferrolb still runs and never panicked.
# Figures: one line per scenario and a table (docs/performance/faults.md).
#
#   sudo LAB_PREFIX=fb- tests/lab/fault-bgp.sh
#   sudo SCENARIOS="kill flap-long+withdraw" N=20000 tests/lab/fault-bgp.sh
# Env: N (2..131072; more than 500 for two manifest files), HOLD, SHORT_FLAP, LONG_FLAP, KILL_GAP, PUSH_SECS / RATE_KBIT, FAULT_AT,
# SCENARIOS (default "restart kill kill+withdraw flap-short flap-short+withdraw flap-long
# flap-long+withdraw ifdown"), RECOVER (seconds allowed for recovery, default 120), FERROLB
# (default: target/release/ferrolb, built with `cargo build --release -p ferrolb`), LOGS (a
# directory to copy the ferrolb and BIRD logs to before the teardown), LAB_PREFIX / LAB_DIR as in
# lab.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-10000}"
HOLD="${HOLD:-9}"
SHORT_FLAP="${SHORT_FLAP:-2}"
LONG_FLAP="${LONG_FLAP:-$((HOLD + 4))}"
KILL_GAP="${KILL_GAP:-1}"
PUSH_SECS="${PUSH_SECS:-2}"
# ~5.1 octets per /32 in the UPDATEs (docs/performance: 100,000 in 506,200 octets), plus TCP/IP
RATE_KBIT="${RATE_KBIT:-$((N * 43 / 1000 / PUSH_SECS))}"
[ "$RATE_KBIT" -ge 16 ] || RATE_KBIT=16
FAULT_AT="${FAULT_AT:-25}"
RECOVER="${RECOVER:-120}"
SCENARIOS="${SCENARIOS:-restart kill kill+withdraw flap-short flap-short+withdraw flap-long flap-long+withdraw ifdown}"

find_ferrolb_release
if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 2 ] || [ "$N" -gt 131072 ]; then
  echo "N must be 2..131072 (the /15 pool)"
  exit 2
fi
for s in $SCENARIOS; do
  case "$s" in
    restart | kill | kill+withdraw | flap-short | flap-short+withdraw | flap-long | flap-long+withdraw | ifdown | ifdown+withdraw) ;;
    *) echo "unknown scenario '$s'" && exit 2 ;;
  esac
done

lab_setup 1
[ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
lab_manifests
HELD="$LAB_DIR/held" # manifest files taken away during an outage
mkdir -p "$HELD"

# ---------------------------------------------------------------- helpers

# BIRD without the kernel protocols: the routes are not installed in the router's FIB
BIRD_CONF="$LAB_DIR/bird-fault.conf"
grep -v '^protocol kernel' "$LAB_HOME/peers/bird.conf" >"$BIRD_CONF"
start_bird() {
  rm -f "$LAB_DIR/bird.ctl"
  lab start bird "$BIRD_CONF" >/dev/null
}

bird_count() { # routes BIRD has imported from node1 (IPv4 channel; 0 when the session is down)
  local c
  c="$(bird_cli show protocols all node1 | awk '/Channel ipv4/{c=1} c && /Routes:/{print $2; exit}')"
  echo "${c:-0}"
}
bird_since() { bird_cli show protocols node1 | awk '$1=="node1"{print $5}'; } # state change time
expected_count() { cat "$DIR"/svc-*.yaml 2>/dev/null | grep -c 'ingress: \[{ip:'; }
# converged: BIRD holds exactly the routes of the Services in DIR ($WANT of them). The count is
# polled first (cheap); T_COUNT is when it matched, before the full comparison.
converged() {
  [ "$(bird_count)" = "$WANT" ] || return 1
  T_COUNT="$(now_ms)"
  timeout 30 "$LAB_SH" birdc show route protocol node1 table master4 >"$LAB_DIR/routes.txt" 2>&1 || return 1
  "$PY" "$LAB_HOME/tools/route_set_diff.py" "$DIR" <"$LAB_DIR/routes.txt" >"$LAB_DIR/diff.txt"
}
show_diff() { # after a failed wait: what BIRD holds against what it should
  timeout 30 "$LAB_SH" birdc show route protocol node1 table master4 >"$LAB_DIR/routes.txt" 2>&1
  "$PY" "$LAB_HOME/tools/route_set_diff.py" "$DIR" 20 <"$LAB_DIR/routes.txt" | sed 's/^/#    /'
  echo "#    BIRD's count: $(bird_count), want $WANT"
}
mid_push() { local c; c="$(bird_count)"; [ "$c" -ge $((N * FAULT_AT / 100)) ]; }
sample_attrs() { # PREFIX: BIRD's copy carries AS path 64512, next hop 172.30.0.11, 64500:100
  local o
  o="$(bird_cli show route "$1" all)" || return 1
  echo "$o"
  grep -q 'BGP.as_path: 64512$' <<<"$o" && grep -q 'BGP.next_hop: 172.30.0.11' <<<"$o" &&
    grep -q 'BGP.community: (64500,100)' <<<"$o"
}
ip_at() { "$PY" -c 'import ipaddress,sys; print(ipaddress.IPv4Address("10.60.0.0") + int(sys.argv[1]))' "$1"; }

shape_on() {
  lab exec node1 tc qdisc replace dev eth0 root tbf rate "${RATE_KBIT}kbit" burst 4kb limit 8mb
}
shape_off() { lab exec node1 tc qdisc del dev eth0 root 2>/dev/null || true; }

# the first and the last manifest file: taken away (withdraw) and put back (restore)
FILES=() # set once the manifests exist (below)
withdraw() {
  mv -f "${FILES[0]}" "${FILES[${#FILES[@]} - 1]}" "$HELD"/
}
restore() {
  local f
  for f in "$HELD"/svc-*.yaml; do mv -f "$f" "$DIR"/; done
}

ms() { printf '%d.%03d s' $(($1 / 1000)) $(($1 % 1000)); }
declare -a ROWS

# ---------------------------------------------------------------- set-up

start_bird || fatal "start bird"
t0="$(now_ms)"
"$PY" "$LAB_HOME/tools/gen_services.py" "$STAGE" "$N" 10.60.0.0 node1 || fatal "generate manifests"
mv -f "$STAGE"/svc-*.yaml "$DIR"/
FILES=("$DIR"/svc-*.yaml)
[ "${#FILES[@]}" -ge 2 ] || fatal "fewer than 2 manifest files (N=$N): +withdraw needs two"
cat <<EOF | put base.yaml
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Node
metadata:
  name: node1
  labels: {kubernetes.io/hostname: node1}
status:
  addresses:
    - {type: InternalIP, address: 172.30.0.11}
    - {type: InternalIP, address: "fd00:30::11"}
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: fault, namespace: metallb-system}
spec:
  addresses: [10.60.0.0/15]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: fault, namespace: metallb-system}
spec:
  ipAddressPools: [fault]
  communities: ["64500:100"]
EOF
echo "manifests: $N Services + $N EndpointSlices in ${#FILES[@]} files, generated in $(elapsed_ms "$t0") ms"

t0="$(now_ms)"
LOG_LEVEL=info run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb"
FPID="$(lab pid ferrolb-node1)" || fatal "ferrolb did not start"
wait_idle "$FPID" 600 || fatal "ferrolb did not go idle within 600 s of loading $N services"
echo "ferrolb: loaded $N services and went idle $(elapsed_ms "$t0") ms after start"

t0="$(now_ms)"
put peer.yaml <<EOF
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bird, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64500
  peerAddress: 172.30.0.1
  holdTime: ${HOLD}s
  nodeSelectors:
    - matchLabels: {kubernetes.io/hostname: node1}
EOF
WANT="$N"
lb="$(log_lines bird)"
wait_for 60 "BGPPeer written: BIRD's session with node1 Established" established node1 ||
  fatal "no session"
te="$(now_ms)"
if ! poll "$RECOVER" converged; then
  show_diff
  fatal "first push: BIRD holds exactly the $N routes within $RECOVER s"
fi
check "first push: BIRD holds exactly the $N routes (full set compared)" true
echo "first push: BGPPeer written -> Established $(ms $((te - t0))), -> full table $(ms $((T_COUNT - t0)))"
# the session must not drop on a healthy link while the speaker does its per-service bookkeeping
first_err="$(log_since bird "$lb" | grep -oE 'node1: Error: .*' | sort | uniq -c | sed 's/^ *//' | paste -sd';' -)"
check "first push: the session stayed up (BIRD logged no error: ${first_err:-none})" test -z "$first_err"
wait_idle "$FPID" 600 || check "ferrolb idle again within 600 s of the first push" false
echo "first push: ferrolb idle again $(ms "$(elapsed_ms "$t0")") after the BGPPeer was written"
check "BIRD's hold time with node1 is $HOLD s" sh -c "'$LAB_SH' birdc show protocols all node1 | grep -E 'Hold timer: +[0-9.]+/$HOLD\$'"
check "route attributes at BIRD: $(ip_at 7)/32 AS path 64512, next hop 172.30.0.11, community (64500,100)" \
  sample_attrs "$(ip_at 7)/32"
echo "shaping during the pushes: node1 egress ${RATE_KBIT} kbit/s (tbf), removed at the fault"

# ---------------------------------------------------------------- the scenarios

scenario() { # NAME
  local name="$1" fault="${1%+withdraw}" wd=0 gap lf lb t0 tf tb te tfull c since0 since1 survived
  local down bird_err withdrawn=0
  [ "$fault" = "$name" ] || wd=1
  echo "# ---- $name"
  # start from a quiet speaker, so that a figure is the fault's and not leftover bookkeeping's
  wait_idle "$FPID" 600 || check "$name: ferrolb idle before the scenario (600 s)" false
  WANT="$N"
  if ! established node1 || ! converged; then
    show_diff
    check "$name: starts from a converged session" false
    return
  fi
  [ "$fault" = restart ] || shape_on
  t0="$(now_ms)"
  bird_cli restart node1 >/dev/null
  poll 5 not_established node1
  if [ "$fault" = restart ]; then
    if poll "$RECOVER" established node1 && te="$(now_ms)" && poll "$RECOVER" converged; then
      echo "$name: birdc restart -> Established $(ms $((te - t0))), -> all $N routes $(ms $((T_COUNT - t0))) (no shaping, no fault)"
      check "$name: BIRD holds exactly the $N routes again (full set compared)" true
      ROWS+=("$name|-|-|$((te - t0))|$((T_COUNT - t0))|-|dropped (birdc restart)|$N")
    else
      show_diff
      check "$name: BIRD holds exactly the $N routes again" false
    fi
    return
  fi
  if ! poll 60 mid_push; then
    shape_off
    check "$name: the push reached $FAULT_AT % at BIRD" false
    return
  fi
  c="$(bird_count)"
  te="$(now_ms)"
  since0="$(bird_since)"
  lf="$(log_lines ferrolb-node1)"
  lb="$(log_lines bird)"
  case "$fault" in
    kill)
      cp "$LAB_DIR/bird.log" "$LAB_DIR/bird-before-$name.log"
      tf="$(now_ms)"
      lab kill bird KILL >/dev/null
      gap="$KILL_GAP"
      ;;
    flap-short | flap-long)
      tf="$(now_ms)"
      lab cut node1
      gap="$SHORT_FLAP"
      [ "$fault" = flap-short ] || gap="$LONG_FLAP"
      ;;
    ifdown)
      tf="$(now_ms)"
      lab exec node1 ip link set eth0 down
      gap="$SHORT_FLAP"
      ;;
  esac
  shape_off
  if [ "$wd" = 1 ]; then
    withdraw
    withdrawn=$((N - $(expected_count)))
  fi
  nap "$(awk -v g="$gap" -v t="$(elapsed_ms "$tf")" 'BEGIN { r = g - t / 1000; print (r > 0 ? r : 0) }')"
  case "$fault" in
    kill) start_bird || fatal "restart bird" ;;
    flap-short | flap-long) lab restore node1 ;;
    ifdown)
      lab exec node1 ip link set eth0 up
      lab exec node1 ip -6 addr replace fd00:30::11/64 dev eth0 nodad
      ;;
  esac
  tb="$(now_ms)"
  WANT="$(expected_count)"
  check "$name: the fault landed mid-push (BIRD held $c of $N routes)" test "$c" -gt 0 -a "$c" -lt "$N"
  if ! poll "$RECOVER" established node1; then
    check "$name: BIRD's session with node1 Established again within $RECOVER s" false
    return
  fi
  te="$(now_ms)"
  if poll "$RECOVER" converged; then
    tfull="$T_COUNT"
    check "$name: BIRD holds exactly the $WANT expected routes ($(head -1 "$LAB_DIR/diff.txt"))" true
  else
    check "$name: BIRD holds exactly the $WANT expected routes within $RECOVER s" false
    show_diff
    tfull=""
  fi
  since1="$(bird_since)"
  survived="dropped"
  [ "$since0" != "$since1" ] || survived="survived"
  down="$(log_since ferrolb-node1 "$lf" | grep -o 'BGP session down: .*' | sed -e 's/BGP session down: //' -e 's/ peer=.*//' | sort | uniq -c | sed 's/^ *//' | paste -sd';' -)"
  if [ "$fault" = kill ]; then
    bird_err="(BIRD restarted)"
  else
    bird_err="$(log_since bird "$lb" | grep -oE 'node1: (Error|Received): .*' | sort | uniq -c | sed 's/^ *//' | paste -sd';' -)"
  fi
  echo "#    speaker: session down: ${down:-none}; BIRD: ${bird_err:-no error logged}"
  [ "$fault" != flap-long ] || check "$name: the session dropped (outage $LONG_FLAP s > hold time $HOLD s)" test "$survived" = dropped
  if [ -n "$tfull" ]; then
    printf '%s: fault with %d of %d routes at BIRD; outage %s; back -> Established %s, -> exact table %s (%d routes%s); fault -> exact table %s; session %s\n' \
      "$name" "$c" "$N" "$(ms $((tb - tf)))" "$(ms $((te - tb)))" "$(ms $((tfull - tb)))" "$WANT" \
      "$([ "$withdrawn" = 0 ] || echo ", $withdrawn withdrawn in the outage")" "$(ms $((tfull - tf)))" "$survived"
    ROWS+=("$name|$c|$((tb - tf))|$((te - tb))|$((tfull - tb))|$((tfull - tf))|$survived|$WANT")
  fi
  if [ "$wd" = 1 ]; then
    wait_idle "$FPID" 600 || true
    since0="$(bird_since)"
    lb="$(log_lines bird)"
    restore
    WANT="$N"
    t0="$(now_ms)"
    # poll, not wait_for: converged sets T_COUNT, which must survive (wait_for runs it in a subshell)
    if poll "$RECOVER" converged; then
      check "$name: the $withdrawn Services back: BIRD holds exactly the $N routes again ($(ms $((T_COUNT - t0))) after the files came back)" true
    else
      check "$name: the $withdrawn Services back: BIRD holds exactly the $N routes again within $RECOVER s" false
      show_diff
    fi
    bird_err="$(log_since bird "$lb" | grep -oE 'node1: Error: .*' | sort | uniq -c | sed 's/^ *//' | paste -sd';' -)"
    check "$name: the session stayed up while the $withdrawn Services came back (BIRD's error: ${bird_err:-none})" \
      test "$(bird_since)" = "$since0"
  fi
  check "$name: ferrolb still running" lab pid ferrolb-node1
}

for s in $SCENARIOS; do scenario "$s"; done

check "route attributes at BIRD after the faults: $(ip_at $((N - 3)))/32" sample_attrs "$(ip_at $((N - 3)))/32"
check "ferrolb still running after the faults" lab pid ferrolb-node1
check "no panic in ferrolb's log" sh -c "! grep -q 'panicked at' '$LAB_DIR/ferrolb-node1.log'"
# stop it here (not in the teardown, whose TERM-then-KILL waits are sized for small processes)
kill -TERM "$FPID" 2>/dev/null
# gone: no thread of it left (a zombie leader may still have threads finishing their writes, and
# lab.sh down must not remove the state directory under them)
gone() {
  local t
  for t in /proc/"$FPID"/task/*/stat; do
    [ -e "$t" ] || continue
    case "$(awk '{sub(/^.*\) /, ""); print $1}' "$t" 2>/dev/null)" in Z | X | "") ;; *) return 1 ;; esac
  done
}
poll 60 gone || lab kill ferrolb-node1 KILL >/dev/null
poll 5 gone
if [ -n "${LOGS:-}" ]; then # keep the logs (the teardown removes LAB_DIR)
  mkdir -p "$LOGS" && cp "$LAB_DIR"/*.log "$LOGS"/ && echo "logs kept in $LOGS"
fi

echo
echo "faults during a push of $N IPv4 /32 (node1 -> BIRD, eBGP, hold time $HOLD s; push shaped to ${RATE_KBIT} kbit/s until the fault)"
printf '%-20s %13s %9s %12s %12s %12s %-10s %7s\n' scenario "at fault" outage "back->Est" "back->exact" "fault->exact" session routes
fmt() { if [ "$1" = - ]; then echo -; else ms "$1"; fi; }
for row in "${ROWS[@]}"; do
  IFS='|' read -r n c o e f t sv w <<<"$row"
  printf '%-20s %13s %9s %12s %12s %12s %-10s %7s\n' "$n" "$([ "$c" = - ] && echo - || echo "$c/$N")" \
    "$(fmt "$o")" "$(fmt "$e")" "$(fmt "$f")" "$(fmt "$t")" "${sv%% *}" "$w"
done
echo "(restart: times from 'birdc restart node1', unshaped; back: BIRD started again / link up;"
echo " exact: the first 50 ms poll at which BIRD's count matched, confirmed by the full comparison)"
summary
