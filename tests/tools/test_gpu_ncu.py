"""tools/gpu-ncu with a stand-in `ncu` on PATH: each target benchmark is profiled in its own ncu run,
with its launch count, skip and kernel filter (the batch norm backward benchmark runs the forward's
kernels first: its entry names the backward's own), and every CSV row of that run is labelled with the
benchmark's name; GPU_NCU_TARGETS and GPU_NCU_SECTIONS narrow and deepen a look. Run by ctest (label
tools)."""

import csv
import os
import stat
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GPU_NCU = os.path.join(HERE, "..", "..", "tools", "gpu-ncu")

# Logs its arguments, one run a line, and prints a header and one metric row as ncu --csv does.
FAKE_NCU = """#!/usr/bin/env bash
echo "$*" >> "$NCU_ARGS_LOG"
echo '"ID","Kernel Name","Metric Name","Metric Value"'
echo '"0","fake_kernel","Duration","1.0"'
"""


class GpuNcuTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        ncu = os.path.join(self.dir, "ncu")
        with open(ncu, "w") as f:
            f.write(FAKE_NCU)
        os.chmod(ncu, os.stat(ncu).st_mode | stat.S_IEXEC)
        self.args_log = os.path.join(self.dir, "args.log")
        self.csv = os.path.join(self.dir, "ncu.csv")
        self.result = self.run_gpu_ncu()

    def run_gpu_ncu(self, **env_vars):
        open(self.args_log, "w").close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPU_NCU_")}
        env.update(PATH=self.dir + os.pathsep + os.environ["PATH"], NCU_ARGS_LOG=self.args_log, **env_vars)
        return subprocess.run(["bash", GPU_NCU, "/fake/bench_cuda", self.csv], env=env, capture_output=True,
                              text=True, timeout=60)

    def runs(self):
        """benchmark name -> (launch count, launch skip, kernel filter) of each ncu run."""
        runs = {}
        with open(self.args_log) as f:
            for line in f:
                words = line.split()
                name = next(w for w in words if w.startswith("--benchmark_filter=")).split("=^", 1)[1]
                count, skip, kernels = (words.index(flag) + 1 for flag in ("--launch-count", "--launch-skip", "-k"))
                runs[name] = (int(words[count]), int(words[skip]), words[kernels])
        return runs

    def test_each_target_is_profiled_with_its_count_skip_and_kernels(self):
        self.assertEqual(self.result.returncode, 0, self.result.stderr)
        runs = self.runs()
        forward = runs["cuda/batchnorm_forward_train/custom/e3_bn1/"]
        self.assertEqual(forward[:2], (3, 0))
        self.assertIn("batchnorm_", forward[2])  # the resident kernel is one of ours
        self.assertEqual(runs["cuda/batchnorm_backward_train/custom/e3_bn1/"],
                         (3, 0, "regex:BackwardPass|GradientSums|finalize_gradient|TrainInputGradient"))
        self.assertEqual(runs["cuda/conv2d_backward/custom/e1_conv2/"][:2], (12, 0))
        self.assertIn("cuda/sgemm/custom/n4096/", runs)

    def test_a_focused_look_profiles_the_matching_targets_with_more_sections(self):
        result = self.run_gpu_ncu(GPU_NCU_TARGETS="batchnorm_forward", GPU_NCU_SECTIONS="MemoryWorkloadAnalysis")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(list(self.runs()), ["cuda/batchnorm_forward_train/custom/e3_bn1/"])
        with open(self.args_log) as f:
            self.assertIn("--section MemoryWorkloadAnalysis", f.read())

    def test_rows_carry_their_benchmark(self):
        with open(self.csv) as f:
            rows = list(csv.reader(f))
        labels = [row[0] for row in rows if row and row[0] != "Benchmark"]
        self.assertEqual(len(labels), len(self.runs()))  # one metric row per run
        self.assertIn("cuda/batchnorm_backward_train/custom/e3_bn1/", labels)
        metric_rows = [row[1:] for row in rows if row and row[0] != "Benchmark"]
        self.assertTrue(all(row == ["0", "fake_kernel", "Duration", "1.0"] for row in metric_rows))


if __name__ == "__main__":
    unittest.main()
