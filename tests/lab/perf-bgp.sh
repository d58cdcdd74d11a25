#!/usr/bin/env bash
# Benchmark (issue 6, "Speed"; docs/design.md, Performance targets): push N (default 100,000) IPv4 /32 service
# addresses to BIRD over one eBGP session from node1, first with GoBGP as the speaker, then with
# ferrolb, in the same lab run and to the same BIRD. Not a test: it prints figures (and a few
# sanity checks). Not run by run-all.sh (it only picks e2e-*.sh).
#
# Method: the speaker holds all N routes before the session
# exists; then the session is opened, and the time is taken from BIRD's own millisecond timestamps:
# BIRD's "Established" time of protocol node1 -> the newest route BIRD imported from node1, once
# BIRD holds all N (polled every 50 ms).
#   GoBGP:   gobgpd in node1 (peers/speaker-gobgp-node1.toml), routes loaded with `gobgp mrt inject`
#            (tools/gen_mrt.py) while the neighbor is disabled; `neighbor enable` opens the session.
#   ferrolb: `ferrolb run --node node1` on a manifest directory with N Services that carry their
#            address in status.loadBalancer.ingress (pool 10.60.0.0/15, ETP Cluster, one ready
#            endpoint on node1 each), and no BGPPeer; once ferrolb is idle (CPU), the BGPPeer is
#            added (its session is opened then). Each repetition removes and re-adds the BGPPeer.
# UPDATE messages: counted on the wire (tcpdump in the router namespace, the TCP stream
# reassembled, BGP messages walked), and by the speaker's own counter (gobgp neighbor "Updates
# sent" / metallb_bgp_updates_total). Memory: VmHWM (peak RSS) and VmRSS after the pushes, from
# /proc/PID/status. Routes are 10.60.0.0 .. 10.60.0.0+N-1, community 64500:100, both speakers.
# Also printed for ferrolb: start -> idle (loading N services), BGPPeer written -> Established,
# BGPPeer written -> idle again (per-service bookkeeping), BGPPeer removed -> BIRD's table empty,
# SIGTERM -> exit. About 12 min for N=100000 on the 2-core lab VM (most of it ferrolb loading).
#
#   sudo tests/lab/perf-bgp.sh                   # N=100000, REPS=2, release build of ferrolb (~10 min)
#   sudo N=20000 REPS=1 tests/lab/perf-bgp.sh
#   sudo FERROLB=/path/to/ferrolb tests/lab/perf-bgp.sh
# Env: N, REPS, FERROLB (default: target/release/ferrolb under $CARGO_TARGET_DIR if set, built with
# `cargo build --release -p ferrolb`), LAB_PREFIX / LAB_DIR as in lab.sh.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${N:-100000}"
REPS="${REPS:-2}"
find_ferrolb_release
if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ] || [ "$N" -gt 131072 ]; then
  echo "N must be 1..131072 (the /15 pool)"
  exit 2
fi

lab_setup 1
[ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"

DIR="$LAB_DIR/manifests"
STAGE="$LAB_DIR/stage"
mkdir -p "$DIR" "$STAGE"
put() {
  cat >"$STAGE/$1"
  mv -f "$STAGE/$1" "$DIR/$1"
}

# ---------------------------------------------------------------- helpers

# BIRD without the kernel protocols: 100k routes are not installed in the router's FIB
BIRD_CONF="$LAB_DIR/bird-perf.conf"
grep -v '^protocol kernel' "$LAB_HOME/peers/bird.conf" >"$BIRD_CONF"

bird_established() { lab birdc show protocols node1 | grep Established >/dev/null; }
bird_down() { ! bird_established; }
bird_count() { # routes BIRD has imported from node1 (IPv4 channel)
  lab birdc show protocols all node1 | awk '/Channel ipv4/{c=1} c && /Routes:/{print $2; exit}'
}
bird_has_all() { [ "$(bird_count)" -ge "$N" ] 2>/dev/null; }
bird_empty() { [ "$(bird_count)" = 0 ] || bird_down; }
# BIRD's ms timestamps (today) -> epoch seconds
bird_since() { date -d "today $(lab birdc show protocols node1 | awk '$1=="node1"{print $5}')" +%s.%N; }
bird_newest() {
  date -d "today $(lab birdc show route protocol node1 table master4 | grep -o 'node1 [0-9:.]*' | awk '{print $2}' | sort | tail -1)" +%s.%N
}


mem_of() { # PID: "VmHWM VmRSS" in MB
  awk '/^VmHWM:/{h=$2} /^VmRSS:/{r=$2} END{printf "%.1f %.1f", h/1024, r/1024}' "/proc/$1/status"
}
# cpu_ticks, wait_idle (no CPU and no writes for 1 s): lib.sh

# capture node1 -> BIRD BGP traffic in the router namespace (bounded: timeout 300 s)
cap_start() { # NAME
  lab spawn router "$1" timeout 300 tcpdump -i eth0 -n -s 0 -B 16384 --immediate-mode -U -w "$LAB_DIR/$1.pcap" \
    'tcp and src host 172.30.0.11 and dst host 172.30.0.1 and dst port 179' >/dev/null
  poll 5 grep -q 'listening on' "$LAB_DIR/$1.log"
}
cap_stop() { lab kill "$1" INT >/dev/null; }
# BGP messages in the captured TCP stream(s), reassembled by sequence number:
# prints "UPDATES OTHER DROPPED" (DROPPED: packets the kernel dropped, from tcpdump's report)
cap_count() { # NAME
  local drops
  drops="$(awk '/dropped by kernel/{print $1}' "$LAB_DIR/$1.log")"
  python3 - "$LAB_DIR/$1.pcap" "${drops:-?}" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
linktype = struct.unpack(end + "I", data[20:24])[0]
streams, isn = {}, {}  # source port -> {seq: payload}, initial sequence number (from the SYN)
off = 24
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    if linktype == 1:      # Ethernet
        if struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            continue
        ip = pkt[14:]
    elif linktype == 113:  # Linux cooked
        ip = pkt[16:]
    else:
        ip = pkt
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:total]
    sport = struct.unpack("!H", tcp[0:2])[0]
    seq = struct.unpack("!I", tcp[4:8])[0]
    payload = tcp[(tcp[12] >> 4) * 4:]
    if tcp[13] & 0x02:
        isn[sport] = seq
    if payload:
        streams.setdefault(sport, {})[seq] = payload
updates = other = 0
for sport, segs in streams.items():
    base = (isn[sport] + 1) & 0xFFFFFFFF if sport in isn else min(segs)
    buf = bytearray()
    for seq in sorted(segs):
        rel = (seq - base) & 0xFFFFFFFF
        p = segs[seq]
        if rel + len(p) > len(buf):
            buf += p[len(buf) - rel:] if rel <= len(buf) else b"\0" * (rel - len(buf)) + p
    i = 0
    while i + 19 <= len(buf):
        if buf[i:i + 16] != b"\xff" * 16:
            break  # a gap in the capture
        length, typ = struct.unpack("!HB", buf[i + 16:i + 19])
        if typ == 2:
            updates += 1
        else:
            other += 1
        i += length
print(updates, other, sys.argv[2])
EOF
}

# after the session was opened: wait for Established and for BIRD to hold all N; prints
# "SECONDS (BIRD's timestamps: Established -> newest route)  MS_POLLED (Established seen -> all N seen)
#  MS_TOTAL (since the call)"
push_measure() {
  local te tc tp t0 dt
  t0="$(now_ms)"
  poll 120 bird_established || return 1
  tp="$(now_ms)"
  poll 300 bird_has_all || return 1
  tp=$(($(now_ms) - tp))
  te="$(bird_since)"
  tc="$(bird_newest)"
  dt="$(echo "$tc - $te" | bc)"
  echo "$dt $tp $(elapsed_ms "$t0")"
}

declare -a ROWS UP_MS DOWN_MS BUSY_MS
LOAD_MS="?"
STOP_MS="?"

# ---------------------------------------------------------------- GoBGP

lab start bird "$BIRD_CONF" >/dev/null || fatal "start bird"
python3 "$LAB_HOME/tools/gen_mrt.py" "$LAB_DIR/routes.mrt" "$N" 10.60.0.0 172.30.0.11 || fatal "gen_mrt.py"
lab start speaker-gobgp-node1 >/dev/null || fatal "start gobgpd in node1"
GPID="$(lab pid gobgp-node1)"
wait_for 30 "GoBGP: session to BIRD Established" bird_established || fatal "no GoBGP session"
lab gobgp-node1 neighbor 172.30.0.1 disable
wait_for 10 "GoBGP: session disabled" bird_down
gobgp_rib() { lab gobgp-node1 global rib summary -a ipv4 | awk '/Destination:/{gsub(",","",$2); print $2}'; }
t0="$(now_ms)"
tries=0
# gobgp 3.10's `mrt inject` drops its tail: repeat until complete (gen_mrt.py pads, too)
gobgp_rib_full() { local c; c="$(gobgp_rib)"; [ "${c:-0}" -ge "$N" ]; }
until gobgp_rib_full; do
  lab gobgp-node1 mrt inject global "$LAB_DIR/routes.mrt" >/dev/null
  tries=$((tries + 1))
  [ "$tries" -lt 20 ] || fatal "mrt inject incomplete"
done
check "GoBGP holds $N routes (mrt inject: $tries pass(es), $(elapsed_ms "$t0") ms)" gobgp_rib_full
gobgp_sent() { lab gobgp-node1 neighbor 172.30.0.1 | awk '/Updates:/{print $2; exit}'; }
for rep in $(seq 1 "$REPS"); do
  u0="$(gobgp_sent)"
  cap_start "cap-gobgp-$rep" || fatal "tcpdump"
  lab gobgp-node1 neighbor 172.30.0.1 enable
  if r="$(push_measure)"; then
    read -r dt tp tw <<<"$r"
    nap 0.3
    cap_stop "cap-gobgp-$rep"
    read -r upd oth drop <<<"$(cap_count "cap-gobgp-$rep")"
    own=$(($(gobgp_sent) - u0))
    printf 'GoBGP #%d: %d routes in %.3f s after Established (BIRD timestamps) = %.0f routes/s; polled %d ms; session up %d ms after enable; UPDATEs on the wire %s (other msgs %s, dropped %s), gobgp counter %s\n' \
      "$rep" "$N" "$dt" "$(echo "$N / $dt" | bc -l)" "$tp" "$((tw - tp))" "$upd" "$oth" "$drop" "$own"
    ROWS+=("gobgpd|$rep|$dt|$upd|$own")
  else
    cap_stop "cap-gobgp-$rep"
    check "GoBGP #$rep: BIRD got all $N routes" false
  fi
  lab gobgp-node1 neighbor 172.30.0.1 disable
  poll 60 bird_empty || check "GoBGP #$rep: session down, BIRD's table empty again" false
  nap 1
done
GMEM="$(mem_of "$GPID")"
lab stop speaker-gobgp-node1 >/dev/null

# ---------------------------------------------------------------- ferrolb

t0="$(now_ms)"
# 500 Services + 500 EndpointSlices a file (ferrolb's YAML loader takes at most 1,024 documents per file)
python3 "$LAB_HOME/tools/gen_services.py" "$STAGE" "$N" 10.60.0.0 node1 || fatal "generate manifests"
mv -f "$STAGE"/svc-*.yaml "$DIR"/
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
metadata: {name: perf, namespace: metallb-system}
spec:
  addresses: [10.60.0.0/15]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: perf, namespace: metallb-system}
spec:
  ipAddressPools: [perf]
  communities: ["64500:100"]
EOF
echo "manifests: $N Services + $N EndpointSlices in $(find "$DIR" -name 'svc-*.yaml' | wc -l) files, $(du -cm "$DIR"/svc-*.yaml | tail -1 | cut -f1) MB, generated in $(elapsed_ms "$t0") ms"

peer() { # add the BGPPeer (node1 -> BIRD, eBGP)
  put peer.yaml <<'EOF'
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: bird, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64500
  peerAddress: 172.30.0.1
  nodeSelectors:
    - matchLabels: {kubernetes.io/hostname: node1}
EOF
}
metric() { # SERIES: its value on node1's /metrics (0 if absent, "?" if /metrics does not answer in 30 s)
  lab exec node1 python3 -c '
import sys, urllib.request
try:
    body = urllib.request.urlopen("http://127.0.0.1:9120/metrics", timeout=30).read().decode()
except Exception:
    print("?"); sys.exit()
for line in body.splitlines():
    if line.rsplit(" ", 1)[0] == sys.argv[1]:
        print(line.rsplit(" ", 1)[1].split(".")[0]); break
else:
    print(0)' "$1"
}
UPD='metallb_bgp_updates_total{peer="172.30.0.1:179"}'
metric_moved() { local v; v="$(metric "$UPD")"; [ "$v" != "$1" ] && [ "$v" != "?" ]; }

t0="$(now_ms)"
LOG_LEVEL=info run_ferrolb node1 ferrolb-node1 ||
  fatal "spawn ferrolb"
FPID="$(lab pid ferrolb-node1)"
if wait_idle "$FPID" 900; then
  LOAD_MS="$(elapsed_ms "$t0")"
  echo "ferrolb: loaded $N services and went idle $LOAD_MS ms after start (RSS: $(mem_of "$FPID") MB peak/now)"
else
  LOAD_MS="> 900000"
  check "ferrolb goes idle after loading $N services (900 s)" false
fi
LMEM="$(mem_of "$FPID")"
for rep in $(seq 1 "$REPS"); do
  u0="$(metric "$UPD")"
  cap_start "cap-ferrolb-$rep" || fatal "tcpdump"
  tpeer="$(now_ms)"
  peer
  if r="$(push_measure)"; then
    read -r dt tp tw <<<"$r"
    nap 0.3
    cap_stop "cap-ferrolb-$rep"
    read -r upd oth drop <<<"$(cap_count "cap-ferrolb-$rep")"
    # the speaker is busy with per-service bookkeeping for a while after a BGPPeer appears, and
    # the counter follows the session's status with a lag: let it finish, then read the counter
    wait_idle "$FPID" 600 || true
    BUSY_MS+=("$(elapsed_ms "$tpeer")")
    poll 10 metric_moved "$u0"
    own="$(metric "$UPD")"
    if [[ "$own" =~ ^[0-9]+$ ]] && [[ "$u0" =~ ^[0-9]+$ ]]; then own=$((own - u0)); else own="?"; fi
    printf 'ferrolb #%d: %d routes in %.3f s after Established (BIRD timestamps) = %.0f routes/s; polled %d ms; session up %d ms after the BGPPeer was written; UPDATEs on the wire %s (other msgs %s, dropped %s), metallb_bgp_updates_total %s\n' \
      "$rep" "$N" "$dt" "$(echo "$N / $dt" | bc -l)" "$tp" "$((tw - tp))" "$upd" "$oth" "$drop" "$own"
    ROWS+=("ferrolb|$rep|$dt|$upd|$own")
    UP_MS+=("$((tw - tp))")
  else
    cap_stop "cap-ferrolb-$rep"
    check "ferrolb #$rep: BIRD got all $N routes" false
    tail -n 5 "$LAB_DIR/ferrolb-node1.log" | sed 's/^/       | /'
  fi
  t1="$(now_ms)"
  rm -f "$DIR/peer.yaml"
  if poll 600 bird_empty; then
    DOWN_MS+=("$(elapsed_ms "$t1")")
    echo "ferrolb #$rep: BGPPeer removed: BIRD's session down and table empty $(elapsed_ms "$t1") ms later"
  else
    check "ferrolb #$rep: BGPPeer removed: session down, BIRD's table empty again (600 s)" false
  fi
  wait_idle "$FPID" 600 || true
done
FMEM="$(mem_of "$FPID")"
check "ferrolb still running after the pushes" lab pid ferrolb-node1
check "no panic in ferrolb's log" sh -c "! grep -q 'panicked at' '$LAB_DIR/ferrolb-node1.log'"
# stop it here (not in the teardown, whose TERM-then-KILL waits are sized for small processes)
t1="$(now_ms)"
kill -TERM "$FPID" 2>/dev/null
gone() { ! lab pid ferrolb-node1 >/dev/null; }
if poll 120 gone; then STOP_MS="$(elapsed_ms "$t1")"; else STOP_MS="> 120000"; lab kill ferrolb-node1 KILL >/dev/null; fi
rm -rf "$DIR" "$LAB_DIR"/*.pcap

# ---------------------------------------------------------------- the table

echo
echo "push $N IPv4 /32 to BIRD over one eBGP session (node1 -> 172.30.0.1), same lab run"
printf '%-8s %4s %12s %12s %14s %14s\n' speaker rep "seconds" "routes/s" "UPDATEs wire" "UPDATEs own"
for row in "${ROWS[@]}"; do
  IFS='|' read -r who rep dt upd own <<<"$row"
  printf '%-8s %4s %12.3f %12.0f %14s %14s\n' "$who" "$rep" "$dt" "$(echo "$N / $dt" | bc -l)" "$upd" "$own"
done
read -r gh gr <<<"$GMEM"
read -r lh lr <<<"$LMEM"
read -r fh fr <<<"$FMEM"
echo
printf '%-40s %12s %12s\n' "memory (MB)" "VmHWM" "VmRSS"
printf '%-40s %12s %12s\n' "gobgpd holding $N routes (after pushes)" "$gh" "$gr"
printf '%-40s %12s %12s\n' "ferrolb run, $N services loaded" "$lh" "$lr"
printf '%-40s %12s %12s\n' "ferrolb run, after the pushes" "$fh" "$fr"
echo "(ferrolb run = controller + speaker in one process, incl. the $N-service YAML load;"
echo " gobgpd's peak includes the mrt inject)"
echo
echo "ferrolb with $N services: start -> idle $LOAD_MS ms; BGPPeer written -> Established: ${UP_MS[*]:-?} ms;"
echo "BGPPeer written -> ferrolb idle again: ${BUSY_MS[*]:-?} ms; BGPPeer removed (ferrolb idle) -> BIRD's table"
echo "empty: ${DOWN_MS[*]:-?} ms; SIGTERM -> exit: $STOP_MS ms"
summary
