// dropout: the mask is philox_uniform(seed, stream, i) >= rate, deterministic per (seed, stream),
// keeps about 1 - rate of the elements and scales them by exactly 1/(1-rate).
#include "kernels/dropout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/philox.h"
#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::random_vector;

// 1e5 + 3: not a multiple of 4, so the tail of the last Philox group is exercised.
constexpr int64_t kN = 100003;

std::vector<float> run_forward(float rate, uint64_t seed, uint64_t stream, const std::vector<float>& x) {
  std::vector<float> y(x.size(), 123.0f);
  cpu::dropout_forward(static_cast<int64_t>(x.size()), rate, seed, stream, x.data(), y.data());
  return y;
}

// tf.nn.dropout forms 1/(1-rate) in double from Keras's Python-float rate and rounds it to float once.
float keep_scale(float rate) { return static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))); }

// Inputs in [0.5, 1.5): never zero, so a zero output means "dropped".
std::vector<float> nonzero_input() { return random_vector(kN, 1, 0.5f, 1.5f); }

TEST(Dropout, MaskIsThePhiloxRuleAndKeptValuesAreScaledExactly) {
  const float rate = 0.3f;  // 1/(1-rate) is not a short binary fraction: the scale must match to the bit
  const uint64_t seed = 0x0123456789abcdefULL, stream = 0xfedcba9876543210ULL;  // both 32-bit halves matter
  const auto x = nonzero_input();
  const auto y = run_forward(rate, seed, stream, x);
  const float scale = keep_scale(rate);
  for (int64_t i = 0; i < kN; ++i) {
    const bool keep = philox_uniform(seed, stream, static_cast<uint64_t>(i)) >= rate;
    ASSERT_EQ(y[i], keep ? x[i] * scale : 0.0f) << "element " << i;
  }
}

TEST(Dropout, KeptFractionIsOneMinusRate) {
  const auto x = nonzero_input();
  for (float rate : {0.2f, 0.5f, 0.9f}) {
    const auto y = run_forward(rate, 42, 7, x);
    int64_t kept = 0;
    for (float v : y) kept += v != 0.0f;
    // Binomial(n, 1-rate): mean n(1-rate), standard deviation sqrt(n rate (1-rate)); allow 5 sigma.
    const double mean = kN * (1.0 - rate), sigma = std::sqrt(kN * rate * (1.0 - rate));
    EXPECT_NEAR(static_cast<double>(kept), mean, 5 * sigma) << "rate " << rate;
  }
}

TEST(Dropout, SameSeedAndStreamGiveTheSameMaskOthersDiffer) {
  const auto x = nonzero_input();
  const auto a = run_forward(0.5f, 42, 7, x);
  EXPECT_EQ(a, run_forward(0.5f, 42, 7, x));
  const std::vector<std::pair<uint64_t, uint64_t>> others{{42, 8}, {43, 7}, {42, 7ULL << 32}};
  for (const auto& [seed, stream] : others) {
    const auto b = run_forward(0.5f, seed, stream, x);
    int64_t differ = 0;
    for (int64_t i = 0; i < kN; ++i) differ += (a[i] == 0.0f) != (b[i] == 0.0f);
    // Independent masks at rate 0.5 disagree on half the elements.
    EXPECT_NEAR(static_cast<double>(differ), kN * 0.5, 5 * std::sqrt(kN * 0.25)) << seed << "/" << stream;
  }
}

TEST(Dropout, BackwardUsesTheForwardMask) {
  const float rate = 0.3f;
  const auto x = nonzero_input();
  const auto dy = random_vector(kN, 2, 0.5f, 1.5f);
  const auto y = run_forward(rate, 5, 9, x);
  std::vector<float> dx(kN, 123.0f);
  cpu::dropout_backward(kN, rate, 5, 9, dy.data(), dx.data());
  const float scale = keep_scale(rate);
  for (int64_t i = 0; i < kN; ++i) ASSERT_EQ(dx[i], y[i] != 0.0f ? dy[i] * scale : 0.0f) << "element " << i;
}

TEST(Dropout, DroppedNonFiniteValuesStayVisible) {
  // y = x * scale * 0 where dropped, as tf.nn.dropout multiplies by the mask: NaN and inf give NaN.
  const std::vector<float> x(64, INFINITY);
  const auto y = run_forward(0.5f, 3, 4, x);
  int64_t nan = 0, inf = 0;
  for (float v : y) {
    nan += std::isnan(v);
    inf += std::isinf(v);
  }
  EXPECT_EQ(nan + inf, 64);
  EXPECT_GT(nan, 0);
  EXPECT_GT(inf, 0);
}

TEST(Dropout, RateZeroCopiesAndBadRatesThrow) {
  const auto x = random_vector(10, 3);
  EXPECT_EQ(run_forward(0.0f, 1, 1, x), x);
  std::vector<float> y(10);
  EXPECT_THROW(cpu::dropout_forward(10, 1.0f, 1, 1, x.data(), y.data()), std::invalid_argument);
  EXPECT_THROW(cpu::dropout_forward(10, -0.1f, 1, 1, x.data(), y.data()), std::invalid_argument);
  EXPECT_THROW(cpu::dropout_backward(10, NAN, 1, 1, x.data(), y.data()), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::kernels
