// dropout_forward_keep / dropout_backward_keep (the CPU engine's path): the same outputs as
// dropout_forward / dropout_backward bit for bit, non-finite values included, and a mask that is
// exactly the Philox rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/philox.h"
#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

// Not a multiple of the 1024-word block nor of 4: every tail is exercised.
constexpr int64_t kN = 5000;

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

std::vector<float> input_with_specials() {
  auto x = test::random_vector(kN, 3, -2.0f, 2.0f);
  x[1] = std::numeric_limits<float>::infinity();
  x[2] = std::numeric_limits<float>::quiet_NaN();
  x[3] = -0.0f;
  x[4] = 3e38f;  // x * scale overflows: dropped, it must stay NaN as in dropout_forward
  return x;
}

TEST(DropoutKeep, ForwardAndBackwardMatchTheRecomputingKernelsBitForBit) {
  const auto x = input_with_specials(), dy = input_with_specials();
  for (float rate : {0.0f, 0.2f, 0.5f, 0.9f}) {
    const uint64_t seed = 0x0123456789abcdefULL, stream = 77;
    std::vector<float> y(kN), y_keep(kN), dx(kN), dx_keep(kN);
    std::vector<uint8_t> keep(kN, 9);
    cpu::dropout_forward(kN, rate, seed, stream, x.data(), y.data());
    cpu::dropout_forward_keep(kN, rate, seed, stream, x.data(), y_keep.data(), keep.data());
    cpu::dropout_backward(kN, rate, seed, stream, dy.data(), dx.data());
    cpu::dropout_backward_keep(kN, rate, keep.data(), dy.data(), dx_keep.data());
    for (int64_t i = 0; i < kN; ++i) {
      ASSERT_TRUE(same_bits(y[i], y_keep[i])) << "rate " << rate << " y[" << i << "] " << y[i] << " vs " << y_keep[i];
      ASSERT_TRUE(same_bits(dx[i], dx_keep[i])) << "rate " << rate << " dx[" << i << "]";
      const bool kept = rate == 0.0f || philox_uniform(seed, stream, static_cast<uint64_t>(i)) >= rate;
      ASSERT_EQ(keep[i], kept ? 1 : 0) << "rate " << rate << " keep[" << i << "]";
    }
  }
}

TEST(DropoutKeep, BadRatesThrow) {
  std::vector<float> dy(4, 1.0f), dx(4);
  std::vector<uint8_t> keep(4, 1);
  EXPECT_THROW(cpu::dropout_backward_keep(4, 1.0f, keep.data(), dy.data(), dx.data()), std::invalid_argument);
  EXPECT_THROW(cpu::dropout_forward_keep(4, -0.1f, 1, 1, dy.data(), dx.data(), keep.data()), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::kernels
