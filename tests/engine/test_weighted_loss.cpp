// bce_with_logits with per-sample weights (engine/ops/loss.cpp): numeric gradient check, the
// weights' checks, and label_weights.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "gradcheck.h"

namespace cxr {
namespace {

using testing::expect_gradients_match;
using testing::random_tensor;

TEST(WeightedBceOp, GradientMatchesCentralDifferences) {
  const Tensor targets = Tensor::from_vector({6, 1}, {0, 1, 1, 0, 1, 0});
  const Tensor weights = Tensor::from_vector({6, 1}, {1.9f, 0.67f, 0.67f, 1.9f, 0.3f, 2.5f});
  expect_gradients_match([&](const auto& in) { return bce_with_logits(in[0], targets, weights); },
                         {random_tensor({6, 1}, 31, -3.0f, 3.0f).set_requires_grad(true)});
}

TEST(WeightedBceOp, IsTheWeightedMeanOverTheBatchAndGivesWeightsNoGradient) {
  Tensor z = Tensor::from_vector({4, 1}, {0.3f, -1.2f, 2.0f, 0.0f}).set_requires_grad(true);
  const Tensor y = Tensor::from_vector({4, 1}, {1, 0, 0, 1});
  Tensor w = Tensor::from_vector({4, 1}, {2.0f, 0.5f, 0.5f, 2.0f}).set_requires_grad(true);
  const std::vector<float> zs = z.to_vector(), ys = y.to_vector(), ws = w.to_vector();
  double expected = 0;
  for (size_t i = 0; i < zs.size(); ++i) {
    const double zi = zs[i];
    expected += ws[i] * (std::max(zi, 0.0) - zi * ys[i] + std::log1p(std::exp(-std::fabs(zi))));
  }
  expected /= 4;  // the batch size, not the weights' sum (5)
  Tensor loss = bce_with_logits(z, y, w);
  EXPECT_NEAR(loss.item(), expected, 1e-6);
  loss.backward();
  EXPECT_TRUE(z.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(WeightedBceOp, WeightsMustHaveOneValuePerSample) {
  const Tensor z = Tensor::zeros({4, 1}), y = Tensor::zeros({4, 1});
  EXPECT_THROW(bce_with_logits(z, y, Tensor::zeros({3, 1})), InputError);
}

TEST(LabelWeightsOp, OneWeightPerLabel) {
  const Tensor y = Tensor::from_vector({5, 1}, {1, 0, 0, 1, 1});
  const Tensor w = label_weights(y, 1.9f, 0.67f);
  EXPECT_EQ(w.shape(), y.shape());
  EXPECT_EQ(w.to_vector(), (std::vector<float>{0.67f, 1.9f, 1.9f, 0.67f, 0.67f}));
}

}  // namespace
}  // namespace cxr
