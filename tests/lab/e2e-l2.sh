#!/usr/bin/env bash
# End-to-end test of Layer 2 announcement (issue 5, "Done when"): three nodes, then two, run
# `ferrolb run --node nodeK --source dir:DIR` in their namespaces on one shared manifest
# directory DIR (pools, L2Advertisements, Nodes, dual-stack Services with EndpointSlices), with
# membership disabled (every Node object is a live speaker). From the router namespace:
#   1. arping / ndisc6 resolve a dual-stack service's v4 and v6 addresses to the MAC of the
#      node `ferrolb plan` names as winner, and only that MAC answers (arping -d); the winner
#      alone writes the ServiceL2Status and logs nodeAssigned
#   2. an address of the pool that no service owns gets no ARP / NDP answer; an advertisement
#      restricted to an interface the nodes lack answers nothing and logs announceFailed
#   3. ETP Local: the endpoint's node answers; moving the endpoint moves the answer, and a
#      gratuitous ARP and an unsolicited NA from the new owner are seen on the wire
#   4. an L2Advertisement with nodeSelectors: moving the node label moves the answer (GARP/NA seen)
#   5. every node takes part in the election: across several services the MACs that answer are
#      exactly the winners `plan` names (all nodes), address by address
#   6. deleting a service: its addresses stop answering within 2 s
#   7. no panic in any log; SIGTERM stops every process and withdraws its addresses
# The 2-node phase repeats 1 and 5.
# `plan` is the oracle: it is run on a copy of DIR whose Services carry the addresses the
# controller gave them (DIR/.ferrolb/services/), with --live-nodes naming every node.
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 35 s (both phases). Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

find_ferrolb

# Addresses (all on the lab bridge only). The pools must not overlap:
#   lan   172.30.0.100-109 + .120, fd00:30::100-109 + ::120   (auto-assigned; .120 stays unused)
#   lab-b 172.30.0.110-119, fd00:30::110-119  (autoAssign false; its advertisement selects l2=yes nodes)
#   lab-c 172.30.0.121, fd00:30::121          (autoAssign false; advertised on interface nosuch0 only)
UNUSED4=172.30.0.120
UNUSED6=fd00:30::120


# ---------------------------------------------------------------- manifests
# set per phase by start_phase
DIR=""
STATE=""
STAGE=""
PLANIN=""
PLAN=""
NODES=()
SEL_NODE=node1         # the node labelled l2=yes
declare -A SVC=()      # service name -> "IDX ETP ENDPOINT_NODE POOL" (POOL "-" = auto)

cluster_yaml() { lab_nodes_yaml -l "$SEL_NODE" 'l2: "yes"' "${NODES[@]}"; }

pools_yaml() {
  cat <<'EOF'
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lan, namespace: metallb-system}
spec:
  addresses: [172.30.0.100-172.30.0.109, 172.30.0.120/32, "fd00:30::100-fd00:30::109", "fd00:30::120/128"]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-b, namespace: metallb-system}
spec:
  addresses: [172.30.0.110-172.30.0.119, "fd00:30::110-fd00:30::119"]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab-c, namespace: metallb-system}
spec:
  addresses: [172.30.0.121/32, "fd00:30::121/128"]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: lan, namespace: metallb-system}
spec:
  ipAddressPools: [lan]
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: selected, namespace: metallb-system}
spec:
  ipAddressPools: [lab-b]
  nodeSelectors:
    - matchLabels: {l2: "yes"}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: nowhere, namespace: metallb-system}
spec:
  ipAddressPools: [lab-c]
  interfaces: [nosuch0]
EOF
}

# svc_yaml NAME [INGRESS_IP...]: the Service (dual-stack) and its EndpointSlice (one ready
# endpoint on SVC's node); with INGRESS_IPs, the Service carries them as its status (plan's input)
svc_yaml() {
  local name="$1" idx etp node pool
  shift
  read -r idx etp node pool <<<"${SVC[$name]}"
  lab_service_yaml "$name" "$idx" "$etp" "$node" "$pool" "$@"
}

service() { # NAME IDX ETP ENDPOINT_NODE [POOL]: add or rewrite
  SVC[$1]="$2 $3 $4 ${5:--}"
  svc_yaml "$1" | put "svc-$1.yaml"
}
delete_service() {
  rm -f "$DIR/svc-$1.yaml"
  unset 'SVC[$1]'
}

# ---------------------------------------------------------------- state and oracle
# the controller gave the service one v4 and one v6 address (from POOL if given)
has_dual() {
  local f="$STATE/services/default/$1.json"
  [ "$(jget "$f" 'sorted(":" in i["ip"] for i in d["ingress"])')" = "[False, True]" ] || return 1
  [ -z "${2:-}" ] || [ "$(jget "$f" 'd["pool"]')" = "$2" ]
}

# plan on a copy of DIR whose Services carry their current addresses -> $PLAN
refresh_plan() {
  local name live
  rm -rf "$PLANIN"
  mkdir -p "$PLANIN"
  cp "$DIR/cluster.yaml" "$DIR/pools.yaml" "$PLANIN/"
  for name in "${!SVC[@]}"; do
    # shellcheck disable=SC2046 # one word per address
    svc_yaml "$name" $(svc_ips "$name") >"$PLANIN/svc-$name.yaml"
  done
  live="$(
    IFS=,
    echo "${NODES[*]}"
  )"
  "$FERROLB" plan -o json --live-nodes "$live" "$PLANIN" >"$PLAN" 2>"$PLAN.err"
}
plan_ips() {
  "$PY" -c '
import json, sys
plan = json.load(open(sys.argv[1]))
print(" ".join(sorted(*[s["ips"] for s in plan["services"] if s["namespace"] == "default" and s["name"] == sys.argv[2]])))' "$PLAN" "$1"
}
plan_ips_match() { # plan keeps the controller's addresses for NAME
  local a b
  a="$(plan_ips "$1")" && b="$(svc_ips "$1" | tr ' ' '\n' | sort | paste -sd' ')" && [ -n "$a" ] && [ "$a" = "$b" ]
}

# ---------------------------------------------------------------- probes (router namespace)
# arp_macs, nd_macs, mac_answers, arp_only and nd_only are in lib.sh
no_answer() { # IP: nothing answers two ARP requests / NDP solicitations
  case "$1" in
    *:*) ! lab exec router ndisc6 -q -r 2 -w 300 "$1" eth0 ;;
    *) ! lab exec router arping -i eth0 -c 2 -W 0.2 -w 1 -r "$1" ;;
  esac
}
no_answer_all() { # IP...: none answers (probed in parallel)
  local ip rc=0 pids=()
  for ip in "$@"; do
    no_answer "$ip" >/dev/null 2>&1 &
    pids+=($!)
  done
  for ip in "$@"; do
    if ! wait "${pids[0]}"; then
      echo "$ip still answers"
      rc=1
    fi
    pids=("${pids[@]:1}")
  done
  return "$rc"
}

# ServiceL2Status: exactly one file for NAME, NODE's, naming NODE
status_only() { # NAME NODE
  local d="$STATE/servicel2status/default/$1" files
  files="$(cd "$d" 2>/dev/null && ls)" || return 1
  echo "servicel2status/default/$1: ${files//$'\n'/ }"
  [ "$files" = "$2.json" ] &&
    [ "$(jget "$d/$2.json" 'd["node"] + " " + d["serviceNamespace"] + "/" + d["serviceName"]')" = "$2 default/$1" ]
}
status_none() { [ -z "$(ls -A "$STATE/servicel2status/default/$1" 2>/dev/null)" ]; }
# which of the ferrolb logs have an EVENT line for default/NAME
logs_with() { # EVENT NAME
  local n out=()
  for n in "${NODES[@]}"; do
    grep "$1" "$LAB_DIR/ferrolb-$n.log" 2>/dev/null | grep -q "default/$2" && out+=("$n")
  done
  echo "${out[*]}"
}

# capture on the router's wire, started before a change: cap_start NAME FILTER
cap_start() {
  lab spawn router "$1" timeout 8 tcpdump -i eth0 -n -e -l -c 1 "$2" >/dev/null
}
cap_ready() { grep -q 'listening on' "$LAB_DIR/$1.log" 2>/dev/null; }
cap_seen() { # NAME PATTERN: the capture got its packet
  grep -qF "$2" "$LAB_DIR/$1.log" 2>/dev/null || return 1
  grep -F "$2" "$LAB_DIR/$1.log"
}

# ---------------------------------------------------------------- phases
start_phase() { # N
  local n
  lab_setup "$1"
  [ -x "$FERROLB" ] || fatal "no ferrolb binary at $FERROLB"
  "$FERROLB" run --help >/dev/null 2>&1 || fatal "'ferrolb run' is not available in $FERROLB"
  lab_manifests
  PLANIN="$LAB_DIR/plan-input"
  PLAN="$LAB_DIR/plan.json"
  NODES=()
  for n in $(seq 1 "$1"); do NODES+=("node$n"); done
  SEL_NODE=node1
  SVC=()
  cluster_yaml | put cluster.yaml
  pools_yaml | put pools.yaml
}

start_speakers() {
  local n
  for n in "${NODES[@]}"; do
    run_ferrolb "$n" "ferrolb-$n" || fatal "spawn ferrolb in $n"
  done
}

all_alive() {
  local n
  for n in "${NODES[@]}"; do lab pid "ferrolb-$n" >/dev/null || return 1; done
}

# check 1: NAME (dual-stack, ready endpoint) answers with plan's winner only
check_winner_answers() { # NAME
  local name="$1" w mac v4 v6 others
  wait_for 3 "$name gets a v4 and a v6 address from pool lan" has_dual "$name" lan || return 1
  v4="$(svc_ip4 "$name")"
  v6="$(svc_ip6 "$name")"
  refresh_plan
  check "plan keeps the controller's addresses for $name ($v4 $v6)" plan_ips_match "$name"
  w="$(plan_winner "$name" 2>&1)"
  check "plan names one layer2 winner for $name: $w" plan_winner "$name" || return 1
  mac="$(mac_of "$w")"
  wait_for 3 "ARP: $v4 resolves to the winner $w's MAC $mac" mac_answers "$v4" "$mac"
  check "ARP: only $w's MAC answers $v4 (arping -d, 3 requests)" arp_only "$v4" "$mac"
  wait_for 3 "NDP: $v6 resolves to $w's MAC (ndisc6)" mac_answers "$v6" "$mac"
  check "NDP: only $w's MAC answers $v6" nd_only "$v6" "$mac"
  wait_for 2 "ServiceL2Status: only $w's file for $name" status_only "$name" "$w"
  others="$(logs_with nodeAssigned "$name")"
  check "only $w logs nodeAssigned for default/$name (logged by: ${others:-none})" test "$others" = "$w"
}

# check 5: every address of NAMES answers with plan's winner's MAC; the winners are every node
check_election() { # NAMES...
  local name w ip etp pool ips=() macs=() want=() free=() pids=() rc got allm
  all_dual() {
    local n
    for n in "$@"; do has_dual "$n" || return 1; done
  }
  wait_for 4 "election: $* all have a v4 and a v6 address" all_dual "$@"
  refresh_plan
  free=()
  for name in "$@"; do
    w="$(plan_winner "$name")" || w=none
    want+=("$w")
    read -r _ etp _ pool <<<"${SVC[$name]}"
    [ "$etp $pool" != "Cluster -" ] || free+=("$w")
    for ip in $(svc_ips "$name"); do
      ips+=("$ip")
      macs+=("$(mac_of "$w")")
    done
  done
  # every node wins somewhere among the services with a free election (ETP Cluster, pool lan,
  # no node selector): their addresses are chosen so that plan's hash spreads them
  got="$(printf '%s\n' "${free[@]}" | sort -u | paste -sd' ')"
  check "election: plan's winners among the ${#free[@]} ETP Cluster services of lan are every node ($got)" \
    test "$got" = "${NODES[*]}"
  # all addresses probed in parallel, repeated until all match (bounded)
  wait_for 4 "election: each of the ${#ips[@]} addresses answers with the MAC of plan's winner" macs_answer
  # the MACs that answer, over all addresses, are exactly the winners' MACs
  allm="$(for ip in "${ips[@]}"; do
    case "$ip" in *:*) nd_macs "$ip" & ;; *) arp_macs "$ip" & ;; esac
  done | sort -u | paste -sd' ')"
  got="$(for w in "${want[@]}"; do mac_of "$w"; done | sort -u | paste -sd' ')"
  check "election: the MACs answering ($allm) are the winners' MACs" test "$allm" = "$got"
  only_one() { case "$1" in *:*) nd_only "$1" "$2" ;; *) arp_only "$1" "$2" ;; esac; } # IP MAC
  check "election: exactly one MAC answers each address (arping -d / ndisc6 -m)" probe_all only_one
  rc=0
  for name in "$@"; do
    w="$(plan_winner "$name" 2>/dev/null)" || w=none
    status_only "$name" "$w" >/dev/null || { echo "$name: ServiceL2Status is not only $w's" && rc=1; }
  done >"$LAB_DIR/status.out"
  check "election: each service's only ServiceL2Status is its winner's" sh -c "cat '$LAB_DIR/status.out'; exit $rc"
}

stop_speakers() { # check 7
  local n ips=() name
  for name in "${!SVC[@]}"; do
    # shellcheck disable=SC2207 # one word per address
    ips+=($(svc_ips "$name"))
  done
  check "no panic in any ferrolb log" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log"
  check "every ferrolb process still running" all_alive
  for n in "${NODES[@]}"; do kill -TERM "$(lab pid "ferrolb-$n")" 2>/dev/null || true; done
  for n in "${NODES[@]}"; do
    wait_for 5 "SIGTERM: ferrolb-$n exits" sh -c "! '$LAB_SH' pid 'ferrolb-$n' >/dev/null"
  done
  check "after SIGTERM: none of the ${#ips[@]} service addresses answers" no_answer_all "${ips[@]}"
  check "after SIGTERM: no ServiceL2Status file left" \
    sh -c "test -z \"\$(find '$STATE/servicel2status' -type f -name '*.json' 2>/dev/null)\""
  check "no panic in any ferrolb log after shutdown" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log"
}

# ================================================================ phase 1: three nodes
echo "# three nodes"
start_phase 3
service web 10 Cluster node2
start_speakers

# ---- 1. dual-stack service: winner's MAC only
check_winner_answers web

# ---- 2. addresses nobody owns
check "$UNUSED4 and $UNUSED6 (pool lan) are owned by no service" sh -c "! grep -rqF -e '\"$UNUSED4\"' -e '\"$UNUSED6\"' '$STATE/services'"
check "ARP: $UNUSED4 (in the pool, unowned) gets no answer" no_answer "$UNUSED4"
check "NDP: $UNUSED6 (in the pool, unowned) gets no answer" no_answer "$UNUSED6"
check "ARP: 172.30.0.150 (in no pool) gets no answer" no_answer 172.30.0.150
service nif 11 Cluster node1 lab-c
if wait_for 3 "nif gets lab-c's addresses (advertised on interface nosuch0 only)" has_dual nif lab-c; then
  refresh_plan
  w="$(plan_winner nif 2>/dev/null)" || w=""
  check "plan names one layer2 winner for nif (${w:-none})" test -n "$w"
  wait_for 3 "nif: the winner ${w:-?} logs announceFailed (no interface nosuch0)" \
    sh -c "grep announceFailed '$LAB_DIR/ferrolb-${w:-none}.log' | grep -q default/nif"
  check "nif: neither 172.30.0.121 nor fd00:30::121 gets an answer" no_answer_all 172.30.0.121 fd00:30::121
  check "nif: no ServiceL2Status" status_none nif
  check "nif: no node logs nodeAssigned" test -z "$(logs_with nodeAssigned nif)"
fi
delete_service nif

# ---- 3. ETP Local: the endpoint's node answers; moving the endpoint moves the answer
service local 20 Local node1
if wait_for 3 "local (ETP Local, endpoint on node1) gets a v4 and a v6 address" has_dual local lan; then
  L4="$(svc_ip4 local)"
  L6="$(svc_ip6 local)"
  refresh_plan
  check "plan: node1 (the endpoint's node) wins local" test "$(plan_winner local)" = node1
  wait_for 3 "ETP Local: $L4 resolves to node1's MAC" mac_answers "$L4" "$(mac_of node1)"
  wait_for 3 "ETP Local: $L6 resolves to node1's MAC" mac_answers "$L6" "$(mac_of node1)"
  Y=node3
  cap_start cap-garp-local "$(garp_filter "$L4" "$(mac_of $Y)")"
  cap_start cap-na-local "$(na_filter "$L6" "$(mac_of $Y)")"
  wait_for 3 "tcpdump listening for $Y's gratuitous ARP and NA" sh -c "grep -q 'listening on' '$LAB_DIR/cap-garp-local.log' && grep -q 'listening on' '$LAB_DIR/cap-na-local.log'"
  service local 20 Local "$Y" # the endpoint moves
  refresh_plan
  check "plan: $Y wins local after the endpoint moved" test "$(plan_winner local)" = "$Y"
  wait_for 3 "endpoint moved: $L4 resolves to $Y's MAC" mac_answers "$L4" "$(mac_of $Y)"
  wait_for 5 "endpoint moved: gratuitous ARP for $L4 from $Y's MAC on the wire" cap_seen cap-garp-local "$L4"
  wait_for 5 "endpoint moved: unsolicited NA for $L6 from $Y's MAC on the wire" cap_seen cap-na-local "$L6"
  wait_for 3 "endpoint moved: only $Y's MAC answers $L4 (arping -d)" arp_only "$L4" "$(mac_of $Y)"
  wait_for 3 "endpoint moved: $L6 resolves to $Y's MAC only" nd_only "$L6" "$(mac_of $Y)"
  wait_for 2 "endpoint moved: only $Y's ServiceL2Status for local" status_only local "$Y"
fi

# ---- 4. node selectors: moving the label moves the answer
service sel 30 Cluster node2 lab-b
if wait_for 3 "sel gets lab-b's addresses" has_dual sel lab-b; then
  S4="$(svc_ip4 sel)"
  S6="$(svc_ip6 sel)"
  refresh_plan
  check "plan: node1 (the only node labelled l2=yes) wins sel" test "$(plan_winner sel)" = node1
  wait_for 3 "selector: $S4 resolves to node1's MAC" mac_answers "$S4" "$(mac_of node1)"
  cap_start cap-garp-sel "$(garp_filter "$S4" "$(mac_of node3)")"
  cap_start cap-na-sel "$(na_filter "$S6" "$(mac_of node3)")"
  wait_for 3 "tcpdump listening for node3's gratuitous ARP and NA" sh -c "grep -q 'listening on' '$LAB_DIR/cap-garp-sel.log' && grep -q 'listening on' '$LAB_DIR/cap-na-sel.log'"
  SEL_NODE=node3
  cluster_yaml | put cluster.yaml # the label moves to node3
  refresh_plan
  check "plan: node3 wins sel after the relabel" test "$(plan_winner sel)" = node3
  wait_for 3 "relabel: $S4 resolves to node3's MAC" mac_answers "$S4" "$(mac_of node3)"
  wait_for 5 "relabel: gratuitous ARP for $S4 from node3's MAC on the wire" cap_seen cap-garp-sel "$S4"
  wait_for 5 "relabel: unsolicited NA for $S6 from node3's MAC on the wire" cap_seen cap-na-sel "$S6"
  wait_for 3 "relabel: only node3's MAC answers $S4 (arping -d)" arp_only "$S4" "$(mac_of node3)"
  wait_for 3 "relabel: $S6 resolves to node3's MAC only" nd_only "$S6" "$(mac_of node3)"
  wait_for 2 "relabel: only node3's ServiceL2Status for sel" status_only sel node3
fi

# ---- 5. every node takes part in the election (membership disabled)
# lan hands out addresses in order: web .100, local .101, e1..e6 .102-.107; by plan's hash their
# winners cover node1, node2 and node3
for i in 1 2 3 4 5 6; do service "e$i" "4$i" Cluster node1; done
check_election web local sel e1 e2 e3 e4 e5 e6

# ---- 6. deleting a service: its addresses stop answering
D4="$(svc_ip4 e6)"
D6="$(svc_ip6 e6)"
delete_service e6
wait_for 2 "e6 deleted: $D4 and $D6 stop answering within 2 s" no_answer_all "$D4" "$D6"
wait_for 1 "e6 deleted: its state file and ServiceL2Status are gone" \
  sh -c "test ! -e '$STATE/services/default/e6.json' && test -z \"\$(ls -A '$STATE/servicel2status/default/e6' 2>/dev/null)\""
refresh_plan
check "e6 deleted: the other services still answer as plan says" mac_answers "$(svc_ip4 e5)" "$(mac_of "$(plan_winner e5)")"

# ---- 7. shutdown
stop_speakers
lab_teardown

# ================================================================ phase 2: two nodes
echo "# two nodes"
start_phase 2
service web 10 Cluster node1
for i in 1 2 3 4; do service "e$i" "4$i" Cluster node2; done
start_speakers
check_winner_answers web
check_election web e1 e2 e3 e4
stop_speakers

summary
