"""Rewrites one of our CUDA source files for tests/emulated/cuda_emulator.h: the CUDA runtime's
headers (and cooperative_groups.h) give way to the emulator, `kernel<<<grid, block, shared,
stream>>>(args);` becomes `emu::launch([&] { kernel(args); }, grid, block, shared, stream);`,
`extern __shared__ T name[];` (a launch's dynamic shared memory) becomes `T* name =
emu::dynamic_shared<T>();`, and includes of other rewritten files point at their rewritten copies
(kernels/cuda/X.cuh -> X.emulated.h).

    python3 emulate_cuda_source.py SOURCE OUTPUT
"""

import re
import sys

RUNTIME_HEADERS = re.compile(r'#include "kernels/cuda/(async_copy|check|current_device|launch|runtime)\.h"\n'
                             r'|#include <cooperative_groups\.h>\n')
DYNAMIC_SHARED = re.compile(r"extern __shared__ (\w+) (\w+)\[\];")
LAUNCH = re.compile(r"([\w:]+(?:<[^;<>]*>)?)<<<(.*?)>>>\((.*?)\);", re.S)


def main():
    source, output = sys.argv[1], sys.argv[2]
    with open(source) as f:
        text = f.read()
    text = RUNTIME_HEADERS.sub("", text)
    text = DYNAMIC_SHARED.sub(r"\1* \2 = emu::dynamic_shared<\1>();", text)
    text = re.sub(r'#include "kernels/cuda/(\w+)\.cuh"', r'#include "\1.emulated.h"', text)
    text, launches = LAUNCH.subn(lambda m: f"emu::launch([&] {{ {m.group(1)}({m.group(3)}); }}, {m.group(2)});", text)
    if "<<<" in text:
        sys.exit(f"{source}: a launch the rewrite did not recognise is left")
    header = f"// Generated from {source} by tests/emulated/emulate_cuda_source.py ({launches} launches): do not edit.\n"
    with open(output, "w") as f:
        f.write(header + '#include "tests/emulated/cuda_emulator.h"\n' + text)


if __name__ == "__main__":
    main()
