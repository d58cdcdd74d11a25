#!/usr/bin/env bash
# Runs ferrolb's benchmarks and writes the report docs/performance/README.md with SVG plots.
#
#   scripts/bench-report.sh --quick          # criterion benchmarks only (no root, ~3 min)
#   sudo scripts/bench-report.sh             # everything: criterion + the lab benchmarks
#   sudo scripts/bench-report.sh --only failover
#   scripts/bench-report.sh --report-only    # rewrite README.md and the plots from data/
#
# Parts (--only takes a comma-separated list):
#   criterion  cargo bench -p ferrolb-config --bench validate, -p ferrolb-ipam,
#              -p ferrolb-bgp --bench pack; point estimates from criterion's
#              target/criterion/**/new/estimates.json (release build)
#   failover   tests/lab/perf-failover.sh: Layer 2 failover, kill of the owner -> first
#              gratuitous ARP of the new owner (root, ~3 min, debug build)
#   bfd        tests/lab/perf-bfd.sh: link cut -> BGP session down with BFD (root, ~1 min)
#   bgp        tests/lab/perf-bgp.sh: 100,000 /32 pushed to BIRD, ferrolb next to GoBGP
#              (root, ~10 min, release build)
#   scale      tests/lab/perf-scale.sh: the dir: source with 1,000 to 100,000 Services in one
#              file: load, one edit -> BIRD, peak RSS, gobgpd beside (root, ~15 min, release)
#
# Each part writes its raw results to docs/performance/data/ (and the lab script's full
# output to data/<part>.log); the report is then regenerated from every data file present,
# so running one part keeps the figures of the others (each part's table says when and on
# which commit it was measured). Lab parts run with the lab's LAB_PREFIX / LAB_DIR (set
# LAB_PREFIX to keep clear of other labs on the machine); RUNS, N, REPS, PROFILES are passed
# through to the lab scripts. Builds go to CARGO_TARGET_DIR when set.
#
# Plots are SVG written by plain Python 3 (no plotting library).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="$REPO/docs/performance"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
PARTS="criterion,failover,bfd,bgp"
# not in the default set: `--only scale` (it takes as long as the others together)
REPORT_ONLY=0

usage() {
  sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --quick) PARTS="criterion" ;;
    --only)
      [ "$#" -ge 2 ] || { echo "error: --only needs a list of parts" >&2; exit 2; }
      PARTS="$2"
      shift
      ;;
    --only=*) PARTS="${1#--only=}" ;;
    --out)
      [ "$#" -ge 2 ] || { echo "error: --out needs a directory" >&2; exit 2; }
      OUTDIR="$2"
      shift
      ;;
    --report-only) REPORT_ONLY=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "error: unknown argument '$1' (see --help)" >&2
      exit 2
      ;;
  esac
  shift
done

IFS=',' read -r -a PART_LIST <<<"$PARTS"
for p in "${PART_LIST[@]}"; do
  case "$p" in
    criterion | failover | bfd | bgp | scale) ;;
    *)
      echo "error: unknown part '$p' (criterion, failover, bfd, bgp, scale)" >&2
      exit 2
      ;;
  esac
done
want() { [[ ",$PARTS," == *",$1,"* ]]; }

DATA="$OUTDIR/data"
mkdir -p "$DATA"
cd "$REPO"

commit="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$REPO" status --porcelain -- crates tests 2>/dev/null)" ]; then commit="$commit+dirty"; fi
machine() { # one line describing where a figure was measured
  local cpu
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
  printf '%s; %s cores; %s MB RAM; Linux %s; %s' "${cpu:-unknown CPU}" "$(nproc)" \
    "$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)" "$(uname -r)" \
    "$(rustc --version 2>/dev/null || echo 'rustc ?')"
}
stamp() { # PART: data/PART.meta
  {
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "commit=$commit"
    echo "machine=$(machine)"
    echo "load=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$DATA/$1.meta"
}

lab_part() { # PART: checks that the lab part can run
  if [ "$(id -u)" != 0 ]; then
    echo "error: the $1 benchmark needs root (network namespaces); use --quick for the criterion part alone" >&2
    exit 2
  fi
}

# ------------------------------------------------------------------ criterion
run_criterion() {
  local start="$DATA/.criterion-start" out="$DATA/criterion.csv.new" crate bench cmd
  : >"$start"
  echo "crate,bench,mean_ns,mean_lo_ns,mean_hi_ns,median_ns,std_dev_ns,throughput_elements" >"$out"
  : >"$DATA/criterion.log"
  for cmd in "ferrolb-config --bench validate" "ferrolb-ipam" "ferrolb-bgp --bench pack"; do
    crate="${cmd%% *}"
    echo "== cargo bench -p $cmd" | tee -a "$DATA/criterion.log"
    touch "$start"
    sleep 1
    # shellcheck disable=SC2086
    cargo bench -q -p $cmd 2>&1 | tee -a "$DATA/criterion.log"
    python3 - "$TARGET/criterion" "$start" "$crate" >>"$out" <<'EOF'
import csv, json, os, sys
root, start, crate = sys.argv[1], os.path.getmtime(sys.argv[2]), sys.argv[3]
w = csv.writer(sys.stdout)
for d, _, files in sorted(os.walk(root)):
    if os.path.basename(d) != "new" or "estimates.json" not in files:
        continue
    est = os.path.join(d, "estimates.json")
    if os.path.getmtime(est) < start:
        continue  # an older run, or another crate's benchmark
    e = json.load(open(est))
    b = json.load(open(os.path.join(d, "benchmark.json")))
    tp = (b.get("throughput") or {}).get("Elements", "")
    m = e["mean"]
    w.writerow([crate, b["full_id"], "%.1f" % m["point_estimate"],
                "%.1f" % m["confidence_interval"]["lower_bound"],
                "%.1f" % m["confidence_interval"]["upper_bound"],
                "%.1f" % e["median"]["point_estimate"], "%.1f" % e["std_dev"]["point_estimate"], tp])
EOF
  done
  rm -f "$start"
  grep -E '^[0-9]+ /32 -> [0-9]+ UPDATEs' "$DATA/criterion.log" | tail -n 1 >"$DATA/pack.txt" || true
  mv -f "$out" "$DATA/criterion.csv"
  stamp criterion
}

# ------------------------------------------------------------------ lab parts
run_failover() {
  lab_part failover
  local csv="$DATA/failover.csv.new"
  rm -f "$csv"
  OUT="$csv" bash "$REPO/tests/lab/perf-failover.sh" 2>&1 | tee "$DATA/failover.log" || true
  [ -s "$csv" ] || { echo "error: perf-failover.sh wrote no CSV" >&2; return 1; }
  mv -f "$csv" "$DATA/failover.csv"
  stamp failover
}

run_bfd() {
  lab_part bfd
  bash "$REPO/tests/lab/perf-bfd.sh" 2>&1 | tee "$DATA/bfd.log" || true
  # "# profile receiveInterval = transmitInterval = 100 ms, detectMultiplier 3: ..."
  # "#   run 1: BIRD down 287 ms after the cut (log), 301 ms (10 ms polls); the speaker 305 ms; ..."
  awk '
    /^# profile receiveInterval = transmitInterval = / { iv = $7; mult = $10; sub(/:$/, "", mult) }
    /^#   run [0-9]+: BIRD down / {
      run = $3; sub(/:$/, "", run)
      printf "%s,%s,%s,%s,%s,%s\n", iv, mult, run, $6, $12, $19
    }' "$DATA/bfd.log" | sed 's/?//g' >"$DATA/bfd.csv.body"
  if [ ! -s "$DATA/bfd.csv.body" ]; then
    rm -f "$DATA/bfd.csv.body"
    echo "error: no figures found in perf-bfd.sh's output" >&2
    return 1
  fi
  { echo "interval_ms,multiplier,run,bird_log_ms,bird_poll_ms,speaker_ms"; cat "$DATA/bfd.csv.body"; } >"$DATA/bfd.csv"
  rm -f "$DATA/bfd.csv.body"
  stamp bfd
}

run_bgp() {
  lab_part bgp
  bash "$REPO/tests/lab/perf-bgp.sh" 2>&1 | tee "$DATA/bgp.log" || true
  # "ferrolb #1: 100000 routes in 0.812 s after Established (BIRD timestamps) = ... UPDATEs on the wire 124 (...), metallb_bgp_updates_total 124"
  python3 - "$DATA/bgp.log" >"$DATA/bgp.csv.new" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
print("speaker,rep,routes,seconds,updates_wire,updates_own")
pat = re.compile(r"^(GoBGP|ferrolb) #(\d+): (\d+) routes in ([0-9.]+) s after Established.*?UPDATEs on the wire (\S+).*?(?:gobgp counter|metallb_bgp_updates_total) (\S+)", re.M)
for m in pat.finditer(text):
    print(",".join([m.group(1).lower(), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6)]))
mem = re.compile(r"^(gobgpd holding \d+ routes \(after pushes\)|ferrolb run, \d+ services loaded|ferrolb run, after the pushes)\s+([0-9.]+)\s+([0-9.]+)\s*$", re.M)
with open(sys.argv[1] + ".memory", "w") as f:
    f.write("what,vmhwm_mb,vmrss_mb\n")
    for m in mem.finditer(text):
        f.write('"%s",%s,%s\n' % m.groups())
EOF
  if [ "$(wc -l <"$DATA/bgp.csv.new")" -lt 2 ]; then
    rm -f "$DATA/bgp.csv.new" "$DATA/bgp.log.memory"
    echo "error: no figures found in perf-bgp.sh's output" >&2
    return 1
  fi
  mv -f "$DATA/bgp.csv.new" "$DATA/bgp.csv"
  mv -f "$DATA/bgp.log.memory" "$DATA/bgp-memory.csv"
  stamp bgp
}

run_scale() {
  lab_part scale
  rm -f "$DATA/scale.csv.new"
  OUT="$DATA/scale.csv.new" bash "$REPO/tests/lab/perf-scale.sh" 2>&1 | tee "$DATA/scale.log" || true
  if ! [ -s "$DATA/scale.csv.new" ]; then
    echo "error: perf-scale.sh wrote no figures" >&2
    return 1
  fi
  mv -f "$DATA/scale.csv.new" "$DATA/scale.csv"
  stamp scale
}

status=0
if [ "$REPORT_ONLY" = 0 ]; then
  for p in "${PART_LIST[@]}"; do
    case "$p" in criterion) ;; *) lab_part "$p" ;; esac
  done
  want criterion && { run_criterion || status=1; }
  want failover && { run_failover || status=1; }
  want bfd && { run_bfd || status=1; }
  want bgp && { run_bgp || status=1; }
  want scale && { run_scale || status=1; }
fi

# ------------------------------------------------------------------ report and plots
python3 - "$OUTDIR" <<'EOF'
import csv, math, os, statistics, sys
from html import escape

out = sys.argv[1]
data = os.path.join(out, "data")

def read_csv(name):
    p = os.path.join(data, name)
    return list(csv.DictReader(open(p))) if os.path.exists(p) else None

def meta(part):
    p = os.path.join(data, part + ".meta")
    if not os.path.exists(p):
        return None
    return dict(line.rstrip("\n").split("=", 1) for line in open(p) if "=" in line)

def measured(part):
    m = meta(part)
    if not m:
        return ""
    text = "Measured %s on commit `%s`; %s." % (m["date"], m["commit"], m["machine"])
    if m.get("load"):
        text += " Load average when the part ended: %s (other work on the machine competes for the cores)." % m["load"]
    if m["commit"].endswith("+dirty"):
        text += " `+dirty`: the working tree had uncommitted changes under crates/ or tests/."
    return text

def pct(xs, p):  # nearest rank, as perf-failover.sh
    xs = sorted(xs)
    k = max(1, -(-len(xs) * p // 100))
    return xs[int(k) - 1]

def fmt_time(ns):
    if ns >= 1e9: return "%.2f s" % (ns / 1e9)
    if ns >= 1e6: return "%.2f ms" % (ns / 1e6)
    if ns >= 1e3: return "%.2f µs" % (ns / 1e3)
    return "%.0f ns" % ns

# ---- a tiny SVG writer
class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.items = w, h, []
    def add(self, s):
        self.items.append(s)
    def line(self, x1, y1, x2, y2, stroke="#000", width=1, dash=None):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%s"%s/>' % (x1, y1, x2, y2, stroke, width, d))
    def rect(self, x, y, w, h, fill, stroke="none", opacity=1.0):
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="%s" fill-opacity="%s"/>' % (x, y, w, h, fill, stroke, opacity))
    def circle(self, x, y, r, fill, opacity=0.7):
        self.add('<circle cx="%.1f" cy="%.1f" r="%s" fill="%s" fill-opacity="%s"/>' % (x, y, r, fill, opacity))
    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#000"):
        self.add('<text x="%.1f" y="%.1f" font-size="%s" text-anchor="%s" font-weight="%s" fill="%s">%s</text>' % (x, y, size, anchor, weight, fill, escape(s)))
    def save(self, name):
        with open(os.path.join(out, name), "w") as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif">\n' % (self.w, self.h, self.w, self.h))
            f.write('<rect width="100%" height="100%" fill="#fff"/>\n')
            f.write("\n".join(self.items))
            f.write("\n</svg>\n")

BLUE, ORANGE, GREY, GREEN = "#1f77b4", "#ff7f0e", "#888", "#2ca02c"
md = ["# Performance", "",
      "Generated by `scripts/bench-report.sh` from the raw results in [`data/`](data/); do not edit by hand.",
      "Criterion figures come from release builds; the lab figures from the builds the lab scripts use",
      "(debug for failover and BFD, release for the BGP push). Each section says when, on which commit and",
      "on which machine it was measured. Targets are those of docs/design.md, Performance targets.", ""]

# ---- criterion
crit = read_csv("criterion.csv")
md += ["## Micro-benchmarks (criterion)", ""]
if crit:
    md += [measured("criterion"), "",
           "| crate | benchmark | mean | 95 % interval of the mean | median | throughput | reproduce |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    cmds = {"ferrolb-config": "cargo bench -p ferrolb-config --bench validate",
            "ferrolb-ipam": "cargo bench -p ferrolb-ipam", "ferrolb-bgp": "cargo bench -p ferrolb-bgp --bench pack"}
    for r in crit:
        mean = float(r["mean_ns"])
        tp = ""
        if r["throughput_elements"]:
            tp = "%.1f M elements/s" % (int(r["throughput_elements"]) / mean * 1e3)
        md.append("| %s | %s | **%s** | %s - %s | %s | %s | `%s` |" % (
            r["crate"], r["bench"], fmt_time(mean), fmt_time(float(r["mean_lo_ns"])),
            fmt_time(float(r["mean_hi_ns"])), fmt_time(float(r["median_ns"])), tp, cmds.get(r["crate"], "")))
    pack = os.path.join(data, "pack.txt")
    if os.path.exists(pack) and open(pack).read().strip():
        md += ["", "UPDATE packing (printed by the pack benchmark): `%s` (target: at most 200 UPDATEs; GoBGP: 124)." % open(pack).read().strip()]
    empty = [r for r in crit if r["bench"].endswith("/empty")]
    full = [r for r in crit if r["bench"].endswith("/90% full")]
    if empty and full:
        ratio = float(full[0]["mean_ns"]) / float(empty[0]["mean_ns"])
        md += ["", "One allocation + release at 90 %% occupancy costs %.2fx the empty pool's (target: within 3x)." % ratio]
else:
    md += ["Not measured yet: `scripts/bench-report.sh --quick`."]
md.append("")

# ---- failover
fo = read_csv("failover.csv")
md += ["## Layer 2 failover", ""]
if fo:
    cases = []
    for sig in ("KILL", "TERM"):
        for n in sorted({int(r["nodes"]) for r in fo}):
            rs = [r for r in fo if int(r["nodes"]) == n and r["signal"] == sig]
            if rs:
                cases.append(("%d nodes, SIG%s" % (n, sig), rs))
    md += [measured("failover"), "",
           "`tests/lab/perf-failover.sh`: speakers (`ferrolb run`, membership on with a shared key) in network",
           "namespaces; the owner of a Layer 2 address is sent SIGKILL or SIGTERM, and the figure is the time from",
           "the signal to the first gratuitous ARP from the new owner, captured by tcpdump on the router's",
           "interface. A run also checks that the new owner is the one `ferrolb plan` predicts, that no other MAC",
           "sent a gratuitous ARP before the kill, and that only one MAC answers ARP after the failover and after",
           "the killed speaker is restarted. Membership timers are the defaults (probe every 100 ms, suspicion",
           "4 periods).", "",
           "| case | runs | GARP seen | min | median | p90 | max | wrong new owner | runs with two MACs |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, rs in cases:
        lat = [float(r["kill_to_garp_ms"]) for r in rs if r["kill_to_garp_ms"]]
        wrong = sum(1 for r in rs if r["new_owner"] != r["plan_new_owner"])
        two = sum(1 for r in rs if r["two_macs_after_failover"] != "0" or r["two_macs_after_restart"] != "0")
        if lat:
            md.append("| %s | %d | %d | %.0f ms | **%.0f ms** | %.0f ms | %.0f ms | %d | %d |" % (
                label, len(rs), len(lat), min(lat), statistics.median(lat), pct(lat, 90), max(lat), wrong, two))
        else:
            md.append("| %s | %d | 0 | - | - | - | - | %d | %d |" % (label, len(rs), wrong, two))
    md += ["", "Target: median below 1 s after SIGKILL (MetalLB's memberlist: about 4-6 s).", "",
           "![failover times per case, log scale](failover.svg)", ""]
    # strip + box plot, log x axis
    W, left, right, top, row = 760, 150, 30, 40, 60
    H = top + row * len(cases) + 60
    s = Svg(W, H)
    lo, hi = 1.0, 2000.0
    allv = [float(r["kill_to_garp_ms"]) for _, rs in cases for r in rs if r["kill_to_garp_ms"]]
    if allv:
        lo = min(lo, 10 ** math.floor(math.log10(max(min(allv), 0.1))))
        hi = max(hi, 10 ** math.ceil(math.log10(max(allv))))
    X = lambda v: left + (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (W - left - right)
    s.text(W / 2, 20, "Layer 2 failover: signal to the new owner's first gratuitous ARP", 14, "middle", "bold")
    base = top + row * len(cases)
    d = lo
    while d <= hi * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if lo <= v <= hi:
                s.line(X(v), top - 5, X(v), base, "#ddd")
                s.text(X(v), base + 16, ("%g" % v), 11, "middle")
        d *= 10
    s.line(X(1000), top - 5, X(1000), base, "#c00", 1, "4,3")
    s.text(X(1000) + 4, top + 4, "1 s target", 10, fill="#c00")
    s.text((left + W - right) / 2, base + 36, "milliseconds (log scale); dots: runs; box: quartiles; bar: median", 11, "middle")
    for i, (label, rs) in enumerate(cases):
        y = top + row * i + row / 2
        lat = sorted(float(r["kill_to_garp_ms"]) for r in rs if r["kill_to_garp_ms"])
        s.text(left - 10, y + 4, label, 12, "end")
        color = BLUE if "KILL" in label else ORANGE
        if lat:
            q1, q3 = (statistics.quantiles(lat, n=4)[0], statistics.quantiles(lat, n=4)[2]) if len(lat) > 1 else (lat[0], lat[0])
            med = statistics.median(lat)
            s.line(X(lat[0]), y, X(lat[-1]), y, GREY)
            s.rect(X(q1), y - 12, max(X(q3) - X(q1), 1), 24, color, color, 0.15)
            s.line(X(med), y - 14, X(med), y + 14, color, 2)
            for j, v in enumerate(lat):
                s.circle(X(v), y + ((j % 5) - 2) * 3, 3, color)
            s.text(X(lat[-1]) + 8, y + 4, "median %.0f ms" % med, 10, fill="#333")
    s.save("failover.svg")
else:
    md += ["Not measured yet: `sudo scripts/bench-report.sh --only failover`.", ""]

# ---- BFD
bfd = read_csv("bfd.csv")
md += ["## BFD detection", ""]
def nums(rs, k):
    out = []
    for r in rs:
        try:
            out.append(float(r[k]))
        except (ValueError, KeyError):
            pass
    return out
if bfd:
    profiles = []
    for r in bfd:
        p = (int(r["interval_ms"]), int(r["multiplier"]))
        if p not in profiles:
            profiles.append(p)
    md += [measured("bfd"), "",
           "`tests/lab/perf-bfd.sh`: one speaker peers with BIRD with BFD (BFDProfile with receive = transmit",
           "interval I and multiplier M); node1's link is cut and the time to BIRD's \"State changed to stop\"",
           "(BFD down stops the BGP session) and to the speaker's `BFD session down` log line is taken. BIRD",
           "detects after M x I counted from the speaker's last packet, so its figure lies between M x I - I and",
           "M x I; the speaker detects after BIRD's multiplier (3) x the profile's receive interval.", "",
           "| profile | runs | configured detection | BIRD: min / median / max | the speaker: min / median / max |",
           "| --- | --- | --- | --- | --- |"]
    for iv, m in profiles:
        rs = [r for r in bfd if int(r["interval_ms"]) == iv and int(r["multiplier"]) == m]
        b, sp = nums(rs, "bird_log_ms"), nums(rs, "speaker_ms")
        f = lambda xs: "%.0f / **%.0f** / %.0f ms" % (min(xs), statistics.median(xs), max(xs)) if xs else "-"
        md.append("| %d ms x %d | %d | %d ms | %s | %s |" % (iv, m, len(rs), iv * m, f(b), f(sp)))
    md += ["", "Target: within 20 % of the configured detection time.", "",
           "![BFD detection against the configured time](bfd.svg)", ""]
    W, H, left, bottom, top = 640, 340, 70, 290, 40
    s = Svg(W, H)
    s.text(W / 2, 20, "BFD: link cut to session down (bars: median, whiskers: min-max)", 14, "middle", "bold")
    ymax = max([iv * m * 1.3 for iv, m in profiles] + nums(bfd, "bird_log_ms") + nums(bfd, "speaker_ms")) * 1.05
    Y = lambda v: bottom - v / ymax * (bottom - top)
    step = 10 ** math.floor(math.log10(ymax / 2))
    if ymax / step > 8: step *= 2
    v = 0.0
    while v <= ymax:
        s.line(left, Y(v), W - 20, Y(v), "#eee")
        s.text(left - 6, Y(v) + 4, "%g" % v, 11, "end")
        v += step
    s.text(16, (top + bottom) / 2, "ms", 11)
    gw = (W - left - 40) / len(profiles)
    for i, (iv, m) in enumerate(profiles):
        rs = [r for r in bfd if int(r["interval_ms"]) == iv and int(r["multiplier"]) == m]
        x0 = left + 20 + i * gw
        bw = gw / 4
        for k, (vals, color, name) in enumerate([([iv * m], GREY, "configured"), (nums(rs, "bird_log_ms"), BLUE, "BIRD"), (nums(rs, "speaker_ms"), ORANGE, "speaker")]):
            if not vals:
                continue
            x = x0 + k * bw * 1.1
            med = statistics.median(vals)
            s.rect(x, Y(med), bw, bottom - Y(med), color, opacity=0.85)
            if len(vals) > 1:
                s.line(x + bw / 2, Y(min(vals)), x + bw / 2, Y(max(vals)), "#000")
                s.line(x + bw / 4, Y(min(vals)), x + 3 * bw / 4, Y(min(vals)), "#000")
                s.line(x + bw / 4, Y(max(vals)), x + 3 * bw / 4, Y(max(vals)), "#000")
            s.text(x + bw / 2, Y(max(vals)) - 4, "%.0f" % med, 10, "middle")
        s.line(x0 - 4, Y(iv * m * 1.2), x0 + 3.4 * bw, Y(iv * m * 1.2), "#c00", 1, "4,3")
        s.text(x0 + 1.6 * bw, bottom + 16, "%d ms x %d" % (iv, m), 12, "middle")
    s.line(left, bottom, W - 20, bottom)
    for k, (color, name) in enumerate([(GREY, "configured M x I"), (BLUE, "BIRD detects"), (ORANGE, "speaker detects")]):
        s.rect(left + 10 + k * 170, H - 22, 12, 12, color)
        s.text(left + 28 + k * 170, H - 12, name, 11)
    s.text(W - 24, top + 12, "dashed: +20 % limit", 10, "end", fill="#c00")
    s.save("bfd.svg")
else:
    md += ["Not measured yet: `sudo scripts/bench-report.sh --only bfd`.", ""]

# ---- BGP push
bgp = read_csv("bgp.csv")
mem = read_csv("bgp-memory.csv")
md += ["## BGP push to BIRD", ""]
if bgp:
    n = bgp[0]["routes"]
    md += [measured("bgp"), "",
           "`tests/lab/perf-bgp.sh`: %s IPv4 /32 pushed to BIRD over one eBGP session, GoBGP then ferrolb" % n,
           "(release build), in the same lab run; time from BIRD's Established to the newest route it imported,",
           "from BIRD's own timestamps. UPDATEs counted on the wire (tcpdump) and by the speaker itself.", "",
           "| speaker | repetition | seconds | routes/s | UPDATEs on the wire | UPDATEs (own counter) |",
           "| --- | --- | --- | --- | --- | --- |"]
    for r in bgp:
        sec = float(r["seconds"])
        md.append("| %s | %s | %.3f | **%.0f** | %s | %s |" % (r["speaker"], r["rep"], sec, int(r["routes"]) / sec if sec else 0, r["updates_wire"], r["updates_own"]))
    if mem:
        md += ["", "| memory | VmHWM (peak RSS) | VmRSS |", "| --- | --- | --- |"]
        for r in mem:
            md.append("| %s | %s MB | %s MB |" % (r["what"], r["vmhwm_mb"], r["vmrss_mb"]))
    md += ["", "Target: faster than GoBGP in the same run; at most 200 UPDATEs.", "", "![routes per second](bgp.svg)", ""]
    W, H, left, top, row = 640, 60 + 34 * len(bgp), 150, 40, 34
    s = Svg(W, H)
    s.text(W / 2, 20, "%s /32 to BIRD: routes per second" % n, 14, "middle", "bold")
    rates = [int(r["routes"]) / float(r["seconds"]) for r in bgp if float(r["seconds"])]
    xmax = max(rates) * 1.15 if rates else 1
    for i, r in enumerate(bgp):
        y = top + i * row
        rate = int(r["routes"]) / float(r["seconds"]) if float(r["seconds"]) else 0
        color = BLUE if r["speaker"] == "ferrolb" else GREY
        s.rect(left, y, rate / xmax * (W - left - 90), row - 10, color)
        s.text(left - 8, y + row / 2, "%s #%s" % (r["speaker"], r["rep"]), 12, "end")
        s.text(left + rate / xmax * (W - left - 90) + 6, y + row / 2, "%.0f/s" % rate, 11)
    s.save("bgp.svg")
else:
    md += ["Not measured yet: `sudo scripts/bench-report.sh --only bgp` (about 10 minutes).", ""]

# ---- the dir: source at scale
scale = read_csv("scale.csv")
md += ["## The `dir:` source at scale", ""]
if scale:
    md += [measured("scale"), "",
           "`tests/lab/perf-scale.sh`: `ferrolb run` (release build) on one manifest file of N Services and",
           "their EndpointSlices, BGP to BIRD. Load: start to BIRD holding all N routes. Edits (medians): a",
           "Service appended to / removed from that file, and one in a file of its own, to its route at / gone",
           "from BIRD. Memory: peak RSS; gobgpd holding the same N routes beside it. See scale.md.", "",
           "| Services | load | idle | +1 in the file | -1 | own file +1 | -1 | peak RSS loaded / end | gobgpd |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    ms = lambda v: ("%.2f s" % (float(v) / 1000)) if v not in ("", "?", "-") else v
    for r in scale:
        md.append("| %s | %s | %s | **%s** | %s | %s | %s | %s / %s MB | %s MB |" % (
            r["services"], ms(r["load_ms"]), ms(r["idle_ms"]), ms(r["edit_add_ms"]), ms(r["edit_remove_ms"]),
            ms(r["file_add_ms"]), ms(r["file_remove_ms"]), r["hwm_load_mb"], r["hwm_end_mb"], r["gobgpd_hwm_mb"]))
    md += ["", "Targets (50,000 Services): one edited Service at BIRD < 1 s; peak RSS < 300 MB.", "",
           "![one edit to BIRD, and peak memory, against the number of Services](scale.svg)", ""]
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    W, H, left, right, top, bottom = 720, 360, 70, 70, 40, 300
    s = Svg(W, H)
    s.text(W / 2, 20, "dir: source: one edit to BIRD (left axis) and peak RSS (right axis)", 14, "middle", "bold")
    ns = [float(r["services"]) for r in scale]
    lo, hi = 10 ** math.floor(math.log10(min(ns))), 10 ** math.ceil(math.log10(max(ns)))
    X = lambda v: left + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (W - left - right)
    tmax = max([num(r[k]) or 0 for r in scale for k in ("edit_add_ms", "edit_remove_ms", "file_add_ms")] + [1000]) * 1.1
    mmax = max([num(r[k]) or 0 for r in scale for k in ("hwm_end_mb", "gobgpd_hwm_mb")] + [300]) * 1.1
    YT = lambda v: bottom - v / tmax * (bottom - top)
    YM = lambda v: bottom - v / mmax * (bottom - top)
    s.line(left, bottom, W - right, bottom, GREY)
    d = lo
    while d <= hi:
        s.line(X(d), top, X(d), bottom, "#eee")
        s.text(X(d), bottom + 16, "{:,}".format(int(d)), 11, "middle")
        d *= 10
    s.text((left + W - right) / 2, bottom + 36, "Services (log scale)", 11, "middle")
    s.line(left, YT(1000), W - right, YT(1000), "#c00", 1, "4,3")
    s.text(left + 4, YT(1000) - 4, "1 s", 10, fill="#c00")
    s.text(left - 8, top - 8, "ms", 11, "end")
    s.text(W - right + 8, top - 8, "MB", 11)
    for v in (0, tmax / 2, tmax):
        s.text(left - 6, YT(v) + 4, "%.0f" % v, 10, "end")
    for v in (0, mmax / 2, mmax):
        s.text(W - right + 6, YM(v) + 4, "%.0f" % v, 10)
    series = [("edit_add_ms", YT, BLUE, "+1 in the file"), ("file_add_ms", YT, ORANGE, "own file +1"),
              ("hwm_end_mb", YM, "#2a2", "ferrolb peak RSS"), ("gobgpd_hwm_mb", YM, GREY, "gobgpd peak RSS")]
    for i, (key, Y, color, name) in enumerate(series):
        pts = [(X(float(r["services"])), Y(num(r[key]))) for r in scale if num(r[key]) is not None]
        for (x1, y1), (x2, y2) in zip(pts, pts[1:]):
            s.line(x1, y1, x2, y2, color, 2)
        for x, y in pts:
            s.circle(x, y, 3, color, 1.0)
        s.rect(left + 10 + i * 150, top - 2, 10, 10, color)
        s.text(left + 24 + i * 150, top + 7, name, 10)
    s.save("scale.svg")
else:
    md += ["Not measured yet: `sudo scripts/bench-report.sh --only scale` (about 15 minutes).", ""]

with open(os.path.join(out, "README.md"), "w") as f:
    f.write("\n".join(md).rstrip() + "\n")
print("wrote %s" % os.path.join(out, "README.md"))
EOF
exit "$status"
