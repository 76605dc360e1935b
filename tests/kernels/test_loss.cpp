// Binary cross-entropy on logits and binary accuracy: hand-computed values, the gradient against the
// textbook probability form, and Keras's strict 0.5 threshold.
#include "kernels/loss.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

namespace cxr::kernels {
namespace {

// Per-sample losses worked out by hand (ln 2; ln(1+e^-2); ln(1+e^-1); e^-30 ≈ ln(1+e^-30)).
struct Sample {
  float z, y;
  double loss;
};
const Sample kSamples[] = {
    {0.0f, 1.0f, 0.69314718056},   // ln 2
    {2.0f, 1.0f, 0.12692801104},   // ln(1 + e^-2)
    {-1.0f, 0.0f, 0.31326168752},  // ln(1 + e^-1)
    {0.5f, 1.0f, 0.47407698418},   // ln(1 + e^-0.5)
    {-3.0f, 1.0f, 3.04858735157},  // 3 + ln(1 + e^-3)
    {30.0f, 1.0f, 9.3576229688e-14},  // confidently right: e^-30, not 0 and not NaN
    {30.0f, 0.0f, 30.0},              // confidently wrong: 30 + e^-30
    {-30.0f, 1.0f, 30.0},
    {-30.0f, 0.0f, 9.3576229688e-14},
};

TEST(BceLogits, HandComputedSamples) {
  for (const Sample& s : kSamples) {
    const float loss = cpu::bce_logits_forward(1, &s.z, &s.y);
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_NEAR(loss, s.loss, 1e-6 * std::max(1e-13, s.loss)) << "z " << s.z << " y " << s.y;
  }
}

TEST(BceLogits, ForwardIsTheMean) {
  std::vector<float> z, y;
  double expected = 0;
  for (const Sample& s : kSamples) {
    z.push_back(s.z);
    y.push_back(s.y);
    expected += s.loss / std::size(kSamples);
  }
  EXPECT_NEAR(cpu::bce_logits_forward(static_cast<int64_t>(z.size()), z.data(), y.data()), expected, 1e-6);
}

TEST(BceLogits, BackwardIsScaledSigmoidMinusLabel) {
  const std::vector<float> z{0.0f, 2.0f, -1.0f, 30.0f, -30.0f, 0.5f}, y{1, 1, 0, 0, 0, 1};
  const int64_t n = static_cast<int64_t>(z.size());
  const float grad_scale = 2.5f;
  std::vector<float> dz(n, 123.0f);
  cpu::bce_logits_backward(n, z.data(), y.data(), grad_scale, dz.data());
  // By hand: z = 0, y = 1 -> (0.5 - 1) * 2.5 / 6; z = 30, y = 0 -> (1 - e^-30 ≈ 1) * 2.5 / 6.
  EXPECT_NEAR(dz[0], -0.5 * 2.5 / 6, 1e-7);
  EXPECT_NEAR(dz[3], 2.5 / 6, 1e-7);
  EXPECT_NEAR(dz[4], 0.0, 1e-12);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(std::isfinite(dz[i]));
    // The textbook loss -[y ln p + (1-y) ln(1-p)] with p = 1/(1+e^-z), differentiated by central
    // differences in double (fine where p is not within rounding of 0 or 1).
    if (std::fabs(z[i]) > 10) continue;
    auto textbook = [&](double zz) {
      const double p = 1.0 / (1.0 + std::exp(-zz));
      return -(y[i] * std::log(p) + (1 - y[i]) * std::log(1 - p));
    };
    const double h = 1e-6;
    const double numeric = grad_scale / n * (textbook(z[i] + h) - textbook(z[i] - h)) / (2 * h);
    EXPECT_NEAR(dz[i], numeric, 1e-6) << "sample " << i;
  }
}

TEST(BinaryAccuracy, StrictThresholdOnTheFloatSigmoid) {
  //                         right  wrong  wrong  right  wrong  wrong  right  right
  const std::vector<float> z{0.0f, 0.0f, 1e-9f, 2.0f, -2.0f, 30.0f, -30.0f, -0.5f};
  const std::vector<float> y{0, 1, 1, 1, 1, 0, 0, 0};
  // z = 0 gives p = 0.5 exactly, which is NOT > 0.5, so it predicts 0. z = 1e-9 gives
  // p = 0.5000000003, which rounds to 0.5f in float: also 0.
  EXPECT_EQ(cpu::binary_accuracy_count(static_cast<int64_t>(z.size()), z.data(), y.data()), 4);
  const float z_small = 1e-3f, y_one = 1.0f;  // p = 0.50025 > 0.5: predicts 1
  EXPECT_EQ(cpu::binary_accuracy_count(1, &z_small, &y_one), 1);
}

}  // namespace
}  // namespace cxr::kernels
