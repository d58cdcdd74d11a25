#!/usr/bin/env bash
# Runs every tests/lab/e2e-*.sh and tests/lab/smoke.sh in turn, each with its own lab (torn down
# between scripts), prints each script's check lines and summary, and a final "N passed, M failed"
# (", K skipped" added when checks could not run here, such as VRFs on a kernel without them).
# Exit status: non-zero if any check failed. Not root: prints "skipped: the lab needs root", exits 0.
#   tests/lab/run-all.sh                 all scripts
#   tests/lab/run-all.sh e2e-runtime.sh  only the named scripts
# Env: LAB_SCRIPT_TIMEOUT (default 300 s) bounds each script; LAB_PREFIX / LAB_DIR as in lab.sh.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ "$(id -u)" != 0 ]; then
  echo "skipped: the lab needs root"
  exit 0
fi

# Scripts not run by default (they still run when named on the command line).
EXCLUDE=()

if [ "$#" -gt 0 ]; then
  scripts=("$@")
else
  scripts=(smoke.sh)
  for s in "$HERE"/e2e-*.sh; do
    [ -e "$s" ] || continue
    s="$(basename "$s")"
    case " ${EXCLUDE[*]} " in *" $s "*) echo "excluded: $s" && continue ;; esac
    scripts+=("$s")
  done
fi

"$HERE/install.sh" >/dev/null || { echo "tests/lab/install.sh failed"; echo "0 passed, 1 failed"; exit 1; }

total_pass=0
total_fail=0
total_skip=0
log="$(mktemp "${TMPDIR:-/tmp}/ferrolb-lab-run.XXXXXX")"
trap 'rm -f "$log"; "$HERE/lab.sh" down >/dev/null 2>&1 || true' EXIT
for s in "${scripts[@]}"; do
  s="$(basename "$s")"
  echo "== $s"
  start=$SECONDS
  # each script sets up its own lab and tears it down (trap); timeout sends TERM, which the script
  # traps to tear down, then KILL 20 s later
  timeout -k 20 "${LAB_SCRIPT_TIMEOUT:-300}" bash "$HERE/$s" 2>&1 | tee "$log" | sed 's/^/   /'
  "$HERE/lab.sh" down >/dev/null 2>&1 || true
  last="$(tail -n 1 "$log")"
  k=0
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
    p="${BASH_REMATCH[1]}"
    f="${BASH_REMATCH[2]}"
    k="${BASH_REMATCH[4]:-0}"
  else
    echo "   FAIL - $s ended without a summary line"
    p=0
    f=1
  fi
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + k))
  echo "$s: $p passed, $f failed, $k skipped ($((SECONDS - start)) s)"
done
if [ "$total_skip" -gt 0 ]; then
  echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
  echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" = 0 ]
