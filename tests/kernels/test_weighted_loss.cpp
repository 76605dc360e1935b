// Binary cross-entropy with per-sample weights (Keras's sample_weight, built from class_weight):
// the mean of w * loss over the batch size, its gradient, the label -> weight gather, and that no
// weights gives today's unweighted results bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/loss.h"

namespace cxr::kernels {
namespace {

const std::vector<float> kZ{0.0f, 2.0f, -1.0f, 0.5f, -3.0f, 30.0f, -30.0f, 1.5f};
const std::vector<float> kY{1, 1, 0, 1, 1, 0, 0, 0};
const std::vector<float> kW{1.9f, 1.9f, 0.67f, 1.9f, 1.9f, 0.67f, 0.67f, 0.25f};

double sample_loss(double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z))); }
double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(WeightedBce, ForwardIsTheWeightedSumOverTheBatchSize) {
  const int64_t n = static_cast<int64_t>(kZ.size());
  double weighted = 0, weight_sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    weighted += kW[i] * sample_loss(kZ[i], kY[i]);
    weight_sum += kW[i];
  }
  const float got = cpu::bce_logits_forward(n, kZ.data(), kY.data(), kW.data());
  EXPECT_NEAR(got, weighted / n, 1e-6 * weighted / n);
  // SUM_OVER_BATCH_SIZE: not the weighted average (dividing by the weights' sum), which differs here.
  EXPECT_GT(std::fabs(got - weighted / weight_sum), 1e-2);
}

TEST(WeightedBce, BackwardScalesEachSamplesGradientByItsWeight) {
  const int64_t n = static_cast<int64_t>(kZ.size());
  const float grad_scale = 1.5f;
  std::vector<float> dz(n, 123.0f);
  cpu::bce_logits_backward(n, kZ.data(), kY.data(), grad_scale, dz.data(), kW.data());
  for (int64_t i = 0; i < n; ++i) {
    const double want = grad_scale * kW[i] * (sigmoid(kZ[i]) - kY[i]) / n;
    EXPECT_NEAR(dz[i], want, 1e-7 + 1e-6 * std::fabs(want)) << "sample " << i;
  }
}

// The loops as they were before weights existed: no weights must reproduce them exactly, and so
// must weights of 1 (1.0 multiplies exactly).
TEST(WeightedBce, NoWeightsAndUnitWeightsGiveTheUnweightedResultsBitForBit) {
  const int64_t n = static_cast<int64_t>(kZ.size());
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += sample_loss(kZ[i], kY[i]);
  const float before = static_cast<float>(total / static_cast<double>(n));
  const std::vector<float> ones(kZ.size(), 1.0f);
  EXPECT_TRUE(same_bits(cpu::bce_logits_forward(n, kZ.data(), kY.data()), before));
  EXPECT_TRUE(same_bits(cpu::bce_logits_forward(n, kZ.data(), kY.data(), ones.data()), before));

  const float grad_scale = 0.7f;
  const double k = static_cast<double>(grad_scale) / static_cast<double>(n);
  std::vector<float> plain(n), unit(n);
  cpu::bce_logits_backward(n, kZ.data(), kY.data(), grad_scale, plain.data());
  cpu::bce_logits_backward(n, kZ.data(), kY.data(), grad_scale, unit.data(), ones.data());
  for (int64_t i = 0; i < n; ++i) {
    const double e = std::exp(-std::fabs(static_cast<double>(kZ[i])));
    const double p = kZ[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    const float old = static_cast<float>(k * (p - kY[i]));
    EXPECT_TRUE(same_bits(plain[i], old)) << "sample " << i << ": " << plain[i] << " vs " << old;
    EXPECT_TRUE(same_bits(unit[i], old)) << "sample " << i;
  }
}

TEST(LabelWeights, GatherTheClassWeightByLabel) {
  const std::vector<float> y{0, 1, 1, 0, 1};
  std::vector<float> w(y.size(), -1.0f);
  cpu::label_weights(static_cast<int64_t>(y.size()), y.data(), 1.9f, 0.67f, w.data());
  EXPECT_EQ(w, (std::vector<float>{1.9f, 0.67f, 0.67f, 1.9f, 0.67f}));
}

}  // namespace
}  // namespace cxr::kernels
