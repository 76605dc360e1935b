"""benchmarks/compare.py: the benchmarks of two Google Benchmark JSON files side by side, matched by
name without Google Benchmark's suffixes, in microseconds whatever the unit, the speed-up as the
baseline's time over this build's; runs that failed and benchmarks in one file only are left out.
Run by ctest (label tools)."""

import importlib.util
import json
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("compare", os.path.join(HERE, "..", "..", "benchmarks", "compare.py"))
compare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare)


def write(benchmarks):
    path = os.path.join(tempfile.mkdtemp(), "bench.json")
    with open(path, "w") as f:
        json.dump({"context": {}, "benchmarks": benchmarks}, f)
    return path


def run(name, time, unit="us", **extra):
    return dict(name=name + "/min_time:0.020/manual_time", run_type="iteration", real_time=time, time_unit=unit,
                **extra)


class CompareTest(unittest.TestCase):
    def test_matched_benchmarks_with_their_speed_up(self):
        baseline = write([run("cuda/sgemm/custom/n4096", 3.65, "ms"), run("cuda/adam/custom/e3_params", 14.0),
                          run("cuda/only/in/baseline", 1.0)])
        current = write([run("cuda/adam/custom/e3_params", 10000.0, "ns"), run("cuda/sgemm/custom/n4096", 3000.0),
                         run("cuda/conv2d_forward/custom/e1_conv1", 5.0, error_occurred=True, error_message="x")])
        lines = compare.table(baseline, current).splitlines()
        self.assertEqual(lines[2:], ["| cuda/adam/custom/e3_params | 14.0 us | 10.0 us | 1.40x |",
                                     "| cuda/sgemm/custom/n4096 | 3650.0 us | 3000.0 us | 1.22x |"])

    def test_no_common_benchmark_says_so(self):
        self.assertIn("No benchmark", compare.table(write([run("a", 1.0)]), write([run("b", 1.0)])))


if __name__ == "__main__":
    unittest.main()
