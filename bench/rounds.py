#!/usr/bin/env python3
"""Summarises several ossd-bench runs of the same cells (rounds) for BENCHMARKS.md.

    bench/rounds.py DIR [DIR ...]      # each DIR holds a report.json

Prints two markdown tables: ops/s per cell (min / median / max over the rounds), and the ratios
that BENCHMARKS.md reports, each taken inside one round (both cells from the same run) and then
summarised over the rounds: PUT+callback / PUT per durability, ossd / floor, and ossd / each
peer of the same durability class (a peer whose durability starts with `fsync` is compared with
ossd-fsync, the others with ossd-relaxed).
"""
import json
import statistics
import sys
from pathlib import Path

SIZE_4K = 4096


def load(d):
    r = json.loads((Path(d) / "report.json").read_text())
    cells = {}
    for c in r["cells"]:
        if c["status"] == "ok":
            cells[(c["target"], c["workload"], c["size"], c["concurrency"])] = c["ops_per_s"]
    durability = {t["name"]: t["durability"] for t in r["targets"]}
    return cells, durability


def spread(values):
    return f"{min(values):,.0f} / {statistics.median(values):,.0f} / {max(values):,.0f}"


def main(dirs):
    rounds = [load(d) for d in dirs]
    keys = sorted({k for cells, _ in rounds for k in cells if k[2] == SIZE_4K},
                  key=lambda k: (k[0], k[1], k[3]))
    print(f"| target | workload | c | ops/s min / median / max ({len(rounds)} rounds) |")
    print("| --- | --- | ---: | ---: |")
    for k in keys:
        vals = [cells[k] for cells, _ in rounds if k in cells]
        if len(vals) == len(rounds):
            print(f"| {k[0]} | {k[1]} | {k[3]} | {spread(vals)} |")

    pairs = []
    for d in ("fsync", "relaxed"):
        pairs.append((f"ossd-{d}", "PUT+callback", f"ossd-{d}", "PUT"))
        for w in ("PUT", "GET"):
            pairs.append((f"ossd-{d}", w, f"floor-{d}", w))
    peers = sorted({t for _, dur in rounds for t in dur if not t.startswith(("ossd", "floor", "disk"))})
    for p in peers:
        dur = rounds[0][1].get(p, "")
        mine = "ossd-fsync" if dur.startswith("fsync") else "ossd-relaxed"
        for w in ("PUT", "GET"):
            pairs.append((mine, w, p, w))
    print()
    print(f"| ratio (same round) | c | min / median / max | per round |")
    print("| --- | ---: | ---: | --- |")
    for a, wa, b, wb in pairs:
        for c in (1, 16, 64):
            per = []
            for cells, _ in rounds:
                x, y = cells.get((a, wa, SIZE_4K, c)), cells.get((b, wb, SIZE_4K, c))
                if x and y:
                    per.append(x / y)
            if len(per) == len(rounds):
                s = f"{min(per):.2f} / {statistics.median(per):.2f} / {max(per):.2f}"
                print(f"| {a} {wa} / {b} {wb} | {c} | {s} | {', '.join(f'{v:.2f}' for v in per)} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
