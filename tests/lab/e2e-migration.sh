#!/usr/bin/env bash
# End-to-end test of a migration from another implementation (issue 15, item 6): the Services'
# addresses were assigned by the previous load balancer (they are in the Services' status, as
# MetalLB's controller writes it) and are announced by it, then it is stopped and ferrolb is
# started in its place.
#   before: the previous implementation, played by stand-ins that announce what MetalLB would:
#     * BGP: a GoBGP speaker in node1 (AS 64512, the lab's stand-in speaker) announces the BGP
#       Service's /32 to BIRD
#     * Layer 2: node2's kernel answers ARP for the Layer 2 Service's address (it is added to
#       node2's eth0), as MetalLB's speaker on node2 would
#     Both addresses are chosen away from the start of their pools, so a ferrolb that
#     reallocated would pick others.
#   the swap (T0): the GoBGP speaker is stopped and the address removed from node2, and ferrolb
#     is started at once on node1..node3 (`ferrolb run`, membership with a shared key, one dir:
#     source with the Services as they were)
#   after:
#     * every Service keeps exactly its address (ferrolb's controller state)
#     * Layer 2: the first gratuitous ARP for the address comes from plan's owner; the time from
#       T0 to it is the Layer 2 gap, printed; afterwards only the owner's MAC answers
#     * BGP: BIRD holds the /32 again from node1, now over ferrolb's session; the time from T0 is
#       the BGP gap, printed
#     * no panic
# Binary: $FERROLB, or target/debug/ferrolb (under $CARGO_TARGET_DIR if set) built by `cargo build -p ferrolb`.
# Root; about 20 s. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

L2_IP=172.30.0.107  # the Layer 2 Service's address (pool lan starts at .100)
BGP_IP=10.50.0.42   # the BGP Service's address (pool bgp starts at .0)
L2_GAP_LIMIT=3000   # ms from T0 to ferrolb's first gratuitous ARP
BGP_GAP_LIMIT=10000 # ms from T0 to the route at BIRD from ferrolb

lab_setup_ferrolb 3

# ================================================================ manifests
lab_manifests
NODES=(node1 node2 node3)
for n in "${NODES[@]}"; do FLAGS[$n]="--membership-key-file $LAB_DIR/key"; done
lab_key "$LAB_DIR/key"
lab_nodes_yaml "${NODES[@]}" | put cluster.yaml
{
  lab_l2_pool_yaml lan 172.30.0.100-172.30.0.119
  cat <<EOF
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: bgp, namespace: metallb-system}
spec:
  addresses: [10.50.0.0/24]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: bgp, namespace: metallb-system}
spec:
  ipAddressPools: [bgp]
EOF
  lab_bgp_peer_yaml bird 172.30.0.1 node1
} | put pools.yaml
# the Services as the previous implementation left them: addresses in their status
SVC[web]="10 Cluster node3 -4"
SVC[api]="11 Cluster node3 -4"
svc_yaml web "$L2_IP" | put svc-web.yaml
svc_yaml api "$BGP_IP" | put svc-api.yaml
check "ferrolb validate accepts the manifests" "$FERROLB" validate "$DIR"

# ================================================================ before: the previous implementation
lab start bird >/dev/null || fatal "start BIRD"
lab start speaker-gobgp-node1 >/dev/null || fatal "start the GoBGP stand-in speaker in node1"
bird_has() { bird_cli show route "$BGP_IP/32" all | grep -q "via 172.30.0.11"; } # BIRD's route to BGP_IP from node1
wait_for 20 "before: BIRD and the stand-in speaker in node1 are Established" established node1
lab gobgp-node1 global rib add -a ipv4 "$BGP_IP/32" >/dev/null || fatal "gobgp rib add"
wait_for 5 "before: BIRD has $BGP_IP/32 from node1 (the stand-in)" bird_has
lab exec node2 ip addr add "$L2_IP/32" dev eth0 || fatal "add $L2_IP to node2"
wait_for 3 "before: $L2_IP answers ARP with node2's MAC (the previous owner)" mac_answers "$L2_IP" "$(mac_of node2)"

# ferrolb's owner for the address, as plan computes it from the same files
# plan reads the addresses from the state, which does not exist yet: feed it the status ones
rm -rf "$PLANIN" && mkdir -p "$PLANIN" && cp "$DIR/cluster.yaml" "$DIR/pools.yaml" "$PLANIN/"
svc_yaml web "$L2_IP" >"$PLANIN/svc-web.yaml"
svc_yaml api "$BGP_IP" >"$PLANIN/svc-api.yaml"
"$FERROLB" plan -o json --live-nodes node1,node2,node3 "$PLANIN" >"$PLAN" 2>"$PLAN.err" || fatal "plan: $(cat "$PLAN.err")"
OWNER="$(plan_winner web)" || fatal "plan has no Layer 2 owner for web"
echo "# plan: web ($L2_IP) is announced by $OWNER once ferrolb runs"

# ================================================================ the swap
cap_start garps "$(garp_filter "$L2_IP")" 30 || fatal "tcpdump"
t0="$(now_ms)"
t0s="$("$PY" -c 'import sys; print("%.3f" % (int(sys.argv[1]) / 1000))' "$t0")"
lab stop speaker-gobgp-node1 >/dev/null
lab exec node2 ip addr del "$L2_IP/32" dev eth0
start_speakers

# ================================================================ after
svc_is() { test "$(svc_ips "$1")" = "$2"; } # NAME IPS: ferrolb's controller state holds exactly IPS
wait_for 10 "web keeps $L2_IP (ferrolb's controller state)" svc_is web "$L2_IP"
wait_for 10 "api keeps $BGP_IP (ferrolb's controller state)" svc_is api "$BGP_IP"

first_garp() { cap_after garps "$t0s" >/dev/null; }
wait_for 5 "Layer 2: a gratuitous ARP for $L2_IP after the swap" first_garp
line="$(cap_after garps "$t0s")"
l2_gap="$("$PY" -c 'import sys; print(round(float(sys.argv[1].split()[0]) * 1000 - int(sys.argv[2])))' "$line" "$t0" 2>/dev/null)"
echo "# Layer 2 gap: ${l2_gap:-?} ms from the swap to the first gratuitous ARP ($line)"
check "Layer 2: the first gratuitous ARP after the swap is from $OWNER (plan's owner)" \
  sh -c "echo '$line' | grep -qi '$(mac_of "$OWNER")'"
check "Layer 2: gap ${l2_gap:-?} ms (limit $L2_GAP_LIMIT)" sh -c "[ -n '$l2_gap' ] && [ '$l2_gap' -le $L2_GAP_LIMIT ]"
check "Layer 2: only $OWNER's MAC answers $L2_IP" arp_only "$L2_IP" "$(mac_of "$OWNER")"

ferrolb_session() { grep -q 'BGP session established' "$LAB_DIR/ferrolb-node1.log" 2>/dev/null; }
back_at_bird() { ferrolb_session && bird_has; }
wait_for 15 "BGP: BIRD has $BGP_IP/32 from node1 over ferrolb's session" back_at_bird
bgp_gap=$(($(now_ms) - t0))
echo "# BGP gap: at most $bgp_gap ms from the swap to the route at BIRD over ferrolb's session (polled every 50 ms)"
check "BGP: gap $bgp_gap ms (limit $BGP_GAP_LIMIT)" test "$bgp_gap" -le "$BGP_GAP_LIMIT"
check "BGP: BIRD's node1 session is ferrolb's (the speaker logged it established)" ferrolb_session
cap_stop garps
no_panic
summary
