"""benchmarks/peers/peers.py's command line, without PyTorch or TensorFlow: what it refuses is
refused before either is imported, with a message naming the flag. (The timing itself needs the
peers' venv: tools/bench-peers.) Run by ctest (label tools)."""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "benchmarks", "peers", "peers.py")


def peers(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=60)


class CommandLineTest(unittest.TestCase):
    def test_an_unknown_memory_format_is_refused(self):
        p = peers("--framework", "torch", "--layouts", "nchw,nhwc")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--layouts: nchw and/or channels_last, not nchw,nhwc", p.stderr)

    def test_keras_on_a_gpu_is_refused(self):
        p = peers("--framework", "keras", "--device", "cuda")
        self.assertEqual(p.returncode, 2)
        self.assertIn("the Keras peer runs on the CPU", p.stderr)


if __name__ == "__main__":
    unittest.main()
