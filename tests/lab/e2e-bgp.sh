#!/usr/bin/env bash
# End-to-end test of the native BGP speaker (issue 6, "Done when") against BIRD (.1), FRR (.2)
# and GoBGP (.3), all three running at once in the router namespace on their own addresses.
# Three nodes run `ferrolb run --node nodeK --source dir:DIR` on one shared manifest directory;
# BGPPeers select node1 (eBGP AS 64512 -> 64500: an IPv4 session to each router, holdTime 3s,
# dualStackAddressFamily: true, and an IPv6-transport session to each router; and two peers it
# cannot serve, unnumbered on an interface and in a VRF node1 does not have) and node2 (iBGP
# AS 64500: an IPv4 session to each router); node3 has no peer (it only hosts endpoints).
#   phase 1, plain sessions:
#     * every session is Established at the router, metallb_bgp_session_up is 1, the speaker logs it
#     * a dual-stack Service's /32 and /128 arrive at every router from node1 (eBGP: AS_PATH 64512,
#       no LOCAL_PREF 200) and node2 (iBGP: empty AS_PATH, LOCAL_PREF 200), next hop = the node's
#       address of that family (IPv6 next hop from the Node object over the IPv4 session),
#       community 64500:100 and large community 64500:1:2; the /128 also over IPv6 transport
#     * address families as MetalLB's FRR mode: without dualStackAddressFamily a session
#       carries only its own family (node2's IPv4 sessions no /128, node1's IPv6 sessions no
#       /32); with it, both; with node1's Node object stripped of its IPv6 address, the /128
#       over node1's IPv4 session takes the session interface's global address as next hop
#     * aggregationLength 26 / aggregationLengthV6 112 yields the aggregates, not the host routes
#     * ServiceBGPStatus names the peers per node; ETP Local announces only from the endpoint's
#       node and follows the endpoint when it moves
#     * deleting a Service withdraws it from every router within 1 s (measured per router)
#     * metallb_bgp_announced_prefixes_total / metallb_bgp_updates_total; BIRD logs no attribute error
#     * restarting all three routers: the sessions come back, and so do the routes
#     * SIGSTOP of all three routers: node1's IPv4 sessions (holdTime 3s) are dropped after the
#       hold time (metric 0, logged), the 90 s sessions stay; after SIGCONT they come back
#   phase 2, TCP MD5 (BIRD and FRR restarted with the -md5 configs, GoBGP stays plain):
#     * MD5 sessions come up with the right key; a wrong key keeps node2's FRR session down while
#       node2's other sessions stay up; fixing the key brings it up
#   removing node1's IPv6-transport BGPPeers: each router gets a CEASE and loses those routes,
#     session_up for them is no longer 1, ServiceBGPStatus follows; the IPv4 sessions stay
#   end: SIGTERM of node1's speaker makes every router see a CEASE (administrative shutdown) and
#     withdraws node1's routes (node2's stay); no panic in any log.
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 50 s. Prints one line per check (measured times in the names) and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 3

lab_manifests
PEERS="$LAB_HOME/peers"
ROUTERS=(bird frr gobgp)
declare -A RADDR=([bird]=172.30.0.1 [frr]=172.30.0.2 [gobgp]=172.30.0.3)
declare -A RADDR6=([bird]=fd00:30::1 [frr]=fd00:30::2 [gobgp]=fd00:30::3)
declare -A RNAME=([bird]=BIRD [frr]=FRR [gobgp]=GoBGP)

# ---------------------------------------------------------------- manifests

lab_nodes_yaml -6 node1 node2 node3 | put cluster.yaml

peer_yaml() { # NAME NODE MY_ASN ADDRESS HOLD|- PASSWORD|- [dual]
  cat <<EOF
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: $1, namespace: metallb-system}
spec:
  myASN: $3
  peerASN: 64500
  peerAddress: "$4"
  nodeSelectors:
    - matchLabels: {kubernetes.io/hostname: $2}
EOF
  [ "$5" = - ] || echo "  holdTime: $5"
  [ "$6" = - ] || echo "  password: $6"
  [ "${7:-}" != dual ] || echo "  dualStackAddressFamily: true"
}

# the pools, advertisements and peers; $1 = plain | md5 (BIRD and FRR peers with the lab's key)
# | md5-wrong (as md5, but node2's FRR peer has a wrong key); $2 = nov6: without node1's
# IPv6-transport peers
config() {
  local mode="$1" v6="${2:-}" r pw pw2
  cat <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: metallb-system}
spec:
  addresses: [10.50.0.0/25, "fd00:50::/112"]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: agg, namespace: metallb-system}
spec:
  addresses: [10.50.0.192/26, "fd00:50::1:0/112"]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: host, namespace: metallb-system}
spec:
  ipAddressPools: [bgp]
  communities: ["64500:100", "large:64500:1:2"]
  localPref: 200
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: aggregate, namespace: metallb-system}
spec:
  ipAddressPools: [agg]
  aggregationLength: 26
  aggregationLengthV6: 112
  communities: ["64500:300"]
EOF
  for r in "${ROUTERS[@]}"; do
    pw=-
    pw2=-
    if [ "$mode" != plain ] && [ "$r" != gobgp ]; then
      pw=metallb-md5
      pw2=metallb-md5
      [ "$mode" = md5-wrong ] && [ "$r" = frr ] && pw2=not-the-key
    fi
    peer_yaml "node1-$r" node1 64512 "${RADDR[$r]}" 3s "$pw" dual
    [ "$v6" = nov6 ] || peer_yaml "node1-$r-v6" node1 64512 "${RADDR6[$r]}" - "$pw"
    peer_yaml "node2-$r" node2 64500 "${RADDR[$r]}" - "$pw2"
  done
  # valid MetalLB (FRR-mode) peers node1 cannot serve, an unnumbered one and one in a VRF
  # node1 does not have: isolated and reported, they must never silence node1's other sessions
  unserved_peer_yaml node1-fabric "interface: eth1"
  unserved_peer_yaml node1-red "peerAddress: 172.30.0.1
  vrf: red"
}

unserved_peer_yaml() { # NAME TARGET_LINES (node1's)
  printf -- '---\napiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: %s, namespace: metallb-system}\n' "$1"
  printf 'spec:\n  myASN: 64512\n  peerASN: 64500\n  %s\n  nodeSelectors:\n    - matchLabels: {kubernetes.io/hostname: node1}\n' "$2"
}

# a dual-stack LoadBalancer Service with fixed addresses and its EndpointSlice (one ready endpoint)
service() { # NAME IDX V4 V6 ETP ENDPOINT_NODE
  lab_service_yaml "$1" "$2" "$5" "$6" "ips=$3,$4" | put "svc-$1.yaml"
}

config plain | put config.yaml
service web 1 10.50.0.1 fd00:50::1 Cluster node3
service tmp 2 10.50.0.2 fd00:50::2 Cluster node3
service local 3 10.50.0.3 fd00:50::3 Local node2
service agg 4 10.50.0.193 fd00:50::1:1 Cluster node3

check "ferrolb validate accepts the manifests" "$FERROLB" validate "$DIR" || fatal "manifests rejected"

# ---------------------------------------------------------------- reading the routers

# rib.py KIND has PREFIX PEER [SPEC...] | rib.py KIND absent PREFIX PEER [PREFIX PEER...]
# reads the router's table (stdin), normalised to {prefix, peer (the session's neighbour
# address), nh, aspath, lp, comm, large}.
#   has:    a route for PREFIX from PEER exists and matches every SPEC (key=value, key!=value;
#           keys nh, aspath (space separated), lp ("-" = none), comm, large (sorted, comma separated))
#   absent: no route for any of the PREFIXes from its PEER
# On failure it prints the routes it has for the PREFIX(es).
RIB="$LAB_DIR/rib.py"
cat >"$RIB" <<'EOF'
import json, re, sys

kind, mode, *args = sys.argv[1:]
text = sys.stdin.read()
docs, dec, i = [], json.JSONDecoder(), 0
while kind != "bird":
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    doc, i = dec.raw_decode(text, i)
    docs.append(doc)

routes = []
def add(pfx, peer, nh, aspath, lp, comm, large):
    routes.append({"prefix": pfx, "peer": peer, "nh": nh or "-", "aspath": " ".join(str(a) for a in aspath),
                   "lp": "-" if lp is None else str(lp), "comm": ",".join(sorted(comm)),
                   "large": ",".join(sorted(large))})

if kind == "bird":  # birdc show route all (as tools/bird_routes_json.py reads it); the protocol
    # name says which session: nodeK = 172.30.0.1K, nodeK_v6 = fd00:30::1K
    hdr = re.compile(r"^(\S+)?\s+(?:unicast|blackhole|unreachable|prohibited)\s+\[(\S+) ")
    parsed, pfx = [], None
    for line in text.splitlines():
        m = hdr.match(line)
        if m:
            pfx = m.group(1) or pfx
            parsed.append((pfx, m.group(2), {}))
        elif parsed and ":" in line and line.startswith("\t"):
            k, _, v = line.strip().partition(":")
            parsed[-1][2][k.strip()] = v.strip()
    for pfx, proto, a in parsed:
        m = re.fullmatch(r"node(\d)(_v6)?", proto)
        if not m or "BGP.next_hop" not in a:
            continue
        addr = ("fd00:30::1" if m.group(2) else "172.30.0.1") + m.group(1)
        add(pfx, addr, a["BGP.next_hop"].split()[0], a.get("BGP.as_path", "").split(),
            a.get("BGP.local_pref"), [f"{x}:{y}" for x, y in re.findall(r"\((\d+),\s*(\d+)\)", a.get("BGP.community", ""))],
            [f"{x}:{y}:{z}" for x, y, z in re.findall(r"\((\d+),\s*(\d+),\s*(\d+)\)", a.get("BGP.large_community", ""))])
elif kind == "frr":  # show bgp ipv4|ipv6 unicast json detail
    for d in docs:
        for pfx, paths in d.get("routes", {}).items():
            for p in paths:
                if "peer" not in p:
                    continue
                nhs = p.get("nexthops", [])
                nh = next((n["ip"] for n in nhs if n.get("scope", "global") == "global"), None)
                asp = [a for s in p.get("aspath", {}).get("segments", []) for a in s.get("list", [])]
                add(pfx, p["peer"]["peerId"], nh, asp, p.get("locPrf"), p.get("community", {}).get("list", []),
                    p.get("largeCommunity", {}).get("list", []))
elif kind == "gobgp":  # gobgp -j global rib -a ipv4|ipv6
    for d in docs:
        for pfx, paths in d.items():
            for p in paths:
                nh, asp, lp, comm, large = None, [], None, [], []
                for a in p.get("attrs", []):
                    t = a.get("type")
                    if t == 2:
                        asp = [n for s in a.get("as_paths", []) for n in s.get("asns", [])]
                    elif t in (3, 14):
                        nh = a.get("nexthop")
                    elif t == 5:
                        lp = a.get("value")
                    elif t == 8:
                        comm = [f"{c >> 16}:{c & 0xffff}" for c in a.get("communities", [])]
                    elif t == 32:
                        large = [f'{v["ASN"]}:{v["LocalData1"]}:{v["LocalData2"]}' for v in a.get("value", [])]
                add(pfx, p.get("neighbor-ip"), nh, asp, lp, comm, large)

def matches(r, specs):
    for s in specs:
        k, op, v = re.fullmatch(r"(\w+)(!?=)(.*)", s).groups()
        if (r[k] == v) != (op == "="):
            return False
    return True
if mode == "has":
    prefix, peer, specs = args[0], args[1], args[2:]
    pairs = [(prefix, peer)]
    ok = any(r["prefix"] == prefix and r["peer"] == peer and matches(r, specs) for r in routes)
else:
    pairs = list(zip(args[0::2], args[1::2]))
    ok = not any((r["prefix"], r["peer"]) in pairs for r in routes)
if not ok:
    prefixes = {p for p, _ in pairs}
    for r in routes:
        if r["prefix"] in prefixes:
            print("  has " + json.dumps(r))
    print(f"{kind}: want {mode} " + " ".join(args))
sys.exit(0 if ok else 1)
EOF

rib_dump() { # ROUTER: the router's IPv4 and IPv6 tables in the form rib.py reads
  case "$1" in
    bird) lab birdc show route all ;;
    frr)
      lab vtysh -c 'show bgp ipv4 unicast json detail'
      lab vtysh -c 'show bgp ipv6 unicast json detail'
      ;;
    gobgp)
      lab gobgp -j global rib -a ipv4
      lab gobgp -j global rib -a ipv6
      ;;
  esac
}
route_has() { # ROUTER PREFIX PEER SPEC...
  local r="$1"
  shift
  rib_dump "$r" | python3 "$RIB" "$r" has "$@"
}
routes_absent() { # ROUTER PREFIX PEER [PREFIX PEER ...]: none of them there
  local r="$1"
  shift
  rib_dump "$r" | python3 "$RIB" "$r" absent "$@"
}

# the router's session with neighbour ADDR (172.30.0.1K, fd00:30::1K) is Established
bird_proto() { # ADDR -> BIRD protocol name
  case "$1" in
    172.30.0.1?) echo "node${1#172.30.0.1}" ;;
    fd00:30::1?) echo "node${1#fd00:30::1}_v6" ;;
  esac
}
established() { # ROUTER ADDR
  case "$1" in
    bird) lab birdc show protocols "$(bird_proto "$2")" | grep Established >/dev/null ;;
    frr) lab vtysh -c "show bgp neighbors $2 json" | grep '"bgpState":"Established"' >/dev/null ;;
    gobgp) lab gobgp neighbor "$2" | grep -i 'BGP state = established' >/dev/null ;;
  esac
}
not_established() { ! established "$@"; }

# time_each T0_MS SECS FUNC: runs `FUNC ROUTER` for the three routers in parallel, each every
# 20 ms until it succeeds or SECS pass; MS[ROUTER] = ms from T0_MS (the event) to success, or
# "timeout". The times include one poll (~0.1 s: a CLI call and a python3 start).
declare -A MS
time_each() {
  local t0="$1" secs="$2" f="$3" r pids=()
  mkdir -p "$LAB_DIR/times"
  for r in "${ROUTERS[@]}"; do
    (
      end=$((t0 + secs * 1000))
      until "$f" "$r" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$end" ] || { echo timeout >"$LAB_DIR/times/$f-$r"; exit 0; }
        nap 0.02
      done
      elapsed_ms "$t0" >"$LAB_DIR/times/$f-$r"
    ) &
    pids+=("$!")
  done
  wait "${pids[@]}"
  for r in "${ROUTERS[@]}"; do MS[$r]="$(cat "$LAB_DIR/times/$f-$r" 2>/dev/null || echo timeout)"; done
}
within() { [ "$1" != timeout ] && [ "$1" -le "$2" ]; } # MS LIMIT_MS

# ---------------------------------------------------------------- the speakers

start_node() { # NODE [NAME]
  run_ferrolb "$1" "${2:-ferrolb-$1}"
}

# series and series_ge (one series of a /metrics): lib.sh
metric_is() { [ "$(series "$1" "$2")" = "$3" ]; }
session_down_metric() { # NODE SERIES: 0 or not exported (but the endpoint answers)
  local v
  v="$(series "$1" "$2")" || return 1
  echo "$2 = $v"
  [ "$v" = 0 ] || [ "$v" = absent ]
}
up_series() { echo "metallb_bgp_session_up{peer=\"$1\"}"; }
v6peer() { echo "[$1]:179"; }

# NODE's log has a line saying its session with ADDR is established / down
ADDR_RE() { printf '%s([^0-9a-f:]|:179|$)' "${1//./\\.}"; }
log_says() { # LOGNAME ADDR WORD-REGEX [SINCE-LINE]
  tail -n +"${4:-1}" "$LAB_DIR/$1.log" | grep -iE "$3" | grep -E "$(ADDR_RE "$2")" >/dev/null
}

bgp_status_is() { # SERVICE NODE PEERS
  local got
  got="$(python3 -c '
import json,sys
d = json.load(open(sys.argv[1]))
ok = d.get("node") == sys.argv[2] and d.get("serviceName") == sys.argv[3] and d.get("serviceNamespace") == "default"
print(",".join(sorted(d.get("peers", []))) if ok else "wrong fields: " + json.dumps(d))' \
    "$STATE/servicebgpstatus/default/$1/$2.json" "$2" "$1" 2>/dev/null)"
  echo "got: $got"
  [ "$got" = "$3" ]
}

# ---------------------------------------------------------------- phase 1: plain sessions

for r in "${ROUTERS[@]}"; do lab start "$r" >/dev/null || fatal "start $r"; done
for n in node1 node2 node3; do start_node "$n" || fatal "spawn ferrolb in $n"; done

has_ip() { test "$(jget "$STATE/services/default/$1.json" 'd["ingress"][0]["ip"]')" = "$2"; }
wait_for 5 "web gets 10.50.0.1 from the controller" has_ip web 10.50.0.1

for r in "${ROUTERS[@]}"; do
  wait_for 15 "${RNAME[$r]}: node1 (eBGP, IPv4 transport) Established" established "$r" 172.30.0.11
  wait_for 10 "${RNAME[$r]}: node1 (eBGP, IPv6 transport) Established" established "$r" "fd00:30::11"
  wait_for 10 "${RNAME[$r]}: node2 (iBGP) Established" established "$r" 172.30.0.12
done
established bird 172.30.0.11 || established frr 172.30.0.11 || established gobgp 172.30.0.11 ||
  fatal "no BGP session from node1 came up: the rest depends on them"
for r in "${ROUTERS[@]}"; do
  a="${RADDR[$r]}"
  wait_for 2 "metrics: node1 metallb_bgp_session_up{peer=\"$a:179\"} 1" metric_is node1 "$(up_series "$a:179")" 1
  wait_for 2 "metrics: node1 session_up{peer=\"$(v6peer "${RADDR6[$r]}")\"} 1" \
    metric_is node1 "$(up_series "$(v6peer "${RADDR6[$r]}")")" 1
  wait_for 2 "metrics: node2 metallb_bgp_session_up{peer=\"$a:179\"} 1" metric_is node2 "$(up_series "$a:179")" 1
  check "log: node1 says its session with $a is established" log_says ferrolb-node1 "$a" established
done

# ---- peers node1 cannot serve: isolated and reported ----
S1="$STATE/configurationstates/speaker-node1.json"
peers_condition() { # the bgpPeersServed condition of node1's ConfigurationState is False and names both
  local c
  c="$(jget "$S1" '[x for x in d["conditions"] if x["type"] == "bgpPeersServed"][0]')" || return 1
  case "$c" in *"'status': 'False'"*"BGPPeer/node1-fabric: interface eth1 does not exist on this node"*"BGPPeer/node1-red: VRF red does not exist on this node"*) ;; *) return 1 ;; esac
}
result_valid() { test "$(jget "$S1" 'd["result"]')" = Valid; }
wait_for 2 "node1's ConfigurationState is Valid with the unnumbered and VRF peers in the configuration" result_valid
wait_for 2 "node1's ConfigurationState: bgpPeersServed False, naming node1-fabric (unnumbered on eth1, which node1 lacks) and node1-red (no VRF red on node1)" peers_condition
check "metrics: node1 ferrolb_bgp_peers_unserved 2" metric_is node1 ferrolb_bgp_peers_unserved 2
check "log: node1 says it opens no session with node1-fabric, and why" log_says ferrolb-node1 node1-fabric 'interface eth1 does not exist'

# ---- the routes and their attributes ----
for r in "${ROUTERS[@]}"; do
  R="${RNAME[$r]}"
  wait_for 5 "$R: 10.50.0.1/32 from node1: next hop 172.30.0.11, AS_PATH 64512, communities, no LOCAL_PREF 200" \
    route_has "$r" 10.50.0.1/32 172.30.0.11 nh=172.30.0.11 aspath=64512 lp!=200 comm=64500:100 large=64500:1:2
  wait_for 5 "$R: fd00:50::1/128 from node1 (IPv4 session): next hop fd00:30::11, AS_PATH 64512, communities" \
    route_has "$r" fd00:50::1/128 172.30.0.11 nh=fd00:30::11 aspath=64512 lp!=200 comm=64500:100 large=64500:1:2
  wait_for 5 "$R: fd00:50::1/128 from node1 (IPv6 session): next hop fd00:30::11, AS_PATH 64512, communities" \
    route_has "$r" fd00:50::1/128 fd00:30::11 nh=fd00:30::11 aspath=64512 lp!=200 comm=64500:100 large=64500:1:2
  wait_for 5 "$R: 10.50.0.1/32 from node2 (iBGP): next hop 172.30.0.12, empty AS_PATH, LOCAL_PREF 200, communities" \
    route_has "$r" 10.50.0.1/32 172.30.0.12 nh=172.30.0.12 aspath= lp=200 comm=64500:100 large=64500:1:2
  wait_for 5 "$R: aggregate 10.50.0.192/26 from node1 (next hop 172.30.0.11, community 64500:300)" \
    route_has "$r" 10.50.0.192/26 172.30.0.11 nh=172.30.0.11 aspath=64512 comm=64500:300 large=
  wait_for 5 "$R: aggregate fd00:50::1:0/112 from node1 (IPv6 session, next hop fd00:30::11, community 64500:300)" \
    route_has "$r" fd00:50::1:0/112 fd00:30::11 nh=fd00:30::11 aspath=64512 comm=64500:300
  check "$R: no IPv6 prefix over node2's IPv4 sessions (no dualStackAddressFamily: IPv4 only, as FRR mode)" \
    routes_absent "$r" fd00:50::1/128 172.30.0.12 fd00:50::1:0/112 172.30.0.12
  check "$R: no IPv4 prefix over node1's IPv6 sessions (no dualStackAddressFamily: IPv6 only)" \
    routes_absent "$r" 10.50.0.1/32 fd00:30::11 10.50.0.192/26 fd00:30::11
  check "$R: no host route 10.50.0.193/32 for the aggregated service" \
    routes_absent "$r" 10.50.0.193/32 172.30.0.11 10.50.0.193/32 172.30.0.12
done
wait_for 2 "router kernel: 10.50.0.1 installed by BIRD" \
  sh -c "'$LAB_SH' exec router ip route show 10.50.0.1 | grep -q 'proto bird'"

# ---- ServiceBGPStatus ----
# node1-red and node1-fabric too: listed like any configured peer whose session is down (its
# VRF, its interface is missing)
N1PEERS="node1-bird,node1-bird-v6,node1-fabric,node1-frr,node1-frr-v6,node1-gobgp,node1-gobgp-v6,node1-red"
N2PEERS="node2-bird,node2-frr,node2-gobgp"
wait_for 2 "ServiceBGPStatus web/node1 names node1's six peers, node1-fabric and node1-red" bgp_status_is web node1 "$N1PEERS"
wait_for 2 "ServiceBGPStatus web/node2 names node2's three peers" bgp_status_is web node2 "$N2PEERS"
check "no ServiceBGPStatus for node3 (no peer selects it)" test ! -e "$STATE/servicebgpstatus/default/web/node3.json"

# ---- ETP Local: only the endpoint's node announces ----
for r in "${ROUTERS[@]}"; do
  wait_for 5 "ETP Local: ${RNAME[$r]} has 10.50.0.3/32 from node2 (endpoint's node)" \
    route_has "$r" 10.50.0.3/32 172.30.0.12 nh=172.30.0.12 lp=200
done
nap 0.5
for r in "${ROUTERS[@]}"; do
  check "ETP Local: ${RNAME[$r]} has neither 10.50.0.3/32 nor fd00:50::3/128 from node1 (no endpoint)" \
    routes_absent "$r" 10.50.0.3/32 172.30.0.11 fd00:50::3/128 172.30.0.11 fd00:50::3/128 fd00:30::11
done
check "ETP Local: ServiceBGPStatus local/node2 exists, local/node1 does not" \
  sh -c "test -e '$STATE/servicebgpstatus/default/local/node2.json' && test ! -e '$STATE/servicebgpstatus/default/local/node1.json'"
service local 3 10.50.0.3 fd00:50::3 Local node1 # the endpoint moves to node1
for r in "${ROUTERS[@]}"; do
  wait_for 3 "ETP Local: endpoint moved: ${RNAME[$r]} has 10.50.0.3/32 from node1" \
    route_has "$r" 10.50.0.3/32 172.30.0.11 nh=172.30.0.11
  wait_for 3 "ETP Local: endpoint moved: ${RNAME[$r]} no longer has it from node2" \
    routes_absent "$r" 10.50.0.3/32 172.30.0.12 fd00:50::3/128 172.30.0.12
done

# ---- deleting a Service withdraws it everywhere within 1 s ----
tmp_present() { # ROUTER
  route_has "$1" 10.50.0.2/32 172.30.0.11 && route_has "$1" 10.50.0.2/32 172.30.0.12 &&
    route_has "$1" fd00:50::2/128 172.30.0.11 && route_has "$1" fd00:50::2/128 fd00:30::11
}
tmp_gone() { # ROUTER
  routes_absent "$1" 10.50.0.2/32 172.30.0.11 10.50.0.2/32 172.30.0.12 \
    fd00:50::2/128 172.30.0.11 fd00:50::2/128 172.30.0.12 fd00:50::2/128 fd00:30::11
}
for r in "${ROUTERS[@]}"; do
  wait_for 5 "${RNAME[$r]}: tmp's /32 (node1, node2) and /128 (node1's two sessions) present before the delete" tmp_present "$r"
done
t0="$(now_ms)"
rm -f "$DIR/svc-tmp.yaml"
time_each "$t0" 5 tmp_gone
for r in "${ROUTERS[@]}"; do
  check "delete Service tmp: ${RNAME[$r]} has withdrawn its 4 routes ${MS[$r]} ms after the YAML was removed (limit 1000)" \
    within "${MS[$r]}" 1000
done
wait_for 1 "delete Service tmp: its ServiceBGPStatus files are gone" \
  sh -c "! ls '$STATE/servicebgpstatus/default/tmp/'*.json >/dev/null 2>&1"

# ---- metrics and router logs ----
# node1 announces web, agg (aggregates) and local (endpoint now on node1): 6 prefixes to each IPv4
# session; node2: web and agg, 4 prefixes
for r in "${ROUTERS[@]}"; do
  a="${RADDR[$r]}"
  wait_for 2 "metrics: node1 metallb_bgp_announced_prefixes_total{peer=\"$a:179\"} 6" \
    metric_is node1 "metallb_bgp_announced_prefixes_total{peer=\"$a:179\"}" 6
  wait_for 2 "metrics: node2 metallb_bgp_announced_prefixes_total{peer=\"$a:179\"} 2 (IPv4 only)" \
    metric_is node2 "metallb_bgp_announced_prefixes_total{peer=\"$a:179\"}" 2
  check "metrics: node1 metallb_bgp_updates_total{peer=\"$a:179\"} >= 1" \
    series_ge node1 "metallb_bgp_updates_total{peer=\"$a:179\"}" 1
done
check "BIRD logged no attribute or UPDATE error from the speakers" \
  sh -c "! grep -iE 'node[0-9].*(invalid|malformed|discard|error|mismatch)' '$LAB_DIR/bird.log'"
check "FRR logged no error or NOTIFICATION" sh -c "! grep -iE 'error|malformed|notification' '$LAB_DIR/frr-bgpd.log'"
check "GoBGP logged no error, warning or NOTIFICATION" \
  sh -c "! grep -iE 'level=(error|warning)|malformed|notification' '$LAB_DIR/gobgp-router.log'"

# ---- the other family's next hop from the session's interface ----
# node1's Node object loses its IPv6 address: its sessions restart without a configured IPv6
# next hop, and the /128 over the IPv4 sessions takes eth0's global address, as FRR does.
# (After the routers' log checks: the restarts make GoBGP log warnings about the connections
# node1 opens while GoBGP still holds the closed session idle.)
l1="$(log_lines ferrolb-node1)"
lab_nodes_yaml -6 node1 node2 node3 | grep -v '"fd00:30::11"' | put cluster.yaml
v4_sessions_back() { # node1 logged its three IPv4 sessions established again since l1
  [ "$(log_since ferrolb-node1 "$l1" | grep 'BGP session established' | grep -c 'address=172\.30\.0\.[123]:179')" -ge 3 ]
}
wait_for 10 "Node node1 without IPv6: node1's IPv4 sessions restarted and are established again" v4_sessions_back
for r in "${ROUTERS[@]}"; do
  wait_for 5 "${RNAME[$r]}: fd00:50::1/128 over node1's IPv4 session, next hop fd00:30::11 from node1's eth0 (its Node has no IPv6 address)" \
    route_has "$r" fd00:50::1/128 172.30.0.11 nh=fd00:30::11 aspath=64512
done
check "Node node1 without IPv6: no prefix held back for want of a next hop" \
  sh -c "! tail -n +$((l1 + 1)) '$LAB_DIR/ferrolb-node1.log' | grep -q 'prefixes not sent'"
l2="$(log_lines ferrolb-node1)"
lab_nodes_yaml -6 node1 node2 node3 | put cluster.yaml
all_sessions_back() { # node1 logged its six sessions established again since l2
  [ "$(log_since ferrolb-node1 "$l2" | grep -c 'BGP session established')" -ge 6 ]
}
wait_for 20 "Node node1 with IPv6 again: node1's six sessions restarted and established" all_sessions_back

# ---- restarting the routers: the sessions and the routes come back ----
l1="$(log_lines ferrolb-node1)"
for r in "${ROUTERS[@]}"; do lab stop "$r" >/dev/null; done
t0="$(now_ms)"
for r in "${ROUTERS[@]}"; do lab start "$r" >/dev/null || fatal "restart $r"; done
web_back() { # ROUTER
  route_has "$1" 10.50.0.1/32 172.30.0.11 nh=172.30.0.11 aspath=64512 comm=64500:100 large=64500:1:2 &&
    route_has "$1" fd00:50::1/128 172.30.0.11 nh=fd00:30::11 &&
    route_has "$1" fd00:50::1/128 fd00:30::11 nh=fd00:30::11 &&
    route_has "$1" 10.50.0.1/32 172.30.0.12 nh=172.30.0.12 lp=200 &&
    route_has "$1" 10.50.0.192/26 172.30.0.11 comm=64500:300
}
time_each "$t0" 20 web_back
for r in "${ROUTERS[@]}"; do
  check "router restart: ${RNAME[$r]} has all sessions and web's and agg's routes back ${MS[$r]} ms after the routers were started (limit 20 s)" \
    within "${MS[$r]}" 20000
done
for r in "${ROUTERS[@]}"; do
  check "router restart: node1 logged its session with ${RADDR[$r]} down" \
    log_says ferrolb-node1 "${RADDR[$r]}" 'down|closed|lost|notification' "$l1"
done

# ---- SIGSTOP: the routers stop sending keepalives; node1's holdTime 3s sessions drop ----
for r in "${ROUTERS[@]}"; do
  wait_for 10 "before freeze: ${RNAME[$r]}: node1 IPv4 session up (metric)" metric_is node1 "$(up_series "${RADDR[$r]}:179")" 1
done
l1="$(log_lines ferrolb-node1)"
FROZEN=(bird frr-bgpd gobgp-router)
for p in "${FROZEN[@]}"; do lab kill "$p" STOP >/dev/null; done
t0="$(now_ms)"
dropped_all() { # every node1 IPv4 session metric is down
  local r
  for r in "${ROUTERS[@]}"; do session_down_metric node1 "$(up_series "${RADDR[$r]}:179")" >/dev/null || return 1; done
}
wait_for 8 "SIGSTOP routers: node1's three holdTime-3s sessions are down (metric)" dropped_all
ms="$(elapsed_ms "$t0")"
check "SIGSTOP routers: dropped ${ms} ms after the freeze (hold time 3 s: expected 2000..4500)" \
  test "$ms" -ge 2000 -a "$ms" -le 4500
for r in "${ROUTERS[@]}"; do
  check "SIGSTOP: node1 logged the hold timer expiry for ${RADDR[$r]}" \
    log_says ferrolb-node1 "${RADDR[$r]}" 'hold' "$l1"
  check "SIGSTOP: node1's 90 s IPv6-transport session to ${RNAME[$r]} stays up" \
    metric_is node1 "$(up_series "$(v6peer "${RADDR6[$r]}")")" 1
  check "SIGSTOP: node2's 90 s session to ${RNAME[$r]} stays up" metric_is node2 "$(up_series "${RADDR[$r]}:179")" 1
done
for p in "${FROZEN[@]}"; do lab kill "$p" CONT >/dev/null; done
t0="$(now_ms)"
node1_back() { # ROUTER
  established "$1" 172.30.0.11 && route_has "$1" 10.50.0.1/32 172.30.0.11 nh=172.30.0.11 aspath=64512 comm=64500:100
}
time_each "$t0" 20 node1_back
for r in "${ROUTERS[@]}"; do
  check "SIGCONT: ${RNAME[$r]}: node1's IPv4 session Established and its routes back ${MS[$r]} ms after SIGCONT (limit 20 s)" \
    within "${MS[$r]}" 20000
done
# the speaker's NOTIFICATION (hold timer expired, code 4) waited in the frozen routers' sockets
# (only where the router read it before its own 3 s hold timer fired: FRR never does, BIRD and
# GoBGP mostly do)
hold_notification_seen() {
  grep -q 'node1: Received: Hold timer expired' "$LAB_DIR/bird.log" ||
    grep -qE 'received notification" Code=4 .*Key=172\.30\.0\.11 ' "$LAB_DIR/gobgp-router.log"
}
check "SIGCONT: BIRD or GoBGP received node1's NOTIFICATION 'hold timer expired' (code 4)" hold_notification_seen

# ---------------------------------------------------------------- phase 2: TCP MD5

config md5-wrong | put config.yaml
lab stop bird >/dev/null
lab stop frr >/dev/null
lab start bird "$PEERS/bird-md5.conf" >/dev/null || fatal "start bird (md5)"
lab start frr "$PEERS/frr-md5.conf" >/dev/null || fatal "start frr (md5)"
for r in bird frr; do
  wait_for 20 "MD5: ${RNAME[$r]}: node1 (IPv4) Established with the key" established "$r" 172.30.0.11
  wait_for 10 "MD5: ${RNAME[$r]}: node1 (IPv6 transport) Established with the key" established "$r" "fd00:30::11"
  wait_for 5 "MD5: ${RNAME[$r]}: 10.50.0.1/32 from node1 with its attributes" \
    route_has "$r" 10.50.0.1/32 172.30.0.11 nh=172.30.0.11 aspath=64512 comm=64500:100 large=64500:1:2
done
wait_for 10 "MD5: BIRD: node2 Established with the key" established bird 172.30.0.12
check "MD5: the router's BGP sockets carry TCP MD5 keys (ss md5keys)" \
  sh -c "'$LAB_SH' exec router ss -tnie '( sport = :179 )' | grep -q md5keys"
nap 5 # node2's FRR session has had the time to come up (it must not)
check "MD5 wrong key: FRR: node2 not Established" not_established frr 172.30.0.12
check "MD5 wrong key: node2 metallb_bgp_session_up{peer=\"172.30.0.2:179\"} is not 1" \
  session_down_metric node2 "$(up_series 172.30.0.2:179)"
check "MD5 wrong key: node2's BIRD session (right key) stays up" metric_is node2 "$(up_series 172.30.0.1:179)" 1
check "MD5 wrong key: node2's GoBGP session (no key) stays up" metric_is node2 "$(up_series 172.30.0.3:179)" 1
check "MD5 wrong key: the router's kernel counted MD5 failures (nstat TcpExtTCPMD5Failure)" \
  sh -c "'$LAB_SH' exec router nstat -az TcpExtTCPMD5Failure | awk '\$1==\"TcpExtTCPMD5Failure\" && \$2>0 {f=1} END {exit !f}'"
config md5 | put config.yaml
wait_for 20 "MD5 key fixed: FRR: node2 Established" established frr 172.30.0.12
wait_for 5 "MD5 key fixed: FRR has 10.50.0.1/32 from node2 with LOCAL_PREF 200" \
  route_has frr 10.50.0.1/32 172.30.0.12 nh=172.30.0.12 lp=200

# ---------------------------------------------------------------- removing BGPPeers

# node1's three IPv6-transport peers go: CEASE to the routers, their routes withdrawn, metrics follow
g0="$(log_lines gobgp-router)"
t0="$(now_ms)"
config md5 nov6 | put config.yaml
v6_gone() { # ROUTER
  not_established "$1" "fd00:30::11" && routes_absent "$1" fd00:50::1/128 fd00:30::11 fd00:50::1:0/112 fd00:30::11
}
time_each "$t0" 3 v6_gone
for r in "${ROUTERS[@]}"; do
  check "BGPPeer node1-$r-v6 removed: ${RNAME[$r]} saw the session close and the routes go ${MS[$r]} ms after the edit (limit 3 s)" \
    within "${MS[$r]}" 3000
done
check "BGPPeer removed: BIRD's node1_v6 received a CEASE" \
  sh -c "'$LAB_SH' birdc show protocols all node1_v6 | grep -qE 'Received: (Administrative shutdown|Peer de-configured)'"
check "BGPPeer removed: FRR's fd00:30::11 received a CEASE" \
  sh -c "'$LAB_SH' vtysh -c 'show bgp neighbors fd00:30::11 json' | grep -q '\"lastNotificationReason\":\"Cease'"
check "BGPPeer removed: GoBGP's fd00:30::11 received a CEASE" \
  sh -c "tail -n +$((g0 + 1)) '$LAB_DIR/gobgp-router.log' | grep -qE 'Peer Down.*Key=.?fd00:30::11.? .*code 6\(cease\)'"
for r in "${ROUTERS[@]}"; do
  wait_for 3 "BGPPeer removed: node1 no longer reports session_up 1 for $(v6peer "${RADDR6[$r]}")" \
    session_down_metric node1 "$(up_series "$(v6peer "${RADDR6[$r]}")")"
done
wait_for 2 "BGPPeer removed: ServiceBGPStatus web/node1 names the remaining peers" \
  bgp_status_is web node1 "node1-bird,node1-fabric,node1-frr,node1-gobgp,node1-red"
ipv4_session_stays() { established "$1" 172.30.0.11 && route_has "$1" fd00:50::1/128 172.30.0.11 nh=fd00:30::11; }
for r in "${ROUTERS[@]}"; do
  check "BGPPeer removed: ${RNAME[$r]}: node1's IPv4 session still Established, fd00:50::1/128 still over it" \
    ipv4_session_stays "$r"
done

# ---------------------------------------------------------------- SIGTERM: CEASE and withdraw

for r in "${ROUTERS[@]}"; do
  wait_for 10 "before SIGTERM: ${RNAME[$r]}: node1 Established" established "$r" 172.30.0.11
done
bird_cease() { lab birdc show protocols all "$1" | grep 'Received: Administrative shutdown' >/dev/null; } # PROTO
frr_cease() {
  lab vtysh -c 'show bgp neighbors 172.30.0.11 json' | python3 -c '
import json,sys; d=json.load(sys.stdin)["172.30.0.11"]
print(d.get("bgpState"), d.get("lastNotificationReason"), d.get("lastResetDueTo"))
sys.exit(0 if "Cease/Administrative Shutdown" in str(d.get("lastNotificationReason")) and d.get("bgpState") != "Established" else 1)'
}
gobgp_cease() {
  tail -n +"$((g0 + 1))" "$LAB_DIR/gobgp-router.log" |
    grep -E 'Peer Down.*Key=172\.30\.0\.11 .*notification-received code 6\(cease\) subcode 2'
}
node1_gone() { # ROUTER
  routes_absent "$1" 10.50.0.1/32 172.30.0.11 fd00:50::1/128 172.30.0.11 10.50.0.192/26 172.30.0.11 \
    10.50.0.3/32 172.30.0.11
}
g0="$(log_lines gobgp-router)"
t0="$(now_ms)"
kill -TERM "$(lab pid ferrolb-node1)" 2>/dev/null
time_each "$t0" 3 node1_gone
for r in "${ROUTERS[@]}"; do
  check "SIGTERM: ${RNAME[$r]}: node1's routes withdrawn ${MS[$r]} ms after SIGTERM (limit 3 s)" within "${MS[$r]}" 3000
done
wait_for 5 "SIGTERM: node1's ferrolb exits" sh -c "! '$LAB_SH' pid ferrolb-node1 >/dev/null"
wait_for 3 "SIGTERM: BIRD received CEASE (Administrative shutdown) from node1" bird_cease node1
wait_for 3 "SIGTERM: FRR received CEASE (Administrative Shutdown) from node1" frr_cease
wait_for 3 "SIGTERM: GoBGP received CEASE (code 6 subcode 2) from node1" gobgp_cease
for r in "${ROUTERS[@]}"; do
  check "SIGTERM: ${RNAME[$r]}: node2's routes stay" route_has "$r" 10.50.0.1/32 172.30.0.12 nh=172.30.0.12 lp=200
done

for n in ferrolb-node2 ferrolb-node3; do kill -TERM "$(lab pid "$n")" 2>/dev/null || true; done
for n in ferrolb-node2 ferrolb-node3; do
  wait_for 5 "SIGTERM: $n exits" sh -c "! '$LAB_SH' pid '$n' >/dev/null"
done
check "no panic in any ferrolb log" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log"

summary
