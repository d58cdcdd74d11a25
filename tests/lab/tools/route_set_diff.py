#!/usr/bin/env python3
"""Compare the IPv4 routes BIRD holds with the addresses of the Services in a manifest directory.

usage: birdc show route protocol node1 table master4 | route_set_diff.py MANIFEST_DIR [SAMPLE]

The expected set: every address in a `status: {loadBalancer: {ingress: [{ip: A}]}}` line of
MANIFEST_DIR/svc-*.yaml (what tools/gen_services.py writes), each as A/32. The set held: the
prefix at the start of every route line of BIRD's `show route` text (continuation lines,
which start with blanks, and the "Table master4:" header are skipped).
Prints one line, "held H, expected E, missing M, extra X", followed by up to SAMPLE (default 5)
missing and extra prefixes when they differ; exit 0 only when the two sets are equal.
"""
import glob
import os
import re
import sys

INGRESS = re.compile(r"ingress: \[\{ip: ([0-9.]+)\}\]")
ROUTE = re.compile(r"^([0-9][0-9.]*/[0-9]+)\s")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sample = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    expected = set()
    for path in glob.glob(os.path.join(sys.argv[1], "svc-*.yaml")):
        with open(path) as f:
            expected.update(m.group(1) + "/32" for m in INGRESS.finditer(f.read()))
    held = set()
    for line in sys.stdin:
        m = ROUTE.match(line)
        if m:
            held.add(m.group(1))
    missing = sorted(expected - held, key=key)
    extra = sorted(held - expected, key=key)
    print(f"held {len(held)}, expected {len(expected)}, missing {len(missing)}, extra {len(extra)}")
    if missing:
        print("  missing: " + " ".join(missing[:sample]) + (" ..." if len(missing) > sample else ""))
    if extra:
        print("  extra: " + " ".join(extra[:sample]) + (" ..." if len(extra) > sample else ""))
    sys.exit(1 if missing or extra else 0)


def key(prefix):
    addr, _, length = prefix.partition("/")
    return tuple(int(o) for o in addr.split(".")) + (int(length),)


if __name__ == "__main__":
    main()
