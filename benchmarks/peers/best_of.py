"""The peer's best: several runs of benchmarks/peers/peers.py for one framework (OpenMP wait policies,
eager or compiled), merged into one document that keeps each experiment's fastest run. Each kept
result says how it ran (omp_wait_policy, compiled) and lists every run tried for it, so the report
can say what the peer was given. The benefit of the doubt goes to the peer.

    python best_of.py OUT RUN.json [RUN.json ...]

Called by tools/bench-peers; the runs must be of the same framework and experiments.
"""

import json
import sys


def variant(doc):
    """How a run of peers.py ran: its OpenMP wait policy (PyTorch) and whether it compiled the model."""
    return {"omp_wait_policy": doc.get("omp_wait_policy"), "compiled": bool(doc.get("compiled", False))}


def best_of(docs):
    if not docs:
        raise ValueError("best_of: no runs to merge")
    frameworks = {d.get("framework") for d in docs}
    if len(frameworks) != 1:
        raise ValueError(f"best_of: runs of different frameworks: {sorted(map(str, frameworks))}")
    experiments = [[r["experiment"] for r in d["results"]] for d in docs]
    if any(e != experiments[0] for e in experiments):
        raise ValueError(f"best_of: runs of different experiments: {experiments}")
    merged = {k: v for k, v in docs[0].items() if k not in ("results", "omp_wait_policy", "compiled")}
    merged["results"] = []
    for i in range(len(experiments[0])):
        # Each run's speed, and its speed in each memory format where it tried several (peers.py's layouts).
        tried = [dict(variant(d), images_per_second=d["results"][i]["images_per_second"],
                      **({"layouts": d["results"][i]["layouts"]} if "layouts" in d["results"][i] else {}))
                 for d in docs]
        fastest = max(range(len(docs)), key=lambda j: docs[j]["results"][i]["images_per_second"])
        merged["results"].append(dict(docs[fastest]["results"][i], **variant(docs[fastest]), tried=tried))
    return merged


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: best_of.py OUT RUN.json [RUN.json ...]")
    docs = []
    for path in sys.argv[2:]:
        with open(path) as f:
            docs.append(json.load(f))
    try:
        merged = best_of(docs)
    except ValueError as e:
        sys.exit(f"{e} ({', '.join(sys.argv[2:])})")
    with open(sys.argv[1], "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
