// The CPU convolution's packed weights, kept on the weights' storage for weights that do not train
// (engine/ops/conv2d.cpp): a forward with them gives the bits of one that packs on the call, and
// any write to the weights (through Tensor::data(), the only writable pointer) makes the next
// forward pack them again, so a kept copy is never used stale.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/storage.h"
#include "engine/tensor.h"
#include "kernels/conv2d.h"

namespace cxr {
namespace {

std::vector<float> values(int64_t n, float scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = scale * static_cast<float>((i * 37 + 11) % 101) / 101.0f - 0.4f;
  return v;
}

// conv2d_forward on the raw weights: what every forward must equal.
std::vector<float> reference(const Tensor& x, const Tensor& w, const Tensor& b, int stride) {
  const kernels::Conv2dShape s = kernels::make_conv2d_shape(
      static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2)), static_cast<int>(x.dim(3)),
      static_cast<int>(w.dim(0)), static_cast<int>(w.dim(1)), static_cast<int>(w.dim(2)), stride, stride, false);
  std::vector<float> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.K);
  kernels::cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
  return y;
}

void expect_same_bits(const Tensor& y, const std::vector<float>& ref, const char* what) {
  const std::vector<float> got = y.to_vector();
  ASSERT_EQ(got.size(), ref.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(std::memcmp(&got[i], &ref[i], sizeof(float)), 0) << what << ", element " << i << ": " << got[i]
                                                                << " against " << ref[i];
}

// Experiment 4's case: a frozen layer. Small weights (one panel layout) and large ones (> 262,144
// weights: the block-major layout), each changed three ways between forwards.
TEST(KeptPackedWeights, FrozenWeightsPackOnceAndAgainAfterEveryWrite) {
  struct Case {
    int H, C, K, R, stride;
  };
  for (const Case c : {Case{9, 8, 16, 3, 1}, Case{7, 72, 1024, 3, 1}, Case{6, 1024, 512, 1, 1}}) {
    SCOPED_TRACE("K " + std::to_string(c.K) + ", taps " + std::to_string(c.R * c.R * c.C));
    const Tensor x = Tensor::from_vector({2, c.H, c.H, c.C}, values(2 * c.H * c.H * c.C, 1.0f));
    Tensor w = Tensor::from_vector({c.K, c.R, c.R, c.C}, values(int64_t{c.K} * c.R * c.R * c.C, 0.1f), Device::cpu(),
                                   "frozen/kernel");
    const Tensor b = Tensor::from_vector({c.K}, values(c.K, 0.5f));
    Storage& storage = *w.impl()->storage;

    expect_same_bits(conv2d(x, w, b, c.stride, c.stride, false), reference(x, w, b, c.stride), "first forward");
    ASSERT_TRUE(storage.derived().data) << "a frozen layer's forward keeps its packed weights";
    const Storage* kept = storage.derived().data.get();
    expect_same_bits(conv2d(x, w, b, c.stride, c.stride, false), reference(x, w, b, c.stride), "second forward");
    EXPECT_EQ(storage.derived().data.get(), kept) << "unchanged weights are not packed again";

    // Three writes: a fill, a copy from another tensor, and a write through the pointer.
    const std::vector<float> before = conv2d(x, w, b, c.stride, c.stride, false).to_vector();
    w.fill_(0.01f);
    expect_same_bits(conv2d(x, w, b, c.stride, c.stride, false), reference(x, w, b, c.stride), "after fill_");
    w.copy_from(Tensor::from_vector(w.shape(), values(w.numel(), -0.2f)));
    expect_same_bits(conv2d(x, w, b, c.stride, c.stride, false), reference(x, w, b, c.stride), "after copy_from");
    w.data()[0] += 1.0f;
    const std::vector<float> ref = reference(x, w, b, c.stride);
    expect_same_bits(conv2d(x, w, b, c.stride, c.stride, false), ref, "after a write through data()");
    EXPECT_NE(ref, before) << "the writes change the output (else this test could not see a stale copy)";
  }
}

// Weights that train change every step: nothing is kept while gradients are recorded, and a copy
// kept in an evaluation (NoGrad) is let go at the next training forward. The optimizer writes
// through data(), so a training step after an evaluation never meets the evaluation's copy.
TEST(KeptPackedWeights, TrainingWeightsKeepNothingOutsideEvaluation) {
  const Tensor x = Tensor::from_vector({2, 9, 9, 8}, values(2 * 9 * 9 * 8, 1.0f));
  Tensor w = Tensor::from_vector({16, 3, 3, 8}, values(16 * 3 * 3 * 8, 0.1f));
  w.set_requires_grad(true);
  const Tensor b = Tensor::from_vector({16}, values(16, 0.5f));
  Storage& storage = *w.impl()->storage;
  conv2d(x, w, b, 1, 1, false);
  EXPECT_FALSE(storage.derived().data) << "a training forward keeps nothing";
  {
    NoGrad evaluation;
    expect_same_bits(conv2d(x, w, b, 1, 1, false), reference(x, w, b, 1), "evaluation");
    EXPECT_TRUE(storage.derived().data) << "an evaluation keeps the packed weights for its next batches";
  }
  w.data()[3] -= 0.5f;  // an optimizer's step
  expect_same_bits(conv2d(x, w, b, 1, 1, false), reference(x, w, b, 1), "training forward after the step");
  EXPECT_FALSE(storage.derived().data) << "the training forward let the evaluation's copy go";
  const TensorBytes bytes = cpu_tensor_bytes();
  {
    NoGrad evaluation;
    conv2d(x, w, b, 1, 1, false);
    EXPECT_GT(cpu_tensor_bytes().in_use, bytes.in_use) << "a kept copy counts as tensor memory";
  }
}

// A padded layer's forward goes through im2col, which packs nothing: nothing is kept.
TEST(KeptPackedWeights, PaddedLayersKeepNothing) {
  const Tensor x = Tensor::from_vector({1, 6, 6, 3}, values(6 * 6 * 3, 1.0f));
  const Tensor w = Tensor::from_vector({8, 3, 3, 3}, values(8 * 27, 0.1f));
  conv2d(x, w, Tensor(), 1, 1, true);
  EXPECT_FALSE(w.impl()->storage->derived().data);
}

}  // namespace
}  // namespace cxr
