// resize_nearest picks the same source pixels as Pillow's NEAREST resize.
#include <gtest/gtest.h>

#include <string>

#include "data/resize.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {

// Hand-computed: position (x + 0.5)·src/dst, floored.
TEST(ResizeNearest, HandComputedIndices) {
  // 7 -> 3: s = 2.333: 1.17, 3.5, 5.83.
  EXPECT_EQ(nearest_source_indices(7, 3), (std::vector<int>{1, 3, 5}));
  // 5 -> 4: s = 1.25: 0.625, 1.875, 3.125, 4.375.
  EXPECT_EQ(nearest_source_indices(5, 4), (std::vector<int>{0, 1, 3, 4}));
  // 2 -> 5 (enlarging): s = 0.4: 0.2, 0.6, 1.0, 1.4, 1.8.
  EXPECT_EQ(nearest_source_indices(2, 5), (std::vector<int>{0, 0, 1, 1, 1}));
  // 224 -> 50: s = 4.48: 2.24, 6.72, 11.2, ... and x = 12 lands exactly on 56.
  const std::vector<int> idx = nearest_source_indices(224, 50);
  EXPECT_EQ(idx[0], 2);
  EXPECT_EQ(idx[1], 6);
  EXPECT_EQ(idx[2], 11);
  EXPECT_EQ(idx[12], 56);
  EXPECT_EQ(idx[49], 221);  // 49.5 · 4.48 = 221.76
}

TEST(ResizeNearest, IndicesMatchPillow) {
  int checked = 0;
  for (const auto& f : testing::fixture_lines("resize_nearest_pillow.txt")) {
    if (f[0] != "index") continue;
    const int src = std::stoi(f[1]), dst = std::stoi(f[2]);
    std::vector<int> want;
    for (size_t i = 3; i < f.size(); ++i) want.push_back(std::stoi(f[i]));
    ASSERT_EQ(nearest_source_indices(src, dst), want) << src << " -> " << dst;
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

TEST(ResizeNearest, WholeImageMatchesPillow) {
  for (const auto& f : testing::fixture_lines("resize_nearest_pillow.txt")) {
    if (f[0] != "image") continue;
    const int h = std::stoi(f[1]), w = std::stoi(f[2]), c = std::stoi(f[3]), oh = std::stoi(f[4]), ow = std::stoi(f[5]);
    Image src{h, w, c, {}};
    std::vector<uint8_t> want;
    for (size_t i = 6; i < f.size(); ++i)
      (src.pixels.size() < static_cast<size_t>(h * w * c) ? src.pixels : want).push_back(static_cast<uint8_t>(std::stoi(f[i])));
    const Image got = resize_nearest(src, oh, ow);
    EXPECT_EQ(got.height, oh);
    EXPECT_EQ(got.width, ow);
    EXPECT_EQ(got.pixels, want);
    return;
  }
  FAIL() << "no image line in the fixture";
}

TEST(ResizeNearest, SameSizeIsACopy) {
  Image src{2, 3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}};
  const Image got = resize_nearest(src, 2, 3);
  EXPECT_EQ(got.pixels, src.pixels);
}

TEST(ResizeNearest, RejectsEmptySizes) {
  Image src{2, 2, 3, std::vector<uint8_t>(12)};
  EXPECT_THROW(resize_nearest(src, 0, 2), std::invalid_argument);
}

TEST(ResizeBilinear, ConstantStaysConstantAndRampStaysMonotone) {
  Image flat{7, 9, 3, std::vector<uint8_t>(7 * 9 * 3, 77)};
  for (uint8_t v : resize_bilinear(flat, 4, 5).pixels) ASSERT_EQ(v, 77);

  Image ramp{1, 8, 1, {0, 10, 20, 30, 40, 50, 60, 70}};
  const Image half = resize_bilinear(ramp, 1, 4);
  // Centres of output pixels sit between source pairs: (0+10)/2, (20+30)/2, ...
  EXPECT_EQ(half.pixels, (std::vector<uint8_t>{5, 25, 45, 65}));
}

}  // namespace
}  // namespace cxr::data
