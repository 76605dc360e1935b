"""benchmarks/ncu_summary.py: tools/gpu-ncu's CSV (Nsight Compute's details page, one row per
metric, each led by its benchmark, the header repeated per benchmark) becomes one table line per
kernel launch with the right metrics in the right columns, whatever unit ncu gives the duration.
Run by ctest (label tools)."""

import importlib.util
import os
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("ncu_summary", os.path.join(HERE, "..", "..", "benchmarks", "ncu_summary.py"))
ncu_summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ncu_summary)

# As ncu 2025.3 writes it (H100, 2026-11-26): the header has five rule columns after "Metric Value"
# that the metric rows leave out (17 fields against 21).
HEADER = ('"Benchmark","ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size",'
          '"Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value","Rule Name",'
          '"Rule Type","Rule Description","Estimated Speedup Type","Estimated Speedup"')


def rows(bench, kid, kernel, grid, block, metrics):
    return [f'"{bench}","{kid}","1","bench_cuda","h","{kernel}","1","7","{block}","{grid}","0","9.0","S","{name}","{unit}","{value}"'
            for name, unit, value in metrics]


def rule(bench, kid, kernel, grid, block):  # a rule's advice: all 21 fields, no metric
    return (f'"{bench}","{kid}","1","bench_cuda","h","{kernel}","1","7","{block}","{grid}","0","9.0","Occupancy","","",'
            '"","TheoreticalOccupancy","OPT","Limited by registers.","local","75"')


class SummaryTest(unittest.TestCase):
    def test_one_line_per_launch_with_its_metrics(self):
        lines = [HEADER]
        lines += rows("cuda/sgemm/custom/n4096/", "0", "tiled_gemm_kernel", "(32, 32, 1)", "(256, 1, 1)", [
            ("Duration", "nsecond", "3,500,000"), ("Compute (SM) Throughput", "%", "71.25"),
            ("Memory Throughput", "%", "40.10"), ("DRAM Throughput", "%", "12.00"),
            ("Registers Per Thread", "register/thread", "128"), ("Theoretical Occupancy", "%", "25"),
            ("Achieved Occupancy", "%", "24.61")])
        lines.append(rule("cuda/sgemm/custom/n4096/", "0", "tiled_gemm_kernel", "(32, 32, 1)", "(256, 1, 1)"))
        lines.append(HEADER)  # the next benchmark's ncu run
        lines += rows("cuda/relu_forward/custom/n16M/", "0", "map_kernel", "(1056, 1, 1)", "(256, 1, 1)", [
            ("Duration", "us", "39.9"), ("Memory Throughput", "%", "88.0"), ("Registers Per Thread", "", "16")])
        path = os.path.join(tempfile.mkdtemp(), "ncu.csv")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        table = ncu_summary.table(path).splitlines()
        self.assertEqual(len(table), 4)  # header, rule, two launches
        self.assertEqual(table[2], "| cuda/sgemm/custom/n4096 | 0 | tiled_gemm_kernel | (32, 32, 1) | (256, 1, 1) | "
                                   "3500.0 us | 71.2 | 40.1 | 12.0 | 128 | 25.0 / 24.6 |")
        # Missing metrics show as '-', a duration in 'us' is taken as microseconds.
        self.assertEqual(table[3], "| cuda/relu_forward/custom/n16M | 0 | map_kernel | (1056, 1, 1) | (256, 1, 1) | "
                                   "39.9 us | - | 88.0 | - | 16 | - / - |")

    def test_memory_workload_analysis_keeps_the_percentage(self):
        # GPU_NCU_SECTIONS=MemoryWorkloadAnalysis adds a second "Memory Throughput", in byte/s, after
        # the Speed Of Light one in % (H100, 2026-11-26: the column read 51105263157.9).
        lines = [HEADER] + rows("cuda/conv2d_forward/custom/e1_conv1/", "0", "direct", "(2, 2, 32)", "(256, 1, 1)", [
            ("Duration", "ns", "19,456"), ("Memory Throughput", "%", "23.65"),
            ("Memory Throughput", "byte/s", "51,105,263,157.89")])
        path = os.path.join(tempfile.mkdtemp(), "ncu.csv")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.assertEqual(ncu_summary.table(path).splitlines()[2],
                         "| cuda/conv2d_forward/custom/e1_conv1 | 0 | direct | (2, 2, 32) | (256, 1, 1) | "
                         "19.5 us | - | 23.6 | - | - | - / - |")

    def test_nothing_profiled_says_so(self):
        path = os.path.join(tempfile.mkdtemp(), "ncu.csv")
        open(path, "w").close()
        self.assertIn("No kernel was profiled", ncu_summary.table(path))


if __name__ == "__main__":
    unittest.main()
