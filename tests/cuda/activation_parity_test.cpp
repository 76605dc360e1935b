// relu and sigmoid, forward and backward: CUDA against the CPU reference.
#include "kernels/activation.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using Ptrs = std::vector<const float*>;

class ActivationParity : public GpuTest {};

TEST_F(ActivationParity, ReluForwardIsBitIdentical) {
  check_parity(
      1, [](int64_t n, const Ptrs& in, float* y) { cpu::relu_forward(n, in[0], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::relu_forward(n, in[0], y); }, 0);
}

TEST_F(ActivationParity, ReluBackwardIsBitIdentical) {
  check_parity(
      2, [](int64_t n, const Ptrs& in, float* dx) { cpu::relu_backward(n, in[0], in[1], dx); },
      [](int64_t n, const Ptrs& in, float* dx) { gpu::relu_backward(n, in[0], in[1], dx); }, 0);
}

// Only expf differs (CUDA's is within 2 ulp, glibc's within 1), and 1 / (1 + e) does not magnify it.
TEST_F(ActivationParity, SigmoidForwardWithin4Ulp) {
  check_parity(
      1, [](int64_t n, const Ptrs& in, float* y) { cpu::sigmoid_forward(n, in[0], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::sigmoid_forward(n, in[0], y); }, 4, false, -20.0f, 20.0f);
}

// The stable form must hold where the naive 1 / (1 + exp(-x)) overflows or loses everything.
TEST_F(ActivationParity, SigmoidForwardExtremes) {
  const std::vector<float> x = {-1000.0f, -104.0f, -100.0f, -88.0f, -87.0f, -50.0f, -17.0f, -1e-8f, -0.0f,
                                0.0f,     1e-8f,   16.0f,   17.0f,  50.0f,  88.0f,  100.0f, 1000.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> expected(x.size());
  cpu::sigmoid_forward(n, x.data(), expected.data());
  DeviceFloats dx(x), dy(n + kGuard);
  dy.poison();
  gpu::sigmoid_forward(n, dx.get(), dy.get());
  expect_matches(expected, dy.to_host(), 0, 4);
  for (float y : expected) {
    EXPECT_GE(y, 0.0f);
    EXPECT_LE(y, 1.0f);
  }
}

// Inputs of the backward are sigmoid outputs, in (0, 1).
TEST_F(ActivationParity, SigmoidBackwardIsBitIdentical) {
  check_parity(
      2, [](int64_t n, const Ptrs& in, float* dx) { cpu::sigmoid_backward(n, in[0], in[1], dx); },
      [](int64_t n, const Ptrs& in, float* dx) { gpu::sigmoid_backward(n, in[0], in[1], dx); }, 0, false, 0.0f,
      1.0f);
}

}  // namespace
}  // namespace cxr::test
