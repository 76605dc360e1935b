// Whole training steps of experiment 1's model (configs/experiment1.yaml: convolutions, batch norm,
// dropout, pooling, dense, BCE, Adam) on the GPU against the same steps on the CPU from the same
// seed, with each kernel choice; and the caching allocator's steady state over training steps.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>

#include "apps/experiment_config.h"
#include "engine/error.h"
#include "engine/optimizer.h"
#include "kernels/batchnorm.h"
#include "layers/model.h"
#include "tests/cuda/conformance.h"

namespace cxr::test {
namespace {

struct Steps {
  std::vector<float> losses;
  std::vector<std::vector<float>> first_gradients;  // every trainable tensor after the first backward
  std::vector<std::vector<float>> parameters;       // every parameter (moving statistics too) at the end
};

constexpr float kLearningRate = 1e-4f;  // large enough that the steps move the weights visibly

// Experiment 1's config; with custom_dropout, every Dropout layer says `kernels: custom`, so that a
// vendor run draws the CPU's masks (cuDNN's dropout has its own generator) and can be compared.
ExperimentConfig experiment1(bool custom_dropout) {
  std::ifstream file(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const std::string dropout = "type: Dropout,";
  int marked = 0;
  for (size_t at = text.find(dropout); custom_dropout && at != std::string::npos; at = text.find(dropout, at + 1)) {
    text.insert(at + dropout.size(), " kernels: custom,");
    ++marked;
  }
  EXPECT_TRUE(!custom_dropout || marked == 5) << marked << " Dropout layers marked";
  return parse_experiment_config(SpecNode::load_string(text, "experiment1.yaml"));
}

Steps train(Device device, KernelChoice choice, int steps, bool custom_dropout = true) {
  const ExperimentConfig config = experiment1(custom_dropout);
  Model model = build_model(config.model, config.train.seed);
  model.to(device);
  const KernelChoiceScope scope(choice);
  Adam adam(model.trainable_tensors(), AdamOptions{kLearningRate, 0.9f, 0.999f, 1e-7f});
  const Tensor x = random_tensor({8, 50, 50, 3}, 5, 0.0f, 5.1f).to(device);  // pixels x rescale 0.02
  std::vector<float> labels(8);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<float>(i % 2);
  const Tensor y = Tensor::from_vector({8, 1}, labels).to(device);
  Steps out;
  for (int step = 0; step < steps; ++step) {
    const ForwardContext context{true, config.train.seed, static_cast<uint64_t>(step)};
    Tensor loss = bce_with_logits(model.forward_logits(x, context), y);
    loss.backward();
    out.losses.push_back(loss.item());
    if (step == 0)
      for (Tensor& t : model.trainable_tensors()) out.first_gradients.push_back(t.grad().to_vector());
    adam.step();
    adam.zero_grad();
  }
  for (Parameter* p : model.parameters()) out.parameters.push_back(p->value.to_vector());
  return out;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float f : v) m = std::max(m, static_cast<double>(std::fabs(f)));
  return m;
}

class TrainingStep : public GpuTest {};

TEST_F(TrainingStep, Experiment1StepsOnGpuMatchTheCpu) {
  const int steps = 3;
  const Steps cpu = train(Device::cpu(), KernelChoice::Custom, steps);
  for (KernelChoice choice : {KernelChoice::Custom, KernelChoice::Vendor}) {
    SCOPED_TRACE(kernel_choice_name(choice));
    const Steps gpu = train(Device::cuda(0), choice, steps);
    expect_close(cpu.losses, gpu.losses, {1e-5, 1e-4}, "losses");
    ASSERT_EQ(cpu.first_gradients.size(), gpu.first_gradients.size());
    // Relative to the tensor's largest gradient, with a floor: a conv bias followed by batch norm has
    // a gradient of exactly zero in exact arithmetic (the norm subtracts the mean), so both devices
    // give rounding noise of ~1e-8 there, in any sign.
    for (size_t i = 0; i < cpu.first_gradients.size(); ++i)
      expect_close(cpu.first_gradients[i], gpu.first_gradients[i],
                   {std::max(1e-3 * max_abs(cpu.first_gradients[i]), 1e-6), 1e-3},
                   "gradient of trainable tensor " + std::to_string(i));
    // Adam moves every weight by about the learning rate whatever the gradient's size, so a gradient
    // near zero may flip sign between devices: allow that, and no more, per step.
    for (size_t i = 0; i < cpu.parameters.size(); ++i)
      expect_close(cpu.parameters[i], gpu.parameters[i], {2.0 * kLearningRate * steps, 1e-4},
                   "parameter " + std::to_string(i));
  }
}

// Experiment 1's three BatchNormalization -> Dropout -> relu sequences run as one op on the GPU
// (engine/ops.h's batch_norm_dropout_relu: the resident kernels with dropout-relu fused in), with the
// same losses, gradients and parameters, bit for bit, as the layers' kernels one after another
// (CXR_BATCHNORM_DROPOUT_RELU=0); under cuDNN the layers run apart.
TEST_F(TrainingStep, FusedBatchNormDropoutReluGivesTheLayersBits) {
  const bool allowed_before = kernels::cuda::batchnorm_dropout_relu();
  kernels::cuda::set_batchnorm_dropout_relu(false);
  const Steps apart = train(Device::cuda(0), KernelChoice::Custom, 3);
  kernels::cuda::set_batchnorm_dropout_relu(true);
  const Steps fused = train(Device::cuda(0), KernelChoice::Custom, 3);

  const ExperimentConfig config = experiment1(true);
  Model model = build_model(config.model, config.train.seed);
  model.to(Device::cuda(0));
  const Tensor x = random_tensor({2, 50, 50, 3}, 5, 0.0f, 5.1f).to(Device::cuda(0));
  const ForwardContext training{true, 1, 0};
  const auto last_op = [&] { return std::string(model.forward_range(0, 4, x, training).impl()->grad_fn->op); };
  EXPECT_EQ(last_op(), "batch_norm_dropout_relu");
  {
    const KernelChoiceScope vendor(KernelChoice::Vendor);
    EXPECT_EQ(last_op(), "relu");  // cuDNN's batch norm, the custom dropout its layer asks for, cuDNN's relu
  }
  kernels::cuda::set_batchnorm_dropout_relu(false);
  EXPECT_EQ(last_op(), "dropout_relu");
  kernels::cuda::set_batchnorm_dropout_relu(allowed_before);

  EXPECT_EQ(apart.losses, fused.losses);
  ASSERT_EQ(apart.first_gradients.size(), fused.first_gradients.size());
  for (size_t i = 0; i < apart.first_gradients.size(); ++i)
    EXPECT_EQ(apart.first_gradients[i], fused.first_gradients[i]) << "gradient of trainable tensor " << i;
  ASSERT_EQ(apart.parameters.size(), fused.parameters.size());
  for (size_t i = 0; i < apart.parameters.size(); ++i)
    EXPECT_EQ(apart.parameters[i], fused.parameters[i]) << "parameter " << i;
}

TEST_F(TrainingStep, SteadyStateStepsMakeNoCudaMalloc) {
  for (KernelChoice choice : {KernelChoice::Custom, KernelChoice::Vendor}) {
    SCOPED_TRACE(kernel_choice_name(choice));
    // cuDNN's own dropout too: its reserve space and states come from the cache.
    train(Device::cuda(0), choice, 3, false);  // warm-up: fills the cache, finds the cuDNN algorithms
    const auto before = kernels::cuda::allocator_stats();
    train(Device::cuda(0), choice, 4, false);
    const auto after = kernels::cuda::allocator_stats();
    EXPECT_EQ(after.cuda_malloc_calls, before.cuda_malloc_calls);
    EXPECT_EQ(after.cuda_free_calls, before.cuda_free_calls);
  }
}

// No GPU needed: the `kernels:` keys parse, and a bad value names the file and line.
TEST(KernelChoiceConfig, LayerAndTrainKeysParse) {
  const std::string model_yaml = R"(input: [8, 8, 3]
layers:
  - {type: Conv2D, filters: 2, kernel: 3, kernels: vendor}
  - {type: Dropout, rate: 0.5, kernels: custom}
  - {type: Flatten}
  - {type: Dense, units: 1, kernels: custom}
)";
  Model model = build_model(SpecNode::load_string(model_yaml, "k.yaml"), 1);
  EXPECT_EQ(model.layers.size(), 4u);
  EXPECT_THROW(parse_kernel_choice("cudnn"), InputError);
  std::string bad = model_yaml;
  bad.replace(bad.find("kernels: vendor"), 15, "kernels: cudnn");
  try {
    build_model(SpecNode::load_string(bad, "bad.yaml"), 1);
    FAIL() << "kernels: cudnn must be refused";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("custom or vendor"), std::string::npos) << e.what();
  }
  // train: {kernels: ...} in an experiment config, kept in the resolved config.
  std::ifstream file(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml");
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_NE(text.find("\ntrain:\n"), std::string::npos);
  text.replace(text.find("\ntrain:\n"), 8, "\ntrain:\n  kernels: vendor\n");
  const ExperimentConfig config = parse_experiment_config(SpecNode::load_string(text, "e.yaml"));
  EXPECT_EQ(config.train.kernels, "vendor");
  EXPECT_EQ(parse_experiment_config(SpecNode::load_string(resolved_yaml(config), "r.yaml")).train.kernels, "vendor");
}

TEST(KernelChoiceConfig, ScopesNestAndRestore) {
  EXPECT_EQ(current_kernel_choice(), KernelChoice::Custom);
  {
    const KernelChoiceScope outer(KernelChoice::Vendor);
    EXPECT_EQ(current_kernel_choice(), KernelChoice::Vendor);
    {
      const KernelChoiceScope keep(std::nullopt);
      EXPECT_EQ(current_kernel_choice(), KernelChoice::Vendor);
      const KernelChoiceScope inner(KernelChoice::Custom);
      EXPECT_EQ(current_kernel_choice(), KernelChoice::Custom);
    }
    EXPECT_EQ(current_kernel_choice(), KernelChoice::Vendor);
  }
  EXPECT_EQ(current_kernel_choice(), KernelChoice::Custom);
}

}  // namespace
}  // namespace cxr::test
