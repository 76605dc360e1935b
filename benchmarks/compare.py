#!/usr/bin/env python3
"""Two Google Benchmark JSON files of the same benchmarks side by side: a baseline build's and this
one's, timed on the same card in the same run (tools/gpu-check with GPU_CHECK_BASELINE). A markdown
table, one line per benchmark in both files, with each time and the speed-up (baseline time over
this build's time; above 1: faster now).

    python3 benchmarks/compare.py BASELINE.json CURRENT.json
"""

import json
import sys

TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def times(path):
    """{benchmark name without Google Benchmark's suffixes: microseconds} of the runs that finished."""
    with open(path) as f:
        data = json.load(f)
    found = {}
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration" or b.get("error_occurred"):
            continue
        name = b["name"].split("/min_time:")[0].removesuffix("/manual_time")
        found[name] = b["real_time"] * TO_US[b.get("time_unit", "ns")]
    return found


def table(baseline_path, current_path):
    base, cur = times(baseline_path), times(current_path)
    names = [n for n in cur if n in base]
    if not names:
        return "No benchmark is in both files.\n"
    lines = ["| benchmark | baseline | this build | speed-up |", "|---|---|---|---|"]
    for n in names:
        lines.append(f"| {n} | {base[n]:.1f} us | {cur[n]:.1f} us | {base[n] / cur[n]:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.stdout.write(table(sys.argv[1], sys.argv[2]))
