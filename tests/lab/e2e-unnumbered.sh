#!/usr/bin/env bash
# End-to-end test of BGP unnumbered (`interface: eth1`, no peerAddress) against FRR's
# `neighbor eth1 interface remote-as external`: `ferrolb run --node node1 --source dir:DIR` in node1.
# A point-to-point veth eth1 joins node1 and the router namespace with NO IPv4 address and no
# global IPv6 address: link-locals only (DAD off, as in the whole lab). This script's own FRR
# (zebra + bgpd, its own pid/vty directory, bgpd listening on every address of the router
# namespace) sends RAs on eth1 and learns node1's link-local from node1's RAs.
#   1. the session comes up over fe80::…%eth1 and the time from the speaker's start to Established
#      at FRR is printed; FRR has the IPv4 Service prefix with node1's link-local as its IPv6 next
#      hop (RFC 8950) and the IPv6 Service prefix; node1 took FRR's RA (counted)
#   2. a second BGPPeer on an interface node1 lacks (eth9) is reported (ConfigurationState
#      bgpPeersServed False naming it, ferrolb_bgp_peers_unserved 1) and a plain peer (FRR at
#      172.30.0.2 over eth0) beside it is Established with the same routes
#   3. a global address on node1's eth1 (fd00:31::11): after the session is reset the IPv4 route's
#      next hop is that global address (with the link-local: the 32-octet form)
#   4. the Service withdrawn: both prefixes leave FRR's table (IPv4 by MP_UNREACH_NLRI)
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 30 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 1

# ---- the point-to-point link: created inside the two namespaces, link-locals only ----
ip link add eth1 netns "${LAB_PREFIX}node1" address 02:00:00:00:01:11 type veth \
  peer name eth1 netns "${LAB_PREFIX}router" address 02:00:00:00:01:02 || fatal "veth eth1"
lab exec node1 ip link set eth1 up
lab exec router ip link set eth1 up
ll_of() { lab exec "$1" ip -6 -o addr show dev eth1 scope link | awk '{sub("/.*", "", $4); print $4; exit}'; }
poll 5 sh -c "[ -n \"\$('$LAB_SH' exec node1 ip -6 -o addr show dev eth1 scope link)\" ]" || fatal "no link-local on node1's eth1"
NODE_LL="$(ll_of node1)"
FRR_LL="$(ll_of router)"
check "eth1 has no IPv4 address on either side" sh -c "! '$LAB_SH' exec node1 ip -4 -o addr show dev eth1 | grep -q inet && ! '$LAB_SH' exec router ip -4 -o addr show dev eth1 | grep -q inet"
echo "#   node1 eth1 $NODE_LL, router eth1 $FRR_LL"

# ---- the manifests ----
lab_manifests
lab_nodes_yaml node1 | put cluster.yaml
unnumbered_peer() { # NAME INTERFACE
  printf -- '---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: %s, namespace: metallb-system}\n' "$1"
  printf 'spec:\n  myASN: 64512\n  dynamicASN: external\n  interface: %s\n' "$2"
  printf '  nodeSelectors:\n    - matchLabels: {kubernetes.io/hostname: node1}\n'
}
{
  lab_bgp_pool_yaml 10.50.0.0/24 fd00:50::/64
  unnumbered_peer fabric eth1
  unnumbered_peer ghost eth9
  lab_bgp_peer_yaml plain 172.30.0.2 node1
} | put config.yaml
lab_service_yaml web 1 Cluster node1 ips=10.50.0.7,fd00:50::7 | put svc-web.yaml
check "ferrolb validate accepts the unnumbered peers" "$FERROLB" validate "$DIR"

# ---- FRR: this script's own zebra and bgpd ----
FRR_DIR="$LAB_DIR/frr-unnumbered"
mkdir -p "$FRR_DIR"
chown frr:frr "$FRR_DIR"
cat >"$LAB_DIR/zebra.conf" <<EOF
! RAs on the unnumbered interface: bgpd asks zebra for them; the interval is set short here
interface eth1
 ipv6 nd ra-interval 3
 no ipv6 nd suppress-ra
EOF
cat >"$LAB_DIR/bgpd.conf" <<EOF
frr defaults traditional
hostname router-frr-unnumbered
log stdout informational
router bgp 64500
 bgp router-id 172.30.0.2
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor eth1 interface remote-as external
 neighbor eth1 timers connect 5
 neighbor 172.30.0.11 remote-as 64512
 neighbor 172.30.0.11 passive
 address-family ipv4 unicast
  neighbor eth1 activate
  neighbor eth1 route-map NONE out
  neighbor 172.30.0.11 activate
  neighbor 172.30.0.11 route-map NONE out
 exit-address-family
 address-family ipv6 unicast
  neighbor eth1 activate
  neighbor eth1 route-map NONE out
 exit-address-family
!
route-map NONE deny 10
EOF
install -o frr -g frr -m 640 "$LAB_DIR/zebra.conf" "$FRR_DIR/zebra.conf"
install -o frr -g frr -m 640 "$LAB_DIR/bgpd.conf" "$FRR_DIR/bgpd.conf"
lab spawn router frr-un-zebra /usr/lib/frr/zebra -f "$FRR_DIR/zebra.conf" -i "$FRR_DIR/zebra.pid" \
  --vty_socket "$FRR_DIR" -z "$FRR_DIR/zserv.api" -A 127.0.0.1 -P 0 --log stdout >/dev/null || fatal "zebra"
poll 10 test -S "$FRR_DIR/zserv.api" || fatal "zebra did not start"
# -n: no FIB install; no -l: bgpd listens on every address of the router namespace, link-locals included
lab spawn router frr-un-bgpd /usr/lib/frr/bgpd -f "$FRR_DIR/bgpd.conf" -i "$FRR_DIR/bgpd.pid" \
  --vty_socket "$FRR_DIR" -z "$FRR_DIR/zserv.api" -A 127.0.0.1 -P 0 -n --log stdout >/dev/null || fatal "bgpd"
poll 10 test -S "$FRR_DIR/bgpd.vty" || fatal "bgpd did not start"
vty() { vtysh --vty_socket "$FRR_DIR" "$@"; }
# FRR has been up a while (its first RAs went out) before the speaker starts, as on a real fabric
nap 2

# ---- 1. the unnumbered session ----
t0="$(now_ms)"
run_ferrolb node1 ferrolb-node1 || fatal "spawn ferrolb in node1"
frr_up() { vty -c "show bgp summary json" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["ipv4Unicast"]["peers"][sys.argv[1]]["state"] != "Established")' "$1"; }
poll 60 frr_up eth1
up_ms="$(elapsed_ms "$t0")"
check "FRR: the unnumbered session with node1 on eth1 is Established" frr_up eth1
echo "#   measured: speaker start -> Established at FRR (unnumbered, eth1): $up_ms ms"
grep -E "unnumbered|peer=fabric" "$LAB_DIR/ferrolb-node1.log" | head -n 12 | cut -c1-170 | sed 's/^/#   /'
check "FRR learnt node1's link-local from its RAs (the neighbour eth1 is $NODE_LL)" \
  sh -c "vtysh --vty_socket '$FRR_DIR' -c 'show bgp neighbors eth1 json' | grep -q '\"hostForeign\":\"$NODE_LL\"\\|$NODE_LL'"
check "node1's session runs over fe80::…%eth1, port 179" \
  sh -c "'$LAB_SH' exec node1 ss -Htn state established 'dport = :179' | grep -q '%eth1'"
route_json() { vty -c "show bgp $1 unicast $2 json"; }
nexthops() { # FAMILY PREFIX: the next hops of each path of the route ("ip/scope" each), a path a line
  route_json "$1" "$2" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for p in d["paths"]:
    print(" ".join("%s/%s" % (n.get("ip"), n.get("scope")) for n in p["nexthops"]))'
}
# FRR shows a 16-octet next hop in its "global" slot, whatever its scope
has_v4_via_ll() { nexthops ipv4 10.50.0.7/32 | grep -q "^$NODE_LL/"; }
has_v6() { nexthops ipv6 fd00:50::7/128 | grep -q "$NODE_LL"; }
wait_for 5 "FRR has 10.50.0.7/32 (IPv4) with node1's link-local as its IPv6 next hop (RFC 8950)" has_v4_via_ll
echo "#   10.50.0.7/32 next hops at FRR, per path: $(nexthops ipv4 10.50.0.7/32 2>/dev/null | paste -sd';')"
wait_for 5 "FRR has fd00:50::7/128 (IPv6) from node1 over the unnumbered session" has_v6
check "FRR's eth1 neighbour has the extended next hop capability both ways" \
  sh -c "vtysh --vty_socket '$FRR_DIR' -c 'show bgp neighbors eth1 json' | grep -q '\"extendedNexthop\":\"advertisedAndReceived\"'"
check "metrics: node1 took router advertisements on eth1" metric_positive node1 ferrolb_bgp_unnumbered_router_adverts_received_total
check "metrics: node1 sent its own (router lifetime 0)" metric_positive node1 ferrolb_bgp_unnumbered_router_adverts_sent_total
check "metrics: node1 metallb_bgp_session_up{peer=\"eth1:179\"} 1" metric_is node1 'metallb_bgp_session_up{peer="eth1:179"}' 1
check "node1 gave no default route to FRR: FRR's kernel has none via node1's link-local" \
  sh -c "! '$LAB_SH' exec router ip -6 route show default | grep -q '$NODE_LL'"

# ---- 2. a missing interface, and a plain peer beside ----
S1="$STATE/configurationstates/speaker-node1.json"
notes_are() {
  local c
  c="$(jget "$S1" '[x for x in d["conditions"] if x["type"] == "bgpPeersServed"][0]')" || return 1
  case "$c" in *"'status': 'False'"*"BGPPeer/ghost: interface eth9 does not exist on this node"*) ;; *) echo "$c" && return 1 ;; esac
}
wait_for 3 "ConfigurationState Valid with the unnumbered peers" test "$(jget "$S1" 'd["result"]')" = Valid
wait_for 3 "bgpPeersServed False: BGPPeer/ghost: interface eth9 does not exist on this node" notes_are
check "metrics: ferrolb_bgp_peers_unserved 1 (ghost only)" metric_is node1 ferrolb_bgp_peers_unserved 1
check "log: node1 says why ghost gets no session" sh -c "grep 'interface eth9 does not exist' '$LAB_DIR/ferrolb-node1.log' | grep -q ghost"
wait_for 10 "the plain peer (FRR at 172.30.0.2 over eth0) is Established beside them" frr_up 172.30.0.11
wait_for 5 "FRR has 10.50.0.7/32 from the plain peer too (next hop 172.30.0.11)" \
  sh -c "vtysh --vty_socket '$FRR_DIR' -c 'show bgp ipv4 unicast 10.50.0.7/32 json' | grep -q '\"ip\":\"172.30.0.11\"'"

# ---- 3. a global address on the link: the 32-octet next hop ----
lab exec node1 ip -6 addr add fd00:31::11/64 dev eth1 nodad
vty -c "clear bgp eth1" >/dev/null
has_v4_via_global() { nexthops ipv4 10.50.0.7/32 | grep -q "^fd00:31::11/global $NODE_LL/link-local"; }
wait_for 30 "after a reset FRR has 10.50.0.7/32 with node1's global fd00:31::11 as next hop (and the link-local)" has_v4_via_global
echo "#   10.50.0.7/32 next hops at FRR, per path: $(nexthops ipv4 10.50.0.7/32 2>/dev/null | paste -sd';')"

# ---- 4. the Service withdrawn ----
rm -f "$DIR/svc-web.yaml"
gone() { ! route_json "$1" "$2" | grep -q '"paths"'; }
wait_for 10 "the Service removed: 10.50.0.7/32 leaves FRR's table (MP_UNREACH_NLRI for IPv4)" gone ipv4 10.50.0.7/32
wait_for 5 "the Service removed: fd00:50::7/128 leaves FRR's table" gone ipv6 fd00:50::7/128
check "the unnumbered session stays Established" frr_up eth1
no_panic
summary
