// A numeric gradient check for every op's backward (central differences, kinks avoided).
#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "gradcheck.h"

namespace cxr {
namespace {

using testing::expect_gradients_match;
using testing::kink_free_tensor;
using testing::random_tensor;

Tensor grad_input(Tensor t) { return t.set_requires_grad(true); }

TEST(Gradients, AddMulScale) {
  expect_gradients_match([](const auto& in) { return add(in[0], in[1]); },
                         {grad_input(random_tensor({3, 4}, 1)), grad_input(random_tensor({3, 4}, 2))});
  expect_gradients_match([](const auto& in) { return mul(in[0], in[1]); },
                         {grad_input(random_tensor({3, 4}, 3)), grad_input(random_tensor({3, 4}, 4))});
  expect_gradients_match([](const auto& in) { return scale(in[0], -2.5f); }, {grad_input(random_tensor({5}, 5))});
}

TEST(Gradients, ReluAwayFromTheKink) {
  expect_gradients_match([](const auto& in) { return relu(in[0]); }, {grad_input(kink_free_tensor({2, 3, 3, 2}, 6))});
}

TEST(Gradients, Sigmoid) {
  expect_gradients_match([](const auto& in) { return sigmoid(in[0]); },
                         {grad_input(random_tensor({4, 5}, 7, -4.0f, 4.0f))});
}

TEST(Gradients, Conv2dValidStride1WithBias) {
  expect_gradients_match([](const auto& in) { return conv2d(in[0], in[1], in[2], 1, 1, false); },
                         {grad_input(random_tensor({2, 6, 5, 3}, 8)), grad_input(random_tensor({4, 3, 2, 3}, 9)),
                          grad_input(random_tensor({4}, 10))});
}

TEST(Gradients, Conv2dSameStride2NoBias) {
  expect_gradients_match([](const auto& in) { return conv2d(in[0], in[1], Tensor(), 2, 2, true); },
                         {grad_input(random_tensor({2, 7, 6, 2}, 11)), grad_input(random_tensor({3, 3, 3, 2}, 12))});
}

TEST(Gradients, Dense) {
  expect_gradients_match([](const auto& in) { return dense(in[0], in[1], in[2]); },
                         {grad_input(random_tensor({3, 5}, 13)), grad_input(random_tensor({5, 4}, 14)),
                          grad_input(random_tensor({4}, 15))});
}

TEST(Gradients, MaxPoolAwayFromTies) {
  expect_gradients_match([](const auto& in) { return max_pool2d(in[0], 2, 2, 2, 2, false); },
                         {grad_input(kink_free_tensor({2, 5, 5, 3}, 16))});
  expect_gradients_match([](const auto& in) { return max_pool2d(in[0], 3, 3, 2, 2, true); },
                         {grad_input(kink_free_tensor({1, 6, 5, 2}, 17))});
}

TEST(Gradients, BatchNormTrainingThroughBatchStatistics) {
  Tensor moving_mean = Tensor::zeros({3}), moving_var = Tensor::full({3}, 1.0f);
  expect_gradients_match(
      [&](const auto& in) {
        return batch_norm(in[0], in[1], in[2], moving_mean, moving_var, {true, 0.99f, 1e-3f});
      },
      {grad_input(random_tensor({2, 3, 2, 3}, 18)), grad_input(random_tensor({3}, 19, 0.5f, 1.5f)),
       grad_input(random_tensor({3}, 20))},
      1e-2f, 5e-3, 2e-2);
}

TEST(Gradients, BatchNormInference) {
  Tensor moving_mean = random_tensor({4}, 21), moving_var = random_tensor({4}, 22, 0.5f, 2.0f);
  expect_gradients_match(
      [&](const auto& in) {
        return batch_norm(in[0], in[1], in[2], moving_mean, moving_var, {false, 0.99f, 1e-3f});
      },
      {grad_input(random_tensor({3, 4}, 23)), grad_input(random_tensor({4}, 24)), grad_input(random_tensor({4}, 25))});
}

TEST(Gradients, DropoutWithAFixedMask) {
  expect_gradients_match([](const auto& in) { return dropout(in[0], 0.4f, 99, 7); },
                         {grad_input(random_tensor({4, 6}, 26))});
}

TEST(Gradients, DropoutThenReluAsOneOp) {
  expect_gradients_match([](const auto& in) { return dropout_relu(in[0], 0.4f, 99, 7); },
                         {grad_input(kink_free_tensor({4, 6}, 40))});
}

// The fused op gives the two ops' values and gradients bit for bit, NaN and infinity included in x
// (a dropped infinity is NaN, and relu keeps NaN, in both) and in the incoming gradient, and
// records one node.
TEST(Gradients, DropoutThenReluGivesTheTwoOpsBits) {
  std::vector<float> values = random_tensor({997}, 41).to_vector();
  values[3] = std::numeric_limits<float>::infinity();
  values[10] = -std::numeric_limits<float>::infinity();
  values[17] = std::numeric_limits<float>::quiet_NaN();
  values[20] = 0.0f;
  values[21] = -0.0f;
  std::vector<float> upstream = random_tensor({997}, 42).to_vector();
  upstream[3] = std::numeric_limits<float>::infinity();  // where x is infinite: kept or dropped
  upstream[30] = std::numeric_limits<float>::quiet_NaN();
  upstream[31] = -std::numeric_limits<float>::infinity();
  const Tensor dy = Tensor::from_vector({997}, upstream);
  for (float rate : {0.0f, 0.3f, 0.9f}) {
    std::vector<std::vector<float>> outputs, gradients;
    for (bool fused : {true, false}) {
      Tensor x = Tensor::from_vector({997}, values);
      x.set_requires_grad(true);
      const Tensor y = fused ? dropout_relu(x, rate, 5, 11) : relu(dropout(x, rate, 5, 11));
      if (fused && rate > 0.0f) {
        EXPECT_STREQ(y.impl()->grad_fn->op, "dropout_relu");
      }
      sum(mul(y, dy)).backward();
      outputs.push_back(y.to_vector());
      gradients.push_back(x.grad().to_vector());
    }
    const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    EXPECT_TRUE(same_bits(outputs[0], outputs[1])) << "rate " << rate;
    EXPECT_TRUE(same_bits(gradients[0], gradients[1])) << "rate " << rate;
  }
  EXPECT_THROW(dropout_relu(Tensor::from_vector({1}, {1.0f}), 1.0f, 5, 11), InputError);
}

// Per channel, a permutation of +-0.1 (c + 1) {1, ..., 6}: mean 0 and every normalised value at least
// 0.26 from 0, so with |beta| <= 0.05 the relu's kink stays out of the finite differences' reach.
Tensor normalises_away_from_zero(uint32_t seed) {
  std::vector<float> v(2 * 3 * 2 * 3);
  for (int c = 0; c < 3; ++c) {
    std::vector<float> column;
    for (int k = 1; k <= 6; ++k)
      for (float sign : {1.0f, -1.0f}) column.push_back(sign * 0.1f * static_cast<float>((c + 1) * k));
    std::shuffle(column.begin(), column.end(), std::mt19937(seed + c));
    for (int m = 0; m < 12; ++m) v[m * 3 + c] = column[m];
  }
  return Tensor::from_vector({2, 3, 2, 3}, v);
}

TEST(Gradients, BatchNormThenDropoutThenReluAsOneOp) {
  Tensor moving_mean = Tensor::zeros({3}), moving_var = Tensor::full({3}, 1.0f);
  expect_gradients_match(
      [&](const auto& in) {
        return batch_norm_dropout_relu(in[0], in[1], in[2], moving_mean, moving_var, {true, 0.99f, 1e-3f},
                                       {0.4f, 99, 7});
      },
      {grad_input(normalises_away_from_zero(43)), grad_input(random_tensor({3}, 44, 0.5f, 1.5f)),
       grad_input(random_tensor({3}, 45, -0.05f, 0.05f))},
      1e-2f, 5e-3, 2e-2);
}

// The fused op gives the three ops' values, moving statistics and gradients bit for bit: shapes
// whose rows do and do not line up with dropout's 1,024-element blocks (C = 3, 100, and rows longer
// than a block, C = 1500), 2-D input (the biased variance), rates 0.2 and 0.9 (rate 0 runs the two
// ops themselves), a NaN and infinities in the incoming gradient.
TEST(Gradients, BatchNormThenDropoutThenReluGivesTheThreeOpsBits) {
  const auto same_bits = [](const Tensor& a, const Tensor& b) {
    const std::vector<float> u = a.to_vector(), v = b.to_vector();
    return u.size() == v.size() && std::memcmp(u.data(), v.data(), u.size() * sizeof(float)) == 0;
  };
  for (const Shape& shape :
       {Shape{2, 5, 5, 3}, Shape{4, 9, 9, 64}, Shape{3, 7, 7, 100}, Shape{37, 24}, Shape{3, 1500}}) {
    const int64_t C = shape.back();
    std::vector<float> upstream = random_tensor(shape, 46).to_vector();
    upstream[1] = std::numeric_limits<float>::infinity();
    upstream[upstream.size() / 2] = std::numeric_limits<float>::quiet_NaN();
    upstream.back() = -std::numeric_limits<float>::infinity();
    const Tensor dy = Tensor::from_vector(shape, upstream);
    for (float rate : {0.2f, 0.9f}) {
      const std::string label = shape_str(shape) + " rate " + std::to_string(rate);
      std::vector<Tensor> results[2];
      for (bool fused : {true, false}) {
        std::vector<Tensor> in{random_tensor(shape, 47, -2.0f, 3.0f), random_tensor({C}, 48, 0.5f, 1.5f),
                               random_tensor({C}, 49)};
        for (Tensor& t : in) t.set_requires_grad(true);
        Tensor moving_mean = random_tensor({C}, 50), moving_var = random_tensor({C}, 51, 0.5f, 2.0f);
        const BatchNormOptions options{true, 0.9f, 1e-3f};
        const Tensor y =
            fused ? batch_norm_dropout_relu(in[0], in[1], in[2], moving_mean, moving_var, options, {rate, 5, 11})
                  : dropout_relu(batch_norm(in[0], in[1], in[2], moving_mean, moving_var, options), rate, 5, 11);
        if (fused) {
          EXPECT_STREQ(y.impl()->grad_fn->op, "batch_norm_dropout_relu") << label;
        }
        sum(mul(y, dy)).backward();
        results[fused ? 0 : 1] = {y, moving_mean, moving_var, in[0].grad(), in[1].grad(), in[2].grad()};
      }
      const char* names[] = {"y", "moving mean", "moving variance", "dx", "dgamma", "dbeta"};
      for (int k = 0; k < 6; ++k) EXPECT_TRUE(same_bits(results[0][k], results[1][k])) << label << ": " << names[k];
    }
  }
  Tensor mean = Tensor::zeros({1}), var = Tensor::full({1}, 1.0f);
  EXPECT_THROW(batch_norm_dropout_relu(Tensor::from_vector({2, 1}, {1.0f, 2.0f}), Tensor::full({1}, 1.0f),
                                       Tensor::zeros({1}), mean, var, {true}, {1.0f, 5, 11}),
               InputError);
}

TEST(Gradients, FlattenAndReshape) {
  expect_gradients_match([](const auto& in) { return flatten(in[0]); }, {grad_input(random_tensor({2, 3, 2, 2}, 27))});
}

TEST(Gradients, BinaryCrossEntropyOnLogits) {
  const Tensor targets = Tensor::from_vector({6, 1}, {0, 1, 1, 0, 1, 0});
  expect_gradients_match([&](const auto& in) { return bce_with_logits(in[0], targets); },
                         {grad_input(random_tensor({6, 1}, 28, -3.0f, 3.0f))});
}

TEST(Gradients, SumAndMean) {
  expect_gradients_match([](const auto& in) { return mean(in[0]); }, {grad_input(random_tensor({3, 3}, 29))});
}

}  // namespace
}  // namespace cxr
