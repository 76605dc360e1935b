// Class-weighted binary cross-entropy on CUDA against the CPU (kernels/cuda/loss.cu): the weighted
// loss and its gradient, the label -> weight gather (exact), and that unit weights change nothing.
#include "tests/cuda/conformance.h"

namespace cxr::test {
namespace {

class WeightedLoss : public GpuTest {};

Tensor binary_labels(int n, uint32_t seed) {
  std::vector<float> labels = random_floats(n, seed, 0.0f, 1.0f);
  for (float& l : labels) l = l > 0.5f ? 1.0f : 0.0f;
  return Tensor::from_vector({n, 1}, labels);
}

TEST_F(WeightedLoss, WeightedBceMatchesTheCpu) {
  for (int n : {1, 7, 32, 1000}) {
    const Tensor z = random_tensor({n, 1}, 80, -30.0f, 30.0f);
    const Tensor y = binary_labels(n, 81);
    const Tensor w = random_tensor({n, 1}, 82, 0.1f, 3.0f);
    // Both devices compute in double; only exp/log1p rounding differs (as the unweighted check).
    check_op(
        "weighted bce_with_logits n=" + std::to_string(n), {z, y, w}, {true, false, false},
        [](std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1], in[2]); }, {1e-6, 1e-6}, {1e-7, 1e-6});
  }
}

TEST_F(WeightedLoss, LabelWeightsAreExact) {
  for (int n : {1, 255, 257, 5000}) {
    check_op(
        "label_weights n=" + std::to_string(n), {binary_labels(n, 83)}, {false},
        [](std::vector<Tensor>& in) { return label_weights(in[0], 1.9447f, 0.673f); }, {}, {});
  }
}

TEST_F(WeightedLoss, UnitWeightsGiveTheUnweightedLossBitForBit) {
  const int n = 100;
  const Tensor y = binary_labels(n, 84).to(Device::cuda(0));
  const Tensor ones = Tensor::full({n, 1}, 1.0f, Device::cuda(0));
  std::vector<std::vector<float>> runs;
  for (bool weighted : {false, true}) {
    Tensor z = random_tensor({n, 1}, 85, -5.0f, 5.0f).to(Device::cuda(0));
    z.set_requires_grad(true);
    Tensor loss = weighted ? bce_with_logits(z, y, ones) : bce_with_logits(z, y);
    loss.backward();
    std::vector<float> values = loss.to_vector();
    for (float g : z.grad().to_vector()) values.push_back(g);
    runs.push_back(values);
  }
  expect_close(runs[0], runs[1], {}, "unit weights vs none (loss, then gradient)");
}

}  // namespace
}  // namespace cxr::test
