#!/usr/bin/env bash
# End-to-end check of the lab itself, with stand-in speakers:
#   GoBGP in node1 (eBGP AS 64512) and GoBGP in node2 (iBGP AS 64500, LOCAL_PREF 200)
#   -> BIRD (.1), FRR (.2), GoBGP (.3) in the router namespace receive 10.50.0.1/32 and
#      fd00:50::1/128 (MP-BGP over the IPv4 session, real IPv6 next hops) with their attributes;
#   L2: a stand-in address on node1 answers arping / ndisc6 from the router; a gratuitous ARP
#      from node2 moves the router's neighbour entry; exactly one MAC answers;
#   partition: `lab.sh cut node1` makes node1 unreachable, `restore` brings it back.
# Prints one line per check and "N passed, M failed" last. Root; about 20 s. Always tears down.
#   MD5=1 tests/lab/smoke.sh   uses the *-md5 variant of every config (TCP MD5 on every session)
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup 3

sfx=""
[ "${MD5:-0}" = 1 ] && sfx="-md5"
P="$LAB_HOME/peers"
lab start bird "$P/bird$sfx.conf" >/dev/null || fatal "start bird"
lab start frr "$P/frr$sfx.conf" >/dev/null || fatal "start frr"
lab start gobgp "$P/gobgp-router$sfx.toml" >/dev/null || fatal "start gobgp"
lab start speaker-gobgp-node1 "$P/speaker-gobgp-node1$sfx.toml" >/dev/null || fatal "start speaker node1"
lab start speaker-gobgp-node2 "$P/speaker-gobgp-node2$sfx.toml" >/dev/null || fatal "start speaker node2"
# the routes wait in the stand-ins' RIBs until their sessions come up (GoBGP's first connect: 5-10 s)
lab gobgp-node1 global rib add -a ipv4 10.50.0.1/32 community 64500:100
lab gobgp-node1 global rib add -a ipv6 fd00:50::1/128 nexthop fd00:30::11 community 64500:100
lab gobgp-node2 global rib add -a ipv4 10.50.0.1/32 local-pref 200 community 64500:100,64500:200
lab gobgp-node2 global rib add -a ipv6 fd00:50::1/128 nexthop fd00:30::12 local-pref 200 community 64500:100

# ---- Layer 2 first, while the BGP sessions come up (stand-in announcer: the VIP on node1's eth0) ----
check "ARP: 172.30.0.100 unanswered before announce" \
  sh -c "! '$LAB_SH' exec router arping -q -i eth0 -c 1 -w 1 172.30.0.100"
lab exec node1 ip addr add 172.30.0.100/32 dev eth0
lab exec node1 ip -6 addr add fd00:30::100/128 dev eth0 nodad
# Debian's arping is Thomas Habets' arping: the interface is -i (not iputils' -I)
check "ARP: 172.30.0.100 is-at node1 MAC" \
  sh -c "'$LAB_SH' exec router arping -i eth0 -c 1 -w 2 -r 172.30.0.100 | grep -qx 02:00:00:00:00:11"
check "NDP: fd00:30::100 is-at node1 MAC" \
  sh -c "'$LAB_SH' exec router ndisc6 -1 -q -r 2 fd00:30::100 eth0 | grep -qix 02:00:00:00:00:11"
lab exec router ping -c1 -W1 172.30.0.100 >/dev/null
check "ip neigh: 172.30.0.100 lladdr node1" \
  sh -c "'$LAB_SH' exec router ip neigh show 172.30.0.100 dev eth0 | grep -q 02:00:00:00:00:11"

# failover: move the VIP to node2 and announce it with a gratuitous ARP; the router's cache follows
lab spawn router garp-capture timeout 10 tcpdump -i eth0 -n -e -l -c 2 'arp and arp[14:4] == arp[24:4]' >/dev/null
wait_for 5 "tcpdump: capture listening" grep -q 'listening on' "$LAB_DIR/garp-capture.log"
lab exec node1 ip addr del 172.30.0.100/32 dev eth0
lab exec node2 ip addr add 172.30.0.100/32 dev eth0
# Linux ignores a neighbour update within locktime (1 s) of the last one; a GARP updates an
# existing entry only (arp_accept=0 does not create one)
nap 1.1
lab exec node2 arping -q -i eth0 -U -S 172.30.0.100 -c 1 172.30.0.100 || true
lab exec node2 arping -q -i eth0 -U -P -S 172.30.0.100 -c 1 172.30.0.100 || true
wait_for 2 "ip neigh: 172.30.0.100 moved to node2 MAC without traffic" \
  sh -c "'$LAB_SH' exec router ip neigh show 172.30.0.100 dev eth0 | grep -q 02:00:00:00:00:12"
wait_for 5 "tcpdump: gratuitous ARP for 172.30.0.100 from node2 MAC" \
  grep -q '02:00:00:00:00:12 > ff:ff:ff:ff:ff:ff.*172.30.0.100' "$LAB_DIR/garp-capture.log"
lab kill garp-capture >/dev/null
check "arping -d: exactly one MAC answers 172.30.0.100" lab exec router arping -q -d -i eth0 -c 2 -w 3 172.30.0.100

# ---- BGP ----
bird_has() { # PREFIX PROTO TEXT
  lab birdc show route "$1" all | tr -d '\t' |
    awk -v p="$2" -v a="$3" '/^[0-9a-f:.\/]+ |^ +unicast/{ok=index($0,"["p" ")>0} ok && index($0,a){f=1} END{exit !f}'
}
frr_has() { # ipv4|ipv6 PREFIX PEER comm|locPrf VALUE
  lab vtysh -c "show bgp $1 unicast $2 json" | python3 -c '
import json,sys; d=json.load(sys.stdin); peer,key,val=sys.argv[1],sys.argv[2],sys.argv[3]
ok=[p for p in d.get("paths",[]) if p.get("peer",{}).get("peerId")==peer and
    (str(p.get("locPrf"))==val if key=="locPrf" else val in p.get("community",{}).get("string",""))]
sys.exit(0 if ok else 1)' "$3" "$4" "$5"
}
gobgp_has() { # ipv4|ipv6 PREFIX PEER comm|lp VALUE
  lab gobgp -j global rib -a "$1" "$2" | python3 -c '
import json,sys; d=json.load(sys.stdin); peer,key,val=sys.argv[1],sys.argv[2],int(sys.argv[3])
paths=[p for ps in d.values() for p in ps if p.get("neighbor-ip")==peer]
def has(p):
    for a in p["attrs"]:
        if key=="lp" and a["type"]==5 and a["value"]==val: return True
        if key=="comm" and a["type"]==8 and val in a["communities"]: return True
    return False
sys.exit(0 if any(has(p) for p in paths) else 1)' "$3" "$4" "$5"
}
bird_up() { lab birdc show protocols "$1" | grep -q Established; }
frr_up() { lab vtysh -c "show bgp neighbors $1 json" | grep -q '"bgpState":"Established"'; }
gobgp_up() { lab gobgp neighbor "$1" | grep -qi 'BGP state = established'; }

C=$(((64500 << 16) | 100)) # GoBGP JSON shows communities as uint32
wait_for 30 "BIRD: node1 session Established" bird_up node1
wait_for 30 "BIRD: node2 session Established" bird_up node2
wait_for 30 "BIRD: node1_v6 (IPv6 transport) Established" bird_up node1_v6
wait_for 30 "FRR: node1 session Established" frr_up 172.30.0.11
wait_for 30 "FRR: node2 session Established" frr_up 172.30.0.12
wait_for 30 "GoBGP: node1 session Established" gobgp_up 172.30.0.11
wait_for 30 "GoBGP: node2 session Established" gobgp_up 172.30.0.12

wait_for 10 "BIRD: 10.50.0.1/32 from node1 (eBGP) with community 64500:100" \
  bird_has 10.50.0.1/32 node1 'BGP.community: (64500,100)'
wait_for 10 "BIRD: 10.50.0.1/32 from node2 (iBGP) with local_pref 200" bird_has 10.50.0.1/32 node2 'BGP.local_pref: 200'
wait_for 10 "BIRD: fd00:50::1/128 from node1 via fd00:30::11" bird_has fd00:50::1/128 node1 'BGP.next_hop: fd00:30::11'
wait_for 10 "BIRD: fd00:50::1/128 from node2 with local_pref 200" bird_has fd00:50::1/128 node2 'BGP.local_pref: 200'
wait_for 10 "BIRD: fd00:50::1/128 over the IPv6-transport session node1_v6" \
  bird_has fd00:50::1/128 node1_v6 'BGP.community: (64500,100)'
wait_for 5 "router kernel: 10.50.0.1 installed by BIRD" \
  sh -c "'$LAB_SH' exec router ip route show 10.50.0.1 | grep -q 'proto bird'"
check "bird_routes_json.py: 10.50.0.1/32 from node1 with community 64500:100" sh -c \
  "'$LAB_SH' birdc show route 10.50.0.1/32 all | '$LAB_HOME/tools/bird_routes_json.py' | python3 -c '
import json,sys; r=json.load(sys.stdin)
sys.exit(0 if any(x[\"proto\"]==\"node1\" and \"64500:100\" in x.get(\"communities\",[]) for x in r) else 1)'"
wait_for 10 "FRR: 10.50.0.1/32 from node1 with community 64500:100" frr_has ipv4 10.50.0.1/32 172.30.0.11 comm 64500:100
wait_for 10 "FRR: 10.50.0.1/32 from node2 with locPrf 200" frr_has ipv4 10.50.0.1/32 172.30.0.12 locPrf 200
wait_for 10 "FRR: fd00:50::1/128 from node1 with community 64500:100" \
  frr_has ipv6 fd00:50::1/128 172.30.0.11 comm 64500:100
wait_for 10 "FRR: fd00:50::1/128 from node2 with locPrf 200" frr_has ipv6 fd00:50::1/128 172.30.0.12 locPrf 200
wait_for 10 "GoBGP: 10.50.0.1/32 from node1 with community 64500:100" gobgp_has ipv4 10.50.0.1/32 172.30.0.11 comm "$C"
wait_for 10 "GoBGP: 10.50.0.1/32 from node2 with local-pref 200" gobgp_has ipv4 10.50.0.1/32 172.30.0.12 lp 200
wait_for 10 "GoBGP: fd00:50::1/128 from node1 with community 64500:100" \
  gobgp_has ipv6 fd00:50::1/128 172.30.0.11 comm "$C"
wait_for 10 "GoBGP: fd00:50::1/128 from node2 with local-pref 200" gobgp_has ipv6 fd00:50::1/128 172.30.0.12 lp 200
if [ -n "$sfx" ]; then
  check "MD5: BIRD's sockets carry TCP MD5 keys" \
    sh -c "'$LAB_SH' exec router ss -tnie '( sport = :179 )' | grep -q md5keys"
fi
# withdraw propagates
lab gobgp-node1 global rib del -a ipv4 10.50.0.1/32
wait_for 10 "BIRD: withdraw from node1 seen" sh -c "! '$LAB_SH' birdc show route 10.50.0.1/32 all | grep -q '\[node1 '"
wait_for 10 "FRR: withdraw from node1 seen" sh -c "! '$LAB_SH' vtysh -c 'show bgp ipv4 unicast 10.50.0.1/32 json' | grep -q '\"peerId\":\"172.30.0.11\"'"

# ---- partition: cut node1's bridge port, then restore it ----
check "partition: router reaches node1 before cut" lab exec router ping -c1 -W1 172.30.0.11
lab cut node1
check "partition: node1 unreachable after cut" sh -c "! '$LAB_SH' exec router ping -c1 -W1 172.30.0.11"
check "partition: node2 still reachable" lab exec router ping -c1 -W1 172.30.0.12
lab restore node1
wait_for 5 "partition: node1 reachable again after restore (v4)" lab exec router ping -c1 -W1 172.30.0.11
wait_for 5 "partition: node1 reachable again after restore (v6)" lab exec router ping -c1 -W1 fd00:30::11

# ---- spawn / kill by pid ----
lab spawn node3 sleeper sleep 300 >/dev/null
check "spawn: process runs in node3's namespace" sh -c "ip netns identify \$('$LAB_SH' pid sleeper) | grep -qx '${LAB_PREFIX}node3'"
lab kill sleeper KILL >/dev/null
check "kill: process gone, pid file removed" sh -c "! '$LAB_SH' pid sleeper && [ ! -e '$LAB_DIR/sleeper.pid' ]"

summary
