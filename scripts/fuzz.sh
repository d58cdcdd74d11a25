#!/usr/bin/env bash
# Runs the cargo-fuzz targets under fuzz/ for a fixed time each and prints a table of what
# each run did: executions, coverage (libFuzzer's cov and ft), new inputs, crashes.
#
#   scripts/fuzz.sh [-s SECONDS] [TARGET...]     default: every target, 60 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh bgp_stream
#
# Needs a nightly toolchain (`cargo +nightly`) and cargo-fuzz (`cargo install cargo-fuzz`);
# without them it says so and exits 0. Not part of scripts/test.sh: it takes minutes.
#
# The committed seeds (fuzz/corpus/<target>/, written by fuzz/seeds/make_seeds.rs) are read,
# never written: libFuzzer puts new inputs in the first corpus directory it is given, which
# here is fuzz/work/<target>/corpus (git-ignored, kept between runs so coverage accumulates).
# Logs go to fuzz/work/<target>.log, crash inputs to fuzz/artifacts/<target>/.
#
# Exit status: 0 when no target crashed, 1 when one did (the table names the input that
# crashed it), 2 for a usage or build error.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
seconds=${FUZZ_SECONDS:-60}

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        -s | --seconds)
            [ $# -ge 2 ] || usage
            seconds=$2
            shift 2
            ;;
        -h | --help) usage 0 ;;
        -*) usage ;;
        *)
            targets+=("$1")
            shift
            ;;
    esac
done
case "$seconds" in '' | *[!0-9]*) echo "fuzz: seconds must be a whole number, got '$seconds'" >&2 && exit 2 ;; esac

all=()
for f in "$fuzz"/fuzz_targets/*.rs; do
    all+=("$(basename "$f" .rs)")
done
if [ ${#targets[@]} -eq 0 ]; then
    targets=("${all[@]}")
fi
for t in "${targets[@]}"; do
    if [ ! -f "$fuzz/fuzz_targets/$t.rs" ]; then
        echo "fuzz: no target '$t'; the targets are: ${all[*]}" >&2
        exit 2
    fi
done

# cargo-fuzz installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1 || ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no nightly toolchain (install one with: rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: skipped: no cargo-fuzz (install it with: cargo install cargo-fuzz)"
    exit 0
fi

cd "$fuzz" || exit 2
echo "fuzz: building ${#targets[@]} target(s) with $(cargo +nightly --version)"
for t in "${targets[@]}"; do
    if ! nice cargo +nightly fuzz build "$t" >"$fuzz/work-build.log" 2>&1; then
        cat "$fuzz/work-build.log" >&2
        echo "fuzz: build of $t failed" >&2
        rm -f "$fuzz/work-build.log"
        exit 2
    fi
done
rm -f "$fuzz/work-build.log"

mkdir -p "$fuzz/work"
rows=()
crashed=0
for t in "${targets[@]}"; do
    work="$fuzz/work/$t/corpus"
    log="$fuzz/work/$t.log"
    mkdir -p "$work" "$fuzz/corpus/$t" "$fuzz/artifacts/$t"
    echo "fuzz: $t for ${seconds}s (log: ${log#"$root"/})"
    nice cargo +nightly fuzz run "$t" "$work" "$fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    stats=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$stats")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
    new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [ $status -eq 0 ] && [ -z "$artifact" ]; then
        result="no crash"
    else
        crashed=1
        reason=$(grep -m 1 -E '^==[0-9]+== ?ERROR: libFuzzer: |^thread .* panicked' "$log" | sed 's/^==[0-9]*== *ERROR: libFuzzer: //')
        result="CRASH (${reason:-exit status $status}) ${artifact:-see the log}"
    fi
    rows+=("$(printf '%-22s %14s %7s %8s %6s  %s' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${new:-?}" "$result")")
done

echo
printf '%-22s %14s %7s %8s %6s  %s\n' target executions cov ft new result
for row in "${rows[@]}"; do
    echo "$row"
done
echo "(${seconds}s per target; cov and ft are libFuzzer's final coverage counters; new: inputs added to fuzz/work/<target>/corpus)"
if [ $crashed -ne 0 ]; then
    echo "fuzz: at least one target crashed; reproduce with: cd fuzz && cargo +nightly fuzz run TARGET ARTIFACT"
    exit 1
fi
