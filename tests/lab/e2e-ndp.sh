#!/usr/bin/env bash
# Neighbour Discovery edge cases of the speaker's responder (docs/compatibility.md §9.16, RFC 4861
# §7.2.2 and §7.2.4): two speakers, node1 and node2 (membership with a shared key), run
# `ferrolb run --source dir:DIR` on one manifest directory with an L2 pool (fd00:30::100-109 and
# 172.30.0.100-109) and one dual-stack Service; the owner of its IPv6 address is found with ndisc6.
# From the router namespace, the `ndp_probe` example sends solicitations built with ferrolb-l2's
# own codec through an AF_PACKET socket on eth0 and prints every advertisement for the target:
#   * a unicast NS without source link-layer address option (SLLA) from fd00:30::1 to the service
#     address at the owner's MAC: an NA from the owner's MAC to the router's (fd00:30::1), S=1 O=0
#   * the same with SLLA: answered alike; a solicited-node multicast NS without SLLA (both nodes
#     receive it): every NA is the owner's
#   * a DAD probe (source ::, to the solicited-node group, no SLLA): an NA to ff02::1 at
#     33:33:00:00:00:01 with S=0; a DAD probe carrying an SLLA (invalid, §7.1.1): no answer
#   * hop limit 64 (otherwise the answered unicast NS): no answer; an NS for a pool address no
#     Service has (fd00:30::109) sent to the owner's MAC: no answer
#   * Linux's own NUD on the router (eth0: base_reachable_time_ms 3000, delay_first_probe_time 1,
#     retrans_time_ms 300): after a ping to the address (nothing replies; the neighbour entry is
#     what counts), `ip -6 neigh show` polled every 50 ms goes REACHABLE (owner's MAC) -> STALE;
#     one more ping: DELAY -> REACHABLE again, `ip monitor neigh` shows the PROBE in between, and
#     tcpdump shows the router's unicast probe to the owner's MAC and the owner's S=1 answer
#   * kill -9 of the owner with pings running: the entry ends REACHABLE at the other node's MAC,
#     after that node's unsolicited NA (S=0 O=1) and its S=1 answer to the router's solicitation
# What Linux's NUD probes contain (kernel 6.18 here; the run prints one as tcpdump -vv shows it):
# the unicast probe goes from the router's link-local address (fe80::ff:fe00:1, not fd00:30::1:
# a timer-driven probe has no packet to take a source from) to the service address at the cached
# MAC, hop limit 255, and carries an SLLA (the router's MAC): ndisc_send_ns() leaves the option
# out only for DAD. So the path without SLLA is exercised by ndp_probe, not by Linux (other
# routers do omit it, §7.2.2). The owner answers the link-local source, S=1.
# The reachable time (base 3000 ms: 1.5-4.5 s) must stay above delay_first_probe_time: the probe
# itself marks the entry used, so with a reachable time under 1 s the entry cycles
# REACHABLE -> DELAY -> PROBE -> REACHABLE for ever and never goes STALE.
# The checks run after the owner's gratuitous burst is over (no NA for 2.5 s), so every
# advertisement a probe sees is an answer to it.
# Binaries: $FERROLB (or target/debug/ferrolb, built) and $NDP_PROBE (or the example built by
# `cargo build -p ferrolb-l2 --example ndp_probe`). Root; about 30 s.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb
lab_binary NDP_PROBE examples/ndp_probe -p ferrolb-l2 --example ndp_probe

ROUTER_IP=fd00:30::1
ROUTER_MAC=02:00:00:00:00:01
ALL_NODES_MAC=33:33:00:00:00:01
UNUSED6=fd00:30::109 # in the pool, never given to a Service (the only one gets the first address)

lab_setup_ferrolb 2
[ -x "$NDP_PROBE" ] || fatal "no ndp_probe binary at $NDP_PROBE"
lab_manifests
lab_key "$LAB_DIR/key"

# ---------------------------------------------------------------- captures (router's eth0)
cap_start() { # NAME FILTER: tcpdump -tt -vv into $LAB_DIR/NAME.log, bounded; waits until it listens
  lab spawn router "$1" timeout 90 tcpdump -i eth0 -n -e -l -tt -vv "$2" >/dev/null || return 1
  poll 3 grep -q 'listening on' "$LAB_DIR/$1.log"
}
# NS and NA packets whose target is IP6 (ICMPv6 types 135, 136; target at ip6[48:16])
nd_target_filter() {
  "$PY" -c '
import ipaddress, sys
p = ipaddress.IPv6Address(sys.argv[1]).packed
print("icmp6 and (ip6[40] == 135 or ip6[40] == 136) and " + " and ".join("ip6[%d:4] == 0x%s" % (48 + i, p[i:i + 4].hex()) for i in range(0, 16, 4)))' "$1"
}
# nd_packets NAME [SINCE]: the NS/NA packets of capture NAME stamped at or after SINCE (epoch s),
# one line each: "TS NS|NA ETH_SRC > ETH_DST IP_SRC > IP_DST hlim N flags [..] lla MAC|none"
nd_packets() {
  "$PY" -c '
import re, sys
since = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
packets = []
for line in open(sys.argv[1]):
    m = re.match(r"^(\d+\.\d+) (\S+) > (\S+),", line)
    if m:
        packets.append([m.groups(), line])
    elif packets:
        packets[-1][1] += line
for (ts, src, dst), text in packets:
    kind = "NS" if "neighbor solicitation" in text else "NA" if "neighbor advertisement" in text else None
    ips = re.search(r"\) (\S+) > (\S+): ", text)
    if float(ts) < since or not kind or not ips:
        continue
    hlim = re.search(r"hlim (\d+)", text)
    flags = re.search(r"Flags \[([^\]]*)\]", text)
    lla = re.search(r"(?:source|destination) link-address option \(\d\), length \d+ \(\d\): (\S+)", text)
    print(ts, kind, src, ">", dst, ips.group(1), ">", ips.group(2).rstrip(":"),
          "hlim", hlim.group(1) if hlim else "?", "flags", "[%s]" % (flags.group(1) if flags else ""),
          "lla", lla.group(1) if lla else "none")' "$LAB_DIR/$1.log" "${2:-0}"
}

# ---------------------------------------------------------------- the probe (router's eth0)
probe_ns() { # NAME PROBE-ARGS...: one solicitation; ndp_probe's output in $LAB_DIR/NAME.out
  local name="$1"
  shift
  lab exec router "$NDP_PROBE" --interface eth0 --timeout-ms 800 "$@" >"$LAB_DIR/$name.out" 2>&1
}
# answered NAME ETH_SRC ETH_DST IP_DST S PROBE-ARGS...: at least one NA came back, and every one is
# from ETH_SRC (also its target LLA) and the service address to ETH_DST / IP_DST, with S and O=0
answered() {
  local name="$1" src="$2" dst="$3" ip="$4" s="$5"
  shift 5
  probe_ns "$name" "$@" || return 1
  awk -v src="$src" -v dst="$dst" -v ip="$ip" -v s="S=$s" -v t="$V6" '
    $1 == "NA" { n++; if ($2 != src || $4 != dst || $5 != t || $7 != ip || $8 != s || $9 != "O=0" || $12 != t || $14 != src) bad++ }
    END { exit !(n > 0 && !bad) }' "$LAB_DIR/$name.out"
}
unanswered() { # NAME PROBE-ARGS...: the NS was sent and no NA came back
  local name="$1" rc
  shift
  probe_ns "$name" "$@"
  rc=$?
  [ "$rc" = 1 ] && grep -q '^sent NS ' "$LAB_DIR/$name.out" && ! grep -q '^NA ' "$LAB_DIR/$name.out"
}
saw() { sed 's/^/#    /' "$LAB_DIR/$1.out"; } # NAME: what the probe sent and received

# ---------------------------------------------------------------- the router's neighbour entry
neigh() { lab exec router ip -6 neigh show dev eth0 "$V6"; } # "ADDR lladdr MAC STATE"
neigh_is() { # STATE MAC
  local e
  e="$(neigh)"
  echo "neigh: ${e:-none} (want $2 $1)"
  [ "$(awk '{print $3, $NF}' <<<"$e")" = "$2 $1" ]
}
# the entry's states polled since line LINE of nud-poll.log, repeats folded: "STATE@MAC ..."
states_since() {
  tail -n +"$(($1 + 1))" "$LAB_DIR/nud-poll.log" |
    awk '{ s = NF >= 5 ? $NF "@" $(NF - 1) : NF == 3 ? $NF : "none" } s != last { printf "%s ", s; last = s }'
}
# the states since LINE include, in this order, STATE@MAC for each STATE given after MAC
went_through() { # LINE MAC STATE...
  local seen want="" m="$2" s
  seen="$(states_since "$1")"
  shift 2
  for s in "$@"; do want="$want$s@$m .*"; done
  echo "states: $seen"
  grep -Eq "${want%.\*}" <<<"$seen"
}
poll_lines() { wc -l <"$LAB_DIR/nud-poll.log"; }
# ip monitor neigh (from LINE of nud-mon.log) shows, in order, each STATE for V6 at MAC
monitor_shows() { # LINE MAC STATE...
  local line="$1" mac="$2" got
  shift 2
  got="$(tail -n +"$((line + 1))" "$LAB_DIR/nud-mon.log" | awk -v a="$V6" -v m="$mac" '$1 == a && $5 == m { printf "%s ", $NF }')"
  echo "ip monitor: $got"
  grep -Eq "$(printf '%s.*' "$@")" <<<"$got"
}

# ---------------------------------------------------------------- speakers and the Service
lab_nodes_yaml -6 node1 node2 | put cluster.yaml
lab_l2_pool_yaml lan 172.30.0.100-172.30.0.109 fd00:30::100-fd00:30::109 | put pools.yaml
cap_start na-all 'icmp6 and ip6[40] == 136' || fatal "tcpdump na-all is not listening"
for n in node1 node2; do
  run_ferrolb "$n" "ferrolb-$n" --membership-key-file "$LAB_DIR/key" || fatal "spawn ferrolb in $n"
done
lab_service_yaml web 1 Cluster node1 - | put svc-web.yaml

has_ip6() { test -n "$(svc_ip6 web)"; }
wait_for 5 "web gets an IPv6 address" has_ip6 || fatal "no IPv6 address for web"
V6="$(svc_ip6 web)"
[ "$V6" != "$UNUSED6" ] || fatal "web got $UNUSED6, the address meant to stay unused"
members2() { series node1 ferrolb_membership_members | grep -qx 2 && series node2 ferrolb_membership_members | grep -qx 2; }
wait_for 5 "both speakers see 2 members" members2
one_owner() { # exactly one MAC answers ndisc6, and it is a node's
  local m
  m="$(nd_macs "$V6")"
  echo "$V6 -> ${m:-no answer}"
  [ "$m" = "$(mac_of node1)" ] || [ "$m" = "$(mac_of node2)" ]
}
wait_for 5 "$V6 is answered by one node's MAC (ndisc6)" one_owner || fatal "no owner for $V6"
OWNER_MAC="$(nd_macs "$V6")"
if [ "$OWNER_MAC" = "$(mac_of node1)" ]; then OWNER=node1 OTHER=node2; else OWNER=node2 OTHER=node1; fi
OTHER_MAC="$(mac_of "$OTHER")"
check "only $OWNER's MAC answers $V6 (ndisc6, 3 tries)" nd_only "$V6" "$OWNER_MAC" || fatal "owner unclear"
echo "#    owner of $V6: $OWNER ($OWNER_MAC), other: $OTHER ($OTHER_MAC)"

# every NA on the wire so far is the takeover burst (and ndisc6's answers): wait until it is over
quiet() {
  local last
  last="$(awk '$1 ~ /^[0-9]+\.[0-9]+$/ { t = $1 } END { print t }' "$LAB_DIR/na-all.log")"
  [ -n "$last" ] && awk -v t="$last" -v now="$EPOCHREALTIME" 'BEGIN { exit !(now - t >= 2.5) }'
}
burst_seen() { nd_packets na-all | grep -E " NA $OWNER_MAC > $ALL_NODES_MAC .* flags \[override\] " | head -n 3; }
check "the owner's unsolicited NAs (S=0 O=1, to all-nodes) were on the wire" test -n "$(burst_seen)"
wait_for 12 "the gratuitous burst is over (no NA for 2.5 s)" quiet
lab kill na-all TERM >/dev/null

# ---------------------------------------------------------------- solicitations from ndp_probe
check "unicast NS without SLLA from $ROUTER_IP at $OWNER's MAC: NA $OWNER_MAC -> $ROUTER_MAC, S=1" \
  answered u-noslla "$OWNER_MAC" "$ROUTER_MAC" "$ROUTER_IP" 1 \
  --target "$V6" --source "$ROUTER_IP" --unicast "$OWNER_MAC" --no-slla
saw u-noslla
check "unicast NS with SLLA: NA $OWNER_MAC -> $ROUTER_MAC, S=1" \
  answered u-slla "$OWNER_MAC" "$ROUTER_MAC" "$ROUTER_IP" 1 --target "$V6" --source "$ROUTER_IP" --unicast "$OWNER_MAC"
saw u-slla
check "solicited-node multicast NS without SLLA: answered by $OWNER only, S=1" \
  answered m-noslla "$OWNER_MAC" "$ROUTER_MAC" "$ROUTER_IP" 1 --target "$V6" --source "$ROUTER_IP" --no-slla
saw m-noslla
check "DAD probe (source ::, no SLLA): NA to ff02::1 at $ALL_NODES_MAC, S=0" \
  answered dad "$OWNER_MAC" "$ALL_NODES_MAC" ff02::1 0 --target "$V6" --source :: --no-slla
saw dad
check "DAD probe carrying an SLLA: no answer" unanswered dad-slla --target "$V6" --source ::
saw dad-slla
check "hop limit 64 (the unicast NS with SLLA otherwise): no answer" \
  unanswered hlim64 --target "$V6" --source "$ROUTER_IP" --unicast "$OWNER_MAC" --hop-limit 64
saw hlim64
check "NS for $UNUSED6 (in the pool, not announced) at $OWNER's MAC: no answer" \
  unanswered unused --target "$UNUSED6" --source "$ROUTER_IP" --unicast "$OWNER_MAC"
saw unused

# ---------------------------------------------------------------- Linux's NUD on the router
lab exec router sysctl -qw net.ipv6.neigh.eth0.base_reachable_time_ms=3000 \
  net.ipv6.neigh.eth0.delay_first_probe_time=1 net.ipv6.neigh.eth0.retrans_time_ms=300 ||
  fatal "router neighbour sysctls"
lab exec router ip -6 neigh flush dev eth0 to "$V6" >/dev/null 2>&1
cap_start nud-cap "$(nd_target_filter "$V6")" || fatal "tcpdump nud-cap is not listening"
# shellcheck disable=SC2016 # expanded by the inner bash
lab spawn router nud-poll timeout 90 bash -c \
  'while :; do echo "$EPOCHREALTIME $(ip -6 neigh show dev eth0 "$1")"; sleep 0.05; done' _ "$V6" >/dev/null
lab spawn router nud-mon timeout 90 ip -6 monitor neigh >/dev/null
poll 2 test -s "$LAB_DIR/nud-poll.log"
nap 0.2 # ip monitor subscribes

echo "# NUD: one ping resolves $V6 (INCOMPLETE -> REACHABLE), then no traffic"
lab exec router ping -6 -c1 -W1 "$V6" >/dev/null 2>&1 # nothing answers the echo
wait_for 3 "router's entry for $V6 is REACHABLE at $OWNER_MAC" neigh_is REACHABLE "$OWNER_MAC"
wait_for 8 "without traffic it goes STALE (reachable time 1.5-4.5 s)" neigh_is STALE "$OWNER_MAC"
# the poller (every 50 ms) must have recorded STALE too before the mark, or a ping sent before
# its next line leaves the sequence below without the STALE it starts from
poll_stale() { tail -n 1 "$LAB_DIR/nud-poll.log" | grep -q " STALE"; }
poll 2 poll_stale
mark="$(poll_lines)"
mon="$(wc -l <"$LAB_DIR/nud-mon.log")"
t_probe="$EPOCHREALTIME"
echo "# NUD: one more ping (STALE -> DELAY, 1 s later PROBE: a unicast NS to the cached MAC)"
lab exec router ping -6 -c1 -W1 "$V6" >/dev/null 2>&1
wait_for 5 "the entry goes STALE -> DELAY -> REACHABLE at $OWNER_MAC (ip -6 neigh, polled)" \
  went_through "$((mark - 1))" "$OWNER_MAC" STALE DELAY REACHABLE
check "ip monitor neigh shows PROBE, then REACHABLE at $OWNER_MAC" monitor_shows "$mon" "$OWNER_MAC" PROBE REACHABLE
probe_seen() { nd_packets nud-cap "$t_probe" | grep -E " NS $ROUTER_MAC > $OWNER_MAC [^ ]+ > $V6 " | head -n 1; }
answer_seen() { nd_packets nud-cap "$t_probe" | grep -E " NA $OWNER_MAC > $ROUTER_MAC $V6 > [^ ]+ .*\[solicited\]" | head -n 1; }
# waited for, not checked at once: tcpdump's line for a packet can trail the kernel's state
probe_in() { test -n "$(probe_seen)"; }
answer_in() { test -n "$(answer_seen)"; }
wait_for 2 "tcpdump: the router's unicast probe to $OWNER_MAC" probe_in
wait_for 2 "tcpdump: $OWNER's S=1 answer to it" answer_in
echo "#    Linux's probe: $(probe_seen)"
echo "#    as tcpdump -vv printed it:"
grep -A2 -E "^[0-9.]+ $ROUTER_MAC > $OWNER_MAC, .*neighbor solicitation" "$LAB_DIR/nud-cap.log" | head -n 3 | sed 's/^/#    | /'
echo "#    the answer: $(answer_seen)"

echo "# NUD across a failover: pings every 0.2 s, kill -9 of $OWNER"
lab spawn router nud-ping timeout 60 ping -6 -i 0.2 "$V6" >/dev/null
nap 1.5
mark="$(poll_lines)"
t_kill="$EPOCHREALTIME"
lab kill "ferrolb-$OWNER" KILL >/dev/null
wait_for 10 "the entry ends REACHABLE at $OTHER's MAC $OTHER_MAC" neigh_is REACHABLE "$OTHER_MAC"
nap 0.2 # the poller's next lines
echo "#    states after the kill: $(states_since "$mark")"
unsolicited_seen() { nd_packets nud-cap "$t_kill" | grep -E " NA $OTHER_MAC > $ALL_NODES_MAC $V6 > ff02::1 .*\[override\]" | head -n 1; }
reanswer_seen() { nd_packets nud-cap "$t_kill" | grep -E " NA $OTHER_MAC > $ROUTER_MAC $V6 > [^ ]+ .*\[solicited\]" | head -n 1; }
unsolicited_in() { test -n "$(unsolicited_seen)"; }
reanswer_in() { test -n "$(reanswer_seen)"; }
wait_for 2 "tcpdump: $OTHER's unsolicited NA (S=0 O=1) after the kill" unsolicited_in
wait_for 2 "tcpdump: $OTHER's S=1 answer to the router's solicitation" reanswer_in
echo "#    packets since the kill:"
nd_packets nud-cap "$t_kill" | head -n 12 | sed 's/^/#    | /'
lab kill nud-ping TERM >/dev/null
check "only $OTHER's MAC answers $V6 now (ndisc6)" nd_only "$V6" "$OTHER_MAC"
summary
