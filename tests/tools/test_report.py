"""benchmarks/report.py's loading: a bench_cuda JSON cut short by a timeout keeps its finished
benchmarks, and the parts tools/gpu-check writes (cuda.json, cuda-*.json) are merged, a benchmark
seen twice keeping its first run; the training-step table's GPU rows; the profile tables. Run by ctest
(label tools)."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("report", os.path.join(HERE, "..", "..", "benchmarks", "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def bench_json(names, context=None):
    """Google Benchmark's layout (4-space indented benchmark objects), as bench_cuda writes it."""
    doc = {"context": context or {"device": "cuda"},
           "benchmarks": [{"name": n, "run_type": "iteration", "real_time": float(i + 1)} for i, n in enumerate(names)]}
    return json.dumps(doc, indent=2)


def timed(name, microseconds, of_ceiling=None):
    """One timed kernel benchmark as bench_cuda writes it."""
    b = {"name": name + "/manual_time", "run_type": "iteration", "real_time": microseconds, "time_unit": "us"}
    if of_ceiling is not None:
        b["of_ceiling"] = of_ceiling
    return b


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_truncated_file_keeps_finished_benchmarks(self):
        text = bench_json(["cuda/a", "cuda/b", "cuda/c"])
        cut = text[: text.index('"cuda/c"') + 3]  # killed while writing the third
        doc = report.load(self.write("cuda.json", cut))
        self.assertEqual([b["name"] for b in doc["benchmarks"]], ["cuda/a", "cuda/b"])
        self.assertEqual(doc["context"]["device"], "cuda")

    def test_cut_before_any_benchmark_is_none(self):
        self.assertIsNone(report.load(self.write("cuda.json", '{"context": {"dev')))
        self.assertIsNone(report.load(os.path.join(self.dir, "missing.json")))

    def test_parts_are_merged_first_run_wins(self):
        self.write("cuda-targets.json", bench_json(["cuda/sgemm", "cuda/conv"], {"device": "cuda", "part": "targets"}))
        self.write("cuda-rest.json", bench_json(["cuda/conv", "cuda/relu"], {"device": "cuda", "part": "rest"}))
        doc = report.load_merged(self.dir, "cuda.json", "cuda-*.json")
        # cuda-rest.json sorts before cuda-targets.json: its conv (real_time 1) is kept, and its context.
        self.assertEqual([b["name"] for b in doc["benchmarks"]], ["cuda/conv", "cuda/relu", "cuda/sgemm"])
        self.assertEqual(doc["benchmarks"][0]["real_time"], 1.0)
        self.assertEqual(doc["context"]["part"], "rest")

    def test_each_parts_ceilings_are_shown(self):
        ceilings = lambda gbps: {"device": "cuda", "ceiling_bandwidth_GBps": gbps, "ceiling_GFLOPs": 50000.0}
        self.write("cuda-targets.json", bench_json(["cuda/sgemm"], ceilings(3200.0)))
        self.write("cuda-rest.json", bench_json(["cuda/relu"], ceilings(2900.0)))
        doc = report.load_merged(self.dir, "cuda.json", "cuda-*.json")
        self.assertEqual([name for name, _ in doc["parts"]], ["cuda-rest.json", "cuda-targets.json"])
        lines = report.all_ceilings(None, doc)
        self.assertTrue(any(l.startswith("- GPU (cuda-targets.json): bandwidth 3200.0 GB/s") for l in lines), lines)
        self.assertTrue(any(l.startswith("- GPU (cuda-rest.json): bandwidth 2900.0 GB/s") for l in lines), lines)

    def test_nothing_to_merge_is_none(self):
        self.assertIsNone(report.load_merged(self.dir, "cuda.json", "cuda-*.json"))


class EndToEndTest(unittest.TestCase):
    def test_gpu_rows_show_the_host_share_of_a_step(self):
        def step(name, images_per_second, host_ms=None):
            b = {"name": name + "/manual_time", "run_type": "iteration", "images/s": images_per_second, "batch": 32.0}
            if host_ms is not None:
                b["host_ms/step"] = host_ms
            return b
        e2e = {"benchmarks": [step("train_step/experiment1/cpu", 1600.0),
                              step("train_step/experiment1/cuda_custom", 16000.0, 1.9),   # a 2 ms step
                              step("train_step/experiment1/cuda_vendor", 8000.0, 1.0)]}  # a 4 ms step
        torch_cuda = {"results": [{"experiment": 1, "images_per_second": 10000.0}]}
        lines, ratios = report.e2e_section(e2e, None, None, torch_cuda)
        row = next(l for l in lines if l.startswith("| 1 | 16000.0"))
        self.assertEqual(row, "| 1 | 16000.0 | 8000.0 | 10000.0 | 1.60x | 0.80x | 95% / 25% |")
        self.assertIsNone(ratios[(1, "torch")])
        self.assertFalse(any("one graph" in l for l in lines))  # no graph runs: no graph table

    def test_graph_runs_get_their_own_table(self):
        def step(name, images_per_second, **counters):
            return {"name": name + "/manual_time", "run_type": "iteration", "images/s": images_per_second,
                    "batch": 32.0, **counters}
        e2e = {"benchmarks": [step("train_step/experiment1/cuda_custom", 16000.0, **{"host_ms/step": 1.6}),
                              step("train_step/experiment1/cuda_custom_graph", 40000.0, **{"launches/step": 80.0}),
                              step("train_step/experiment3/cuda_custom", 13000.0),
                              step("host_per_launch/cuda_custom/fill_kernel", 0.0, **{"host_us/launch": 2.3}),
                              step("host_per_launch/cuda_custom/relu_op", 0.0, **{"host_us/launch": 4.5})]}
        lines, _ = report.e2e_section(e2e, None, None, None)
        # 1.6 ms of host time over 80 launches: 20 us a launch.
        self.assertIn("| 1 | 16000.0 | 40000.0 | 2.50x | 80 | 20.0 us |", lines)
        self.assertIn("| 3 | 13000.0 |  |  |  |  |", lines)
        floor = next(l for l in lines if l.startswith("The floor"))
        self.assertIn("2.3 us of host time to queue a 1-float fill", floor)
        self.assertIn("4.5 us for an engine op", floor)

    def test_memory_table_puts_each_step_beside_pytorchs_on_the_gpu(self):
        def step(name, **counters):
            return {"name": name + "/manual_time", "run_type": "iteration", "images/s": 100.0, **counters}
        e2e = {"benchmarks": [step("train_step/experiment1/cpu", peak_MiB=24.56, held_MiB=2.42),
                              step("train_step/experiment1/cuda_custom", peak_MiB=30.0, held_MiB=3.0),
                              step("train_step/experiment3/cpu", peak_MiB=184.37, held_MiB=15.94),
                              step("train_step/experiment2/cpu")]}  # an older run: no memory counters
        torch_cuda = {"results": [{"experiment": 1, "images_per_second": 9000.0, "peak_mib": 41.25, "held_mib": 2.5},
                                  {"experiment": 2, "images_per_second": 9000.0},  # an older peers.py
                                  {"experiment": 4, "images_per_second": 900.0, "peak_mib": 120.0}]}
        lines = report.memory_section(e2e, torch_cuda)
        self.assertIn("| 1 | 24.6 (2.4) | 30.0 (3.0) |  | 41.2 (2.5) |", lines)
        self.assertIn("| 3 | 184.4 (15.9) |  |  |  |", lines)
        self.assertIn("| 4 |  |  |  | 120.0 |", lines)
        self.assertFalse(any(l.startswith("| 2 |") for l in lines))
        self.assertEqual(report.memory_section({"benchmarks": [step("train_step/experiment2/cpu")]}, None), [])

    def test_batch_norm_target_shows_a_copy_of_the_same_bytes(self):
        cuda = {"benchmarks": [timed("cuda/batchnorm_forward_train/custom/e3_bn1", 40.0, 0.5),
                               timed("cuda/copy/vendor/e3_bn1_forward", 30.0),
                               timed("cuda/adam/custom/e3_params", 11.0, 0.74),
                               timed("cuda/adam/custom/e4_finetune_params", 170.0, 0.88),
                               timed("cuda/adam/custom/n16M", 180.0, 0.9)]}
        lines = report.targets_section(None, cuda, {})
        self.assertIn("| GPU batchnorm_forward_train e3_bn1 >= 85% of copy bandwidth | 50% (75% of a copy of the same "
                      "bytes) | MISSED by 41% |", lines)
        # No same-bytes copy in the run (an older pack): the target's cell alone.
        self.assertIn("| GPU adam e3_params >= 85% of copy bandwidth | 74% | MISSED by 13% |", lines)
        # Adam at the element-wise kernels' size, beside experiment 3's parameters.
        self.assertIn("| GPU adam n16M >= 85% of copy bandwidth | 90% | met |", lines)
        # And at experiment 4's fine-tuning, the experiments' own size that is not launch-bound.
        self.assertIn("| GPU adam e4_finetune_params >= 85% of copy bandwidth | 88% | met |", lines)

    def test_a_target_that_failed_its_check_is_named_not_left_unmeasured(self):
        bad = {"name": "cuda/adam/custom/e3_params/manual_time", "run_type": "iteration", "error_occurred": True,
               "error_message": "param[3] = nan, expected 0.5"}
        cublas = {"name": "cuda/sgemm/vendor/n4096/manual_time", "run_type": "iteration", "real_time": 1.0}
        lines = report.targets_section(None, {"benchmarks": [bad, cublas]}, {})
        self.assertIn("| GPU adam e3_params >= 85% of copy bandwidth | - | FAILED, not timed: "
                      "`cuda/adam/custom/e3_params`: param[3] = nan, expected 0.5 |", lines)
        self.assertIn("| GPU custom SGEMM n=4096 >= 80% of cuBLAS | - | not measured |", lines)

    def test_a_target_without_a_gpu_is_not_measured_not_failed(self):
        def no_gpu(name):
            return {"name": name + "/manual_time", "run_type": "iteration", "error_occurred": True,
                    "error_message": "no GPU"}
        cuda = {"benchmarks": [no_gpu("cuda/sgemm/custom/n4096"), no_gpu("cuda/sgemm/vendor/n4096")]}
        lines = report.targets_section(None, cuda, {})
        self.assertIn("| GPU custom SGEMM n=4096 >= 80% of cuBLAS | - | not measured (no GPU) |", lines)

    def test_the_sgemm_target_takes_the_fastest_of_each_sides_repetitions(self):
        def rep(name, microseconds, index, **extra):
            return dict(timed(name, microseconds), repetitions=3, repetition_index=index, **extra)
        kernels = {"benchmarks": [
            # cxrnet's first repetition caught a core held by something else; its third failed its check.
            rep("cpu/sgemm/cxrnet/n1024", 21868.0, 0), rep("cpu/sgemm/cxrnet/n1024", 11000.0, 1),
            rep("cpu/sgemm/cxrnet/n1024", 1.0, 2, error_occurred=True),
            rep("cpu/sgemm/openblas/n1024", 10560.0, 0), rep("cpu/sgemm/openblas/n1024", 12000.0, 1),
            rep("cpu/sgemm/openblas/n1024", 10450.0, 2),
            {"name": "cpu/sgemm/cxrnet/n1024/manual_time_mean", "run_type": "aggregate", "real_time": 1.0,
             "time_unit": "us", "repetitions": 3},
            # Without repetitions a repeated name still keeps its last run.
            timed("cpu/sgemm/cxrnet/n2048", 80000.0), timed("cpu/sgemm/cxrnet/n2048", 90000.0),
            timed("cpu/sgemm/openblas/n2048", 86000.0)]}
        lines = report.targets_section(kernels, None, {})
        self.assertIn("| CPU SGEMM n=1024 >= 50% of OpenBLAS | 95% | met |", lines)  # 10450 / 11000
        self.assertIn("| CPU SGEMM n=2048 >= 50% of OpenBLAS | 96% | met |", lines)  # 86000 / 90000
        # A benchmark whose every repetition failed is reported failed, not kept as a time.
        failing = {"benchmarks": [rep("cpu/sgemm/cxrnet/n4096", 1.0, i, error_occurred=True, error_message="C[7] off")
                                  for i in range(3)] + [rep("cpu/sgemm/openblas/n4096", 600000.0, 0)]}
        self.assertTrue(any(l.startswith("| CPU SGEMM n=4096 >= 50% of OpenBLAS | - | FAILED")
                            for l in report.targets_section(failing, None, {})))



class RoundsTest(unittest.TestCase):
    """tools/bench --rounds: each framework's best round, and the spread of the rounds' own ratios."""

    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def write(self, name, doc):
        with open(os.path.join(self.dir, name), "w") as f:
            json.dump(doc, f)

    def test_best_rounds_are_compared_and_the_spread_is_shown(self):
        ours, torch = (1500.0, 2100.0, 1200.0), (500.0, 650.0, 600.0)  # round ratios 3.0, 3.23, 2.0
        for i, (o, t) in enumerate(zip(ours, torch), start=1):
            self.write(f"e2e-round{i}.json", {"context": {"round": i}, "benchmarks": [
                {"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration", "images/s": o}]})
            self.write(f"peers-torch-round{i}.json", {"version": "2.15", "results": [
                {"experiment": 1, "images_per_second": t}]})
        self.write("peers-torch-round10.json", {"results": []})  # sorts by number, not as text: last
        self.write("e2e.json", {"benchmarks": [  # a single run's file beside them: the rounds win
            {"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration", "images/s": 99.0}]})
        e2e_rounds = report.rounds_of(self.dir, "e2e")
        self.assertEqual([d["context"]["round"] for d in e2e_rounds], [1, 2, 3])
        torch_rounds = report.rounds_of(self.dir, "peers-torch")
        self.assertEqual(len(torch_rounds), 4)
        e2e, torch_best = report.best_steps(e2e_rounds), report.best_peer(torch_rounds)
        self.assertEqual(report.cpu_step_speed(e2e, 1), 2100.0)
        self.assertEqual(report.peer_speed(torch_best, 1), 650.0)
        lines, ratios = report.e2e_section(e2e, torch_best, None, None,
                                           {"e2e": e2e_rounds, "torch": torch_rounds[:3], "keras": []})
        # 2100 / 650 = 3.23x; the rounds' own ratios 2.0 to 3.23 (the fourth torch round has no pair).
        self.assertIn("| 1 | 2100.0 | 650.0 |  | 3.23x (2.00-3.23x over 3 rounds) |  |", lines)
        self.assertTrue(any("best of 3 rounds" in l for l in lines))
        targets = report.targets_section(None, None, ratios)
        self.assertIn("| experiment 1 training step >= 3x PyTorch (CPU) | 3.23x (2.00-3.23x over 3 rounds) | met |",
                      targets)
        self.assertIn("| experiment 1 training step >= 5x Keras (CPU) | - | not measured |", targets)

    def test_one_run_has_no_spread(self):
        e2e = {"benchmarks": [{"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration",
                               "images/s": 1500.0}]}
        lines, ratios = report.e2e_section(e2e, {"results": [{"experiment": 1, "images_per_second": 600.0}]}, None,
                                           None)
        self.assertIn("| 1 | 1500.0 | 600.0 |  | 2.50x |  |", lines)
        self.assertIn("| experiment 1 training step >= 3x PyTorch (CPU) | 2.50x | MISSED by 17% |",
                      report.targets_section(None, None, ratios))

    def test_peers_on_another_thread_count_are_shown_but_not_judged(self):
        e2e = {"context": {"cpu_threads": "16"},
               "benchmarks": [{"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration",
                               "images/s": 9000.0}]}
        torch = {"threads": 2, "results": [{"experiment": 1, "images_per_second": 600.0}]}
        lines, ratios = report.e2e_section(e2e, torch, None, None)
        self.assertTrue(any(l.startswith("**Not comparable: the peers ran on 2 threads and cxrnet on 16**")
                            for l in lines))
        self.assertEqual(ratios, {})
        self.assertIn("| experiment 1 training step >= 3x PyTorch (CPU) | - | not measured |",
                      report.targets_section(None, None, ratios))
        e2e["context"]["cpu_threads"] = "2"
        self.assertIn((1, "torch"), report.e2e_section(e2e, torch, None, None)[1])

    def test_the_peers_compiled_modes_are_reported_where_they_were_tried(self):
        e2e = {"context": {"cpu_threads": "2"},
               "benchmarks": [{"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration",
                               "images/s": 2000.0}]}
        tried = lambda eager, compiled: [{"compiled": False, "images_per_second": eager},
                                         {"compiled": True, "images_per_second": compiled}]
        # best_of.py's merge: experiment 1 kept compiled, experiment 4 eager.
        torch = {"threads": 2, "results": [
            {"experiment": 1, "images_per_second": 720.0, "compiled": True, "tried": tried(700.0, 720.0)},
            {"experiment": 4, "images_per_second": 250.0, "compiled": False, "tried": tried(250.0, 189.0)}]}
        keras = {"threads": 2, "results": [
            {"experiment": 1, "images_per_second": 950.0, "compiled": False, "tried": tried(950.0, 54.0)}]}
        lines, ratios = report.e2e_section(e2e, torch, keras, None)
        line = next(l for l in lines if l.startswith("Each peer also ran compiled"))
        self.assertIn("PyTorch with torch.compile: experiment 1 720.0 against 700.0 (compiled kept), "
                      "experiment 4 189.0 against 250.0 (default kept); Keras with jit_compile=True (XLA): "
                      "experiment 1 54.0 against 950.0 (default kept).", line)
        # The ratio is against the faster way.
        self.assertEqual(str(ratios[(1, "torch")]), "2.78x")
        # Runs without --compiled (or from an older tools/bench-peers) say nothing of it.
        plain = {"threads": 2, "results": [{"experiment": 1, "images_per_second": 700.0,
                                            "tried": [{"compiled": False, "images_per_second": 700.0}]}]}
        self.assertFalse(any(l.startswith("Each peer also ran compiled")
                             for l in report.e2e_section(e2e, plain, None, None)[0]))

    def test_pytorchs_memory_formats_are_reported_at_their_best_over_every_run(self):
        torch = {"results": [
            {"experiment": 1, "images_per_second": 716.0, "layouts": {"nchw": 694.0, "channels_last": 716.0},
             "tried": [{"images_per_second": 716.0, "layouts": {"nchw": 694.0, "channels_last": 716.0}},
                       {"images_per_second": 700.0, "layouts": {"nchw": 700.0, "channels_last": 650.0}}]},
            {"experiment": 4, "images_per_second": 280.0, "layouts": {"nchw": 280.0}}]}  # one format: not listed
        self.assertEqual(report.peer_layouts(torch), "PyTorch ran each model in each memory format and kept the "
                         "faster; images/s: experiment 1 channels_last 716.0 against nchw 700.0.")
        self.assertIsNone(report.peer_layouts({"results": [{"experiment": 1, "images_per_second": 1.0}]}))
        self.assertIsNone(report.peer_layouts(None))

    def test_the_compiled_line_covers_every_round(self):
        def round_doc(eager, compiled):
            best = max(eager, compiled)
            return {"results": [{"experiment": 4, "images_per_second": best, "compiled": compiled > eager,
                                 "tried": [{"compiled": False, "images_per_second": eager},
                                           {"compiled": True, "images_per_second": compiled}]}]}
        # Round 2 holds the best eager run, round 1 the best compiled one.
        torch = report.best_peer([round_doc(233.0, 257.0), round_doc(275.0, 266.0), round_doc(280.0, 242.0)])
        self.assertEqual(report.peer_speed(torch, 4), 280.0)
        self.assertEqual(report.compiled_modes("PyTorch", torch, "torch.compile"),
                         "PyTorch with torch.compile: experiment 4 266.0 against 280.0 (default kept)")


class ArithmeticTest(unittest.TestCase):
    E2E = {"benchmarks": [{"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration",
                           "images/s": 1600.0, "GFLOP/step": 2.0}]}
    KERNELS = {"context": {"ceiling_GFLOPs": "200", "ceiling_bandwidth_GBps": "30"}}
    KERAS = {"results": [{"experiment": 1, "images_per_second": 800.0}]}

    def test_each_framework_step_as_gflops_and_share_of_the_ceiling(self):
        lines = report.arithmetic_section(self.E2E, None, self.KERAS, self.KERNELS)
        # 2 GFLOP x 1600 / 32 = 100 GFLOP/s, half the ceiling; Keras 2 x 800 / 32 = 50.
        self.assertIn("| 1 | 2.00 | 100 (50%) |  | 50 (25%) |", lines)
        self.assertTrue(any("(200.0 GFLOP/s)" in l for l in lines))

    def test_what_a_ratio_target_asks_of_the_ceiling(self):
        lines = report.target_demands(self.E2E, None, self.KERAS, self.KERNELS)
        # 5 x 800 = 4,000 images/s: 2 x 4000 / 32 = 250 GFLOP/s, 125% of 200.
        self.assertIn("- experiment 1 at 5x Keras: 4,000 images/s, 250 GFLOP/s of its 2.00 GFLOP a step, "
                      "125% of the arithmetic ceiling", lines)
        self.assertFalse(any("PyTorch" in l for l in lines))  # no PyTorch run: nothing to say
        self.assertEqual(report.target_demands(self.E2E, None, self.KERAS, None), [])  # no ceiling measured

    def test_gpu_steps_against_the_gpu_ceiling(self):
        e2e = {"benchmarks": [{"name": f"train_step/experiment3/{v}/manual_time", "run_type": "iteration",
                               "images/s": speed, "GFLOP/step": 19.0}
                              for v, speed in (("cuda_custom", 8000.0), ("cuda_vendor", 16000.0))]}
        cuda = {"context": {"ceiling_GFLOPs": "50000"}}
        lines = report.arithmetic_section(e2e, None, None, self.KERNELS, cuda, None)
        # 19 x 8000 / 32 = 4,750 GFLOP/s, 9.5% of 50,000 (rounded to 10%); no CPU row without a CPU step.
        self.assertIn("| 3 | 19.00 | 4750 (10%) |  | 9500 (19%) |  |", lines)
        self.assertFalse(any("CPU steps" in l for l in lines))

    def test_a_run_without_the_counter_adds_nothing(self):
        old = {"benchmarks": [{"name": "train_step/experiment1/cpu/manual_time", "run_type": "iteration",
                               "images/s": 1600.0}]}
        self.assertEqual(report.arithmetic_section(old, None, self.KERAS, self.KERNELS), [])
        self.assertEqual(report.target_demands(old, None, self.KERAS, self.KERNELS), [])


class GpuKernelsTest(unittest.TestCase):
    def test_custom_kernels_far_behind_the_vendor_are_listed_first(self):
        cuda = {"benchmarks": [timed("cuda/batchnorm_forward_train/custom/e2_bn5", 66.0, 0.05),
                               timed("cuda/batchnorm_forward_train/vendor/e2_bn5", 6.6, 0.5),
                               timed("cuda/maxpool2d_forward/custom/e1_pool", 6.0),
                               timed("cuda/maxpool2d_forward/vendor/e1_pool", 5.8)]}
        lines = report.gpu_section(cuda)
        listed = lines.index("- batchnorm_forward_train e2_bn5: 66.0 us against 6.6 us (0.10x)")
        self.assertLess(listed, lines.index("| op | shape | custom | vendor | custom/vendor | custom rate | "
                                            "custom of ceiling | vendor rate | vendor of ceiling |"))
        row = next(l for l in lines if l.startswith("| batchnorm_forward_train |"))
        self.assertTrue(row.endswith("| 5% |  | 50% |"), row)  # both fractions of the ceiling
        self.assertFalse(any(l.startswith("- maxpool2d_forward") for l in lines))  # 0.97x: only in the table

    def test_nothing_far_behind_means_no_list(self):
        cuda = {"benchmarks": [{"name": "cuda/relu_forward/custom/n16M/manual_time", "run_type": "iteration",
                                "real_time": 44.0, "time_unit": "us"},
                               {"name": "cuda/relu_forward/vendor/n16M/manual_time", "run_type": "iteration",
                                "real_time": 53.0, "time_unit": "us"}]}
        self.assertFalse(any("under 50%" in l for l in report.gpu_section(cuda)))


class CeilingsTest(unittest.TestCase):
    def test_a_vendor_gemm_over_the_measured_ceiling_says_the_ceiling_reads_low(self):
        def doc(frac):
            return {"context": {"ceiling_GFLOPs": "106.9", "ceiling_bandwidth_GBps": "23.1"},
                    "benchmarks": [{"name": "cpu/sgemm/openblas/n2048/manual_time", "run_type": "iteration",
                                    "real_time": 90.0, "time_unit": "ms", "GFLOP/s": 199.9, "of_ceiling": frac}]}
        lines = report.ceilings_section("CPU", doc(1.87))
        self.assertEqual(len(lines), 2)
        self.assertIn("`cpu/sgemm/openblas/n2048` ran at 187% of it", lines[1])
        self.assertEqual(len(report.ceilings_section("CPU", doc(1.02))), 1)  # within noise: no note


class ReadProbesTest(unittest.TestCase):
    def test_probes_get_a_table_by_size_and_failed_ones_are_left_out(self):
        def entry(name, microseconds, gbps, frac, error=False):
            e = {"name": "cuda/read_probe/" + name + "/min_time:0.020/manual_time", "run_type": "iteration",
                 "real_time": microseconds, "time_unit": "us", "GB/s": gbps, "of_ceiling": frac}
            if error:
                e.update(error_occurred=True, error_message="a tile never arrived")
            return e
        cuda = {"benchmarks": [entry("regs_u8/e3_bn1", 15.7, 2003.1, 0.672),
                               entry("regs_u8/n128M", 190.0, 2825.0, 0.948),
                               entry("bulk_4x16k_2bps/e3_bn1", 11.0, 2861.0, 0.96, error=True)]}
        lines = report.read_probe_section(cuda)
        self.assertIn("| probe | e3_bn1 | n16M | n128M |", lines)
        self.assertIn("| regs_u8 | 15.7 us, 2003.1 GB/s (67%) | - | 190.0 us, 2825.0 GB/s (95%) |", lines)
        self.assertFalse(any(l.startswith("| bulk_4x16k_2bps") for l in lines))
        self.assertEqual(report.read_probe_section({"benchmarks": []}), [])


class ProfileSectionTest(unittest.TestCase):
    @staticmethod
    def profile(rows, step_ms, untimed_ms):
        return {"device": "cpu", "batch": 32, "step_ms": step_ms, "images_per_s": 32e3 / step_ms,
                "untimed_ms": untimed_ms,
                "rows": [{"label": label, "kind": kind, "forward_ms": f, "backward_ms": b, "update_ms": u,
                          "total_ms": f + b + u} for label, kind, f, b, u in rows]}

    def test_largest_rows_first_the_rest_summed(self):
        rows = [("conv2d", "Conv2D", 1.0, 2.0, 0.0), ("dense", "Dense", 0.5, 0.5, 0.0),
                ("(optimizer)", "", 0.0, 0.0, 0.25), ("flatten", "Flatten", 0.125, 0.125, 0.0)]
        doc = self.profile(rows, 5.0, 0.5)
        doc["rows"][0].update(forward_gflop=0.5, backward_gflop=0.5)  # 500 and 250 GFLOP/s
        doc["rows"][1].update(forward_gflop=0.01, backward_gflop=0.0)  # a frozen first layer
        lines = report.profile_section({1: doc}, rows=2)
        text = "\n".join(lines)
        self.assertIn("Experiment 1 on cpu, batch 32: 5.00 ms a step (6,400 images/s)", text)
        table = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
        self.assertEqual(table, ["| conv2d | Conv2D | 1.000 | 2.000 |  | 60.0% | 500 / 250 |",
                                 "| dense | Dense | 0.500 | 0.500 |  | 20.0% | 20 / - |",
                                 "| 2 more rows | | | | | 10.0% | |",
                                 "| untimed | | | | | 10.0% | |"])

    def test_the_report_reads_every_experiments_profile(self):
        d = tempfile.mkdtemp()
        for e, step in ((3, 60.0), (1, 7.0)):
            with open(os.path.join(d, f"profile-experiment{e}.json"), "w") as f:
                json.dump(self.profile([("conv2d", "Conv2D", step / 4, step / 2, 0.0)], step, step / 4), f)
        out = os.path.join(d, "report.md")
        subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "benchmarks", "report.py"), d, "--out", out],
                       check=True, capture_output=True)
        with open(out) as f:
            text = f.read()
        first, third = text.find("Experiment 1 on cpu"), text.find("Experiment 3 on cpu")
        self.assertGreater(first, 0, text)
        self.assertGreater(third, first, text)

    def test_no_profiles_no_section(self):
        self.assertEqual(report.profile_section({}), [])


if __name__ == "__main__":
    sys.exit(unittest.main())
