"""benchmarks/peers/best_of.py: tools/bench-peers's merge of a peer's runs (OpenMP wait policies,
eager and compiled) keeps each experiment's fastest run, says how it ran and what else was tried,
and refuses runs that do not match. Run by ctest (label tools)."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "peers", "best_of.py")
spec = importlib.util.spec_from_file_location("best_of", SCRIPT)
best_of = importlib.util.module_from_spec(spec)
spec.loader.exec_module(best_of)


def run(policy, compiled, speeds, framework="pytorch"):
    """A peers.py document: images/s for experiments 1, 3, 4 in turn."""
    return {"framework": framework, "version": "2.15.0", "threads": 2, "date": f"{policy}-{compiled}",
            "omp_wait_policy": policy, "compiled": compiled,
            "results": [{"experiment": e, "images_per_second": v, "ms_per_step": 32e3 / v}
                        for e, v in zip((1, 3, 4), speeds)]}


class BestOfTest(unittest.TestCase):
    def test_each_experiment_keeps_its_fastest_run_and_says_how_it_ran(self):
        runs = [run("ACTIVE", False, [700.0, 90.0, 240.0]), run("PASSIVE", False, [650.0, 95.0, 250.0]),
                run("ACTIVE", True, [720.0, 80.0, 180.0]), run("PASSIVE", True, [600.0, 70.0, 190.0])]
        merged = best_of.best_of(runs)
        kept = [(r["experiment"], r["images_per_second"], r["omp_wait_policy"], r["compiled"])
                for r in merged["results"]]
        self.assertEqual(kept, [(1, 720.0, "ACTIVE", True), (3, 95.0, "PASSIVE", False), (4, 250.0, "PASSIVE", False)])
        # The kept run's own fields come with it, not the first run's.
        self.assertEqual(merged["results"][0]["ms_per_step"], 32e3 / 720.0)
        # Every run tried, in the order given.
        tried = [(t["omp_wait_policy"], t["compiled"], t["images_per_second"]) for t in merged["results"][1]["tried"]]
        self.assertEqual(tried, [("ACTIVE", False, 90.0), ("PASSIVE", False, 95.0), ("ACTIVE", True, 80.0),
                                 ("PASSIVE", True, 70.0)])
        # The document's own fields from the first run; the per-run ones only per result.
        self.assertEqual((merged["framework"], merged["date"]), ("pytorch", "ACTIVE-False"))
        self.assertNotIn("compiled", merged)
        self.assertNotIn("omp_wait_policy", merged)

    def test_a_run_from_an_older_peers_py_counts_as_eager(self):
        old = run(None, False, [500.0, 60.0, 200.0], framework="keras")
        del old["compiled"], old["omp_wait_policy"]
        merged = best_of.best_of([old, run(None, True, [50.0, 6.0, 30.0], framework="keras")])
        self.assertEqual([(r["images_per_second"], r["compiled"]) for r in merged["results"]],
                         [(500.0, False), (60.0, False), (200.0, False)])

    def test_each_runs_memory_formats_come_with_it(self):
        a, b = run("ACTIVE", False, [700.0, 90.0, 240.0]), run("PASSIVE", False, [650.0, 95.0, 250.0])
        a["results"][0]["layouts"] = {"nchw": 680.0, "channels_last": 700.0}
        merged = best_of.best_of([a, b])
        self.assertEqual([t.get("layouts") for t in merged["results"][0]["tried"]],
                         [{"nchw": 680.0, "channels_last": 700.0}, None])

    def test_runs_that_do_not_match_are_refused(self):
        with self.assertRaisesRegex(ValueError, "different experiments"):
            short = run("ACTIVE", True, [720.0, 80.0])
            best_of.best_of([run("ACTIVE", False, [700.0, 90.0, 240.0]), short])
        with self.assertRaisesRegex(ValueError, "different frameworks"):
            best_of.best_of([run(None, False, [1.0, 2.0, 3.0]), run(None, True, [1.0, 2.0, 3.0], framework="keras")])
        with self.assertRaisesRegex(ValueError, "no runs"):
            best_of.best_of([])

    def test_the_command_writes_the_merge_or_names_the_files_it_refused(self):
        d = tempfile.mkdtemp()
        paths = []
        docs = [run("ACTIVE", False, [700.0, 90.0, 240.0]), run("ACTIVE", True, [720.0, 80.0, 180.0])]
        for i, doc in enumerate(docs):
            paths.append(os.path.join(d, f"run{i}.json"))
            with open(paths[-1], "w") as f:
                json.dump(doc, f)
        out = os.path.join(d, "peers-torch.json")
        subprocess.run([sys.executable, SCRIPT, out, *paths], check=True)
        with open(out) as f:
            self.assertEqual([r["images_per_second"] for r in json.load(f)["results"]], [720.0, 90.0, 240.0])
        with open(paths[1], "w") as f:
            json.dump(run("ACTIVE", True, [720.0]), f)
        os.remove(out)
        p = subprocess.run([sys.executable, SCRIPT, out, *paths], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("different experiments", p.stderr)
        self.assertIn("run1.json", p.stderr)
        self.assertFalse(os.path.exists(out))  # nothing half-written


if __name__ == "__main__":
    unittest.main()
