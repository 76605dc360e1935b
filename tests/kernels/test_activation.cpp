// relu's forward on the values a diverging run produces: NaN stays NaN (TensorFlow's and PyTorch's
// relu, and cuDNN's with CUDNN_PROPAGATE_NAN, which the vendor choice uses), infinities keep their
// place, and -0 becomes +0. The fused dropout-relu and batch norm-dropout-relu use the same relu.
#include "kernels/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/dropout.h"

namespace cxr::kernels {
namespace {

const float kInf = std::numeric_limits<float>::infinity(), kNaN = std::numeric_limits<float>::quiet_NaN();

// Long enough for the vectorised loop and its tail; the special values sit in both.
std::vector<float> special_values() {
  std::vector<float> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(static_cast<int>(i % 7) - 3) * 0.5f;
  for (size_t at : {0u, 9u, 998u}) x[at] = kNaN;
  x[1] = kInf, x[2] = -kInf, x[3] = -0.0f, x[999] = -kNaN;
  return x;
}

void expect_relu(const std::vector<float>& x, const std::vector<float>& y) {
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i])) << "element " << i << ": relu(NaN) gave " << y[i];
    } else {
      const float want = x[i] > 0.0f ? x[i] : 0.0f;
      EXPECT_EQ(std::memcmp(&want, &y[i], sizeof(float)), 0) << "element " << i << ": relu(" << x[i] << ") gave "
                                                             << y[i] << ", want " << want << " (+0 for -0)";
    }
  }
}

TEST(Relu, NaNStaysNaNAndNegativeZeroBecomesZero) {
  const std::vector<float> x = special_values();
  std::vector<float> y(x.size(), 123.0f);
  cpu::relu_forward(static_cast<int64_t>(x.size()), x.data(), y.data());
  expect_relu(x, y);
}

TEST(Relu, FusedAfterDropoutKeepsNaNToo) {
  const std::vector<float> x = special_values();
  std::vector<float> y(x.size(), 123.0f);
  cpu::dropout_relu_forward(static_cast<int64_t>(x.size()), 0.0f, 1, 2, x.data(), y.data());  // rate 0: all kept
  expect_relu(x, y);
}

// The gradient stays PyTorch's select: zero where x is not positive, NaN included, whatever dy holds.
TEST(Relu, BackwardPassesDyWherePositiveOnly) {
  const std::vector<float> x = {kNaN, kInf, -kInf, 0.0f, -0.0f, 2.0f, -2.0f};
  const std::vector<float> dy = {5.0f, 6.0f, kNaN, kInf, 7.0f, kNaN, 8.0f};
  std::vector<float> dx(x.size());
  cpu::relu_backward(static_cast<int64_t>(x.size()), x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx[0], 0.0f);
  EXPECT_EQ(dx[1], 6.0f);
  EXPECT_EQ(dx[2], 0.0f);
  EXPECT_EQ(dx[3], 0.0f);
  EXPECT_EQ(dx[4], 0.0f);
  EXPECT_TRUE(std::isnan(dx[5]));
  EXPECT_EQ(dx[6], 0.0f);
}

// Sigmoid's own exp (kernels/cpu/activation.cpp) against exp in double, over every float from -100
// to 100 in steps of 2^-10 (and the tails' ends): within 3 ulp of 1 / (1 + e^-x), where the result
// is a normal float; 0 where it would be subnormal. Exact where it must be: 0.5 at 0, 1 and 0 at the
// infinities, NaN for NaN.
TEST(Sigmoid, ForwardIsWithinThreeUlpOfExactAndKeepsItsSpecialValues) {
  std::vector<float> x;
  for (int i = -100 * 1024; i <= 100 * 1024; ++i) x.push_back(static_cast<float>(i) / 1024.0f);
  for (float v : {-87.3f, -87.4f, -88.0f, -103.0f, -1e30f, 1e30f, 20.0f, 17.0f, 1e-8f, -1e-8f}) x.push_back(v);
  x.insert(x.end(), {kNaN, kInf, -kInf, 0.0f, -0.0f});
  std::vector<float> y(x.size(), 123.0f);
  cpu::sigmoid_forward(static_cast<int64_t>(x.size()), x.data(), y.data());
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(y[i])) << "sigmoid(NaN) gave " << y[i];
      continue;
    }
    const double want = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    if (want < std::numeric_limits<float>::min()) {
      EXPECT_LE(y[i], std::numeric_limits<float>::min()) << "sigmoid(" << x[i] << ")";
      EXPECT_GE(y[i], 0.0f) << "sigmoid(" << x[i] << ")";
      continue;
    }
    const double ulp = std::nextafter(static_cast<float>(want), 2.0f) - static_cast<float>(want);
    ASSERT_LE(std::fabs(y[i] - want), 3 * ulp) << "sigmoid(" << x[i] << ") = " << y[i] << ", want " << want;
  }
  const size_t n = x.size();  // the last five: NaN, inf, -inf, 0, -0
  EXPECT_EQ(y[n - 4], 1.0f);
  EXPECT_EQ(y[n - 3], 0.0f);
  EXPECT_EQ(y[n - 2], 0.5f);
  EXPECT_EQ(y[n - 1], 0.5f);
}

}  // namespace
}  // namespace cxr::kernels
