// The augmentation options beyond the notebook's (rotation, horizontal flip, brightness, contrast):
// rotation and brightness against Keras's own computation (tools/fixtures/make_augment_fixture.py),
// flip and contrast by hand, and the draws.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "data/affine.h"
#include "data/batch.h"
#include "data/photometric.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {

struct Fixture {
  int H = 0, W = 0, C = 0;
  std::vector<float> input;
  std::vector<std::vector<std::string>> cases;
};

Fixture load_fixture() {
  Fixture f;
  const auto lines = testing::fixture_lines("augment_keras.txt");
  EXPECT_EQ(lines.at(0).at(0), "input");
  f.H = std::stoi(lines[0][1]);
  f.W = std::stoi(lines[0][2]);
  f.C = std::stoi(lines[0][3]);
  for (size_t i = 4; i < lines[0].size(); ++i) f.input.push_back(std::stof(lines[0][i]));
  f.cases.assign(lines.begin() + 1, lines.end());
  return f;
}

TEST(Rotation, MatchesKerasAndScipy) {
  const Fixture f = load_fixture();
  int checked = 0;
  for (const auto& c : f.cases) {
    if (c[0] != "affine") continue;
    SCOPED_TRACE("theta=" + c[1] + " zx=" + c[2] + " zy=" + c[3] + " tx=" + c[4] + " ty=" + c[5] + " off=" + c[6]);
    double m[4], offset[2];
    keras_affine_matrix(f.H, f.W, std::stod(c[1]), std::stod(c[4]), std::stod(c[5]), std::stod(c[2]), std::stod(c[3]),
                        std::stod(c[6]), m, offset);
    std::vector<float> got(f.input.size());
    affine_transform_matrix(f.input.data(), f.H, f.W, f.C, m, offset, got.data());
    ASSERT_EQ(c.size(), 7 + got.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], std::stof(c[7 + i]), 1e-3) << "element " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(Rotation, WithoutRotationTheMatrixIsTheShiftZoomTransform) {
  const Fixture f = load_fixture();
  double m[4], offset[2];
  keras_affine_matrix(f.H, f.W, 0.0, 0.7, -1.3, 1.1, 0.9, 0.5, m, offset);
  std::vector<float> general(f.input.size()), separable(f.input.size());
  affine_transform_matrix(f.input.data(), f.H, f.W, f.C, m, offset, general.data());
  affine_transform(f.input.data(), f.H, f.W, f.C, 1.1, 0.9, 0.7, -1.3, 0.5, separable.data());
  for (size_t i = 0; i < general.size(); ++i) ASSERT_NEAR(general[i], separable[i], 1e-4);
}

TEST(Brightness, MatchesKerasThroughPil) {
  const Fixture f = load_fixture();
  int checked = 0;
  for (const auto& c : f.cases) {
    if (c[0] != "brightness") continue;
    SCOPED_TRACE("brightness " + c[1]);
    std::vector<float> got = f.input;
    keras_brightness(got.data(), f.H, f.W, f.C, std::stod(c[1]));
    ASSERT_EQ(c.size(), 2 + got.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], std::stof(c[2 + i])) << "element " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(Brightness, HandComputed) {
  // min 10, max 60: stretched to 0, 127.5 -> 127, 255; times 0.5 truncated: 0, 63, 127.
  std::vector<float> v{10, 35, 60};
  keras_brightness(v.data(), 1, 1, 3, 0.5);
  EXPECT_EQ(v, (std::vector<float>{0, 63, 127}));
  std::vector<float> flat{40, 40, 40};  // max - min = 0: everything becomes 0, as in Keras
  keras_brightness(flat.data(), 1, 1, 3, 1.2);
  EXPECT_EQ(flat, (std::vector<float>{0, 0, 0}));
}

TEST(Flip, MirrorsColumnsKeepingChannels) {
  std::vector<float> v{1, 2, 3, 4, 5, 6,  // row 0: pixels (1,2) (3,4) (5,6) with 2 channels
                       7, 8, 9, 10, 11, 12};
  flip_horizontal(v.data(), 2, 3, 2);
  EXPECT_EQ(v, (std::vector<float>{5, 6, 3, 4, 1, 2, 11, 12, 9, 10, 7, 8}));
}

TEST(Contrast, AboutTheChannelMeanClipped) {
  // Channel 0: 10, 30 (mean 20) -> 20 ± 10·2 = 0, 40. Channel 1: 200, 250 (mean 225) ->
  // 225 ± 25·2 = 175, 275 -> clipped to 255.
  std::vector<float> v{10, 200, 30, 250};
  adjust_contrast(v.data(), 1, 2, 2, 2.0);
  EXPECT_EQ(v, (std::vector<float>{0, 175, 40, 255}));
}

TEST(DrawAugmentation, NewOptionsStayInRangeAndLeaveOldDrawsAlone) {
  Augment base{0.1, 0.1, 0.1};
  Augment more = base;
  more.rotation_range = 20;
  more.horizontal_flip = true;
  more.brightness_min = 0.8;
  more.brightness_max = 1.2;
  more.contrast_range = 0.3;
  int flips = 0;
  for (uint64_t i = 0; i < 400; ++i) {
    const AffineDraw a = draw_augmentation(base, 50, 50, 42, 3, i), b = draw_augmentation(more, 50, 50, 42, 3, i);
    ASSERT_EQ(a.tx, b.tx);
    ASSERT_EQ(a.zy, b.zy);
    ASSERT_EQ(a.theta, 0);
    ASSERT_FALSE(a.flip);
    ASSERT_EQ(a.brightness, 0);
    ASSERT_EQ(a.contrast, 1);
    ASSERT_GE(b.theta, -20);
    ASSERT_LE(b.theta, 20);
    ASSERT_GE(b.brightness, 0.8);
    ASSERT_LE(b.brightness, 1.2);
    ASSERT_GE(b.contrast, 0.7);
    ASSERT_LE(b.contrast, 1.3);
    flips += b.flip;
  }
  EXPECT_GT(flips, 160);  // about half of 400 (binomial sd 10)
  EXPECT_LT(flips, 240);
}

TEST(FillBatch, FlipAloneMirrorsTheImageBeforeTheRescale) {
  LoadedImages set;
  set.height = 1;
  set.width = 3;
  set.pixels = {10, 11, 12, 20, 21, 22, 30, 31, 32};
  set.labels = {1};
  Augment flip_only;
  flip_only.horizontal_flip = true;
  // Find an (epoch) where image 0 is flipped and one where it is not.
  int flipped_epoch = -1, plain_epoch = -1;
  for (int e = 0; e < 64 && (flipped_epoch < 0 || plain_epoch < 0); ++e)
    (draw_augmentation(flip_only, 1, 3, 5, static_cast<uint64_t>(e), 0).flip ? flipped_epoch : plain_epoch) = e;
  ASSERT_GE(flipped_epoch, 0);
  ASSERT_GE(plain_epoch, 0);
  const int index = 0;
  std::vector<float> out(9);
  float label = 0;
  fill_batch(set, &index, 1, 0.5f, &flip_only, 5, static_cast<uint64_t>(flipped_epoch), out.data(), &label);
  EXPECT_EQ(out, (std::vector<float>{15, 15.5, 16, 10, 10.5, 11, 5, 5.5, 6}));
  fill_batch(set, &index, 1, 0.5f, &flip_only, 5, static_cast<uint64_t>(plain_epoch), out.data(), &label);
  EXPECT_EQ(out, (std::vector<float>{5, 5.5, 6, 10, 10.5, 11, 15, 15.5, 16}));
}

}  // namespace
}  // namespace cxr::data
