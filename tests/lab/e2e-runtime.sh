#!/usr/bin/env bash
# End-to-end test of the runtime on the dir: source (issue 4, "Done when"):
# three nodes run `ferrolb run --node nodeK --source dir:DIR` in their namespaces, sharing one
# manifest directory DIR (state in DIR/.ferrolb/):
#   * exactly one controller is active (leader.json names one live node; only it logs "controller: leading")
#   * adding a Service YAML gets it an IP in the state dir within 1 s; deleting it removes the state file
#     within 1 s
#   * kill -9 of the leader hands the role to another node within ~2 s; existing IPs stay; a new
#     Service still gets an IP; a restarted node does not take the role back
#   * an invalid pool edit (overlapping CIDRs) makes controller.json say Invalid and changes no
#     service's state; fixing it makes it Valid again
#   * SIGTERM: graceful shutdown
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 15 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

lab_setup_ferrolb 3

lab_manifests
NODES=(node1 node2 node3)

pools() { # the address pools; $1 = q's addresses (10.60.0.0/24 is valid, 10.50.0.128/25 overlaps p)
  put pools.yaml <<EOF
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: p
  namespace: metallb-system
spec:
  addresses: [10.50.0.0/24]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: q
  namespace: metallb-system
spec:
  addresses: [$1]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2
  namespace: metallb-system
spec:
  ipAddressPools: [p]
EOF
}

service() { # NAME CLUSTER_IP
  put "svc-$1.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: $1
  namespace: default
spec:
  type: LoadBalancer
  clusterIP: $2
  clusterIPs: [$2]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  ports:
    - {name: http, port: 80, protocol: TCP, targetPort: 80}
EOF
}

lab_nodes_yaml "${NODES[@]}" | put cluster.yaml
pools 10.60.0.0/24
service web0 10.96.0.10

start_node() { # NODE [NAME]
  run_ferrolb "$1" "${2:-ferrolb-$1}"
}
for n in "${NODES[@]}"; do start_node "$n" || fatal "spawn ferrolb in $n"; done

leader_node() { jget "$STATE/leader.json" 'd["node"]'; }
leader_pid() { jget "$STATE/leader.json" 'd["pid"]'; }
svc_ip() { jget "$STATE/services/default/$1.json" 'd["ingress"][0]["ip"]'; }

# leader.json names a live ferrolb process of a lab node, other than $1 if given
leader_ok() {
  local node pid rec
  node="$(leader_node)" && pid="$(leader_pid)" || return 1
  [ "$node" != "${1:-}" ] || return 1
  rec="$(lab pid "ferrolb-$node" 2>/dev/null || lab pid "ferrolb-$node-restarted" 2>/dev/null)" || return 1
  [ "$pid" = "$rec" ]
}
# how many of the given processes' logs say "controller: leading"
leading_count() {
  local n c=0
  for n in "$@"; do grep -q 'controller: leading' "$LAB_DIR/$n.log" 2>/dev/null && c=$((c + 1)); done
  echo "$c"
}
# the service has an IP from pool p
has_ip() {
  local ip
  ip="$(svc_ip "$1")" || return 1
  [[ "$ip" == 10.50.0.* ]] && [ "$(jget "$STATE/services/default/$1.json" 'd["pool"]')" = p ]
}
config_result_is() { [ "$(jget "$STATE/configurationstates/controller.json" 'd["result"]')" = "$1" ]; }
# a metric's value from NODE's /metrics (127.0.0.1:9120 inside the node's namespace)
metric() { # NODE NAME
  lab exec "$1" python3 -c '
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:9120/metrics", timeout=2).read().decode()
for line in body.splitlines():
    if line.split(" ")[0].split("{")[0] == sys.argv[1]:
        print(line.rsplit(" ", 1)[1]); break
else:
    sys.exit(1)' "$2"
}
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
leader_metric_count() { # how many live processes report ferrolb_controller_leader_bool 1
  local n c=0
  for n in "${NODES[@]}"; do [ "$(metric "$n" ferrolb_controller_leader_bool)" = 1 ] && c=$((c + 1)); done
  echo "$c"
}
all_alive() {
  local n
  for n in "$@"; do lab pid "$n" >/dev/null || return 1; done
}
# every service state file with its content, for "nothing changed" comparisons
state_snapshot() { (cd "$STATE/services" 2>/dev/null && find . -type f -name '*.json' | sort | xargs -r -I{} sh -c 'echo "== {}"; cat "{}"'); }

# ---- one controller ----
wait_for 5 "leader.json names a live node" leader_ok
wait_for 3 "web0 (present at start) gets an IP from pool p" has_ip web0
nap 1 # give a second controller the time to (wrongly) appear
check "all three ferrolb processes running" all_alive ferrolb-node1 ferrolb-node2 ferrolb-node3
check "exactly one process logs 'controller: leading'" \
  test "$(leading_count ferrolb-node1 ferrolb-node2 ferrolb-node3)" = 1
L="$(leader_node)" || fatal "no controller elected: the remaining checks depend on one"
check "the process logging 'controller: leading' is the one in leader.json" \
  grep -q 'controller: leading' "$LAB_DIR/ferrolb-$L.log"
check "metrics: exactly one process reports ferrolb_controller_leader_bool 1" test "$(leader_metric_count)" = 1
check "metrics: the leader reports ferrolb_controller_leader_bool 1" metric_is "$L" ferrolb_controller_leader_bool 1
wait_for 2 "controller.json says Valid" config_result_is Valid

# ---- add / delete a service ----
service web1 10.96.0.11
wait_for 1 "web1 added: IP in the state dir within 1 s" has_ip web1
check "web1 and web0 have different IPs" test "$(svc_ip web1)" != "$(svc_ip web0)"
rm -f "$DIR/svc-web1.yaml"
wait_for 1 "web1 deleted: its state file removed within 1 s" test ! -e "$STATE/services/default/web1.json"

# ---- kill -9 the leader ----
web0_ip="$(svc_ip web0)"
old="$L"
old_pid="$(leader_pid)"
check "leader.json's pid is the leader's process" test "$old_pid" = "$(lab pid "ferrolb-$old")"
lab kill "ferrolb-$old" KILL >/dev/null
wait_for 2.5 "kill -9 $old: leader.json names another live node" leader_ok "$old"
L="$(leader_node)"
check "the new leader ($L) logs 'controller: leading'" grep -q 'controller: leading' "$LAB_DIR/ferrolb-$L.log"
service web2 10.96.0.12
wait_for 1 "after failover: web2 gets an IP within 1 s" has_ip web2
check "after failover: web0 keeps its IP" test "$(svc_ip web0)" = "$web0_ip"
start_node "$old" "ferrolb-$old-restarted" || fatal "restart ferrolb in $old"
nap 1
leader_is() { [ "$(leader_node)" = "$1" ] && [ "$(leader_pid)" = "$(lab pid "ferrolb-$1")" ]; }
check "restarted $old is running" lab pid "ferrolb-$old-restarted"
check "restarted $old does not take the role back" leader_is "$L"
live=()
for n in "${NODES[@]}"; do
  if [ "$n" = "$old" ]; then live+=("ferrolb-$n-restarted"); else live+=("ferrolb-$n"); fi
done
check "exactly one live process logs 'controller: leading'" test "$(leading_count "${live[@]}")" = 1

# ---- invalid pool edit, then fix ----
before="$(state_snapshot)"
pools 10.50.0.128/25 # overlaps pool p
wait_for 2 "overlapping pool: controller.json says Invalid" config_result_is Invalid
wait_for 2 "invalid config: metallb_k8s_client_config_stale_bool 1 on the leader" \
  metric_is "$L" metallb_k8s_client_config_stale_bool 1
check "controller.json has an errorSummary" \
  test -n "$(jget "$STATE/configurationstates/controller.json" 'd.get("errorSummary") or ""')"
nap 0.5
check "invalid config: no service state changed" test "$(state_snapshot)" = "$before"
check "invalid config: every ferrolb process still running" all_alive "${live[@]}"
pools 10.60.0.0/24
wait_for 2 "fixed pool: controller.json says Valid" config_result_is Valid
wait_for 2 "fixed pool: metallb_k8s_client_config_stale_bool 0 on the leader" \
  metric_is "$L" metallb_k8s_client_config_stale_bool 0
check "after the fix: service state unchanged" test "$(state_snapshot)" = "$before"

# ---- graceful shutdown ----
for n in "${live[@]}"; do kill -TERM "$(lab pid "$n")" 2>/dev/null || true; done
for n in "${live[@]}"; do
  wait_for 5 "SIGTERM: $n exits" sh -c "! '$LAB_SH' pid '$n' >/dev/null"
done
check "no panic in any ferrolb log" sh -c "! grep -l 'panicked at' '$LAB_DIR'/ferrolb-*.log"

summary
