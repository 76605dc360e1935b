// CUDA graphs of work on the project's stream (kernels/cuda/graph.h): a captured training step of
// experiment 1's model, replayed, gives the eager step's loss and parameters bit for bit; a graph
// counts the launches it captured; work that waits for the device cannot be captured, says which call,
// and leaves the stream usable.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/experiment_config.h"
#include "engine/kernel_choice.h"
#include "engine/optimizer.h"
#include "kernels/cuda/graph.h"
#include "kernels/elementwise.h"
#include "layers/model.h"
#include "tests/cuda/conformance.h"

namespace cxr::test {
namespace {

class StreamGraph : public GpuTest {};

Model model_on_gpu(const ExperimentConfig& config) {
  Model model = build_model(config.model, config.train.seed);
  model.to(Device::cuda(0));
  return model;
}

// Experiment 1's model and Adam on the GPU, and one training step of it.
struct Trainee {
  ExperimentConfig config = load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml");
  Model model = model_on_gpu(config);
  Adam adam{model.trainable_tensors(), AdamOptions{1e-4f, 0.9f, 0.999f, 1e-7f}};

  Tensor step(const Tensor& x, const Tensor& y, uint64_t index) {
    return train_on_batch(model, adam, x, y, {true, config.train.seed, index});
  }

  std::vector<std::vector<float>> parameters() {
    std::vector<std::vector<float>> out;
    for (Parameter* p : model.parameters()) out.push_back(p->value.to_vector());
    return out;
  }
};

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST_F(StreamGraph, ReplayedTrainingStepIsTheEagerStep) {
  const KernelChoiceScope scope(KernelChoice::Custom);
  const Tensor x = random_tensor({8, 50, 50, 3}, 21, 0.0f, 5.1f).to(Device::cuda(0));
  std::vector<float> labels(8);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  const Tensor y = Tensor::from_vector({8, 1}, labels).to(Device::cuda(0));
  // Two models from one seed, two eager steps each: the same state, and a warm allocator cache.
  Trainee eager, graphed;
  for (uint64_t i = 0; i < 2; ++i) {
    eager.step(x, y, i);
    graphed.step(x, y, i);
  }
  const float eager_loss = eager.step(x, y, 2).item();
  Tensor graph_loss;
  const kernels::cuda::StreamGraph graph([&] { graph_loss = graphed.step(x, y, 2); });
  // Nothing ran during the capture: the weights are still the second step's.
  EXPECT_FALSE(same_bits(graphed.parameters()[0], eager.parameters()[0]));
  graph.replay();
  const float replayed_loss = graph_loss.item();
  EXPECT_EQ(std::memcmp(&eager_loss, &replayed_loss, sizeof(float)), 0) << eager_loss << " vs " << replayed_loss;
  const auto want = eager.parameters(), got = graphed.parameters();
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(same_bits(want[i], got[i])) << "parameter " << i;
}

// nodes() counts what the captured work queued (bench_e2e divides the launched step's host time by it).
TEST_F(StreamGraph, CountsTheLaunchesItCaptured) {
  Tensor a = Tensor::full({1000}, 2.0f, Device::cuda(0), "a");
  float* p = a.data();
  const kernels::cuda::StreamGraph graph([&] {
    kernels::cuda::fill(1000, 1.0f, p);
    kernels::cuda::scale(1000, 3.0f, p, p);
    kernels::cuda::scale(1000, 0.5f, p, p);
  });
  EXPECT_EQ(graph.nodes(), 3u);
  EXPECT_EQ(a.to_vector().front(), 2.0f);  // captured, not run
  graph.replay();
  EXPECT_EQ(a.to_vector().front(), 1.5f);
}

TEST_F(StreamGraph, WorkThatWaitsForTheDeviceIsRefusedAndTheStreamStaysUsable) {
  const Tensor a = Tensor::full({1000}, 2.0f, Device::cuda(0), "a");
  try {
    const kernels::cuda::StreamGraph graph([&] { kernels::cuda::synchronize(); });
    FAIL() << "a capture that synchronises must throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaStreamSynchronize"), std::string::npos) << e.what();
  }
  // The stream takes ordinary work again.
  const Tensor b = Tensor::full({1000}, 3.0f, Device::cuda(0), "b");
  EXPECT_EQ(b.to_vector().back(), 3.0f);
  EXPECT_EQ(a.to_vector().front(), 2.0f);
}

}  // namespace
}  // namespace cxr::test
