// relu and sigmoid, forward and backward: CUDA against the CPU reference.
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

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
// TensorFlow: a diverging run shows its NaN instead of hiding it as a zero; -0 becomes +0 (bits
// compared). The gradient is 0 wherever x is not positive, NaN included, on every choice.
TEST_F(ActivationParity, ReluKeepsNaNOnEveryKernelChoice) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {nan, -nan, inf, -inf, 0.0f, -0.0f, 1e-30f, -1e-30f, 3.5f, -2.0f, nan, 7.0f, -inf};
  const std::vector<float> dy = {1.5f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 10.0f, 11.0f, 12.0f, 13.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> cpu_y(x.size()), cpu_dx(x.size());
  cpu::relu_forward(n, x.data(), cpu_y.data());
  cpu::relu_backward(n, x.data(), dy.data(), cpu_dx.data());
  DeviceFloats d_x(x), d_dy(dy), custom(n), vendor(n), custom_dx(n), vendor_dx(n);
  gpu::relu_forward(n, d_x.get(), custom.get());
  kernels::vendor::relu_forward(n, d_x.get(), vendor.get());
  gpu::relu_backward(n, d_x.get(), d_dy.get(), custom_dx.get());
  kernels::vendor::relu_backward(n, d_x.get(), vendor.get(), d_dy.get(), vendor_dx.get());
  const auto same = [](float a, float b) {
    return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, sizeof(float)) == 0;
  };
  const std::vector<std::pair<const char*, std::vector<float>>> forward = {{"custom", custom.to_host()},
                                                                           {"cuDNN", vendor.to_host()}};
  const std::vector<std::pair<const char*, std::vector<float>>> backward = {{"custom", custom_dx.to_host()},
                                                                            {"cuDNN", vendor_dx.to_host()}};
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(std::isnan(cpu_y[i]), std::isnan(x[i])) << "CPU, element " << i;
    for (const auto& [who, y] : forward)
      EXPECT_TRUE(same(cpu_y[i], y[i])) << who << " relu(" << x[i] << ") = " << y[i] << ", CPU " << cpu_y[i];
    for (const auto& [who, dx] : backward)
      EXPECT_TRUE(same(cpu_dx[i], dx[i])) << who << " relu'(" << x[i] << ") dy = " << dx[i] << ", CPU " << cpu_dx[i];
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
