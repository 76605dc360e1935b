// Adam as Keras/TensorFlow apply it (epsilon added to sqrt(v) without bias correction), and SGD.
#include "kernels/optim.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace cxr::kernels {
namespace {

const double kGrads[] = {0.5, -0.2, 0.1};
// Keras's betas are float32 constants, and 1 - 0.999f = 0.00099998713 differs from 0.001 by 1.3e-5
// relative: the hand computation uses the float values so that tight tolerances stay meaningful.
const double kBeta1 = 0.9f, kBeta2 = 0.999f;

// theta after each of the three steps, the update written out in double from keras-facts §4
// (keras_form) or from the Adam paper, Algorithm 1 (bias-corrected m and v, epsilon outside).
std::vector<double> adam_by_hand(double theta, double lr, double b1, double b2, double eps, bool keras_form) {
  double m = 0, v = 0;
  std::vector<double> thetas;
  for (int t = 1; t <= 3; ++t) {
    const double g = kGrads[t - 1];
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    if (keras_form) {
      const double alpha = lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
      theta -= alpha * m / (std::sqrt(v) + eps);
    } else {
      const double m_hat = m / (1 - std::pow(b1, t)), v_hat = v / (1 - std::pow(b2, t));
      theta -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    thetas.push_back(theta);
  }
  return thetas;
}

std::vector<float> adam_kernel(float theta, const AdamParams& p, std::vector<float>* m_out = nullptr,
                               std::vector<float>* v_out = nullptr) {
  float m = 0, v = 0;
  std::vector<float> thetas;
  for (int t = 1; t <= 3; ++t) {
    const float g = static_cast<float>(kGrads[t - 1]);
    cpu::adam_update(1, p, t, &theta, &g, &m, &v);
    thetas.push_back(theta);
    if (m_out) m_out->push_back(m);
    if (v_out) v_out->push_back(v);
  }
  return thetas;
}

TEST(Adam, FirstThreeStepsWithKerasDefaults) {
  const AdamParams p{.lr = 1e-3f};
  std::vector<float> m, v;
  const std::vector<float> got = adam_kernel(1.0f, p, &m, &v);
  const std::vector<double> want = adam_by_hand(1.0, 1e-3, kBeta1, kBeta2, 1e-7, true);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], want[i], 1.5e-7) << "step " << i + 1;  // float ulp at 1: 6e-8
  // Step 1 by hand: m = 0.1 * 0.5, v = 0.001 * 0.25, alpha = lr sqrt(0.001)/0.1, so
  // theta = 1 - lr * 0.5 / (0.5 + 1e-7/sqrt(0.001)) = 0.99900000632 (the float betas cancel out of it).
  EXPECT_NEAR(got[0], 0.99900000632, 1.5e-7);
  // Tolerances: about 2 float ulps of each value.
  EXPECT_NEAR(m[0], (1 - kBeta1) * 0.5, 8e-9);
  EXPECT_NEAR(v[0], (1 - kBeta2) * 0.25, 6e-11);
  EXPECT_NEAR(m[1], kBeta1 * m[0] + (1 - kBeta1) * -0.2, 4e-9);  // ~0.025
  EXPECT_NEAR(v[1], kBeta2 * v[0] + (1 - kBeta2) * 0.04, 6e-11);  // ~0.00028975
}

TEST(Adam, EpsilonIsNotBiasCorrected) {
  // With a large epsilon the two forms part ways: at t = 1, Keras divides alpha*m by
  // sqrt(v) + eps = 0.0158 + 0.01, the paper by sqrt(v_hat) + eps = 0.5 + 0.01.
  const AdamParams p{.lr = 1e-2f, .epsilon = 1e-2f};
  const std::vector<float> got = adam_kernel(0.0f, p);
  const std::vector<double> keras = adam_by_hand(0.0, 1e-2, kBeta1, kBeta2, 1e-2, true);
  const std::vector<double> paper = adam_by_hand(0.0, 1e-2, kBeta1, kBeta2, 1e-2, false);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(got[i], keras[i], 1e-7) << "step " << i + 1;
    EXPECT_GT(std::fabs(got[i] - paper[i]), 1e-3) << "step " << i + 1;
  }
}

TEST(Adam, StepsStartAtOne) {
  float theta = 0, g = 1, m = 0, v = 0;
  EXPECT_THROW(cpu::adam_update(1, AdamParams{}, 0, &theta, &g, &m, &v), std::invalid_argument);
}

TEST(Sgd, SubtractsTheScaledGradient) {
  std::vector<float> theta{1.0f, -2.0f, 0.5f};
  const std::vector<float> g{0.5f, -1.0f, 0.0f};
  cpu::sgd_update(3, 0.1f, theta.data(), g.data());
  EXPECT_FLOAT_EQ(theta[0], 0.95f);
  EXPECT_FLOAT_EQ(theta[1], -1.9f);
  EXPECT_FLOAT_EQ(theta[2], 0.5f);
}

}  // namespace
}  // namespace cxr::kernels
