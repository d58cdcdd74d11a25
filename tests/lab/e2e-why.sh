#!/usr/bin/env bash
# End-to-end test of `ferrolb why --source dir:` (issue 19): three nodes run `ferrolb run
# --source dir:DIR` with BIRD as the router (each node its own BGPPeer, holdTime 3s), a Layer 2
# Service `dns` and a BGP Service `web`; `why` reads the manifests and the state directory the
# speakers write, and its answer follows the cluster:
#   * at first both Services are fully announced (exit 0): dns by its elected node, web to the
#     router from every node with the session established
#   * kill -9 of dns's elected node: `why` names it "its speaker is not alive", another node is
#     elected and answers, and web is partly announced (exit 1)
#   * the BGP session of another node cut (nftables drops TCP 179 in its namespace): `why`
#     says that node's session is down since when, and why (the hold timer)
#   * the cut undone: that session is established again in `why`'s answer
# Needs nft (nftables). Root; about 40 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 3
command -v nft >/dev/null || fatal "no nft (tests/lab/install.sh installs nftables)"
lab_manifests
NODES=(node1 node2 node3)
CUT_TABLE=ferrolb_why_cut

lab start bird >/dev/null || fatal "BIRD did not start"
{
  lab_nodes_yaml "${NODES[@]}"
  echo "---"
  lab_l2_pool_yaml lan 172.30.0.100-172.30.0.110
  echo "---"
  lab_bgp_pool_yaml
  # BIRD (peers/bird.conf) has node1 as eBGP from AS 64512, node2 and node3 as iBGP in AS 64500
  for n in "${NODES[@]}"; do
    asn=64500
    [ "$n" != node1 ] || asn=64512
    printf -- '---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: router-%s, namespace: metallb-system}\n' "$n"
    printf 'spec:\n  myASN: %s\n  peerASN: 64500\n  peerAddress: 172.30.0.1\n  holdTime: 3s\n' "$asn"
    printf '  nodeSelectors:\n    - matchLabels: {kubernetes.io/hostname: %s}\n' "$n"
  done
} | put cluster.yaml
lab_service_yaml -4 dns 10 Cluster node1 lan | put dns.yaml
lab_service_yaml -4 web 11 Cluster node1 pool | put web.yaml
check "ferrolb validate accepts the manifests" "$FERROLB" validate "$DIR" || fatal "manifests rejected"

for n in "${NODES[@]}"; do run_ferrolb "$n" "ferrolb-$n" || fatal "spawn ferrolb in $n"; done

WHY="$LAB_DIR/why.out"
why() { "$FERROLB" why --source "dir:$DIR" --color never "$@" >"$WHY" 2>&1; }
why_exits() { # CODE ARGS...
  local code="$1"
  shift
  why "$@"
  [ "$?" = "$code" ]
}
why_says() { # ERE ARGS...: the answer has a line matching ERE
  local re="$1"
  shift
  why "$@"
  grep -Eq -- "$re" "$WHY"
}
show() { sed 's/^/#    /' "$WHY"; }

wait_for 20 "why: every Service fully announced (exit 0)" why_exits 0 || show
show
OWNER="$(why -o json default/dns; jget "$WHY" '[l["node"] for l in d["services"][0]["announcing"]][0]')"
[ -n "$OWNER" ] || fatal "why names no node announcing dns"
check "why: dns is announced by its elected node $OWNER" why_says "^  layer2 $OWNER: elected; answers ARP/NDP on" default/dns
check "why: the others are not the elected node ($OWNER is)" why_says "not the elected node \($OWNER is\) \(notOwner\)" default/dns
for n in "${NODES[@]}"; do
  check "why: web announced by $n to router-$n, session established" \
    why_says "^  bgp $n: announces 10\.50\.0\.[0-9]+/32 to router-$n, session established" default/web
done
check "why --all: two Services, both announced" why_says "^2 Services: 2 announced, 0 partly, 0 not announced" --all

# ---- kill -9 dns's elected node ----
lab kill "ferrolb-$OWNER" KILL >/dev/null
wait_for 10 "why: $OWNER's speaker is not alive" why_says "^  layer2 $OWNER: its speaker is not alive" default/dns || show
wait_for 10 "why: dns is announced again, by another node" why_exits 0 default/dns || show
show
check "why: dns's new owner is not $OWNER" sh -c "! grep -q '^  layer2 $OWNER: elected' '$WHY'"
check "why: web is partly announced (exit 1)" why_exits 1 default/web
check "why: web from $OWNER: its speaker is not alive" \
  why_says "^  bgp $OWNER: would announce 10\.50\.0\.[0-9]+/32 to router-$OWNER, but its speaker is not alive" default/web

# ---- cut another node's BGP session ----
for n in "${NODES[@]}"; do [ "$n" = "$OWNER" ] || CUT="$n"; done
cat >"$LAB_DIR/cut.nft" <<NFT
table inet $CUT_TABLE {
  chain input { type filter hook input priority 0; policy accept; tcp sport 179 drop; tcp dport 179 drop; }
  chain output { type filter hook output priority 0; policy accept; tcp sport 179 drop; tcp dport 179 drop; }
}
NFT
lab exec "$CUT" nft -f "$LAB_DIR/cut.nft" || fatal "cannot cut $CUT's BGP session"
wait_for 10 "why: $CUT's session is down since a time, with the reason" \
  why_says "^  bgp $CUT: would announce 10\.50\.0\.[0-9]+/32 to router-$CUT, but the session \(172\.30\.0\.1:179\) is [A-Za-z]+ since 20[0-9-]+T[0-9:]+Z: .*hold" default/web || show
show
lab exec "$CUT" nft delete table inet "$CUT_TABLE"
wait_for 30 "why: the cut undone, $CUT's session is established again" \
  why_says "^  bgp $CUT: announces 10\.50\.0\.[0-9]+/32 to router-$CUT, session established" default/web || show
check "why -o json parses and names web" sh -c "'$FERROLB' why --source 'dir:$DIR' -o json default/web | '$PY' -c 'import json,sys; d=json.load(sys.stdin); assert d[\"services\"][0][\"name\"] == \"web\"'"
no_panic
summary
