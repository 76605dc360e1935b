// ResNet50V2 as a nested layer: Keras's parameter counts and names, the golden forward pass
// against real Keras (tools/fixtures/make_resnet_fixture.py), freezing and BatchNorm modes, and
// experiment 4's model as the notebook froze it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>

#include "config_error.h"
#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "layers/model.h"
#include "resnet_formula.h"

namespace cxr {
namespace {

const std::string kFixtures = std::string(CXR_SOURCE_DIR) + "/tests/layers/fixtures/resnet/";

Model build_yaml(const std::string& yaml, uint64_t seed = 1) {
  return build_model(SpecNode::load_string(yaml, "test.yaml"), seed);
}

const Parameter* find_parameter(Model& m, const std::string& name) {
  for (Parameter* p : m.parameters())
    if (p->name == name) return p;
  return nullptr;
}

TEST(ResNet50V2, KerasParameterCountsNamesAndShapes) {
  Model m = build_yaml("{input: [50, 50, 3], layers: [{type: ResNet50V2, include_top: false}]}");
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0]->name, "resnet50v2");
  EXPECT_STREQ(m.layers[0]->class_name(), "Functional");
  EXPECT_EQ(m.total_parameter_count(), 23564800);                 // facts §1
  EXPECT_EQ(m.trainable_parameter_count(), 23564800 - 45440);     // moving statistics of 49 BNs
  EXPECT_EQ(m.layers[0]->output_shape, (Shape{2, 2, 2048}));
  EXPECT_EQ(m.parameters().size(), 270u);  // 53 kernels, 21 biases, 49 x 4 BN vectors
  ASSERT_NE(find_parameter(m, "resnet50v2/conv1_conv/kernel"), nullptr);
  EXPECT_EQ(find_parameter(m, "resnet50v2/conv1_conv/kernel")->value.shape(), (Shape{64, 7, 7, 3}));
  EXPECT_NE(find_parameter(m, "resnet50v2/conv1_conv/bias"), nullptr);
  EXPECT_EQ(find_parameter(m, "resnet50v2/conv2_block1_1_conv/bias"), nullptr);  // use_bias=False
  EXPECT_EQ(find_parameter(m, "resnet50v2/conv4_block6_2_conv/bias"), nullptr);
  EXPECT_EQ(find_parameter(m, "resnet50v2/conv3_block1_0_conv/kernel")->value.shape(), (Shape{512, 1, 1, 256}));
  EXPECT_EQ(find_parameter(m, "resnet50v2/post_bn/moving_variance")->value.shape(), (Shape{2048}));
  EXPECT_EQ(find_parameter(m, "resnet50v2/conv5_block3_3_conv/bias")->value.shape(), (Shape{2048}));
}

TEST(ResNet50V2, OutputSizesFollowTheStrideInTheLastBlock) {
  // 128 -> 4x4 and 32 -> 1x1 (facts §1: ceil halvings in conv2..conv4 only); below 32 is refused.
  EXPECT_EQ(build_yaml("{input: [128, 128, 3], layers: [{type: ResNet50V2}]}").layers[0]->output_shape,
            (Shape{4, 4, 2048}));
  EXPECT_EQ(build_yaml("{input: [32, 32, 3], layers: [{type: ResNet50V2}]}").layers[0]->output_shape,
            (Shape{1, 1, 2048}));
  const std::string message = testing::config_error_of(
      [] { build_yaml("{input: [31, 40, 3], layers: [{type: ResNet50V2}]}"); });
  EXPECT_NE(message.find("minimum of 32x32"), std::string::npos) << message;
  EXPECT_NE(testing::config_error_of([] { build_yaml("{input: [50, 50, 3], layers: [{type: ResNet50V2, include_top: true}]}"); })
                .find("include_top"),
            std::string::npos);
}

void set_formula_weights(Model& m) {
  for (Parameter* p : m.parameters()) {
    const std::string name = p->name.substr(p->name.find('/') + 1);  // drop "resnet50v2/"
    p->value.copy_from(Tensor::from_vector(p->value.shape(), testing::formula_values(name, p->value.shape())));
  }
}

// max |a - b| / max |b|: the scale of the output, so near-zero post-ReLU values do not dominate.
// Infinite when an output is not finite (std::max would pass over a NaN difference).
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::fabs(double(got[i]) - want[i]));
    scale = std::max(scale, std::fabs(double(want[i])));
  }
  return diff / scale;
}

TEST(ResNet50V2, MatchesKerasOnTheGoldenInput) {
  const SafetensorsFile golden = load_safetensors(kFixtures + "resnet50v2_golden.safetensors.fixture");
  const Tensor& input = golden.tensors.at("input");
  const Tensor& want = golden.tensors.at("output");
  // The committed input is the formula's, so the formula here is the script's.
  ASSERT_EQ(input.to_vector(), testing::formula_values("input", input.shape()));
  Model m = build_yaml("{input: [50, 50, 3], layers: [{type: ResNet50V2}]}");
  set_formula_weights(m);
  NoGrad no_grad;
  const Tensor got = m.forward(input, ForwardContext{});
  ASSERT_EQ(got.shape(), want.shape());
  const double error = relative_error(got.to_vector(), want.to_vector());
  EXPECT_LE(error, 1e-4);
  std::cout << "[ResNet50V2 vs Keras] relative error " << error << "\n";
}

// A converted full-size file Keras wrote: the whole path HDF5 -> converter -> loader -> forward.
// Skips unless CXR_RESNET_WEIGHTS names it: make_resnet_fixture.py leaves the formula weights'
// file in its work folder; tools/check-resnet-weights sets it (and CXR_RESNET_GOLDEN, Keras's
// output with those weights) for the real ImageNet file.
TEST(ResNet50V2, ConvertedKerasFileMatchesKerasWhenGiven) {
  const char* path = std::getenv("CXR_RESNET_WEIGHTS");
  if (!path) GTEST_SKIP() << "set CXR_RESNET_WEIGHTS to a converted resnet50v2_formula_notop.safetensors";
  const char* golden_path = std::getenv("CXR_RESNET_GOLDEN");
  const SafetensorsFile golden =
      load_safetensors(golden_path ? golden_path : kFixtures + "resnet50v2_golden.safetensors.fixture");
  Model m = build_yaml(std::string("{input: [50, 50, 3], layers: [{type: ResNet50V2, weights: '") + path + "'}]}");
  NoGrad no_grad;
  const Tensor got = m.forward(golden.tensors.at("input"), ForwardContext{});
  const double error = relative_error(got.to_vector(), golden.tensors.at("output").to_vector());
  EXPECT_LE(error, 1e-4);
  std::cout << "[ResNet50V2 " << path << " vs Keras] relative error " << error << "\n";
}

// Moving statistics change only when a BN trains: whole-backbone and per-name freezing.
TEST(ResNet50V2, FrozenBatchNormsRunInInferenceMode) {
  const Tensor x = Tensor::from_vector({2, 32, 32, 3}, testing::formula_values("input", {2, 32, 32, 3}));
  auto moving_means_after_a_training_step = [&](const std::string& yaml) {
    Model m = build_yaml(yaml);
    m.forward(x, ForwardContext{.training = true});
    return std::pair{find_parameter(m, "resnet50v2/conv2_block1_preact_bn/moving_mean")->value.to_vector()[0],
                     find_parameter(m, "resnet50v2/post_bn/moving_mean")->value.to_vector()[0]};
  };
  const auto trained = moving_means_after_a_training_step("{input: [32, 32, 3], layers: [{type: ResNet50V2}]}");
  EXPECT_NE(trained.first, 0.0f);
  EXPECT_NE(trained.second, 0.0f);
  const auto frozen =
      moving_means_after_a_training_step("{input: [32, 32, 3], layers: [{type: ResNet50V2, trainable: false}]}");
  EXPECT_EQ(frozen.first, 0.0f);
  EXPECT_EQ(frozen.second, 0.0f);
  // Fine-tuning the top: conv2..conv4 frozen by name, post_bn still trains.
  const auto partly = moving_means_after_a_training_step(
      "{input: [32, 32, 3], freeze: ['resnet50v2/conv1_*', 'resnet50v2/conv2_*', 'resnet50v2/conv3_*', "
      "'resnet50v2/conv4_*'], layers: [{type: ResNet50V2}]}");
  EXPECT_EQ(partly.first, 0.0f);
  EXPECT_NE(partly.second, 0.0f);
}

TEST(ResNet50V2, FreezingByNameCountsLikeKeras) {
  Model m = build_yaml(
      "{input: [50, 50, 3], freeze: ['resnet50v2/conv1_*', 'resnet50v2/conv2_*', 'resnet50v2/conv3_*', "
      "'resnet50v2/conv4_*'], layers: [{type: ResNet50V2}]}");
  // Trainable: the conv5 stack and post_bn (facts §1 per-stack counts) less their moving statistics:
  // conv5 stack 14,983,168 + post_bn 8,192; non-trainable within them: 2 x BN channels.
  // BN channels in conv5: preact_bn 1024 (block1), 2048 (blocks 2, 3); 1_bn and 2_bn 512 each x 3.
  const int64_t bn_channels = 1024 + 2048 + 2048 + 6 * 512 + 2048;
  EXPECT_EQ(m.trainable_parameter_count(), 14983168 + 8192 - 2 * bn_channels);
  for (Parameter* p : m.parameters())
    EXPECT_EQ(p->value.requires_grad(), p->trainable) << p->name;
  EXPECT_NE(testing::config_error_of([] {
              build_yaml("{input: [50, 50, 3], freeze: ['resnet50v2/conv9_*'], layers: [{type: ResNet50V2}]}");
            }).find("names no layer"),
            std::string::npos);
}

TEST(ResNet50V2, ExperimentFourAsTheNotebookFroze) {
  const SpecNode spec = SpecNode::load_file(std::string(CXR_SOURCE_DIR) + "/configs/experiment4.yaml").child("model");
  Model m = build_model(spec, 42);
  EXPECT_EQ(m.name, "model");
  EXPECT_TRUE(m.functional);
  EXPECT_EQ(m.input_name, "input_2");
  std::vector<std::string> names;
  for (auto& layer : m.layers) names.push_back(layer->name);
  EXPECT_EQ(names, (std::vector<std::string>{"resnet50v2", "global_average_pooling2d", "dense", "dropout", "dense_1"}));
  EXPECT_EQ(m.total_parameter_count(), 23696001);
  EXPECT_EQ(m.trainable_parameter_count(), 65);
  EXPECT_EQ(m.trainable_tensors().size(), 2u);  // dense_1's kernel and bias
  // The frozen Dropout still drops in training (Keras ignores its `trainable`).
  const Tensor h = Tensor::full({4, 64}, 1.0f);
  const std::vector<float> dropped = m.layers[3]->forward(h, ForwardContext{.training = true, .seed = 3, .step = 1}).to_vector();
  int zeros = 0;
  for (float v : dropped) zeros += v == 0.0f;
  EXPECT_GT(zeros, 64);
  EXPECT_LT(zeros, 192);
}

}  // namespace
}  // namespace cxr
