// affine_transform reproduces scipy.ndimage.affine_transform(order=1, mode='nearest') on Keras's
// shift + zoom matrix (fixture from tools/fixtures/make_affine_fixture.py), and hand-checked shifts.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "data/affine.h"
#include "data_test_support.h"

namespace cxr::data {
namespace {

TEST(AffineTransform, MatchesScipyFixture) {
  const auto lines = testing::fixture_lines("affine_scipy.txt");
  ASSERT_GE(lines.size(), 2u);
  ASSERT_EQ(lines[0][0], "input");
  const int H = std::stoi(lines[0][1]), W = std::stoi(lines[0][2]), C = std::stoi(lines[0][3]);
  std::vector<float> src;
  for (size_t i = 4; i < lines[0].size(); ++i) src.push_back(std::stof(lines[0][i]));
  ASSERT_EQ(src.size(), static_cast<size_t>(H * W * C));

  for (size_t l = 1; l < lines.size(); ++l) {
    const auto& f = lines[l];
    const double zx = std::stod(f[1]), zy = std::stod(f[2]), tx = std::stod(f[3]), ty = std::stod(f[4]), off = std::stod(f[5]);
    SCOPED_TRACE("zx=" + f[1] + " zy=" + f[2] + " tx=" + f[3] + " ty=" + f[4] + " centre_offset=" + f[5]);
    std::vector<float> got(src.size());
    affine_transform(src.data(), H, W, C, zx, zy, tx, ty, off, got.data());
    ASSERT_EQ(f.size(), 6 + got.size());
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], std::stof(f[6 + i]), 1e-3) << "element " << i;  // float32 of 0–255: ulp ~ 1.5e-5
  }
}

// A 4x3 single-channel image with distinct values: v(r, c) = 10·r + c.
std::vector<float> grid(int H, int W) {
  std::vector<float> v;
  for (int r = 0; r < H; ++r)
    for (int c = 0; c < W; ++c) v.push_back(static_cast<float>(10 * r + c));
  return v;
}

TEST(AffineTransform, IdentityIsExact) {
  const std::vector<float> src = grid(4, 3);
  std::vector<float> dst(src.size());
  affine_transform(src.data(), 4, 3, 1, 1.0, 1.0, 0.0, 0.0, 0.5, dst.data());
  EXPECT_EQ(dst, src);
}

// tx = +1 row: output row r reads input row r + 1; the last row reads row 4 -> clamped to row 3
// ('nearest' repeats the edge). ty = −0.5 column: halfway to the left neighbour, clamped at c = 0.
TEST(AffineTransform, ShiftsByHand) {
  const std::vector<float> src = grid(4, 3);
  std::vector<float> dst(src.size());
  affine_transform(src.data(), 4, 3, 1, 1.0, 1.0, 1.0, 0.0, 0.5, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{10, 11, 12, 20, 21, 22, 30, 31, 32, 30, 31, 32}));

  affine_transform(src.data(), 4, 3, 1, 1.0, 1.0, 0.0, -0.5, 0.5, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{0, 0.5, 1.5, 10, 10.5, 11.5, 20, 20.5, 21.5, 30, 30.5, 31.5}));
}

// Zoom about the centre o = H/2 + offset: with zx = 2, row r reads 2·(r − o) + o. For H = 4 and
// offset +0.5, o = 2.5: rows read −2.5, −0.5, 1.5, 3.5 -> clamped 0, 0, 1.5, 3 (edge repeats).
// With offset −0.5, o = 1.5: rows read −1.5, 0.5, 2.5, 4.5 -> 0, 0.5, 2.5, 3.
TEST(AffineTransform, ZoomAboutTheCentreOffset) {
  const std::vector<float> src = grid(4, 1);  // a column: 0, 10, 20, 30
  std::vector<float> dst(4);
  affine_transform(src.data(), 4, 1, 1, 2.0, 1.0, 0.0, 0.0, kKerasCentreOffset_1_1_2, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{0, 0, 15, 30}));
  affine_transform(src.data(), 4, 1, 1, 2.0, 1.0, 0.0, 0.0, kKerasCentreOffsetFixed, dst.data());
  EXPECT_EQ(dst, (std::vector<float>{0, 5, 25, 30}));
}

}  // namespace
}  // namespace cxr::data
