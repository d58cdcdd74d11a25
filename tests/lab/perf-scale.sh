#!/usr/bin/env bash
# Benchmark (issue 16, the `dir:` source at scale): for each size N in SIZES, `ferrolb run
# --node node1` on ONE manifest file holding N LoadBalancer Services and their EndpointSlices
# (as `kubectl get svc,endpointslices -o yaml` would give), with a BGPPeer to BIRD from the start.
# Not a test: it prints figures (and a few sanity checks). Not run by run-all.sh.
#
# Per size it prints:
#   load        start -> BIRD holds all N routes (polled every 50 ms), and start -> idle (CPU)
#   edit +1     one Service (and its EndpointSlice) appended to the big file (written beside it,
#               renamed over it) -> its /32 at BIRD; the controller allocates it (lowest free
#               address of the pool), the speaker announces it
#   edit -1     the same Service removed from the big file again -> withdrawn at BIRD
#   new file    one Service in a file of its own -> its /32 at BIRD, and removed -> withdrawn
#   memory      ferrolb's VmHWM (peak RSS) after loading and after the edits; and gobgpd's
#               VmHWM holding the same N routes (`gobgp mrt inject`, as perf-bgp.sh does)
# EDITS (default 3) repetitions of each edit; the median is printed. Routes are
# 10.60.0.0 .. 10.60.0.0+N-1 (pool 10.60.0.0/15, restored from status), community none.
#
#   sudo tests/lab/perf-scale.sh                            # SIZES="1000 10000 50000 100000"
#   sudo SIZES=50000 EDITS=5 tests/lab/perf-scale.sh
#   sudo OUT=docs/performance/data/scale.csv tests/lab/perf-scale.sh
# Env: SIZES, EDITS, OUT (a CSV of the figures), GOBGP=0 (skip the gobgpd comparison), FERROLB
# (default: target/release/ferrolb under $CARGO_TARGET_DIR if set, built with
# `cargo build --release -p ferrolb`), LAB_PREFIX / LAB_DIR as in lab.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZES="${SIZES:-1000 10000 50000 100000}"
EDITS="${EDITS:-3}"
GOBGP="${GOBGP:-1}"
find_ferrolb_release
for n in $SIZES; do
  if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 131000 ]; then
    echo "each size must be 1..131000 (the /15 pool)"
    exit 2
  fi
done

lab_setup 1
[ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"

DIR="$LAB_DIR/manifests"
STAGE="$LAB_DIR/stage"
mkdir -p "$DIR" "$STAGE"
BIG="$DIR/services.yaml"

# BIRD without the kernel protocols: 100k routes are not installed in the router's FIB
BIRD_CONF="$LAB_DIR/bird-scale.conf"
grep -v '^protocol kernel' "$LAB_HOME/peers/bird.conf" >"$BIRD_CONF"
lab start bird "$BIRD_CONF" >/dev/null || fatal "start bird"

bird_count() { # routes BIRD has imported from node1 (IPv4 channel)
  bird_cli show protocols all node1 | awk '/Channel ipv4/{c=1} c && /Routes:/{print $2; exit}'
}
bird_has() { bird_cli show route "$1/32" protocol node1 | grep -q "$1/32"; } # IP
bird_lacks() { ! bird_has "$1"; }
count_is() { [ "$(bird_count)" = "$1" ]; }
count_at_least() { [ "$(bird_count)" -ge "$1" ] 2>/dev/null; }
mem_of() { awk '/^VmHWM:/{h=$2} /^VmRSS:/{r=$2} END{printf "%.0f %.0f", h/1024, r/1024}' "/proc/$1/status"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]; else print "?"}'; }

base_yaml() {
  lab_nodes_yaml -n node1
  cat <<'EOF'
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: scale, namespace: metallb-system}
spec:
  addresses: [10.60.0.0/15]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: scale, namespace: metallb-system}
spec:
  ipAddressPools: [scale]
EOF
  lab_bgp_peer_yaml bird 172.30.0.1 node1
}

# one Service NAME with its EndpointSlice, no address (the controller allocates one)
one_service() { # NAME
  echo "---"
  lab_service_yaml -4 "$1" 1 Cluster node1 -
}

# the address the controller gave NAME (its state file), waiting up to 10 s for it
allocated() { # NAME
  local f="$DIR/.ferrolb/services/default/$1.json" i
  for i in $(seq 200); do
    [ -f "$f" ] && jget "$f" 'd["ingress"][0]["ip"]' && return 0
    nap 0.05
  done
  return 1
}

declare -a ROWS
for N in $SIZES; do
  echo
  echo "== $N Services in one file"
  rm -rf "${DIR:?}"/* "$DIR"/.ferrolb "$STAGE"/*
  base_yaml >"$DIR/base.yaml"
  python3 "$LAB_HOME/tools/gen_services.py" "$STAGE" "$N" 10.60.0.0 node1 "$N" || fatal "generate manifests"
  mv -f "$STAGE/svc-0000.yaml" "$BIG"
  echo "manifest: $(du -m "$BIG" | cut -f1) MB, $((2 * N)) documents"

  t0="$(now_ms)"
  LOG_LEVEL=info run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb"
  FPID="$(lab pid ferrolb-node1)"
  if poll 900 count_at_least "$N"; then LOAD_MS="$(elapsed_ms "$t0")"; else LOAD_MS="?"; fi
  if wait_idle "$FPID" 900; then IDLE_MS="$(elapsed_ms "$t0")"; else IDLE_MS="?"; fi
  read -r LOAD_HWM LOAD_RSS <<<"$(mem_of "$FPID")"
  check "$N: BIRD holds all $N routes (start -> all: $LOAD_MS ms; -> idle: $IDLE_MS ms; VmHWM $LOAD_HWM MB)" count_is "$N"

  declare -a ADD DEL NEWF NEWD
  ADD=() DEL=() NEWF=() NEWD=()
  for rep in $(seq 1 "$EDITS"); do
    # edit the big file: one Service more ...
    cp "$BIG" "$STAGE/big.yaml" && one_service "edit$rep" >>"$STAGE/big.yaml"
    t1="$(now_ms)"
    mv -f "$STAGE/big.yaml" "$BIG"
    if ip="$(allocated "edit$rep")" && poll 60 bird_has "$ip"; then ADD+=("$(elapsed_ms "$t1")"); else ADD+=("?"); fi
    wait_idle "$FPID" 300 || true
    # ... and the same Service gone again
    cp "$BIG" "$STAGE/big.yaml"
    python3 - "$STAGE/big.yaml" "edit$rep" <<'EOF'
import sys
path, name = sys.argv[1], sys.argv[2]
docs = open(path).read().split("\n---\n")
keep = [d for d in docs if f"\n  name: {name}\n" not in d and f"kubernetes.io/service-name: {name}}}" not in d]
open(path, "w").write("\n---\n".join(keep).rstrip("\n") + "\n")
EOF
    t1="$(now_ms)"
    mv -f "$STAGE/big.yaml" "$BIG"
    if [ -n "${ip:-}" ] && poll 60 bird_lacks "$ip"; then DEL+=("$(elapsed_ms "$t1")"); else DEL+=("?"); fi
    wait_idle "$FPID" 300 || true
    # a Service in a file of its own, then that file removed
    one_service "file$rep" >"$STAGE/file.yaml"
    t1="$(now_ms)"
    mv -f "$STAGE/file.yaml" "$DIR/file.yaml"
    if ip="$(allocated "file$rep")" && poll 60 bird_has "$ip"; then NEWF+=("$(elapsed_ms "$t1")"); else NEWF+=("?"); fi
    wait_idle "$FPID" 300 || true
    t1="$(now_ms)"
    rm -f "$DIR/file.yaml"
    if [ -n "${ip:-}" ] && poll 60 bird_lacks "$ip"; then NEWD+=("$(elapsed_ms "$t1")"); else NEWD+=("?"); fi
    wait_idle "$FPID" 300 || true
    echo "edit #$rep: +1 in the big file ${ADD[-1]} ms, -1 ${DEL[-1]} ms; own file +1 ${NEWF[-1]} ms, -1 ${NEWD[-1]} ms"
  done
  check "$N: every edit reached BIRD" sh -c "! echo '${ADD[*]} ${DEL[*]} ${NEWF[*]} ${NEWD[*]}' | grep -q '?'"
  check "$N: BIRD holds the $N routes again" count_is "$N"
  read -r HWM RSS <<<"$(mem_of "$FPID")"
  check "no panic in ferrolb's log" sh -c "! grep -q 'panicked at' '$LAB_DIR/ferrolb-node1.log'"
  kill -TERM "$FPID" 2>/dev/null
  gone() { ! lab pid ferrolb-node1 >/dev/null; }
  poll 120 gone || lab kill ferrolb-node1 KILL >/dev/null
  poll 60 count_is 0 || true

  GHWM="-"
  if [ "$GOBGP" = 1 ]; then
    python3 "$LAB_HOME/tools/gen_mrt.py" "$LAB_DIR/routes.mrt" "$N" 10.60.0.0 172.30.0.11 >/dev/null || fatal "gen_mrt.py"
    lab start speaker-gobgp-node1 >/dev/null || fatal "start gobgpd in node1"
    GPID="$(lab pid gobgp-node1)"
    gobgp_rib() { lab gobgp-node1 global rib summary -a ipv4 | awk '/Destination:/{gsub(",","",$2); print $2}'; }
    gobgp_full() { local c; c="$(gobgp_rib)"; [ "${c:-0}" -ge "$N" ]; }
    tries=0
    # gobgp 3.10's `mrt inject` drops its tail: repeat until complete (gen_mrt.py pads, too)
    until gobgp_full || [ "$tries" -ge 20 ]; do
      lab gobgp-node1 mrt inject global "$LAB_DIR/routes.mrt" >/dev/null
      tries=$((tries + 1))
    done
    poll 120 count_at_least "$N" || true
    check "$N: gobgpd holds the same $N routes and BIRD has them" count_at_least "$N"
    read -r GHWM _ <<<"$(mem_of "$GPID")"
    lab stop speaker-gobgp-node1 >/dev/null
    poll 60 count_is 0 || true
  fi
  ROWS+=("$N|$LOAD_MS|$IDLE_MS|$(median "${ADD[@]}")|$(median "${DEL[@]}")|$(median "${NEWF[@]}")|$(median "${NEWD[@]}")|$LOAD_HWM|$HWM|$GHWM")
done
rm -rf "$DIR" "$STAGE" "$LAB_DIR"/routes.mrt

echo
echo "ferrolb run on the dir: source, N Services + EndpointSlices in one file, BGP to BIRD (medians of $EDITS edits)"
printf '%8s %10s %10s %9s %9s %9s %9s %10s %10s %10s\n' N "load ms" "idle ms" "+1 ms" "-1 ms" "file+ ms" "file- ms" "HWM load" "HWM end" "gobgpd"
for row in "${ROWS[@]}"; do
  IFS='|' read -r n l i a d f g h e b <<<"$row"
  printf '%8s %10s %10s %9s %9s %9s %9s %10s %10s %10s\n' "$n" "$l" "$i" "$a" "$d" "$f" "$g" "$h" "$e" "$b"
done
echo "(load: start -> BIRD holds all; idle: start -> no CPU for 1 s; +1/-1: one Service appended to /"
echo " removed from the big file -> route at / gone from BIRD; file+/file-: the same with a file of"
echo " its own; HWM: ferrolb's peak RSS in MB after loading / at the end; gobgpd: its peak RSS"
echo " holding the same N routes)"
if [ -n "${OUT:-}" ]; then
  {
    echo "services,load_ms,idle_ms,edit_add_ms,edit_remove_ms,file_add_ms,file_remove_ms,hwm_load_mb,hwm_end_mb,gobgpd_hwm_mb"
    for row in "${ROWS[@]}"; do echo "${row//|/,}"; done
  } >"$OUT"
  echo "figures written to $OUT"
fi
summary
