"""Summarises bench/compare.sh: per cell, the median over rounds before and after, the spread,
and after/before. Usage: compare.py OUT_DIR ROUNDS REV"""
import json
import statistics
import sys
from pathlib import Path

out, rounds, rev = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def cells(side):
    got = {}
    for i in range(1, rounds + 1):
        for c in json.loads((out / f"{side}-{i}" / "report.json").read_text())["cells"]:
            if c.get("status") != "ok":
                continue
            key = (c["target"], c["workload"], c["size"], c["concurrency"])
            got.setdefault(key, []).append(c)
    return got


def size(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


before, after = cells("before"), cells("after")
before_rev, _, after_rev = rev.partition("..")
print(f"before = {before_rev}, after = {after_rev or 'the working tree'}; {rounds} alternating rounds; "
      "median (min..max)\n")
print("| target | cell | before ops/s | after ops/s | after/before | before p99 ms | after p99 ms |")
print("|---|---|---|---|---|---|---|")
for key in sorted(set(before) & set(after)):
    b, a = before[key], after[key]
    bo, ao = [c["ops_per_s"] for c in b], [c["ops_per_s"] for c in a]
    bp, ap = [c["p99_ms"] for c in b], [c["p99_ms"] for c in a]
    mb, ma = statistics.median(bo), statistics.median(ao)
    target, workload, sz, conc = key
    print(f"| {target} | {workload} {size(sz)} c={conc} | {mb:,.0f} ({min(bo):,.0f}..{max(bo):,.0f}) "
          f"| {ma:,.0f} ({min(ao):,.0f}..{max(ao):,.0f}) | {ma / mb:.2f} "
          f"| {statistics.median(bp):.2f} | {statistics.median(ap):.2f} |")
