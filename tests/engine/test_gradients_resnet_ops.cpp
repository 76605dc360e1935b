// The ops ResNet50V2 adds (facts §1): ZeroPadding2D with unequal sides, GlobalAveragePooling2D,
// the residual add, the 1x1 stride-2 max-pool shortcut and Conv2D without a bias. Forward values
// against hand-computed ones, then a numeric gradient check of each backward.
#include "engine/ops.h"
#include "gradcheck.h"

namespace cxr {
namespace {

using testing::expect_gradients_match;
using testing::kink_free_tensor;
using testing::random_tensor;

Tensor grad_input(Tensor t) { return t.set_requires_grad(true); }

// x[n][h][w][c] = 1000n + 100h + 10w + c + 1: every value names its position (none is 0).
Tensor positional(int N, int H, int W, int C) {
  std::vector<float> v;
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w)
        for (int c = 0; c < C; ++c) v.push_back(1000.0f * n + 100.0f * h + 10.0f * w + c + 1);
  return Tensor::from_vector({N, H, W, C}, v);
}

TEST(ResNetOps, ZeroPadPutsZerosOnEachSideAsAsked) {
  const Tensor x = positional(2, 2, 3, 2);
  const Tensor y = zero_pad2d(x, 1, 2, 0, 1);  // top 1, bottom 2, left 0, right 1
  ASSERT_EQ(y.shape(), (Shape{2, 5, 4, 2}));
  const std::vector<float> v = y.to_vector();
  for (int n = 0; n < 2; ++n)
    for (int oh = 0; oh < 5; ++oh)
      for (int ow = 0; ow < 4; ++ow)
        for (int c = 0; c < 2; ++c) {
          const int h = oh - 1, w = ow;
          const float want = (h >= 0 && h < 2 && w < 3) ? 1000.0f * n + 100.0f * h + 10.0f * w + c + 1 : 0.0f;
          ASSERT_EQ(v[((n * 5 + oh) * 4 + ow) * 2 + c], want) << n << " " << oh << " " << ow << " " << c;
        }
}

TEST(ResNetOps, ZeroPadGradient) {
  expect_gradients_match([](const auto& in) { return zero_pad2d(in[0], 2, 0, 1, 3); },
                         {grad_input(random_tensor({2, 3, 2, 3}, 31))});
}

TEST(ResNetOps, GlobalAveragePoolIsThePerChannelMean) {
  const Tensor y = global_avg_pool2d(positional(2, 2, 3, 2));
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  // mean over h in {0,1}, w in {0,1,2} of 100h + 10w = 50 + 10; plus 1000n + c + 1.
  EXPECT_EQ(y.to_vector(), (std::vector<float>{61, 62, 1061, 1062}));
  expect_gradients_match([](const auto& in) { return global_avg_pool2d(in[0]); },
                         {grad_input(random_tensor({3, 2, 4, 5}, 32))});
}

TEST(ResNetOps, MaxPoolOneByOneStrideTwoTakesEveryOtherPixel) {
  // Keras's shortcut MaxPooling2D(1, strides=2): x[::2, ::2], ceil(H/2) even for odd sizes.
  const Tensor x = positional(1, 5, 4, 3);
  const Tensor y = max_pool2d(x, 1, 1, 2, 2, false);
  ASSERT_EQ(y.shape(), (Shape{1, 3, 2, 3}));
  std::vector<float> want;
  for (int h = 0; h < 5; h += 2)
    for (int w = 0; w < 4; w += 2)
      for (int c = 0; c < 3; ++c) want.push_back(100.0f * h + 10.0f * w + c + 1);
  EXPECT_EQ(y.to_vector(), want);
  expect_gradients_match([](const auto& in) { return max_pool2d(in[0], 1, 1, 2, 2, false); },
                         {grad_input(random_tensor({2, 5, 5, 2}, 33))});
}

TEST(ResNetOps, ConvWithoutBiasOneByOneAndPaddedThreeByThreeStrideTwo) {
  // _1_conv (1x1, no bias) and _2_pad + _2_conv (3x3 'valid' stride 2, no bias) of a stride block.
  expect_gradients_match([](const auto& in) { return conv2d(in[0], in[1], Tensor(), 1, 1, false); },
                         {grad_input(random_tensor({2, 3, 3, 4}, 34)), grad_input(random_tensor({5, 1, 1, 4}, 35))});
  expect_gradients_match(
      [](const auto& in) { return conv2d(zero_pad2d(in[0], 1, 1, 1, 1), in[1], Tensor(), 2, 2, false); },
      {grad_input(random_tensor({2, 5, 5, 2}, 36)), grad_input(random_tensor({3, 3, 3, 2}, 37))});
  // 1x1 conv without bias equals the per-pixel matrix product.
  const Tensor x = Tensor::from_vector({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor w = Tensor::from_vector({3, 1, 1, 2}, {1, 0, 0, 1, 1, 1});
  EXPECT_EQ(conv2d(x, w, Tensor(), 1, 1, false).to_vector(), (std::vector<float>{1, 2, 3, 3, 4, 7}));
}

TEST(ResNetOps, ResidualAddSendsTheGradientDownBothBranches) {
  // out = shortcut(x) + conv(relu(x)): x receives the sum of both branches' gradients.
  expect_gradients_match(
      [](const auto& in) {
        return add(max_pool2d(in[0], 1, 1, 2, 2, false), conv2d(relu(in[0]), in[1], Tensor(), 2, 2, false));
      },
      {grad_input(kink_free_tensor({1, 4, 4, 2}, 38)), grad_input(random_tensor({2, 1, 1, 2}, 39))});
}

}  // namespace
}  // namespace cxr
