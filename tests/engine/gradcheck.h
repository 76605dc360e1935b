// Central-difference gradient checking for engine ops.
//
// The loss is sum(op(inputs) * R) with a fixed random R, so every output element gets a distinct
// weight and a wrong index in a backward pass cannot cancel out.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace cxr::testing {

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(shape, v);
}

// Values whose magnitude is at least `gap` and whose pairwise differences exceed `gap`, so neither
// ReLU's kink at 0 nor a max-pool tie lies within a finite-difference step.
inline Tensor kink_free_tensor(const Shape& shape, uint32_t seed, float gap = 0.05f) {
  const int64_t n = numel_of(shape);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = (static_cast<float>(i) - n / 2.0f + 0.5f) * gap * 2.0f;  // distinct, none near 0
  std::shuffle(v.begin(), v.end(), std::mt19937(seed));
  return Tensor::from_vector(shape, v);
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(inputs) * R))/d(input) against central differences for every input that
// requires grad. Tolerance: |analytic - numeric| <= atol + rtol * |numeric|.
inline void expect_gradients_match(const OpFn& f, std::vector<Tensor> inputs, float step = 1e-2f, double atol = 2e-3,
                                   double rtol = 1e-2) {
  Tensor probe = f(inputs);
  const Tensor weights = random_tensor(probe.shape(), 1234);
  auto loss_of = [&](const std::vector<Tensor>& in) { return sum(mul(f(in), weights)); };

  for (Tensor& t : inputs) t.zero_grad();
  loss_of(inputs).backward();

  NoGrad no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    ASSERT_TRUE(x.grad().defined()) << "input " << k << " got no gradient";
    const std::vector<float> analytic = x.grad().to_vector();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float saved = x.data()[i];
      x.data()[i] = saved + step;
      const double plus = loss_of(inputs).item();
      x.data()[i] = saved - step;
      const double minus = loss_of(inputs).item();
      x.data()[i] = saved;
      const double numeric = (plus - minus) / (2.0 * step);
      ASSERT_NEAR(analytic[i], numeric, atol + rtol * std::fabs(numeric)) << "input " << k << ", element " << i;
    }
  }
}

}  // namespace cxr::testing
