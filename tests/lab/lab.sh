#!/usr/bin/env bash
# ferrolb network lab: network namespaces on one Linux bridge, real BGP routers (BIRD, FRR,
# GoBGP) in a router namespace, and helpers to run processes (ferrolb, stand-in speakers) in
# the node namespaces and stop them by pid. See tests/lab/README.md.
#
# Every address used here exists only inside the lab's own namespaces: no packet leaves them.
#
#   ns "<P>sw"     : Linux bridge br0 (the L2 segment), ports p-router, p-node1.., no IP
#   ns "<P>router" : eth0 172.30.0.1/.2/.3 /24, fd00:30::1/::2/::3 /64, MAC 02:00:00:00:00:01
#                    .1 = BIRD, .2 = FRR, .3 = GoBGP   (all AS 64500, passive)
#   ns "<P>nodeK"  : eth0 172.30.0.1K/24, fd00:30::1K/64, MAC 02:00:00:00:00:1K   (K = 1..9)
#                    node1 = eBGP AS 64512; node2, node3 = iBGP AS 64500 (router configs)
#
# Usage:
#   lab.sh up [N]                   create the bridge, the router and N nodes (default 3, max 9)
#   lab.sh down                     stop every recorded pid and every process left in the lab
#                                   namespaces (TERM, then KILL), delete them, remove $LAB_DIR.
#                                   Succeeds when the lab is half up or already down.
#   lab.sh status                   namespaces, addresses, processes
#   lab.sh start bird|frr|gobgp [conf]      router daemon (default peers/<bird.conf|frr.conf|gobgp-router.toml>)
#   lab.sh start speaker-gobgp-nodeK [conf] stand-in speaker: gobgpd in nodeK
#                                   (default peers/speaker-gobgp-nodeK.toml; speaker-gobgp = node1)
#   lab.sh stop bird|frr|gobgp|speaker-gobgp-nodeK
#   lab.sh birdc ARGS...            BIRD CLI          lab.sh vtysh ARGS...   FRR CLI
#   lab.sh gobgp ARGS...            GoBGP router CLI  lab.sh gobgp-nodeK ARGS...  stand-in speaker CLI
#   lab.sh exec NS CMD...           run CMD in a lab namespace (NS = router, sw, node1..)
#   lab.sh spawn NS NAME CMD...     start CMD in the background in NS; pid in $LAB_DIR/NAME.pid,
#                                   output in $LAB_DIR/NAME.log; prints the pid
#   lab.sh kill NAME [SIGNAL]       signal a spawned process by its recorded pid (default TERM).
#                                   TERM/INT/KILL wait for it to exit (TERM/INT: KILL after 5 s)
#                                   and remove NAME.pid.
#   lab.sh pid NAME                 print NAME's recorded pid (exit 1 if it is not running)
#   lab.sh cut NODE | restore NODE  take NODE's bridge port down / up (partition a node)
#
# Env: LAB_PREFIX (default "fl-") is prepended to every namespace name, so labs with different
#      prefixes coexist. LAB_DIR (default /tmp/ferrolb-lab-$LAB_PREFIX) holds pid files, logs,
#      control sockets.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$HERE/peers"
P="${LAB_PREFIX-fl-}"
LAB_DIR="${LAB_DIR:-/tmp/ferrolb-lab-$P}"
NS_SW="${P}sw"
NS_R="${P}router"

die() { echo "lab.sh: $*" >&2; exit 1; }
nsx() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
have_ns() { [ -e "/var/run/netns/$1" ] || [ -e "/run/netns/$1" ]; }

# every namespace of this lab that exists (nodes first, the bridge last)
lab_namespaces() {
  local n r nodes=() others=()
  while read -r n _; do
    [ -n "$n" ] || continue
    case "$n" in "$P"*) ;; *) continue ;; esac
    r="${n#"$P"}"
    case "$r" in
      node[1-9]) nodes+=("$n") ;;
      router) others=("$n" "${others[@]}") ;;
      sw) others+=("$n") ;;
    esac
  done < <(ip netns list 2>/dev/null | sort || true)
  printf '%s\n' "${nodes[@]}" "${others[@]}" | grep -v '^$' || true
}

# short name (router, sw, node1..) -> namespace name; refuses anything else
ns_of() {
  case "${1:-}" in
    router | sw | node[1-9]) echo "${P}$1" ;;
    *) die "unknown lab namespace '${1:-}' (router, sw, node1..node9)" ;;
  esac
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# process start time (field 22 of /proc/PID/stat), to guard against pid reuse
starttime() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# alive = exists and is not a zombie (PID 1 may reap late)
alive() {
  local st
  st="$(awk '{sub(/^.*\) /, ""); print $1}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# the pid recorded for NAME if that very process (same start time) is still alive
recorded_pid() {
  local name="$1" pid st
  [ -f "$LAB_DIR/$name.pid" ] || return 1
  pid="$(cat "$LAB_DIR/$name.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  if [ -f "$LAB_DIR/$name.start" ]; then
    st="$(starttime "$pid")"
    [ "$st" = "$(cat "$LAB_DIR/$name.start")" ] || return 1
  fi
  echo "$pid"
}

# wait until none of the pids is alive; 0 if all gone within $1 ms
wait_gone() {
  local ms="$1" end p any
  shift
  end=$(($(now_ms) + ms))
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1 && break; done
    [ "$any" = 0 ] && return 0
    [ "$(now_ms)" -ge "$end" ] && return 1
    sleep 0.05
  done
}

# TERM, wait up to 3 s, then KILL (and wait up to 2 s more)
terminate() {
  [ "$#" -gt 0 ] || return 0
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  wait_gone 3000 "$@" && return 0
  for p in "$@"; do
    if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  wait_gone 2000 "$@" || true
}

up() {
  local n="${1:-3}"
  [[ "$n" =~ ^[1-9]$ ]] || die "up: node count must be 1..9"
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -z "$(lab_namespaces)" ] || die "lab namespaces exist ($(lab_namespaces | paste -sd' ')); run 'lab.sh down' first"
  mkdir -p "$LAB_DIR"
  chmod 755 "$LAB_DIR"
  echo "$n" >"$LAB_DIR/nodes"
  local hosts=(router) k ns
  for k in $(seq 1 "$n"); do hosts+=("node$k"); done
  for ns in "$NS_SW" "${hosts[@]/#/$P}"; do
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    # no DAD delays, no router-solicitation noise
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    nsx "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
  done
  # the L2 segment: a bridge in its own namespace (no IPv6 there: no link-local noise), STP off
  nsx "$NS_SW" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nsx "$NS_SW" ip link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  nsx "$NS_SW" ip link set br0 up
  # one veth per host, created directly in the two namespaces (never in the root namespace):
  #   <host>:eth0  <->  sw:p-<host>
  local host mac
  for host in "${hosts[@]}"; do
    case "$host" in
      router) mac=02:00:00:00:00:01 ;;
      node*) mac="02:00:00:00:00:1${host#node}" ;;
    esac
    ip link add name eth0 netns "${P}$host" address "$mac" type veth peer name "p-$host" netns "$NS_SW"
    nsx "${P}$host" ip link set eth0 up
    nsx "$NS_SW" ip link set "p-$host" master br0
    nsx "$NS_SW" ip link set "p-$host" up
  done
  local i
  for i in 1 2 3; do
    nsx "$NS_R" ip addr add "172.30.0.$i/24" dev eth0
    nsx "$NS_R" ip -6 addr add "fd00:30::$i/64" dev eth0 nodad
  done
  for k in $(seq 1 "$n"); do
    nsx "${P}node$k" ip addr add "172.30.0.1$k/24" dev eth0
    nsx "${P}node$k" ip -6 addr add "fd00:30::1$k/64" dev eth0 nodad
  done
  # sanity: the router reaches every node over v4 and v6 (lab-internal addresses only)
  for k in $(seq 1 "$n"); do
    for a in "172.30.0.1$k" "fd00:30::1$k"; do
      nsx "$NS_R" ping -c1 -W2 -q "$a" >/dev/null || die "lab ping $a failed"
    done
  done
  echo "lab up: $NS_SW ${hosts[*]/#/$P} (state in $LAB_DIR)"
}

down() {
  local f name pid pids=() ns
  # 1. the processes we started, by recorded pid (start time checked: no pid reuse accidents)
  if [ -d "$LAB_DIR" ]; then
    for f in "$LAB_DIR"/*.pid; do
      [ -e "$f" ] || continue
      name="$(basename "$f" .pid)"
      pid="$(recorded_pid "$name")" && pids+=("$pid")
    done
  fi
  terminate "${pids[@]}"
  # 2. anything else left inside the lab namespaces
  mapfile -t nss < <(lab_namespaces)
  pids=()
  for ns in "${nss[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do pids+=("$pid"); done
  done
  terminate "${pids[@]}"
  # 3. the namespaces (veths and the bridge go with them)
  for ns in "${nss[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$LAB_DIR"
  local left
  left="$(lab_namespaces | paste -sd' ')"
  [ -z "$left" ] || die "namespaces left: $left"
  echo "lab down"
}

status() {
  local ns pids
  mapfile -t nss < <(lab_namespaces)
  [ "${#nss[@]}" -gt 0 ] || { echo "lab is down (prefix '$P')"; return 0; }
  for ns in "${nss[@]}"; do
    echo "== $ns"
    nsx "$ns" ip -br addr | grep -v '^lo' | sed 's/^/   /' || true
    pids="$(ip netns pids "$ns" 2>/dev/null | paste -sd, -)"
    [ -z "$pids" ] || ps -o pid=,comm= -p "$pids" | sed 's/^ */   proc /' || true
  done
  local f n p
  for f in "$LAB_DIR"/*.pid; do
    [ -e "$f" ] || continue
    n="$(basename "$f" .pid)"
    if p="$(recorded_pid "$n")"; then echo "pid $n $p running"; else echo "pid $n exited"; fi
  done
}

spawn() { # NS NAME CMD...
  [ "$#" -ge 3 ] || die "usage: spawn NS NAME CMD..."
  local ns name="$2" pid
  ns="$(ns_of "$1")"
  shift 2
  [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || die "spawn: bad name '$name'"
  { [ -d "$LAB_DIR" ] && have_ns "$ns"; } || die "lab not up"
  ! recorded_pid "$name" >/dev/null || die "spawn: $name is already running"
  # ip netns exec execs CMD without forking: $! is CMD's own pid
  ip netns exec "$ns" "$@" </dev/null >"$LAB_DIR/$name.log" 2>&1 &
  pid=$!
  echo "$pid" >"$LAB_DIR/$name.pid"
  starttime "$pid" >"$LAB_DIR/$name.start" || true
  echo "$pid"
}

killp() { # NAME [SIGNAL]
  local name="${1:-}" sig="${2:-TERM}" pid
  [ -n "$name" ] || die "usage: kill NAME [SIGNAL]"
  sig="${sig#-}"
  sig="${sig#SIG}"
  if ! pid="$(recorded_pid "$name")"; then
    rm -f "$LAB_DIR/$name.pid" "$LAB_DIR/$name.start"
    echo "$name not running"
    return 0
  fi
  kill -s "$sig" "$pid"
  case "$sig" in
    TERM | 15 | INT | 2)
      wait_gone 5000 "$pid" || { kill -KILL "$pid" 2>/dev/null || true; wait_gone 2000 "$pid" || true; } ;;
    KILL | 9) wait_gone 2000 "$pid" || true ;;
    *) return 0 ;;
  esac
  alive "$pid" && die "$name ($pid) did not exit"
  rm -f "$LAB_DIR/$name.pid" "$LAB_DIR/$name.start"
}

wait_file() {
  local f="$1" end
  end=$(($(now_ms) + 10000))
  until [ -e "$f" ]; do
    [ "$(now_ms)" -lt "$end" ] || die "timeout waiting for $f"
    sleep 0.05
  done
}

start() {
  local what="${1:-}" conf="${2:-}"
  { [ -d "$LAB_DIR" ] && have_ns "$NS_R"; } || die "lab not up"
  case "$what" in
    bird)
      conf="${conf:-$PEERS/bird.conf}"
      # -f: foreground so we own the pid; -s: private control socket
      spawn router bird bird -f -c "$conf" -s "$LAB_DIR/bird.ctl" >/dev/null
      wait_file "$LAB_DIR/bird.ctl" ;;
    frr)
      conf="${conf:-$PEERS/frr.conf}"
      # FRR daemons run as user frr: their directory and config must be frr-owned
      mkdir -p "$LAB_DIR/frr"
      chown frr:frr "$LAB_DIR/frr"
      install -o frr -g frr -m 640 "$conf" "$LAB_DIR/frr/bgpd.conf"
      install -o frr -g frr -m 640 /dev/null "$LAB_DIR/frr/zebra.conf"
      spawn router frr-zebra /usr/lib/frr/zebra \
        -f "$LAB_DIR/frr/zebra.conf" -i "$LAB_DIR/frr/zebra.pid" \
        --vty_socket "$LAB_DIR/frr" -z "$LAB_DIR/frr/zserv.api" -A 127.0.0.1 -P 0 --log stdout >/dev/null
      wait_file "$LAB_DIR/frr/zserv.api"
      # -l: listen only on FRR's own addresses (BIRD/GoBGP have .1/.3); -l implies -n (no FIB install)
      spawn router frr-bgpd /usr/lib/frr/bgpd \
        -f "$LAB_DIR/frr/bgpd.conf" -i "$LAB_DIR/frr/bgpd.pid" \
        --vty_socket "$LAB_DIR/frr" -z "$LAB_DIR/frr/zserv.api" -A 127.0.0.1 -P 0 --log stdout \
        -l 172.30.0.2 -l fd00:30::2 >/dev/null
      wait_file "$LAB_DIR/frr/bgpd.vty" ;;
    gobgp)
      conf="${conf:-$PEERS/gobgp-router.toml}"
      # --api-hosts unix://: gRPC API on a private socket, never on TCP
      spawn router gobgp-router gobgpd -f "$conf" -p \
        --api-hosts "unix://$LAB_DIR/gobgp-router.sock" --pprof-disable >/dev/null
      wait_file "$LAB_DIR/gobgp-router.sock" ;;
    speaker-gobgp | speaker-gobgp-node[1-9])
      local node=node1
      [ "$what" = speaker-gobgp ] || node="${what#speaker-gobgp-}"
      conf="${conf:-$PEERS/speaker-gobgp-$node.toml}"
      [ -f "$conf" ] || die "no config $conf"
      spawn "$node" "gobgp-$node" gobgpd -f "$conf" -p \
        --api-hosts "unix://$LAB_DIR/gobgp-$node.sock" --pprof-disable >/dev/null
      wait_file "$LAB_DIR/gobgp-$node.sock" ;;
    *) die "start what? bird|frr|gobgp|speaker-gobgp-nodeK" ;;
  esac
  echo "started $what"
}

stop() {
  local what="${1:-}" names n
  case "$what" in
    bird) names="bird" ;;
    frr) names="frr-bgpd frr-zebra" ;;
    gobgp) names="gobgp-router" ;;
    speaker-gobgp) names="gobgp-node1" ;;
    speaker-gobgp-node[1-9]) names="gobgp-${what#speaker-gobgp-}" ;;
    *) die "stop what? bird|frr|gobgp|speaker-gobgp-nodeK" ;;
  esac
  for n in $names; do killp "$n" TERM >/dev/null; done
  case "$what" in
    bird) rm -f "$LAB_DIR/bird.ctl" ;;
    frr) rm -rf "$LAB_DIR/frr" ;;
    gobgp) rm -f "$LAB_DIR/gobgp-router.sock" ;;
    speaker-gobgp*) rm -f "$LAB_DIR/$names.sock" ;;
  esac
  echo "stopped $what"
}

link_set() { # NODE up|down
  local node="$1" state="$2"
  case "$node" in node[1-9]) ;; *) die "cut/restore: NODE is node1..node9" ;; esac
  have_ns "$NS_SW" || die "lab not up"
  ip -n "$NS_SW" link set "p-$node" "$state"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  status) status ;;
  start) start "$@" ;;
  stop) stop "$@" ;;
  spawn) spawn "$@" ;;
  kill) killp "$@" ;;
  pid) recorded_pid "${1:?usage: pid NAME}" ;;
  cut) link_set "${1:?usage: cut NODE}" down ;;
  restore) link_set "${1:?usage: restore NODE}" up ;;
  birdc) exec birdc -s "$LAB_DIR/bird.ctl" "$@" ;;
  vtysh) exec vtysh --vty_socket "$LAB_DIR/frr" "$@" ;;
  gobgp | gobgp-router) exec gobgp --target "unix://$LAB_DIR/gobgp-router.sock" "$@" ;;
  gobgp-node[1-9]) exec gobgp --target "unix://$LAB_DIR/$cmd.sock" "$@" ;;
  exec)
    ns="$(ns_of "${1:-}")"
    shift
    exec ip netns exec "$ns" "$@" ;;
  *) sed -n '2,38p' "$0"; exit 2 ;;
esac
