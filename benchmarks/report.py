"""Turns the benchmark JSON files of one run into a markdown report: the measured ceilings, every
kernel (CPU; GPU custom against vendor), the end-to-end training steps against the peers, and the
targets of issue 7, met or missed and by how much.

    python3 benchmarks/report.py DIR [--out FILE]

DIR holds any of: kernels.json (bench_kernels), cuda.json (bench_cuda), e2e.json (bench_e2e),
peers-torch.json, peers-keras.json (benchmarks/peers/peers.py on the CPU), peers-torch-cuda.json
(the same on a GPU), profile-experimentN.json (`cxrnet profile --json`: one step layer by layer).
Missing files just leave their sections out. bench_cuda's output may come in
parts (cuda-targets.json, cuda-rest.json: tools/gpu-check runs the targets first): every cuda*.json
is merged. A file cut short by a timeout keeps the benchmarks written before the cut. Standard
library only.

`tools/bench --rounds N` writes e2e-roundI.json, peers-torch-roundI.json and peers-keras-roundI.json
instead, the frameworks taking turns N times: on a machine whose speed drifts with its neighbours
(the shared development VM: experiment 1 at 1,232 to 2,135 images/s within ten minutes), one run
of each can put a ratio anywhere in a 1.6x range. The training-step table and the targets then take
each framework's best round, and give the range of the rounds' own ratios beside it.
"""

import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys
import typing


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    # Google Benchmark writes its JSON as it goes: a run killed mid-way leaves the context and the
    # finished benchmarks, then a cut. Keep everything up to the last complete benchmark.
    end = text.rfind("\n    }")
    if end < 0:
        return None
    try:
        return json.loads(text[: end + len("\n    }")] + "\n  ]\n}\n")
    except ValueError:
        return None


def load_merged(directory, first, pattern):
    """`first` (e.g. cuda.json) plus every file matching `pattern` (e.g. cuda-*.json), benchmarks
    concatenated (a name seen twice keeps its first run), the context of the first found. "parts":
    (file name, document) of each file, for what differs between them: each run measures its own
    ceilings, and its benchmarks' "of ceiling" are fractions of those."""
    paths = [os.path.join(directory, first)] + sorted(glob.glob(os.path.join(directory, pattern)))
    named = [(os.path.basename(path), load(path)) for path in paths]
    named = [(name, d) for name, d in named if d]
    if not named:
        return None
    docs = [d for _, d in named]
    merged, seen = {"context": docs[0].get("context", {}), "benchmarks": [], "parts": named}, set()
    for doc in docs:
        for b in doc.get("benchmarks", []):
            if b.get("name") not in seen:
                seen.add(b.get("name"))
                merged["benchmarks"].append(b)
    return merged


def rounds_of(directory, name):
    """The documents of NAME-round1.json, NAME-round2.json, ... (tools/bench --rounds), in round order."""
    numbered = []
    for path in glob.glob(os.path.join(directory, f"{name}-round*.json")):
        m = re.search(r"-round(\d+)\.json$", path)
        if m:
            numbered.append((int(m.group(1)), path))
    return [d for d in (load(path) for _, path in sorted(numbered)) if d]


def best_steps(rounds):
    """bench_e2e's rounds as one document: each training step at its best round's images/s."""
    best = {}
    for doc in rounds:
        for b in doc.get("benchmarks", []):
            kept = best.get(b.get("name"))
            if kept is None or (not failed(b) and b.get("images/s", 0) > kept.get("images/s", 0)):
                best[b.get("name")] = b
    return {"context": rounds[-1].get("context", {}), "benchmarks": list(best.values())}


def best_peer(rounds):
    """A peer's rounds (benchmarks/peers/peers.py) as one document: each experiment at its best round,
    with every round's runs tried (best_of.py's "tried": the wait policies, eager and compiled)."""
    best, tried = {}, {}
    for doc in rounds:
        for x in doc.get("results", []):
            if x["experiment"] not in best or x["images_per_second"] > best[x["experiment"]]["images_per_second"]:
                best[x["experiment"]] = x
            tried.setdefault(x["experiment"], []).extend(x.get("tried", []))
    return dict(rounds[-1], results=[dict(best[e], tried=tried[e]) for e in sorted(best)])


class Ratio(typing.NamedTuple):
    """cxrnet's images/s over a peer's: each one's best (over the rounds, when there are several), and
    the lowest and highest of the rounds' own ratios."""
    best: float
    low: typing.Optional[float] = None
    high: typing.Optional[float] = None
    rounds: int = 1

    def __str__(self):
        spread = f" ({self.low:.2f}-{self.high:.2f}x over {self.rounds} rounds)" if self.rounds > 1 else ""
        return f"{self.best:.2f}x{spread}"


def clean_name(name):
    """'cuda/conv2d_forward/custom/e1_conv1/min_time:0.100/manual_time' -> the parts that say what ran."""
    return [p for p in name.split("/") if not re.match(r"(min_time|iterations|repeats|threads):|(manual|real)_time$", p)]


def runs(doc):
    """name parts -> benchmark entry: the fastest of a benchmark's repetitions (Google Benchmark's
    Repetitions, as the CPU SGEMMs run: a transient slowdown of one is not a verdict), else the last
    one when a name repeats."""
    out = {}
    for b in (doc or {}).get("benchmarks", []):
        if b.get("run_type", "iteration") == "iteration":
            key = tuple(clean_name(b["name"]))
            kept = out.get(key)
            keep_earlier = (kept is not None and b.get("repetitions", 1) > 1 and not failed(kept)
                            and (failed(b) or us(b) >= us(kept)))
            if not keep_earlier:
                out[key] = b
    return out


def us(b):
    """Time per iteration in microseconds."""
    factor = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b.get("time_unit", "ns")]
    return b["real_time"] * factor


def fmt_time(b):
    t = us(b)
    return f"{t / 1e3:.2f} ms" if t >= 1000 else f"{t:.1f} us"


def fmt_rate(b):
    if "GFLOP/s" in b:
        g = b["GFLOP/s"]
        return f"{g / 1e3:.2f} TFLOP/s" if g >= 1000 else f"{g:.1f} GFLOP/s"
    if "GB/s" in b:
        return f"{b['GB/s']:.1f} GB/s"
    return ""


def fmt_frac(b):
    return f"{100 * b['of_ceiling']:.0f}%" if "of_ceiling" in b else ""


def failed(b):
    return b.get("error_occurred", False)


def machine_line():
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    commit = "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip() or commit
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True,
                               cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        if dirty:
            commit += " (+ uncommitted changes)"
    except OSError:
        pass
    try:
        load_avg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load_avg = "?"
    return (f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, commit {commit}, {cpu}, "
            f"{os.cpu_count()} cores, load average {load_avg} at the end of the run")


def ceilings_section(name, doc):
    ctx = (doc or {}).get("context", {})
    if "ceiling_GFLOPs" not in ctx:
        return []
    lines = [f"- {name}: bandwidth {float(ctx['ceiling_bandwidth_GBps']):.1f} GB/s ({ctx.get('ceiling_bandwidth_what', '')}); "
             f"arithmetic {float(ctx['ceiling_GFLOPs']):.1f} GFLOP/s ({ctx.get('ceiling_GFLOPs_what', '')})"]
    # The vendor's own GEMM timed later in the run over the ceiling it was measured as: above 1 by more
    # than noise, the ceiling was caught in a slow moment, and every "of ceiling" of the run reads high.
    over = [(parts, b["of_ceiling"]) for parts, b in runs(doc).items()
            if not failed(b) and "GFLOP/s" in b and b.get("of_ceiling", 0) > CEILING_SLACK
            and parts[1] == "sgemm" and parts[2] in ("openblas", "vendor")]
    if over:
        parts, frac = max(over, key=lambda x: x[1])
        lines.append(f"  - **the arithmetic ceiling reads low**: `{'/'.join(parts)}` ran at {100 * frac:.0f}% of it "
                     "later in the same run; read this run's GFLOP/s \"of ceiling\" with that in mind")
    return lines


def all_ceilings(kernels, cuda):
    """The CPU's ceilings and the GPU's: per part when bench_cuda ran in parts (tools/gpu-check's two
    runs, each judged against the ceilings it measured)."""
    lines = ceilings_section("CPU", kernels)
    gpu_parts = (cuda or {}).get("parts", [])
    if len(gpu_parts) > 1:
        for name, part in gpu_parts:
            lines += ceilings_section(f"GPU ({name})", part)
        return lines
    return lines + ceilings_section("GPU", cuda)


def cpu_section(doc):
    r = runs(doc)
    if not r:
        return []
    lines = ["## CPU kernels (bench_kernels)", "",
             "Time per call at batch 32; GFLOP/s for GEMM-shaped ops (against the OpenBLAS ceiling), GB/s of",
             "compulsory traffic for the rest (against the memcpy ceiling).", "",
             "| op | shape | time | rate | of ceiling |", "|---|---|---|---|---|"]
    errors = []
    for parts, b in r.items():
        if parts[0] != "cpu":
            continue
        op, shape = parts[1], "/".join(parts[2:])
        if failed(b):
            errors.append(f"- `{'/'.join(parts)}`: {b.get('error_message', '')}")
            continue
        lines.append(f"| {op} | {shape} | {fmt_time(b)} | {fmt_rate(b)} | {fmt_frac(b)} |")
    if errors:
        lines += ["", "Failed validation (not timed):", ""] + errors
    return lines + [""]


# A custom kernel slower than this fraction of cuDNN/cuBLAS's speed is listed above the kernel table:
# session 10 found experiment 2's dense batch norm 10x slower than cuDNN there, a session after the
# change that made it so, unnoticed in a table of 300 rows.
SLOW_AGAINST_VENDOR = 0.5
CEILING_SLACK = 1.05  # a vendor GEMM this far over the measured ceiling: the ceiling was measured low


def gpu_section(doc):
    r = runs(doc)
    if not r:
        return []
    skipped = [b for b in r.values() if failed(b) and b.get("error_message") == "no GPU"]
    if len(skipped) == len(r):
        return ["## GPU kernels (bench_cuda)", "", f"No GPU on this machine: all {len(r)} GPU benchmarks skipped.", ""]
    lines = ["## GPU kernels (bench_cuda)", "",
             "Event-timed, L2 flushed before every launch. `custom/vendor` = custom speed over the vendor's",
             "(cuDNN/cuBLAS) speed; `of ceiling` against the measured copy bandwidth or cuBLAS SGEMM n=8192.", "",
             "| op | shape | custom | vendor | custom/vendor | custom rate | custom of ceiling | vendor rate | "
             "vendor of ceiling |",
             "|---|---|---|---|---|---|---|---|---|"]
    errors, seen, slow = [], set(), []
    for parts, b in r.items():
        if parts[0] != "cuda":
            continue
        if failed(b):
            errors.append(f"- `{'/'.join(parts)}`: {b.get('error_message', '')}")
        op, shape = parts[1], "/".join(parts[3:])
        if (op, shape) in seen:
            continue
        seen.add((op, shape))
        c = r.get(("cuda", op, "custom") + tuple(parts[3:]))
        v = r.get(("cuda", op, "vendor") + tuple(parts[3:]))
        c = c if c and not failed(c) else None
        v = v if v and not failed(v) else None
        if not c and not v:
            continue
        ratio = f"{us(v) / us(c):.2f}" if c and v else ""
        if c and v and us(v) / us(c) < SLOW_AGAINST_VENDOR:
            slow.append(f"- {op} {shape}: {fmt_time(c)} against {fmt_time(v)} ({ratio}x)")
        lines.append(f"| {op} | {shape} | {fmt_time(c) if c else ''} | {fmt_time(v) if v else ''} | {ratio} | "
                     f"{fmt_rate(c) if c else ''} | {fmt_frac(c) if c else ''} | {fmt_rate(v) if v else ''} | "
                     f"{fmt_frac(v) if v else ''} |")
    if errors:
        lines += ["", "Failed (not timed):", ""] + errors
    if slow:  # first, where a reader of a long table sees them
        lines[2:2] = [f"Custom kernels at under {SLOW_AGAINST_VENDOR:.0%} of the vendor's speed:", ""] + slow + [""]
    return lines + [""]


def read_probe_section(doc):
    """bench_read_probes.cpp: what a pass that only reads reaches, by the way it loads (rows) and size."""
    probes = {}
    for parts, b in runs(doc).items():
        if parts[0] == "cuda" and len(parts) == 4 and parts[1] == "read_probe" and not failed(b):
            probes.setdefault(parts[2], {})[parts[3]] = b
    if not probes:
        return []
    sizes = ("e3_bn1", "n16M", "n128M")
    lines = ["## GPU read probes (bench_read_probes.cpp)", "",
             "Kernels that only read and add a float array: GB/s of bytes read, and that over the copy",
             "ceiling (which counts bytes read and written). The floor under a read pass such as batch",
             "norm's statistics (e3_bn1: 31.5 MB).", "",
             "| probe | " + " | ".join(sizes) + " |", "|---|" + "---|" * len(sizes)]
    for name, by_size in probes.items():
        cells = [f"{fmt_time(b)}, {fmt_rate(b)} ({fmt_frac(b)})" if (b := by_size.get(size)) else "-" for size in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def peer_speed(doc, e):
    for x in (doc or {}).get("results", []):
        if x["experiment"] == e:
            return x["images_per_second"]
    return None


def step_speed(e2e, e, variant):
    """bench_e2e's images/s of experiment e's step on `variant` ("cpu", "cuda_custom", ...), or None."""
    b = runs(e2e).get(("train_step", f"experiment{e}", variant))
    return b["images/s"] if b and not failed(b) else None


def cpu_step_speed(doc, e):
    return step_speed(doc, e, "cpu")


def cpu_ratio(e, ours, theirs, rounds):
    """Ratio of the best speeds, with the spread of the rounds' own ratios when both sides have rounds
    (rounds: (bench_e2e's rounds, the peer's rounds), taken in turns)."""
    if not (ours and theirs):
        return None
    per_round = [a / b for a, b in ((cpu_step_speed(x, e), peer_speed(y, e)) for x, y in zip(*rounds)) if a and b]
    if len(per_round) < 2:
        return Ratio(ours / theirs)
    return Ratio(ours / theirs, min(per_round), max(per_round), len(per_round))


def compiled_modes(name, doc, compiler):
    """What a peer's compiled mode gave, where tools/bench-peers --compiled tried it (best_of.py's
    "tried" lists, over all rounds): each experiment's best compiled and default images/s, and which
    was kept."""
    parts = []
    for r in (doc or {}).get("results", []):
        best = lambda compiled: max((t["images_per_second"] for t in r.get("tried", [])
                                     if bool(t.get("compiled")) == compiled), default=None)
        compiled, default = best(True), best(False)
        if compiled and default:
            kept = "compiled" if r.get("compiled") else "default"
            parts.append(f"experiment {r['experiment']} {compiled:.1f} against {default:.1f} ({kept} kept)")
    return f"{name} with {compiler}: {', '.join(parts)}" if parts else None


def peer_layouts(doc):
    """PyTorch's memory formats, where peers.py ran each model in several (its "layouts", and those of
    every run best_of.py and the rounds tried): each experiment's best images/s in each."""
    parts = []
    for r in (doc or {}).get("results", []):
        best = {}
        for run in [r] + r.get("tried", []):
            for layout, speed in (run.get("layouts") or {}).items():
                best[layout] = max(best.get(layout, 0.0), speed)
        if len(best) > 1:
            ranked = sorted(best.items(), key=lambda kv: -kv[1])
            parts.append(f"experiment {r['experiment']} " + " against ".join(f"{l} {v:.1f}" for l, v in ranked))
    if not parts:
        return None
    return "PyTorch ran each model in each memory format and kept the faster; images/s: " + ", ".join(parts) + "."


def e2e_section(e2e, torch, keras, torch_cuda, rounds=None):
    """rounds: {"e2e": [...], "torch": [...], "keras": [...]}, the documents of tools/bench --rounds
    (e2e, torch and keras being then their best-of documents)."""
    rounds = rounds or {}
    r = runs(e2e)
    if not r:
        return [], {}
    ours, host_share, host_ms, launches, floors = {}, {}, {}, {}, {}
    for parts, b in r.items():
        if parts[0] == "train_step" and not failed(b):
            key = (int(parts[1].replace("experiment", "")), parts[2])
            ours[key] = b["images/s"]
            if b.get("host_ms/step") and b["images/s"]:  # GPU runs: time to queue a step / the step
                host_share[key] = b["host_ms/step"] / (1e3 * b.get("batch", 32) / b["images/s"])
                host_ms[key] = b["host_ms/step"]
            if b.get("launches/step"):  # the graph runs: the captured step's nodes
                launches[key] = b["launches/step"]
        if parts[0] == "host_per_launch" and not failed(b) and b.get("host_us/launch"):
            floors[parts[2]] = b["host_us/launch"]  # fill_kernel, relu_op
    head = ["## Training step, end to end (bench_e2e, benchmarks/peers/peers.py)", "",
            "Images/s at batch 32 (forward, binary cross-entropy, backward, Adam) on random data, models",
            "built from configs/experiment{1..4}.yaml; the peers build the same models."]
    if torch or keras:
        t = (torch or keras)
        head.append(f"Peers: PyTorch {(torch or {}).get('version', '-')}, Keras {(keras or {}).get('version', '-')} on "
                    f"TensorFlow {(keras or {}).get('tensorflow', '-')}, {t.get('threads')} threads (cxrnet: "
                    f"{(e2e or {}).get('context', {}).get('cpu_threads', '?')} OpenMP threads); peers measured "
                    f"{(torch or {}).get('date', '?')} (PyTorch) and {(keras or {}).get('date', '?')} (Keras).")
        layouts = peer_layouts(torch)
        if layouts:
            head.append(layouts)
        modes = [m for m in (compiled_modes("PyTorch", torch, "torch.compile"),
                             compiled_modes("Keras", keras, "jit_compile=True (XLA)")) if m]
        if modes:
            head.append("Each peer also ran compiled (tools/bench-peers --compiled), keeping each experiment's faster "
                        "way; images/s compiled against default: " + "; ".join(modes) + ".")
    if len(rounds.get("e2e", [])) > 1:
        head.append(f"Each framework's best of {len(rounds['e2e'])} rounds, taken in turns (tools/bench --rounds); "
                    "in brackets the range of the rounds' own ratios.")
    # The ratios judge issue 7's targets only when both sides ran on as many threads.
    peer_threads = (torch or keras or {}).get("threads")
    our_threads = (e2e or {}).get("context", {}).get("cpu_threads")
    same_threads = peer_threads is None or our_threads is None or str(peer_threads) == str(our_threads)
    if not same_threads:
        head.append(f"**Not comparable: the peers ran on {peer_threads} threads and cxrnet on {our_threads}** "
                    "(tools/bench-peers --threads N, or the same OMP_NUM_THREADS for both); no verdicts below.")
    lines = head + ["", "| experiment | cxrnet CPU | PyTorch CPU | Keras CPU | cxrnet / PyTorch | cxrnet / Keras |",
                    "|---|---|---|---|---|---|"]
    ratios = {}
    for e in range(1, 5):
        c, t, k = ours.get((e, "cpu")), peer_speed(torch, e), peer_speed(keras, e)
        if c is None and t is None and k is None:
            continue
        rt = cpu_ratio(e, c, t, (rounds.get("e2e", []), rounds.get("torch", [])))
        rk = cpu_ratio(e, c, k, (rounds.get("e2e", []), rounds.get("keras", [])))
        if same_threads:
            ratios[(e, "torch")], ratios[(e, "keras")] = rt, rk
        f = lambda x: f"{x:.1f}" if x else ""
        g = lambda x: str(x) if x else ""
        lines.append(f"| {e} | {f(c)} | {f(t)} | {f(k)} | {g(rt)} | {g(rk)} |")
    gpu_rows = [(e, ours.get((e, "cuda_custom")), ours.get((e, "cuda_vendor")), peer_speed(torch_cuda, e))
                for e in range(1, 5)]
    if any(x[1] or x[2] or x[3] for x in gpu_rows):
        lines += ["", "Host share: the time the host took to queue a step over the whole step (near 100%: bound by the",
                  "host's launches and engine overhead; well below: bound by the GPU).", "",
                  "| experiment | cxrnet GPU custom | cxrnet GPU vendor | PyTorch GPU (cuDNN) | custom / PyTorch | vendor / PyTorch | host share custom / vendor |",
                  "|---|---|---|---|---|---|---|"]
        for e, cu, ve, tc in gpu_rows:
            f = lambda x: f"{x:.1f}" if x else ""
            g = lambda a, b: f"{a / b:.2f}x" if a and b else ""
            h = lambda x: f"{100 * x:.0f}%" if x else "-"
            shares = f"{h(host_share.get((e, 'cuda_custom')))} / {h(host_share.get((e, 'cuda_vendor')))}"
            lines.append(f"| {e} | {f(cu)} | {f(ve)} | {f(tc)} | {g(cu, tc)} | {g(ve, tc)} | {shares} |")
    graph_rows = [(e, ours.get((e, "cuda_custom")), ours.get((e, "cuda_custom_graph"))) for e in range(1, 5)]
    if any(x[2] for x in graph_rows):
        lines += ["", "The custom step captured once as a CUDA graph and replayed (kernels/cuda/graph.h): the step's",
                  "work without the host's launches (each replay repeats the captured dropout masks and Adam",
                  "step). Launches: the captured step's kernels, copies and memsets; host per launch: the launched",
                  "step's host time over them.", "",
                  "| experiment | custom, launched | custom, one graph | graph / launched | launches a step | "
                  "host per launch |", "|---|---|---|---|---|---|"]
        for e, launched, graphed in graph_rows:
            if launched or graphed:
                f = lambda x: f"{x:.1f}" if x else ""
                n, ms = launches.get((e, "cuda_custom_graph")), host_ms.get((e, "cuda_custom"))
                lines.append(f"| {e} | {f(launched)} | {f(graphed)} | "
                             f"{f'{graphed / launched:.2f}x' if launched and graphed else ''} | "
                             f"{f'{n:.0f}' if n else ''} | {f'{1e3 * ms / n:.1f} us' if n and ms else ''} |")
        if floors:
            f = lambda k: f"{floors[k]:.1f} us" if k in floors else "-"
            lines += ["", f"The floor (bench_e2e host_per_launch): {f('fill_kernel')} of host time to queue a 1-float "
                          f"fill through kernels/, {f('relu_op')} for an engine op (a relu of a 1-float tensor that needs "
                          "its gradient: allocation, autograd node, launch)."]
    return lines + [""], ratios


def arithmetic_ceiling(doc):
    """The arithmetic ceiling a bench run measured (CPU: OpenBLAS SGEMM; GPU: cuBLAS), GFLOP/s, or None."""
    ctx = (doc or {}).get("context", {})
    return float(ctx["ceiling_GFLOPs"]) if "ceiling_GFLOPs" in ctx else None


def step_gflop(e2e, e):
    """GFLOP of experiment e's training step: its convolutions and matrix products (layers/arithmetic.h)."""
    for variant in ("cpu", "cuda_custom", "cuda_vendor"):
        b = runs(e2e).get(("train_step", f"experiment{e}", variant))
        if b and not failed(b) and b.get("GFLOP/step"):
            return b["GFLOP/step"]
    return None


def arithmetic_table(e2e, columns, ceiling, device):
    """columns: (heading, images/s of experiment e) pairs; each cell as GFLOP/s and share of the ceiling."""
    rows = []
    for e in range(1, 5):
        gflop, speeds = step_gflop(e2e, e), [speed(e) for _, speed in columns]
        if not gflop or not any(speeds):
            continue
        def cell(images_per_s):
            if not images_per_s:
                return ""
            rate = gflop * images_per_s / 32
            return f"{rate:.0f}" + (f" ({100 * rate / ceiling:.0f}%)" if ceiling else "")
        rows.append(f"| {e} | {gflop:.2f} | " + " | ".join(cell(x) for x in speeds) + " |")
    if not rows:
        return []
    share = f"this run's {device} arithmetic ceiling" + (f" ({ceiling:.1f} GFLOP/s)." if ceiling else " (not measured).")
    return [f"The {device} steps as GFLOP/s: each step's convolutions and matrix products (layers/arithmetic.h: "
            "forward,", "weight and input gradients; the peers do the same arithmetic) over its time, in brackets "
            "the share of", share, "",
            "| experiment | GFLOP a step | " + " | ".join(h for h, _ in columns) + " |",
            "|---|---|" + "---|" * len(columns)] + rows + [""]


def arithmetic_section(e2e, torch, keras, kernels, cuda=None, torch_cuda=None):
    """Each framework's training step as GFLOP/s of the same arithmetic, against the measured ceilings."""
    cpu = arithmetic_table(e2e, [("cxrnet CPU GFLOP/s", lambda e: step_speed(e2e, e, "cpu")),
                                 ("PyTorch CPU", lambda e: peer_speed(torch, e)),
                                 ("Keras CPU", lambda e: peer_speed(keras, e))], arithmetic_ceiling(kernels), "CPU")
    gpu = arithmetic_table(e2e, [("cxrnet GPU custom", lambda e: step_speed(e2e, e, "cuda_custom")),
                                 ("custom, one graph", lambda e: step_speed(e2e, e, "cuda_custom_graph")),
                                 ("vendor", lambda e: step_speed(e2e, e, "cuda_vendor")),
                                 ("PyTorch GPU", lambda e: peer_speed(torch_cuda, e))], arithmetic_ceiling(cuda), "GPU")
    return cpu + gpu


def target_demands(e2e, torch, keras, kernels):
    """What each CPU ratio target asks of the arithmetic: the images/s it needs as GFLOP/s, against the
    ceiling. Over 100%, no float32 implementation of the same arithmetic reaches it on this machine."""
    ceiling, lines = arithmetic_ceiling(kernels), []
    for e, peer, target in CPU_RATIO_TARGETS:
        gflop, theirs = step_gflop(e2e, e), peer_speed(torch if peer == "torch" else keras, e)
        if not (gflop and theirs and ceiling):
            continue
        needed = target * theirs
        rate = gflop * needed / 32
        name = "PyTorch" if peer == "torch" else "Keras"
        lines.append(f"- experiment {e} at {target:g}x {name}: {needed:,.0f} images/s, {rate:.0f} GFLOP/s of its "
                     f"{gflop:.2f} GFLOP a step, {100 * rate / ceiling:.0f}% of the arithmetic ceiling")
    if not lines:
        return []
    return ["What the ratio targets ask of this CPU's arithmetic (over 100%: out of reach of any float32 code "
            "doing the same", "convolutions):", ""] + lines + [""]


def memory_section(e2e, torch_cuda):
    """The tensor memory a training step holds at its peak and between steps (bench_e2e's peak_MiB and
    held_MiB), beside PyTorch's on the GPU (peers.py's peak_mib and held_mib)."""
    ours = {}
    for parts, b in runs(e2e).items():
        if parts[0] == "train_step" and not failed(b) and b.get("peak_MiB") is not None:
            ours[(int(parts[1].replace("experiment", "")), parts[2])] = (b["peak_MiB"], b.get("held_MiB"))
    theirs = {x["experiment"]: (x["peak_mib"], x.get("held_mib"))
              for x in (torch_cuda or {}).get("results", []) if "peak_mib" in x}
    if not ours and not theirs:
        return []

    def cell(v):
        if not v:
            return ""
        return f"{v[0]:.1f} ({v[1]:.1f})" if v[1] is not None else f"{v[0]:.1f}"

    lines = ["## Memory of a training step", "",
             "MiB at the step's peak, and in brackets between steps (weights, Adam's moments, the batch), from",
             "what the row found in use when it started. cxrnet: every tensor's storage on the CPU; on the GPU",
             "what the caching allocator was asked for, tensors and workspaces. PyTorch: its allocator's",
             "requested bytes over the same timed steps. Neither counts cuBLAS's workspace, made first.", "",
             "| experiment | cxrnet CPU | cxrnet GPU custom | cxrnet GPU vendor | PyTorch GPU |",
             "|---|---|---|---|---|"]
    for e in range(1, 5):
        row = [ours.get((e, "cpu")), ours.get((e, "cuda_custom")), ours.get((e, "cuda_vendor")), theirs.get(e)]
        if any(row):
            lines.append(f"| {e} | " + " | ".join(cell(v) for v in row) + " |")
    return lines + [""]


def profile_section(profiles, rows=8):
    """Where each experiment's training step goes (`cxrnet profile --json`, one document per experiment):
    its largest rows, with the rest of them and the untimed remainder summed."""
    if not profiles:
        return []
    lines = ["## Where a training step goes (cxrnet profile)", "",
             "Each row: a layer's forward, the backward of the graph nodes it recorded, and the optimizer's",
             "update, in ms a step; layers run as one op share a row. On a GPU every row waits for the device.",
             "GFLOP/s: a Conv2D's or Dense's operations (2 per kernel element per output position) over its time.", ""]
    for e, doc in sorted(profiles.items()):
        step = doc["step_ms"]
        by_time = sorted(doc["rows"], key=lambda r: -r["total_ms"])
        lines += [f"Experiment {e} on {doc['device']}, batch {doc['batch']}: {step:.2f} ms a step "
                  f"({doc['images_per_s']:,.0f} images/s)", "",
                  "| row | kind | forward ms | backward ms | update ms | share | GFLOP/s fwd / bwd |",
                  "|---|---|---|---|---|---|---|"]

        def rate(gflop, ms):
            return f"{gflop / (ms * 1e-3):.0f}" if gflop > 0 and ms > 0 else "-"

        for r in by_time[:rows]:
            cells = [f"{r[k]:.3f}" if r[k] > 0 else "" for k in ("forward_ms", "backward_ms", "update_ms")]
            fwd, bwd = r.get("forward_gflop", 0), r.get("backward_gflop", 0)
            speed = f"{rate(fwd, r['forward_ms'])} / {rate(bwd, r['backward_ms'])}" if fwd > 0 else ""
            lines.append(f"| {r['label']} | {r['kind']} | " + " | ".join(cells) +
                         f" | {100 * r['total_ms'] / step:.1f}% | {speed} |")
        rest = sum(r["total_ms"] for r in by_time[rows:])
        if len(by_time) > rows:
            lines.append(f"| {len(by_time) - rows} more rows | | | | | {100 * rest / step:.1f}% | |")
        lines += [f"| untimed | | | | | {100 * doc['untimed_ms'] / step:.1f}% | |", ""]
    return lines


def verdict(value, target, entries=()):
    """`entries`: the benchmarks the value came from; one that failed its check is named, not 'not measured'
    (but one that found no GPU to run on did not fail: bench_cuda says so on every machine without one)."""
    entries = [b for b in entries if b]
    bad = [b for b in entries if failed(b) and b.get("error_message") != "no GPU"]
    if bad:
        return "FAILED, not timed: " + "; ".join(f"`{'/'.join(clean_name(b['name']))}`: {b.get('error_message', '')}"
                                                 for b in bad)
    if value is None:
        return "not measured (no GPU)" if any(failed(b) for b in entries) else "not measured"
    return "met" if value >= target else f"MISSED by {100 * (1 - value / target):.0f}%"


CPU_RATIO_TARGETS = ((1, "torch", 3.0), (1, "keras", 5.0), (3, "torch", 1.5))  # issue 7: (experiment, peer, ratio)


def targets_section(kernels, cuda, ratios):
    lines = ["## Targets (issue 7)", "", "| target | measured | verdict |", "|---|---|---|"]
    for e, peer, target in CPU_RATIO_TARGETS:
        v = ratios.get((e, peer))  # a Ratio: judged on the best speeds
        name = "PyTorch" if peer == "torch" else "Keras"
        lines.append(f"| experiment {e} training step >= {target:g}x {name} (CPU) | {v or '-'} | "
                     f"{verdict(v.best if v else None, target)} |")
    k = runs(kernels)
    for n in (1024, 2048, 4096):
        a, b = k.get(("cpu", "sgemm", "cxrnet", f"n{n}")), k.get(("cpu", "sgemm", "openblas", f"n{n}"))
        v = us(b) / us(a) if a and b and not failed(a) and not failed(b) else None
        lines.append(f"| CPU SGEMM n={n} >= 50% of OpenBLAS | {f'{100 * v:.0f}%' if v else '-'} | "
                     f"{verdict(v, 0.5, (a, b))} |")
    g = runs(cuda)
    def pair(op, shape):
        """custom's speed over vendor's, and the two entries."""
        c, v = g.get(("cuda", op, "custom", shape)), g.get(("cuda", op, "vendor", shape))
        return (us(v) / us(c) if c and v and not failed(c) and not failed(v) else None), (c, v)
    v, entries = pair("sgemm", "n4096")
    lines.append(f"| GPU custom SGEMM n=4096 >= 80% of cuBLAS | {f'{100 * v:.0f}%' if v else '-'} | "
                 f"{verdict(v, 0.8, entries)} |")
    for d in ("forward", "backward"):
        for layer in ("e1_conv1", "e1_conv2", "e1_conv3"):
            v, entries = pair(f"conv2d_{d}", layer)
            lines.append(f"| GPU custom conv {d} {layer} >= 70% of cuDNN | {f'{100 * v:.0f}%' if v else '-'} | "
                         f"{verdict(v, 0.7, entries)} |")
    # For batch norm and Adam, bench_cuda also times a copy of the bytes they count: what a copy of
    # that size reaches, beside the target's 512 MiB copy.
    same_bytes = {("batchnorm_forward_train", "e3_bn1"): "e3_bn1_forward",
                  ("batchnorm_backward_train", "e3_bn1"): "e3_bn1_backward", ("adam", "e3_params"): "e3_params_adam"}
    # Adam at experiment 4's fine-tuning (15.1M parameters in 38 tensors) is the experiments' own
    # size that, like n16M, is not launch- or tail-bound.
    for op, shape in (("relu_forward", "n16M"), ("add", "n16M"), ("dropout_forward", "n16M"),
                      ("batchnorm_forward_train", "e3_bn1"), ("batchnorm_backward_train", "e3_bn1"), ("adam", "e3_params"),
                      ("adam", "e4_finetune_params"), ("adam", "n16M")):
        b = g.get(("cuda", op, "custom", shape))
        v = b.get("of_ceiling") if b and not failed(b) else None
        cell = f"{100 * v:.0f}%" if v else "-"
        copy = g.get(("cuda", "copy", "vendor", same_bytes.get((op, shape), "")))
        if v and copy and not failed(copy):
            cell += f" ({100 * us(copy) / us(b):.0f}% of a copy of the same bytes)"
        lines.append(f"| GPU {op} {shape} >= 85% of copy bandwidth | {cell} | {verdict(v, 0.85, (b,))} |")
    return lines + [""]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--out")
    args = p.parse_args()
    d = lambda name: load(os.path.join(args.dir, name))
    kernels, cuda, e2e = d("kernels.json"), load_merged(args.dir, "cuda.json", "cuda-*.json"), d("e2e.json")
    torch, keras, torch_cuda = d("peers-torch.json"), d("peers-keras.json"), d("peers-torch-cuda.json")
    rounds = {"e2e": rounds_of(args.dir, "e2e"), "torch": rounds_of(args.dir, "peers-torch"),
              "keras": rounds_of(args.dir, "peers-keras")}
    if rounds["e2e"]:
        e2e = best_steps(rounds["e2e"])
    if rounds["torch"]:
        torch = best_peer(rounds["torch"])
    if rounds["keras"]:
        keras = best_peer(rounds["keras"])
    lines = ["# cxrnet benchmark report", "", machine_line(), ""]
    ceil = all_ceilings(kernels, cuda)
    if ceil:
        lines += ["Ceilings, measured in the same run:", ""] + ceil + [""]
    e2e_lines, ratios = e2e_section(e2e, torch, keras, torch_cuda, rounds)
    lines += targets_section(kernels, cuda, ratios) + target_demands(e2e, torch, keras, kernels)
    lines += e2e_lines + arithmetic_section(e2e, torch, keras, kernels, cuda, torch_cuda)
    lines += memory_section(e2e, torch_cuda)
    profiles = {int(m.group(1)): doc for path in sorted(glob.glob(os.path.join(args.dir, "profile-experiment*.json")))
                if (m := re.search(r"profile-experiment(\d+)\.json$", path)) and (doc := load(path))}
    lines += profile_section(profiles)
    lines += cpu_section(kernels) + gpu_section(cuda)
    lines += read_probe_section(cuda)
    text = "\n".join(lines)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
