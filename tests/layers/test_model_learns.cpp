// End-to-end sanity of the engine: a small conv net must learn a simple image rule quickly, one
// train_on_batch (layers/model.h) at a time.
#include <gtest/gtest.h>

#include <random>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "kernels/loss.h"
#include "layers/model.h"

namespace cxr {
namespace {

// Class 1 images carry a bright 3x3 blob somewhere in their upper half, class 0 in the lower
// half; both have the same mean brightness, so only spatial structure separates them.
void make_batch(std::mt19937& rng, int n, Tensor& x, Tensor& y) {
  std::vector<float> pixels(static_cast<size_t>(n) * 12 * 12, 0.0f), labels(n);
  std::uniform_int_distribution<int> coin(0, 1), col(0, 9), row(0, 3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  for (int i = 0; i < n; ++i) {
    labels[i] = static_cast<float>(coin(rng));
    const int r0 = row(rng) + (labels[i] > 0.5f ? 0 : 6), c0 = col(rng);
    float* img = pixels.data() + static_cast<size_t>(i) * 144;
    for (int p = 0; p < 144; ++p) img[p] = noise(rng);
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) img[(r0 + r) * 12 + c0 + c] += 1.0f;
  }
  x = Tensor::from_vector({n, 12, 12, 1}, pixels);
  y = Tensor::from_vector({n, 1}, labels);
}

TEST(ModelLearns, ConvNetSeparatesTwoSpatialClasses) {
  Model model = build_model(SpecNode::load_string(R"(
input: [12, 12, 1]
layers:
  - {type: Conv2D, filters: 8, kernel: 3}
  - {type: BatchNormalization}
  - {type: Activation, activation: relu}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: Flatten}
  - {type: Dropout, rate: 0.1}
  - {type: Dense, units: 16, activation: relu}
  - {type: Dense, units: 1, activation: sigmoid}
)",
                                                  "tiny.yaml"),
                            3);
  Adam adam(model.trainable_tensors(), {0.01f});
  std::mt19937 rng(5);
  Tensor x, y;
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 150; ++step) {
    make_batch(rng, 32, x, y);
    const float loss = train_on_batch(model, adam, x, y, {true, 7, static_cast<uint64_t>(step)}).item();
    if (step == 0) first_loss = loss;
    last_loss = loss;
  }
  EXPECT_EQ(adam.iterations(), 150);
  for (const Tensor& t : model.trainable_tensors()) EXPECT_FALSE(t.grad().defined()) << "zero_grad after each step";
  make_batch(rng, 400, x, y);
  NoGrad no_grad;
  const Tensor logits = model.forward_logits(x, {false, 0, 0});  // inference mode: moving statistics
  const std::vector<float> z = logits.to_vector(), t = y.to_vector();
  const double accuracy = static_cast<double>(kernels::cpu::binary_accuracy_count(400, z.data(), t.data())) / 400.0;
  EXPECT_LT(last_loss, 0.5 * first_loss);
  EXPECT_GT(accuracy, 0.95);
}

}  // namespace
}  // namespace cxr
