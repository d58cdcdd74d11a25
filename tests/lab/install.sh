#!/usr/bin/env bash
# Installs the Debian packages the lab needs, when missing (root).
# Idempotent and fast: if every command is already there, apt is not called at all.
#   tests/lab/install.sh
# Packages: iproute2 iputils-ping procps bird2 gobgpd frr arping ndisc6 tcpdump nftables
# (gobgpd ships both gobgpd and the gobgp client; frr ships /usr/lib/frr/{zebra,bgpd} and vtysh).
# No systemd here: nothing is started by the install; lab.sh starts every daemon itself.
set -euo pipefail

# command -> package that provides it
declare -A PKG=(
  [ip]=iproute2 [ping]=iputils-ping [ps]=procps [pkill]=procps
  [bird]=bird2 [birdc]=bird2
  [gobgpd]=gobgpd [gobgp]=gobgpd
  [/usr/lib/frr/zebra]=frr [/usr/lib/frr/bgpd]=frr [vtysh]=frr
  [arping]=arping [ndisc6]=ndisc6 [tcpdump]=tcpdump [nft]=nftables
  [python3]=python3-minimal [timeout]=coreutils
)

missing_pkgs() {
  local c
  for c in "${!PKG[@]}"; do
    command -v "$c" >/dev/null 2>&1 || echo "${PKG[$c]}"
  done | sort -u
}

mapfile -t need < <(missing_pkgs)
if [ "${#need[@]}" -eq 0 ]; then
  echo "lab packages present"
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "install.sh: missing ${need[*]}; run as root to install" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
echo "installing: ${need[*]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install.sh: apt-get failed" >&2
  exit 1
fi

mapfile -t still < <(missing_pkgs)
[ "${#still[@]}" -eq 0 ] || { echo "install.sh: still missing after install: ${still[*]}" >&2; exit 1; }
echo "lab packages installed"
