// A shape one implementation cannot run although the op itself is valid: a limit of the custom CUDA
// kernels (the convolution's 32767-pixel sides, a GEMM grid's 65535 column tiles), not a bug and
// not a limit of the CPU reference. The engine's dispatch (engine/ops/dispatch.h) turns it into an
// InputError naming the device, so the command exits as for bad input (2) with what to change.
#pragma once
#include <stdexcept>

namespace cxr::kernels {

struct ShapeLimitError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace cxr::kernels
