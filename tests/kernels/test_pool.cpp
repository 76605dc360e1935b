// maxpool2d: shape rule, forward/backward against a direct scan in double, ties and the floor case.
#include "kernels/pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::expect_all_near;
using test::random_integers;
using test::random_vector;

TEST(Pool2dShape, KerasDefaults) {
  const Pool2dShape a = make_pool2d_shape(32, 9, 9, 64, 2, 2, 2, 2, false);  // experiment 1: 9 -> 4
  EXPECT_EQ(a.OH, 4);
  EXPECT_EQ(a.OW, 4);
  EXPECT_EQ(make_pool2d_shape(1, 28, 28, 64, 2, 2, 2, 2, false).OH, 14);  // experiment 3
  EXPECT_EQ(make_pool2d_shape(1, 3, 3, 64, 2, 2, 2, 2, false).OH, 1);     // experiment 2
  // 'same', 5 wide, pool 2 stride 2: out 3, total pad (3-1)*2+2-5 = 1 -> 0 before, 1 after.
  const Pool2dShape b = make_pool2d_shape(1, 5, 5, 1, 2, 2, 2, 2, true);
  EXPECT_EQ(b.OH, 3);
  EXPECT_EQ(b.pad_top, 0);
  EXPECT_EQ(b.pad_bottom, 1);
  // ResNet's pool1: 3x3 stride 2 'same' on 13: out 7, total (7-1)*2+3-13 = 2 -> 1 + 1.
  const Pool2dShape c = make_pool2d_shape(1, 13, 13, 1, 3, 3, 2, 2, true);
  EXPECT_EQ(c.OH, 7);
  EXPECT_EQ(c.pad_top, 1);
  EXPECT_EQ(c.pad_bottom, 1);
  EXPECT_THROW(make_pool2d_shape(1, 1, 1, 1, 2, 2, 2, 2, false), std::invalid_argument);
}

// Direct scan of every window in row-major order; padded taps are skipped (never win) and a later
// equal value never replaces the first maximum.
struct NaivePool {
  std::vector<double> y, dx;
};
NaivePool naive_pool(const Pool2dShape& s, const std::vector<float>& x, const std::vector<float>& dy) {
  NaivePool out{std::vector<double>(static_cast<size_t>(s.N) * s.OH * s.OW * s.C),
                std::vector<double>(x.size(), 0.0)};
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int c = 0; c < s.C; ++c) {
          double best = -std::numeric_limits<double>::infinity();
          size_t arg = 0;
          for (int i = 0; i < s.ph; ++i)
            for (int j = 0; j < s.pw; ++j) {
              const int h = oh * s.sh - s.pad_top + i, w = ow * s.sw - s.pad_left + j;
              if (h < 0 || h >= s.H || w < 0 || w >= s.W) continue;
              const size_t xi = ((static_cast<size_t>(n) * s.H + h) * s.W + w) * s.C + c;
              if (x[xi] > best) {
                best = x[xi];
                arg = xi;
              }
            }
          const size_t yi = ((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.C + c;
          out.y[yi] = best;
          out.dx[arg] += dy[yi];
        }
  return out;
}

struct Case {
  int N, H, W, C, ph, pw, sh, sw;
  bool same;
};

TEST(MaxPool2d, MatchesDirectScan) {
  const Case cases[] = {
      {2, 9, 9, 3, 2, 2, 2, 2, false},   // experiment 1's floor case: last row and column unused
      {2, 8, 8, 2, 2, 2, 2, 2, false},   // exact tiling
      {1, 5, 7, 2, 2, 2, 2, 2, true},    // 'same' pads after only
      {2, 13, 13, 3, 3, 3, 2, 2, true},  // ResNet pool1: overlapping windows, pad both sides
      {1, 6, 6, 2, 3, 3, 1, 1, false},   // stride 1: every pixel in up to 9 windows
      {1, 7, 5, 1, 3, 2, 2, 1, true},    // rectangular window and strides
      {2, 4, 4, 5, 1, 1, 2, 2, false},   // ResNet's 1x1 stride-2 shortcut pool
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    const Pool2dShape s = make_pool2d_shape(c.N, c.H, c.W, c.C, c.ph, c.pw, c.sh, c.sw, c.same);
    for (bool with_ties : {false, true}) {
      std::ostringstream trace;
      trace << c.H << "x" << c.W << " pool " << c.ph << "x" << c.pw << " stride " << c.sh << "x" << c.sw
            << (with_ties ? " ties" : "");
      SCOPED_TRACE(trace.str());
      const size_t nx = static_cast<size_t>(s.N) * s.H * s.W * s.C;
      // Integers in [-3, 3]: lots of equal maxima, including negative ones next to padding.
      const auto x = with_ties ? random_integers(nx, seed++, -3, 3) : random_vector(nx, seed++);
      const auto dy = random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.C, seed++);
      std::vector<float> y(dy.size(), 123.0f), dx(x.size(), 7.0f);
      cpu::maxpool2d_forward(s, x.data(), y.data());
      cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data());
      const NaivePool ref = naive_pool(s, x, dy);
      expect_all_near(y, ref.y, 0.0, "y");
      expect_all_near(dx, ref.dx, 1e-6, "dx");
    }
  }
}

TEST(MaxPool2d, TiesSendTheGradientToTheFirstMaximum) {
  // A constant 4x4 image, pool 2x2 stride 2: each window's gradient lands on its top-left pixel.
  const Pool2dShape s = make_pool2d_shape(1, 4, 4, 1, 2, 2, 2, 2, false);
  const std::vector<float> x(16, 5.0f), dy{1, 2, 3, 4};
  std::vector<float> dx(16, 9.0f);
  cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<float>{1, 0, 2, 0,  //
                                    0, 0, 0, 0,  //
                                    3, 0, 4, 0,  //
                                    0, 0, 0, 0}));
}

// A NaN anywhere in a window is its output (PyTorch's max pool, cuDNN's with CUDNN_PROPAGATE_NAN),
// and the window's gradient goes to its last NaN, as in PyTorch; infinities are plain maxima. 4x4, pool 2 stride 2,
// two channels so the vectorised channel loop sees NaN in one lane and not the other.
TEST(MaxPool2d, ANaNInAWindowIsItsOutputAndTakesItsGradient) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Pool2dShape s = make_pool2d_shape(1, 4, 4, 2, 2, 2, 2, 2, false);
  std::vector<float> x(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  x[(0 * 4 + 1) * 2 + 0] = nan;  // window (0, 0), channel 0: a NaN after the first pixel
  x[(1 * 4 + 0) * 2 + 0] = nan;  //   and a second one after it, which takes the gradient
  x[(0 * 4 + 2) * 2 + 1] = nan;  // window (0, 1), channel 1: a NaN as the first pixel
  x[(3 * 4 + 3) * 2 + 0] = inf;  // window (1, 1), channel 0: the maximum, an infinity
  const std::vector<float> dy{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> y(8), dx(32);
  cpu::maxpool2d_forward(s, x.data(), y.data());
  cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_FALSE(std::isnan(y[1]));
  EXPECT_FALSE(std::isnan(y[2]));
  EXPECT_TRUE(std::isnan(y[3]));
  EXPECT_EQ(y[6], inf);
  EXPECT_EQ(dx[(0 * 4 + 1) * 2 + 0], 0.0f);
  EXPECT_EQ(dx[(1 * 4 + 0) * 2 + 0], 1.0f);  // the last NaN of window (0, 0)
  EXPECT_EQ(dx[(0 * 4 + 2) * 2 + 1], 4.0f);
  EXPECT_EQ(dx[(3 * 4 + 3) * 2 + 0], 7.0f);
}

TEST(MaxPool2d, OverlappingWindowsAccumulate) {
  // 3x3 image, pool 2x2 stride 1 -> 2x2 windows that all contain the centre, which is the maximum.
  const Pool2dShape s = make_pool2d_shape(1, 3, 3, 1, 2, 2, 1, 1, false);
  const std::vector<float> x{0, 1, 0, 1, 9, 1, 0, 1, 0}, dy{1, 2, 3, 4};
  std::vector<float> y(4), dx(9);
  cpu::maxpool2d_forward(s, x.data(), y.data());
  cpu::maxpool2d_backward(s, x.data(), dy.data(), dx.data());
  EXPECT_EQ(y, (std::vector<float>{9, 9, 9, 9}));
  EXPECT_EQ(dx, (std::vector<float>{0, 0, 0, 0, 10, 0, 0, 0, 0}));
}

TEST(MaxPool2d, FloorCaseIgnoresTheLastRowAndColumn) {
  // 9x9 -> 4x4: row 8 and column 8 belong to no window, so even a huge value there is never chosen.
  const Pool2dShape s = make_pool2d_shape(1, 9, 9, 1, 2, 2, 2, 2, false);
  std::vector<float> x(81);
  for (int h = 0; h < 9; ++h)
    for (int w = 0; w < 9; ++w) x[h * 9 + w] = (h == 8 || w == 8) ? 1000.0f : static_cast<float>(h * 9 + w);
  std::vector<float> y(16);
  cpu::maxpool2d_forward(s, x.data(), y.data());
  // Window (i, j) covers rows 2i..2i+1 and columns 2j..2j+1; its max is the bottom-right pixel.
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(y[i * 4 + j], static_cast<float>((2 * i + 1) * 9 + 2 * j + 1));
}

TEST(MaxPool2d, PaddingNeverWins) {
  // All-negative image with 'same' padding: a zero pad must not beat the real (negative) values.
  const Pool2dShape s = make_pool2d_shape(1, 3, 3, 1, 2, 2, 2, 2, true);  // out 2, pad 0 + 1
  const std::vector<float> x{-1, -2, -3, -4, -5, -6, -7, -8, -9};
  std::vector<float> y(4);
  cpu::maxpool2d_forward(s, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{-1, -3, -7, -9}));
}

}  // namespace
}  // namespace cxr::kernels
