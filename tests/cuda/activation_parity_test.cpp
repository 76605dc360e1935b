// relu and sigmoid, forward and backward: CUDA against the CPU reference.
#include <cmath>
#include <limits>

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

// NaN stays NaN through relu on the CPU, the custom kernel and cuDNN (CUDNN_PROPAGATE_NAN), as in
// TensorFlow: a diverging run shows its NaN instead of hiding it as a zero.
TEST_F(ActivationParity, ReluKeepsNaNOnEveryKernelChoice) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {nan, -nan, inf, -inf, 0.0f, -0.0f, 1e-30f, -1e-30f, 3.5f, -2.0f, nan, 7.0f, -inf};
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> cpu_y(x.size());
  cpu::relu_forward(n, x.data(), cpu_y.data());
  DeviceFloats dx(x), custom(n), vendor(n);
  gpu::relu_forward(n, dx.get(), custom.get());
  kernels::vendor::relu_forward(n, dx.get(), vendor.get());
  const std::vector<float> custom_y = custom.to_host(), vendor_y = vendor.to_host();
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(std::isnan(cpu_y[i]), std::isnan(x[i])) << "CPU, element " << i;
    for (const auto* got : {&custom_y, &vendor_y}) {
      const float g = (*got)[i];
      EXPECT_TRUE(std::isnan(cpu_y[i]) ? std::isnan(g) : g == cpu_y[i])
          << (got == &custom_y ? "custom" : "cuDNN") << ", element " << i << ": " << g << " vs CPU " << cpu_y[i];
    }
  }
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
