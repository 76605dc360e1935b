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

TEST(ResizeBilinear, ConstantStaysConstantAndHandComputedRamp) {
  Image flat{7, 9, 3, std::vector<uint8_t>(7 * 9 * 3, 77)};
  for (uint8_t v : resize_bilinear(flat, 4, 5).pixels) ASSERT_EQ(v, 77);

  // Pillow widens the triangle to support 2 when halving: output 0 is centred at 1.0 and reads
  // pixels 0, 1, 2 with weights 0.75, 0.75, 0.25 (/1.75): (0 + 7.5 + 5) / 1.75 = 7.14 -> 7.
  // Output 1 (centre 3.0) reads 1..4 with 0.25, 0.75, 0.75, 0.25: (2.5+15+22.5+10)/2 = 25.
  Image ramp{1, 8, 1, {0, 10, 20, 30, 40, 50, 60, 70}};
  EXPECT_EQ(resize_bilinear(ramp, 1, 4).pixels, (std::vector<uint8_t>{7, 25, 45, 63}));
  // BOX when halving averages pairs: (0+10)/2 = 5, ...
  EXPECT_EQ(resize_area(ramp, 1, 4).pixels, (std::vector<uint8_t>{5, 25, 45, 65}));
}

TEST(ResizeFilters, MatchPillowBitForBit) {
  const auto lines = testing::fixture_lines("resize_filters_pillow.txt");
  ASSERT_EQ(lines.size(), 16u);
  for (const auto& f : lines) {
    const int h = std::stoi(f[1]), w = std::stoi(f[2]), oh = std::stoi(f[3]), ow = std::stoi(f[4]);
    SCOPED_TRACE(f[0] + " " + f[1] + "x" + f[2] + " -> " + f[3] + "x" + f[4]);
    const size_t in_n = static_cast<size_t>(h) * w * 3, out_n = static_cast<size_t>(oh) * ow * 3;
    ASSERT_EQ(f.size(), 5 + in_n + out_n);
    Image src{h, w, 3, {}};
    for (size_t i = 0; i < in_n; ++i) src.pixels.push_back(static_cast<uint8_t>(std::stoi(f[5 + i])));
    std::vector<uint8_t> want;
    for (size_t i = 0; i < out_n; ++i) want.push_back(static_cast<uint8_t>(std::stoi(f[5 + in_n + i])));
    const Image got = resize(src, oh, ow, parse_interpolation(f[0]));
    ASSERT_EQ(got.height, oh);
    ASSERT_EQ(got.width, ow);
    EXPECT_EQ(got.pixels, want);
  }
}

}  // namespace
}  // namespace cxr::data
