#!/usr/bin/env python3
"""A markdown table from tools/gpu-ncu's CSV (Nsight Compute's `--csv --page details`, each row led by
the benchmark it came from): one line per profiled kernel launch with its duration, SM and memory
throughput as a fraction of the card's peaks, registers per thread and occupancy. That is what says
whether a kernel that misses its target is bound by memory, by arithmetic, or by neither (latency,
too few blocks, spilled registers).

    python3 benchmarks/ncu_summary.py ncu.csv
"""

import csv
import sys

# Column title -> ncu metric name (SpeedOfLight, LaunchStats and Occupancy sections).
METRICS = [
    ("duration", "Duration"),
    ("SM %", "Compute (SM) Throughput"),
    ("memory %", "Memory Throughput"),
    ("DRAM %", "DRAM Throughput"),
    ("registers", "Registers Per Thread"),
    ("occupancy (theory / achieved) %", None),  # two metrics, joined below
]
TO_US = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


def number(text):
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def launches(path):
    """[(benchmark, id, kernel, grid, block, {metric: (value, unit)})] in file order."""
    rows, order = {}, []
    header = None
    with open(path, newline="") as f:
        for record in csv.reader(f):
            if not record:
                continue
            if record[0] == "Benchmark":
                header = {name: i for i, name in enumerate(record)}
                continue
            if header is None:
                continue
            # Metric rows end at "Metric Value": ncu leaves out the empty rule columns after it
            # (17 fields against the header's 21, ncu 2025.3 on an H100).
            get = lambda name: record[header[name]] if header.get(name, len(record)) < len(record) else ""
            key = (get("Benchmark"), get("ID"))
            if key not in rows:
                rows[key] = (get("Kernel Name"), get("Grid Size"), get("Block Size"), {})
                order.append(key)
            # A name may come twice: MemoryWorkloadAnalysis's "Memory Throughput" is in byte/s, the
            # Speed Of Light section's in %. The first one (Speed Of Light comes first) is kept.
            rows[key][3].setdefault(get("Metric Name"), (get("Metric Value"), get("Metric Unit")))
    return [(b, i) + rows[(b, i)] for b, i in order]


def cell(metrics, name):
    value, unit = metrics.get(name, ("", ""))
    x = number(value) if value else None
    if x is None:
        return value or "-"
    if name == "Duration":
        scale = TO_US.get(unit.strip())
        return f"{x * scale:.1f} us" if scale is not None else f"{value} {unit}"
    return f"{x:.0f}" if name == "Registers Per Thread" else f"{x:.1f}"


def table(path):
    found = launches(path)
    if not found:
        return "No kernel was profiled (see ncu.csv.log in logs.tar.gz).\n"
    lines = ["| benchmark | id | kernel | grid | block | " + " | ".join(t for t, _ in METRICS) + " |",
             "|" + "---|" * (5 + len(METRICS))]
    for bench, kid, kernel, grid, block, m in found:
        values = [cell(m, name) for _, name in METRICS[:-1]]
        values.append(f"{cell(m, 'Theoretical Occupancy')} / {cell(m, 'Achieved Occupancy')}")
        lines.append(f"| {bench.rstrip('/')} | {kid} | {kernel} | {grid} | {block} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.stdout.write(table(sys.argv[1]))
