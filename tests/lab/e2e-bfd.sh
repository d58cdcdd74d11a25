#!/usr/bin/env bash
# BFD interop of ferrolb-bfd's driver against BIRD's (RFC 5880/5881 single-hop), without the
# speaker: the `bfd_probe` example (one session, one line per state change with a unix-ms
# timestamp) runs in node1 against BIRD in the router namespace (peers/bird-bfd.conf), both at
# 100 ms x 3.
#   * the session comes up on both sides; the probe reports tx=100 and detect=300 (negotiated)
#   * SIGSTOP of BIRD: the probe goes Down with diagnostic 1 (Control Detection Time Expired);
#     the time from the signal to Down is printed and must stay within 20 % of the 300 ms
#     detection time (it is at most 300 ms, less the time since BIRD's last packet)
#   * SIGCONT: the session comes back up
#   * SIGTERM of the probe: it sends AdminDown and BIRD reports the session Down at once
# Binary: $BFD_PROBE, or the example built by `cargo build -p ferrolb-bfd --example bfd_probe`.
# Root; about 10 s.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_binary BFD_PROBE examples/bfd_probe -p ferrolb-bfd --example bfd_probe

lab_setup 1
[ -x "$BFD_PROBE" ] || fatal "no bfd_probe binary at $BFD_PROBE"
LOG="$LAB_DIR/bfd-probe.log"

lab start bird "$LAB_HOME/peers/bird-bfd.conf" >/dev/null || fatal "BIRD did not start"
lab spawn node1 bfd-probe "$BFD_PROBE" --bind 172.30.0.11 --peer 172.30.0.1 --interval 100 --multiplier 3 >/dev/null

probe_state() { tail -n 1 "$LOG" 2>/dev/null | awk '{print $2}'; }
probe_is() { [ "$(probe_state)" = "$1" ]; }
bird_session_is() { lab birdc show bfd sessions | grep -E '^172\.30\.0\.11 ' | grep -qw "$1"; }
up_again() { awk '$2 == "Down" { d = NR } $2 == "Up" { u = NR } END { exit !(d && u > d) }' "$LOG"; }
negotiated() { tail -n 1 "$LOG" | grep -q ' Up 0 tx=100 detect=300$'; }

wait_for 10 "the probe's session is Up" probe_is Up
wait_for 5 "BIRD's session to node1 is Up" bird_session_is Up
wait_for 5 "the probe negotiated tx=100 ms, detection 300 ms" negotiated

frozen=$(now_ms)
lab kill bird STOP
if wait_for 5 "the probe goes Down when BIRD is frozen" probe_is Down; then
  down_at=$(tail -n 1 "$LOG" | awk '{print $1}')
  detect_ms=$((down_at - frozen))
  echo "#    detection after SIGSTOP: ${detect_ms} ms (configured 300 ms)"
  check "detection within 20 % of 300 ms (${detect_ms} ms)" test "$detect_ms" -le 360
  check "the diagnostic is Control Detection Time Expired" bash -c "tail -n 1 '$LOG' | grep -q ' Down 1 '"
fi
lab kill bird CONT
wait_for 10 "the session comes back Up after SIGCONT" up_again

echo "#    probe transitions: $(awk '$1 ~ /^[0-9]+$/ { printf "%s ", $2 }' "$LOG")"
lab kill bfd-probe TERM
wait_for 2 "BIRD sees the session Down after the probe's AdminDown" bird_session_is Down
check "the probe logged its counters" grep -q '^counters ' "$LOG"
summary
