// Epoch order, batch count, and fill_batch's rescale, labels and augmentation.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "data/batch.h"

namespace cxr::data {
namespace {

TEST(EpochOrder, UnshuffledIsIndexOrder) {
  EXPECT_EQ(epoch_order(5, false, 1, 3), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(epoch_order(0, true, 1, 0).empty());
}

TEST(EpochOrder, ShuffledIsASeededPermutationNewEachEpoch) {
  const std::vector<int> e0 = epoch_order(1000, true, 42, 0), e1 = epoch_order(1000, true, 42, 1);
  std::vector<int> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(e0, iota);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(e0, epoch_order(1000, true, 42, 0));
  EXPECT_NE(e0, epoch_order(1000, true, 43, 0));
  // Well mixed: the mean displacement of a uniform permutation of n is about n/3.
  double displacement = 0;
  for (int i = 0; i < 1000; ++i) displacement += std::abs(e0[static_cast<size_t>(i)] - i);
  EXPECT_NEAR(displacement / 1000, 333, 40);
}

TEST(NumBatches, CeilingWithPartialLastBatch) {
  EXPECT_EQ(num_batches(5216, 32), 163);  // exactly 163·32
  EXPECT_EQ(num_batches(3651, 32), 115);  // 114 full + 3 left over
  EXPECT_EQ(num_batches(10, 3), 4);
  EXPECT_EQ(num_batches(0, 32), 0);
  EXPECT_THROW(num_batches(10, 0), std::invalid_argument);
}

// Three 2x3 images with known pixels and labels 0, 1, 1.
LoadedImages tiny_set() {
  LoadedImages set;
  set.height = 2;
  set.width = 3;
  for (int i = 0; i < 3; ++i) {
    for (int p = 0; p < 2 * 3 * 3; ++p) set.pixels.push_back(static_cast<uint8_t>(50 * i + p));
    set.labels.push_back(i == 0 ? 0 : 1);
    set.files.push_back("img" + std::to_string(i));
  }
  return set;
}

TEST(FillBatch, RescaleAndLabels) {
  const LoadedImages set = tiny_set();
  const int indices[] = {2, 0};
  std::vector<float> out(2 * 18), labels(2);
  fill_batch(set, indices, 2, 0.02f, nullptr, 1, 0, out.data(), labels.data());
  EXPECT_EQ(labels, (std::vector<float>{1, 0}));
  for (int p = 0; p < 18; ++p) {
    EXPECT_EQ(out[static_cast<size_t>(p)], static_cast<float>(100 + p) * 0.02f);  // image 2: 100 + p
    EXPECT_EQ(out[static_cast<size_t>(18 + p)], static_cast<float>(p) * 0.02f);
  }
}

TEST(FillBatch, ZeroRangesMeanNoTransform) {
  const LoadedImages set = tiny_set();
  const int indices[] = {1};
  std::vector<float> plain(18), augmented(18), label(1);
  fill_batch(set, indices, 1, 1.0f / 255, nullptr, 9, 4, plain.data(), label.data());
  const Augment none{};
  fill_batch(set, indices, 1, 1.0f / 255, &none, 9, 4, augmented.data(), label.data());
  EXPECT_EQ(plain, augmented);
}

TEST(FillBatch, AugmentsOnRawPixelsThenRescales) {
  LoadedImages set;
  set.height = 8;
  set.width = 10;
  for (int i = 0; i < 2 * 8 * 10 * 3; ++i) set.pixels.push_back(static_cast<uint8_t>((i * 37) % 256));
  set.labels = {0, 1};
  const Augment aug{0.1, 0.1, 0.1};
  const int indices[] = {0, 1};
  std::vector<float> out(2 * 240), labels(2);
  fill_batch(set, indices, 2, 0.5f, &aug, 11, 3, out.data(), labels.data());

  // Image 1 by hand: the same draws, the transform on 0–255 floats, then ·0.5.
  const AffineDraw d = draw_augmentation(aug, 8, 10, 11, 3, 1);
  std::vector<float> raw(set.image(1), set.image(1) + 240), want(240);
  affine_transform(raw.data(), 8, 10, 3, d.zx, d.zy, d.tx, d.ty, aug.centre_offset, want.data());
  for (int i = 0; i < 240; ++i) EXPECT_EQ(out[static_cast<size_t>(240 + i)], want[static_cast<size_t>(i)] * 0.5f);

  // An image's transform depends on (seed, epoch, image), not on its place in the batch.
  const int alone[] = {1};
  std::vector<float> single(240);
  fill_batch(set, alone, 1, 0.5f, &aug, 11, 3, single.data(), labels.data());
  EXPECT_TRUE(std::equal(single.begin(), single.end(), out.begin() + 240));
}

// A one-channel set (color_mode: grayscale) goes through every augmentation as each channel of the
// same pixels in RGB does: zoom, shift, rotation, flip, brightness and contrast see the channel count.
TEST(FillBatch, OneChannelAugmentsLikeEachChannelOfGreyRgb) {
  LoadedImages grey, rgb;
  grey.height = rgb.height = 9;
  grey.width = rgb.width = 11;
  grey.channels = 1;
  for (int i = 0; i < 2 * 9 * 11; ++i) {
    const auto v = static_cast<uint8_t>(30 + (i * 53) % 200);  // no 0: a wrong extent would change the min
    grey.pixels.push_back(v);
    rgb.pixels.insert(rgb.pixels.end(), {v, v, v});
  }
  grey.labels = rgb.labels = {0, 1};
  Augment aug{0.2, 0.1, 0.15};
  aug.rotation_range = 20;
  aug.horizontal_flip = true;
  aug.brightness_min = 0.7;
  aug.brightness_max = 1.3;
  aug.contrast_range = 0.3;
  const int indices[] = {0, 1};
  std::vector<float> g(2 * 99), c(2 * 99 * 3), labels(2);
  for (uint64_t epoch = 0; epoch < 4; ++epoch) {  // enough draws to flip and rotate
    fill_batch(grey, indices, 2, 0.02f, &aug, 5, epoch, g.data(), labels.data());
    fill_batch(rgb, indices, 2, 0.02f, &aug, 5, epoch, c.data(), labels.data());
    for (size_t i = 0; i < g.size(); ++i)
      for (size_t k = 0; k < 3; ++k) ASSERT_EQ(g[i], c[i * 3 + k]) << "epoch " << epoch << " element " << i;
  }
}

TEST(DrawAugmentation, WithinKerasRangesAndReproducible) {
  const Augment aug{0.1, 0.2, 0.1};  // zoom, width shift, height shift
  const int H = 50, W = 40;
  double sum_tx = 0, max_tx = 0, max_ty = 0, min_zx = 2, max_zx = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const AffineDraw d = draw_augmentation(aug, H, W, 5, 0, static_cast<uint64_t>(i));
    ASSERT_LE(std::abs(d.tx), 0.1 * H);  // height shift: rows, fraction of H
    ASSERT_LE(std::abs(d.ty), 0.2 * W);  // width shift: columns, fraction of W
    ASSERT_GE(std::min(d.zx, d.zy), 0.9);
    ASSERT_LE(std::max(d.zx, d.zy), 1.1);
    sum_tx += d.tx;
    max_tx = std::max(max_tx, std::abs(d.tx));
    max_ty = std::max(max_ty, std::abs(d.ty));
    min_zx = std::min(min_zx, d.zx);
    max_zx = std::max(max_zx, d.zx);
  }
  EXPECT_NEAR(sum_tx / n, 0.0, 0.15);  // uniform on ±5: sd of the mean ≈ 0.05
  EXPECT_GT(max_tx, 4.9);              // the draws reach the ends of the range
  EXPECT_GT(max_ty, 7.9);
  EXPECT_LT(min_zx, 0.905);
  EXPECT_GT(max_zx, 1.095);

  const AffineDraw a = draw_augmentation(aug, H, W, 5, 2, 17), b = draw_augmentation(aug, H, W, 5, 2, 17);
  EXPECT_EQ(a.tx, b.tx);
  EXPECT_EQ(a.zy, b.zy);
  const AffineDraw next_epoch = draw_augmentation(aug, H, W, 5, 3, 17);
  EXPECT_NE(a.tx, next_epoch.tx);
  EXPECT_NE(a.zx, a.zy);  // zoom is drawn independently per axis
}

TEST(DrawAugmentation, ShiftOfOneOrMoreIsInPixels) {
  const Augment aug{0, 3.0, 0};
  for (int i = 0; i < 200; ++i) ASSERT_LE(std::abs(draw_augmentation(aug, 50, 50, 1, 0, static_cast<uint64_t>(i)).ty), 3.0);
}

}  // namespace
}  // namespace cxr::data
