// Building the notebook's models from their YAML: parameter counts, shapes, Keras names, errors.
#include <gtest/gtest.h>

#include "config_error.h"

#include "engine/autograd.h"
#include "layers/model.h"
#include "layers/registry.h"

namespace cxr {
namespace {

SpecNode model_section(const std::string& config) {
  return SpecNode::load_file(std::string(CXR_SOURCE_DIR) + "/configs/" + config).child("model");
}

struct Counts {
  int64_t total, trainable;
};

Counts counts(const Model& m) { return {m.total_parameter_count(), m.trainable_parameter_count()}; }

TEST(ModelBuild, NotebookParameterCounts) {
  // keras-facts.md §9, matching the seed notebook's model.summary() output.
  const Model m1 = build_model(model_section("experiment1.yaml"), 42);
  EXPECT_EQ(counts(m1).total, 131681);
  EXPECT_EQ(counts(m1).trainable, 131329);
  const Model m2 = build_model(model_section("experiment2.yaml"), 42);
  EXPECT_EQ(counts(m2).total, 172961);
  EXPECT_EQ(counts(m2).trainable, 172481);
  const Model m3 = build_model(model_section("experiment3.yaml"), 42);
  EXPECT_EQ(counts(m3).total, 868961);
  EXPECT_EQ(counts(m3).trainable, 868609);
}

TEST(ModelBuild, Experiment1ShapesAndKerasNames) {
  Model m = build_model(model_section("experiment1.yaml"), 42);
  ASSERT_EQ(m.layers.size(), 21u);
  EXPECT_EQ(m.layers[0]->name, "conv2d");
  EXPECT_EQ(m.layers[0]->output_shape, (Shape{46, 46, 16}));
  EXPECT_EQ(m.layers[1]->name, "batch_normalization");
  EXPECT_EQ(m.layers[4]->name, "conv2d_1");
  EXPECT_EQ(m.layers[4]->output_shape, (Shape{21, 21, 32}));
  EXPECT_EQ(m.layers[8]->output_shape, (Shape{9, 9, 64}));
  EXPECT_EQ(m.layers[12]->name, "max_pooling2d");
  EXPECT_EQ(m.layers[12]->output_shape, (Shape{4, 4, 64}));
  EXPECT_EQ(m.layers[13]->name, "dropout_3");
  EXPECT_EQ(m.layers[14]->name, "batch_normalization_3");
  EXPECT_EQ(m.layers[15]->output_shape, (Shape{1024}));
  EXPECT_EQ(m.layers[16]->name, "dense");
  EXPECT_EQ(m.layers[20]->name, "activation_4");
  EXPECT_TRUE(m.has_sigmoid_output());
  EXPECT_EQ(m.parameters()[0]->name, "conv2d/kernel");
  EXPECT_EQ(m.parameters()[0]->value.shape(), (Shape{16, 5, 5, 3}));  // OHWI
}

TEST(ModelBuild, GlorotUniformWithinItsLimitAndSeeded) {
  const Model a = build_model(model_section("experiment1.yaml"), 42);
  const Model b = build_model(model_section("experiment1.yaml"), 42);
  const Model c = build_model(model_section("experiment1.yaml"), 43);
  const std::vector<float> wa = a.layers[0]->parameters()[0].value.to_vector();
  const double limit = std::sqrt(6.0 / (5 * 5 * 3 + 5 * 5 * 16));
  double max_abs = 0;
  for (float w : wa) max_abs = std::max(max_abs, static_cast<double>(std::fabs(w)));
  EXPECT_LE(max_abs, limit);
  EXPECT_GT(max_abs, 0.9 * limit) << "1,200 uniform draws should come near the limit";
  EXPECT_EQ(wa, b.layers[0]->parameters()[0].value.to_vector());
  EXPECT_NE(wa, c.layers[0]->parameters()[0].value.to_vector());
  EXPECT_EQ(a.layers[0]->parameters()[1].value.to_vector(), std::vector<float>(16, 0.0f)) << "bias starts at zero";
}

TEST(ModelBuild, ForwardGivesOneLogitPerImageAndProbabilitiesInRange) {
  Model m = build_model(model_section("experiment1.yaml"), 42);
  Tensor x = Tensor::full({2, 50, 50, 3}, 1.5f);
  NoGrad no_grad;
  const Tensor logits = m.forward_logits(x, {false, 1, 0});
  const Tensor probs = m.forward(x, {false, 1, 0});
  ASSERT_EQ(logits.shape(), (Shape{2, 1}));
  const float p = probs.to_vector()[0], z = logits.to_vector()[0];
  EXPECT_NEAR(p, 1.0f / (1.0f + std::exp(-z)), 1e-6f);
}

TEST(ModelBuild, FrozenLayerCountsAsNonTrainable) {
  const Model m = build_model(
      SpecNode::load_string("input: [8, 8, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel: 3, trainable: false}\n"
                            "  - {type: BatchNormalization}\n  - {type: Flatten}\n  - {type: Dense, units: 1}\n",
                            "frozen.yaml"),
      1);
  EXPECT_EQ(m.total_parameter_count(), (3 * 3 * 1 * 2 + 2) + 4 * 2 + (72 + 1));
  EXPECT_EQ(m.trainable_parameter_count(), 2 * 2 + 73);
  EXPECT_FALSE(m.layers[0]->parameters()[0].value.requires_grad());
}

// A Dropout followed by a relu Activation runs as one op in training (engine/ops.h's dropout_relu),
// with the values of the two layers run one by one; a range that ends between them, or inference
// (where dropout is the identity), runs them apart.
TEST(ModelBuild, DropoutThenReluRunsAsOneOpInTraining) {
  Model m = build_model(SpecNode::load_string("input: [5, 5, 2]\nlayers:\n  - {type: Conv2D, filters: 3, kernel: 3}\n"
                                              "  - {type: Dropout, rate: 0.5}\n  - {type: Activation, activation: relu}\n"
                                              "  - {type: Flatten}\n  - {type: Dense, units: 1}\n",
                                              "fused.yaml"),
                        1);
  std::vector<float> values(2 * 5 * 5 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) - 3.0f;
  const Tensor x = Tensor::from_vector({2, 5, 5, 2}, values);
  const ForwardContext training{true, 7, 3};
  const Tensor fused = m.forward_range(0, 3, x, training);
  ASSERT_TRUE(fused.impl()->grad_fn);
  EXPECT_STREQ(fused.impl()->grad_fn->op, "dropout_relu");
  Tensor apart = x;
  for (size_t i = 0; i < 3; ++i) apart = m.layers[i]->forward(apart, training);
  EXPECT_EQ(fused.to_vector(), apart.to_vector());
  EXPECT_STREQ(m.forward_range(0, 2, x, training).impl()->grad_fn->op, "dropout");
  EXPECT_STREQ(m.forward_range(0, 3, x, {false, 7, 3}).impl()->grad_fn->op, "relu");
}

// A BatchNormalization, a Dropout and a relu Activation run as one op in training on the CPU
// (engine/ops.h's batch_norm_dropout_relu), with the values of the three layers run one by one; a
// range that ends before the relu, inference, a frozen batch norm (inference statistics) or a
// Dropout that asks for cuDNN's kernels do not.
TEST(ModelBuild, BatchNormDropoutReluRunsAsOneOpInTraining) {
  const std::string layers = "  - {type: Conv2D, filters: 3, kernel: 3}\n  - {type: BatchNormalization%s}\n"
                             "  - {type: Dropout, rate: 0.5}\n  - {type: Activation, activation: relu}\n"
                             "  - {type: Flatten}\n  - {type: Dense, units: 1}\n";
  const auto model = [&](const std::string& bn_keys) {
    std::string yaml = layers;
    yaml.replace(yaml.find("%s"), 2, bn_keys);
    return build_model(SpecNode::load_string("input: [5, 5, 2]\nlayers:\n" + yaml, "fused.yaml"), 1);
  };
  Model m = model(""), apart_model = model("");
  std::vector<float> values(2 * 5 * 5 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 7) - 3.0f;
  const Tensor x = Tensor::from_vector({2, 5, 5, 2}, values);
  const ForwardContext training{true, 7, 3};
  const Tensor fused = m.forward_range(0, 4, x, training);
  ASSERT_TRUE(fused.impl()->grad_fn);
  EXPECT_STREQ(fused.impl()->grad_fn->op, "batch_norm_dropout_relu");
  Tensor apart = x;
  for (size_t i = 0; i < 4; ++i) apart = apart_model.layers[i]->forward(apart, training);
  EXPECT_EQ(fused.to_vector(), apart.to_vector());
  for (size_t p = 2; p < 4; ++p)  // the moving statistics, updated once each way
    EXPECT_EQ(m.layers[1]->parameters()[p].value.to_vector(), apart_model.layers[1]->parameters()[p].value.to_vector());
  EXPECT_STREQ(m.forward_range(0, 3, x, training).impl()->grad_fn->op, "dropout");
  EXPECT_STREQ(m.forward_range(0, 4, x, {false, 7, 3}).impl()->grad_fn->op, "relu");
  Model frozen = model(", trainable: false");
  EXPECT_STREQ(frozen.forward_range(0, 4, x, training).impl()->grad_fn->op, "dropout_relu");
  // A Dropout that asks for cuDNN's mask keeps its own op (moot on the CPU: the same bits).
  std::string vendor_yaml = layers;
  vendor_yaml.replace(vendor_yaml.find("%s"), 2, "");
  vendor_yaml.replace(vendor_yaml.find("rate: 0.5}"), 10, "rate: 0.5, kernels: vendor}");
  Model vendor_dropout = build_model(SpecNode::load_string("input: [5, 5, 2]\nlayers:\n" + vendor_yaml, "v.yaml"), 1);
  const Tensor unfused = vendor_dropout.forward_range(0, 4, x, training);
  EXPECT_STREQ(unfused.impl()->grad_fn->op, "dropout_relu");
  EXPECT_EQ(unfused.to_vector(), apart.to_vector());
}

std::string build_error(const std::string& yaml) {
  return testing::config_error_of([&] { build_model(SpecNode::load_string(yaml, "bad.yaml"), 1); });
}

TEST(ModelBuild, UnknownLayerTypeSuggestsTheNearestName) {
  const std::string e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Conv2d, filters: 2, kernel: 3}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown layer type 'Conv2d'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'Conv2D'"), std::string::npos) << e;
}

TEST(ModelBuild, UnknownKeySuggestsTheNearestKey) {
  const std::string e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Conv2D, filter: 2, kernel: 3}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("'filter'"), std::string::npos) << e;
  EXPECT_NE(e.find("filters"), std::string::npos) << e;
}

TEST(ModelBuild, ConvThatShrinksBelowOnePixelNamesTheLayer) {
  const std::string e = build_error(
      "input: [8, 8, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel: 5}\n  - {type: Conv2D, filters: 2, kernel: 5}\n");
  EXPECT_NE(e.find("bad.yaml:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("conv2d_1"), std::string::npos) << e;
  EXPECT_NE(e.find("[4, 4, 2]"), std::string::npos) << e;
}

TEST(ModelBuild, WrongValueTypeNamesTheKey) {
  const std::string e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Dense, units: many}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("units"), std::string::npos) << e;
}

TEST(ModelBuild, DenseOnAnImageAsksForFlatten) {
  const std::string e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Dense, units: 3}\n");
  EXPECT_NE(e.find("Flatten"), std::string::npos) << e;
}

// Weights are stored by "layer/parameter" name: a second layer named 'head' once overwrote the
// first's entry on save, silently. An explicit name that repeats an automatic one counts too.
TEST(ModelBuild, DuplicateLayerNamesAreRefusedAtTheSecond) {
  const std::string conv = "  - {type: Conv2D, filters: 2, kernel: 3";
  std::string e = build_error("input: [8, 8, 1]\nlayers:\n" + conv + ", name: head}\n" + conv + ", name: head}\n");
  EXPECT_NE(e.find("bad.yaml:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("layer name 'head' is already used by the layer at bad.yaml:3:"), std::string::npos) << e;
  e = build_error("input: [8, 8, 1]\nlayers:\n" + conv + "}\n" + conv + ", name: conv2d}\n");
  EXPECT_NE(e.find("bad.yaml:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("'conv2d' is already used"), std::string::npos) << e;
}

// input_name names the InputLayer row of a functional model's summary: without functional: true it
// would be ignored without a word.
TEST(ModelBuild, InputNameWithoutFunctionalIsRefused) {
  const std::string e = build_error("input: [8, 8, 1]\ninput_name: scan\nlayers:\n  - {type: Flatten}\n");
  EXPECT_NE(e.find("bad.yaml:2:13: input_name: only goes with functional: true"), std::string::npos) << e;
}

// Weight files and freeze: entries name parameters LAYER/PARAMETER: a '/' in a layer's name would
// let `freeze: [d]` reach a layer named d/x too.
TEST(ModelBuild, ASlashInALayerNameIsRefused) {
  const std::string e =
      build_error("input: [8, 8, 1]\nlayers:\n  - {type: Flatten}\n  - {type: Dense, units: 1, name: d/x}\n");
  EXPECT_NE(e.find("bad.yaml:4:"), std::string::npos) << e;
  EXPECT_NE(e.find("layer name 'd/x' contains '/'"), std::string::npos) << e;
}

// The layers keep float32 values: a double that passes the range check but not as a float32 is
// refused at its value, not at the first training step without a line.
TEST(ModelBuild, ValuesThatDoNotSurviveFloat32AreRefusedAtTheValue) {
  std::string e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Dropout, rate: 0.99999999999}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("rate must be in [0, 1): 0.99999999999 rounds to 1 as a float32"), std::string::npos) << e;
  e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: Rescaling, scale: 1e300}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("is not a finite float32"), std::string::npos) << e;
  e = build_error("input: [8, 8, 1]\nlayers:\n  - {type: BatchNormalization, epsilon: 1e-50}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("1e-50 rounds to 0 as a float32"), std::string::npos) << e;
}

// Strides, pools and paddings near INT_MAX: 'same' keeps Keras's ceil(in / stride) (an int overflow
// made it 0 pixels), and an output too large for a tensor is refused at the layer that makes it.
TEST(ModelBuild, HugeWindowsKeepKerasShapesOrAreRefusedAtTheirLayer) {
  const Model m = build_model(SpecNode::load_string("input: [50, 50, 3]\nlayers:\n"
                                                    "  - {type: MaxPooling2D, pool_size: 2147483647, padding: same}\n"
                                                    "  - {type: Conv2D, filters: 2, kernel: 1, strides: 2147483647, "
                                                    "padding: same}\n",
                                                    "big.yaml"),
                              1);
  EXPECT_EQ(m.layers[0]->output_shape, (Shape{1, 1, 3}));
  EXPECT_EQ(m.layers[1]->output_shape, (Shape{1, 1, 2}));
  const std::string e = build_error("input: [50, 50, 3]\nlayers:\n  - {type: ZeroPadding2D, padding: 2147483647}\n"
                                    "  - {type: Conv2D, filters: 1, kernel: 3}\n");
  EXPECT_NE(e.find("bad.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("its output, one image's [4294967344, 4294967344, 3] would hold"), std::string::npos) << e;
}

// freeze: naming a BatchNormalization's parameters freezes it as `trainable: false` does (Keras's
// non-trainable BatchNormalization): inference mode in training, the moving statistics untouched.
TEST(ModelBuild, BatchNormFrozenThroughItsParametersRunsInInferenceMode) {
  Model m = build_model(SpecNode::load_string("input: [3, 3, 2]\nfreeze: ['batch_normalization/*']\n"
                                              "layers:\n  - {type: BatchNormalization}\n",
                                              "f.yaml"),
                        1);
  std::vector<float> values(2 * 3 * 3 * 2);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 3.0f + static_cast<float>(i % 7);
  const Tensor x = Tensor::from_vector({2, 3, 3, 2}, values);
  const std::vector<float> trained = m.forward(x, ForwardContext{true, 1, 0}).to_vector();
  EXPECT_EQ(trained, m.forward(x, ForwardContext{false, 1, 0}).to_vector());  // the moving statistics' output
  EXPECT_EQ(m.layers[0]->parameters()[2].value.to_vector(), (std::vector<float>{0, 0}));  // moving_mean
  EXPECT_EQ(m.layers[0]->parameters()[3].value.to_vector(), (std::vector<float>{1, 1}));  // moving_variance
}

// One parameter named exactly freezes that parameter alone.
TEST(ModelBuild, FreezeNamesOneParameter) {
  const Model m = build_model(SpecNode::load_string("input: [2, 2, 1]\nfreeze: [dense/kernel]\n"
                                                    "layers:\n  - {type: Flatten}\n  - {type: Dense, units: 3}\n",
                                                    "f.yaml"),
                              1);
  EXPECT_FALSE(m.layers[1]->parameters()[0].value.requires_grad());
  EXPECT_TRUE(m.layers[1]->parameters()[1].value.requires_grad());
  EXPECT_EQ(m.trainable_parameter_count(), 3);
}

TEST(Registry, KnowsEveryNotebookLayer) {
  for (const char* t : {"Conv2D", "BatchNormalization", "Dropout", "Activation", "MaxPooling2D", "Flatten", "Dense"})
    EXPECT_NE(find_layer_type(t), nullptr) << t;
}

}  // namespace
}  // namespace cxr
