// A batch of no rows through a Dense layer and an inference-mode batch norm, forward and backward,
// on `device`: the parameter gradients are sums over nothing, 0. Shared by the CPU test
// (tests/engine/test_empty_batch.cpp) and the CUDA one (tests/cuda/engine_ops_parity_test.cpp).
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace cxr::testing {

inline void expect_zero_parameter_gradients_of_an_empty_batch(Device device, const std::string& what) {
  Tensor x = Tensor::zeros({0, 5}, device, "empty_batch");
  Tensor w = Tensor::full({5, 3}, 0.5f, device, "kernel").set_requires_grad(true);
  Tensor b = Tensor::full({3}, 0.25f, device, "bias").set_requires_grad(true);
  Tensor y = dense(x, w, b);
  EXPECT_EQ(y.shape(), (Shape{0, 3})) << what;
  Tensor gamma = Tensor::full({3}, 2.0f, device, "gamma").set_requires_grad(true);
  Tensor beta = Tensor::full({3}, 1.0f, device, "beta").set_requires_grad(true);
  Tensor moving_mean = Tensor::zeros({3}, device), moving_var = Tensor::full({3}, 1.0f, device);
  sum(batch_norm(y, gamma, beta, moving_mean, moving_var, BatchNormOptions{})).backward();
  for (const auto& [name, grad] : {std::pair<const char*, Tensor>{"dense kernel", w.grad()}, {"dense bias", b.grad()},
                                   {"gamma", gamma.grad()}, {"beta", beta.grad()}}) {
    ASSERT_TRUE(grad.defined()) << what << ": " << name;
    for (float g : grad.to_vector()) EXPECT_EQ(g, 0.0f) << what << ": " << name;
  }
}

}  // namespace cxr::testing
