// step_arithmetic (layers/arithmetic.h): a step's floating-point operations in its convolutions and
// matrix products, counted by hand from the layers' shapes here.
#include <gtest/gtest.h>

#include "layers/arithmetic.h"
#include "layers/model.h"

namespace cxr {
namespace {

Model build_yaml(const std::string& yaml) { return build_model(SpecNode::load_string(yaml, "test.yaml"), 1); }

constexpr double kBatch = 32;
// The forward's operations of a layer whose output has `outputs` values per sample, each a sum over
// `taps` products: a multiply and an add each.
constexpr double forward_flops(double outputs, double taps) { return 2 * kBatch * outputs * taps; }

TEST(StepArithmetic, CountsEachConvolutionAndDenseFromItsShapes) {
  Model m = build_yaml(R"({input: [50, 50, 3], layers: [
      {type: Conv2D, filters: 16, kernel: 5},
      {type: BatchNormalization},
      {type: Conv2D, filters: 32, kernel: 5, strides: 2},
      {type: Flatten},
      {type: Dense, units: 1}]})");
  const StepArithmetic a = step_arithmetic(m, 32);
  const std::string conv1 = m.layers[0]->name, conv2 = m.layers[2]->name, dense = m.layers[4]->name;
  ASSERT_EQ(a.rows.size(), 3u);
  // 46x46x16 outputs of 5x5x3 taps: the weight gradient as much again, no input gradient (the images).
  const double f1 = forward_flops(46 * 46 * 16, 5 * 5 * 3);
  EXPECT_DOUBLE_EQ(a.rows.at(conv1).forward, f1);
  EXPECT_DOUBLE_EQ(a.rows.at(conv1).backward, f1);
  // (46 - 5) / 2 + 1 = 21: 21x21x32 outputs of 5x5x16 taps, and both gradients.
  const double f2 = forward_flops(21 * 21 * 32, 5 * 5 * 16);
  EXPECT_DOUBLE_EQ(a.rows.at(conv2).forward, f2);
  EXPECT_DOUBLE_EQ(a.rows.at(conv2).backward, 2 * f2);
  const double f3 = forward_flops(1, 21 * 21 * 32);
  EXPECT_DOUBLE_EQ(a.rows.at(dense).forward, f3);
  EXPECT_DOUBLE_EQ(a.rows.at(dense).backward, 2 * f3);
  EXPECT_DOUBLE_EQ(a.total.forward, f1 + f2 + f3);
  EXPECT_DOUBLE_EQ(a.total.backward, f1 + 2 * f2 + 2 * f3);
  EXPECT_DOUBLE_EQ(step_arithmetic(m, 1).total.forward, (f1 + f2 + f3) / kBatch);  // per sample
}

TEST(StepArithmetic, AFrozenLayerNeedsNoWeightGradientAndNoneBelowItNeedsAnInputGradient) {
  Model m = build_yaml(R"({input: [20, 20, 1], layers: [
      {type: Conv2D, filters: 8, kernel: 3, trainable: false},
      {type: Conv2D, filters: 8, kernel: 3},
      {type: Flatten},
      {type: Dense, units: 2, trainable: false}]})");
  const StepArithmetic a = step_arithmetic(m, 32);
  const double f1 = forward_flops(18 * 18 * 8, 3 * 3 * 1), f2 = forward_flops(16 * 16 * 8, 3 * 3 * 8),
               f3 = forward_flops(2, 16 * 16 * 8);
  EXPECT_DOUBLE_EQ(a.rows.at(m.layers[0]->name).backward, 0);
  EXPECT_DOUBLE_EQ(a.rows.at(m.layers[1]->name).backward, f2);       // its weights; nothing below trains
  EXPECT_DOUBLE_EQ(a.rows.at(m.layers[3]->name).backward, f3);       // the input gradient only
  EXPECT_DOUBLE_EQ(a.total.forward, f1 + f2 + f3);
}

TEST(StepArithmetic, AFrozenKernelWithATrainingBiasNeedsNoWeightGradient) {
  Model m = build_yaml(R"({input: [20, 20, 1], freeze: ["conv2d_1/kernel"], layers: [
      {type: Conv2D, filters: 8, kernel: 3, trainable: false},
      {type: Conv2D, filters: 8, kernel: 3}]})");
  const StepArithmetic a = step_arithmetic(m, 32);
  EXPECT_DOUBLE_EQ(a.rows.at("conv2d_1").backward, 0);  // its bias's gradient is a sum, not counted
}

// ResNet50V2 at 50x50: conv1_pad to 56, conv1_conv 7x7/2 -> 25, pool1 to 13, then 7, 4, 2 and 2 pixels
// after conv2..conv5 (the stride in each stage's last block but conv5's).
double conv5_block3_forward() {
  return forward_flops(2 * 2 * 512, 2048) + forward_flops(2 * 2 * 512, 3 * 3 * 512) + forward_flops(2 * 2 * 2048, 512);
}

TEST(StepArithmetic, CountsAResNet50V2ByItsParts) {
  Model m = build_yaml("{input: [50, 50, 3], layers: [{type: ResNet50V2, include_top: false, trainable: false}]}");
  const StepArithmetic a = step_arithmetic(m, 32);
  const double conv1 = forward_flops(25 * 25 * 64, 7 * 7 * 3);
  EXPECT_DOUBLE_EQ(a.rows.at("resnet50v2/conv1").forward, conv1);
  EXPECT_DOUBLE_EQ(a.rows.at("resnet50v2/conv5_block3").forward, conv5_block3_forward());
  EXPECT_EQ(a.rows.count("resnet50v2/conv4_block6"), 1u);
  EXPECT_DOUBLE_EQ(a.total.backward, 0);  // frozen
  double sum = 0;
  for (const auto& [label, flops] : a.rows) sum += flops.forward;
  EXPECT_DOUBLE_EQ(a.total.forward, sum);

  Model trains = build_yaml("{input: [50, 50, 3], layers: [{type: ResNet50V2, include_top: false}]}");
  const StepArithmetic t = step_arithmetic(trains, 32);
  EXPECT_DOUBLE_EQ(t.rows.at("resnet50v2/conv1").backward, conv1);  // no input gradient for the images
  EXPECT_DOUBLE_EQ(t.rows.at("resnet50v2/conv5_block3").backward, 2 * conv5_block3_forward());
}

TEST(StepArithmetic, AResNetFrozenUpToABlockCountsTheInputGradientsFromItsFirstTrainingBatchNorm) {
  Model m = build_yaml(R"({input: [50, 50, 3], freeze: ["resnet50v2/conv1*", "resnet50v2/conv2*",
      "resnet50v2/conv3*", "resnet50v2/conv4*", "resnet50v2/conv5_block1*", "resnet50v2/conv5_block2*"],
      layers: [{type: ResNet50V2, include_top: false}]})");
  const StepArithmetic a = step_arithmetic(m, 32);
  EXPECT_DOUBLE_EQ(a.rows.at("resnet50v2/conv5_block2").backward, 0);
  // conv5_block3_preact_bn trains, so even its first conv needs its input gradient.
  EXPECT_DOUBLE_EQ(a.rows.at("resnet50v2/conv5_block3").backward, 2 * conv5_block3_forward());
}

}  // namespace
}  // namespace cxr
