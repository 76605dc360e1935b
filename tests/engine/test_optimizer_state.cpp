// The optimizer state a schedule and a resume set: a new learning rate applies from the next step
// exactly as if the optimizer had been built with it, and restored iterations key Adam's bias
// correction as the steps taken would have.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "engine/optimizer.h"
#include "kernels/optim.h"

namespace cxr {
namespace {

// d(sum(p * c))/dp = c: a known gradient on p.
void set_gradient(Tensor& p, const std::vector<float>& c) {
  Tensor coefficients = Tensor::from_vector(p.shape(), c);
  sum(mul(p, coefficients)).backward();
}

Tensor parameter(const std::vector<float>& values) {
  Tensor p = Tensor::from_vector({static_cast<int64_t>(values.size())}, values);
  p.set_requires_grad(true);
  return p;
}

const std::vector<float> kStart{0.5f, -1.25f, 2.0f, 0.0f};
const std::vector<float> kGrad{0.3f, -0.7f, 1e-3f, 4.0f};

TEST(OptimizerState, AdamRateChangeEqualsAnAdamBuiltWithIt) {
  Tensor a = parameter(kStart), b = parameter(kStart);
  Adam built({a}, AdamOptions{0.01f, 0.9f, 0.999f, 1e-7f});
  Adam changed({b}, AdamOptions{0.5f, 0.9f, 0.999f, 1e-7f});
  EXPECT_EQ(changed.learning_rate(), 0.5f);
  changed.set_learning_rate(0.01f);
  EXPECT_EQ(changed.learning_rate(), 0.01f);
  for (int step = 0; step < 3; ++step) {
    set_gradient(a, kGrad);
    set_gradient(b, kGrad);
    built.step();
    changed.step();
    built.zero_grad();
    changed.zero_grad();
  }
  EXPECT_EQ(a.to_vector(), b.to_vector());
  EXPECT_NE(a.to_vector(), kStart);
}

TEST(OptimizerState, RestoredIterationsKeyTheBiasCorrection) {
  Tensor p = parameter(kStart);
  Adam adam({p}, AdamOptions{0.01f, 0.9f, 0.999f, 1e-7f});
  adam.set_iterations(41);
  set_gradient(p, kGrad);
  adam.step();
  EXPECT_EQ(adam.iterations(), 42);
  // The same update by the kernel at t = 42 (moments start at zero in both).
  std::vector<float> expected = kStart, m(4, 0.0f), v(4, 0.0f);
  kernels::cpu::adam_update(4, kernels::AdamParams{0.01f, 0.9f, 0.999f, 1e-7f}, 42, expected.data(), kGrad.data(),
                            m.data(), v.data());
  EXPECT_EQ(p.to_vector(), expected);
  std::vector<float> at_t1 = kStart, m1(4, 0.0f), v1(4, 0.0f);
  kernels::cpu::adam_update(4, kernels::AdamParams{0.01f, 0.9f, 0.999f, 1e-7f}, 1, at_t1.data(), kGrad.data(),
                            m1.data(), v1.data());
  EXPECT_NE(expected, at_t1);  // t matters: the test would notice iterations being ignored
}

TEST(OptimizerState, SgdRateChange) {
  Tensor p = parameter(kStart);
  SGD sgd({p}, 1.0f);
  sgd.set_learning_rate(0.25f);
  EXPECT_EQ(sgd.learning_rate(), 0.25f);
  set_gradient(p, kGrad);
  sgd.step();
  for (size_t i = 0; i < kStart.size(); ++i) EXPECT_EQ(p.to_vector()[i], kStart[i] - 0.25f * kGrad[i]);
  EXPECT_EQ(sgd.iterations(), 1);
}

}  // namespace
}  // namespace cxr
