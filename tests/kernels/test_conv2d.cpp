// conv2d: TensorFlow's output-size/padding rule, and forward/backward against direct convolution
// loops in double.
#include "kernels/conv2d.h"

#include <gtest/gtest.h>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv2d_direct.h"
#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::expect_all_near;
using test::random_vector;

// ---- shape rules ------------------------------------------------------------------------------

TEST(Conv2dShape, NotebookChainAt50) {
  // Experiment 1: 50 -> conv5 s1 -> 46 -> conv5 s2 -> 21 -> conv5 s2 -> 9 (all 'valid').
  Conv2dShape a = make_conv2d_shape(32, 50, 50, 3, 16, 5, 5, 1, 1, false);
  EXPECT_EQ(a.OH, 46);
  EXPECT_EQ(a.OW, 46);
  Conv2dShape b = make_conv2d_shape(32, 46, 46, 16, 32, 5, 5, 2, 2, false);
  EXPECT_EQ(b.OH, 21);  // floor(41/2) + 1
  Conv2dShape c = make_conv2d_shape(32, 21, 21, 32, 64, 5, 5, 2, 2, false);
  EXPECT_EQ(c.OH, 9);  // floor(16/2) + 1
  EXPECT_EQ(c.pad_top + c.pad_left + c.pad_bottom + c.pad_right, 0);
}

TEST(Conv2dShape, NotebookChainAt128) {
  EXPECT_EQ(make_conv2d_shape(1, 128, 128, 3, 16, 5, 5, 1, 1, false).OH, 124);
  EXPECT_EQ(make_conv2d_shape(1, 124, 124, 16, 32, 5, 5, 2, 2, false).OH, 60);  // floor(119/2) + 1
  EXPECT_EQ(make_conv2d_shape(1, 60, 60, 32, 64, 5, 5, 2, 2, false).OW, 28);    // floor(55/2) + 1
}

TEST(Conv2dShape, SamePaddingPutsTheOddPixelAtTheEnd) {
  // H=5, R=3, s=1: out 5, total pad 2 -> 1 + 1.
  Conv2dShape a = make_conv2d_shape(1, 5, 5, 1, 1, 3, 3, 1, 1, true);
  EXPECT_EQ(a.OH, 5);
  EXPECT_EQ(a.pad_top, 1);
  EXPECT_EQ(a.pad_bottom, 1);
  // H=6, R=4, s=1: out 6, total pad 3 -> 1 before, 2 after.
  Conv2dShape b = make_conv2d_shape(1, 6, 6, 1, 1, 4, 4, 1, 1, true);
  EXPECT_EQ(b.pad_top, 1);
  EXPECT_EQ(b.pad_bottom, 2);
  // H=8, W=7, R=S=3, s=2: out ceil(8/2)=4 with total (4-1)*2+3-8 = 1 -> 0 + 1; width ceil(7/2)=4 with 2 -> 1 + 1.
  Conv2dShape c = make_conv2d_shape(1, 8, 7, 1, 1, 3, 3, 2, 2, true);
  EXPECT_EQ(c.OH, 4);
  EXPECT_EQ(c.pad_top, 0);
  EXPECT_EQ(c.pad_bottom, 1);
  EXPECT_EQ(c.OW, 4);
  EXPECT_EQ(c.pad_left, 1);
  EXPECT_EQ(c.pad_right, 1);
  // ResNet's stem at 50x50: 7x7 s2 'same'-sized output 25 needs (25-1)*2+7-50 = 5 -> 2 + 3.
  Conv2dShape d = make_conv2d_shape(1, 50, 50, 3, 64, 7, 7, 2, 2, true);
  EXPECT_EQ(d.OH, 25);
  EXPECT_EQ(d.pad_top, 2);
  EXPECT_EQ(d.pad_bottom, 3);
  // A 1x1 stride-2 window over an even size never needs padding (the max(.., 0)).
  Conv2dShape e = make_conv2d_shape(1, 4, 4, 1, 1, 1, 1, 2, 2, true);
  EXPECT_EQ(e.OH, 2);
  EXPECT_EQ(e.pad_top + e.pad_bottom, 0);
}

TEST(Conv2dShape, RejectsEmptyOutputsAndBadSizes) {
  EXPECT_THROW(make_conv2d_shape(1, 4, 4, 1, 1, 5, 5, 1, 1, false), std::invalid_argument);  // 4 < 5
  EXPECT_THROW(make_conv2d_shape(1, 9, 4, 1, 1, 5, 5, 2, 2, false), std::invalid_argument);  // width only
  EXPECT_THROW(make_conv2d_shape(1, 8, 8, 1, 1, 3, 3, 0, 1, false), std::invalid_argument);  // stride 0
  EXPECT_THROW(make_conv2d_shape(0, 8, 8, 1, 1, 3, 3, 1, 1, false), std::invalid_argument);  // no batch
  EXPECT_NO_THROW(make_conv2d_shape(1, 4, 4, 1, 1, 5, 5, 1, 1, true));  // 'same' always has an output
  EXPECT_EQ(make_conv2d_shape(1, 5, 5, 1, 1, 5, 5, 3, 3, false).OH, 1);
}

// ---- direct loops in double -------------------------------------------------------------------

// Input row/column of filter tap (r or s) for output pixel o, or -1 when it falls in the padding.
int input_index(int o, int tap, int stride, int pad, int size) {
  const int i = o * stride - pad + tap;
  return i >= 0 && i < size ? i : -1;
}

std::vector<double> naive_forward(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                                  const float* bias) {
  std::vector<double> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.K);
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int k = 0; k < s.K; ++k) {
          double acc = bias ? bias[k] : 0.0;
          for (int r = 0; r < s.R; ++r)
            for (int q = 0; q < s.S; ++q)
              for (int c = 0; c < s.C; ++c) {
                const int ih = input_index(oh, r, s.stride_h, s.pad_top, s.H);
                const int iw = input_index(ow, q, s.stride_w, s.pad_left, s.W);
                if (ih < 0 || iw < 0) continue;
                acc += static_cast<double>(x[((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C + c]) *
                       w[((static_cast<size_t>(k) * s.R + r) * s.S + q) * s.C + c];
              }
          y[((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k] = acc;
        }
  return y;
}

struct NaiveGrads {
  std::vector<double> dx, dw, db;
};

NaiveGrads naive_backward(const Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& w,
                          const std::vector<float>& dy) {
  NaiveGrads g{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
               std::vector<double>(s.K, 0.0)};
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow)
        for (int k = 0; k < s.K; ++k) {
          const double d = dy[((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k];
          g.db[k] += d;
          for (int r = 0; r < s.R; ++r)
            for (int q = 0; q < s.S; ++q)
              for (int c = 0; c < s.C; ++c) {
                const int ih = input_index(oh, r, s.stride_h, s.pad_top, s.H);
                const int iw = input_index(ow, q, s.stride_w, s.pad_left, s.W);
                if (ih < 0 || iw < 0) continue;
                const size_t xi = ((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C + c;
                const size_t wi = ((static_cast<size_t>(k) * s.R + r) * s.S + q) * s.C + c;
                g.dx[xi] += d * w[wi];
                g.dw[wi] += d * x[xi];
              }
        }
  return g;
}

// ---- kernels vs direct loops ------------------------------------------------------------------

struct Case {
  int N, H, W, C, K, R, S, sh, sw;
  bool same, bias;
};

const Case kCases[] = {
    {1, 5, 5, 1, 1, 3, 3, 1, 1, false, false},  // the smallest meaningful case
    {2, 7, 6, 3, 4, 3, 3, 1, 1, false, true},   // C, K, N > 1, non-square image
    {2, 9, 9, 2, 3, 5, 5, 2, 2, false, true},   // stride 2, valid (notebook style)
    {2, 6, 6, 2, 3, 4, 4, 1, 1, true, true},    // same, odd total pad (1 before, 2 after)
    {3, 7, 7, 3, 2, 3, 3, 1, 1, true, false},   // same, even total pad
    {2, 8, 7, 2, 5, 3, 3, 2, 2, true, true},    // same, stride 2, height pad 0+1, width 1+1
    {1, 10, 9, 3, 2, 7, 7, 2, 2, true, true},   // ResNet-stem-like 7x7 s2 same
    {2, 8, 6, 3, 4, 3, 2, 2, 1, false, true},   // rectangular kernel, different strides
    {3, 5, 5, 6, 7, 1, 1, 1, 1, false, true},   // 1x1 s1: the no-im2col path
    // kernels/cpu/conv2d_direct.h's shapes (unpadded, not 1x1, K a multiple of 8, <= 262,144 weights):
    {2, 12, 11, 3, 16, 5, 5, 1, 1, false, true},  // experiment 1's conv1 in small
    {2, 13, 13, 3, 32, 5, 5, 2, 2, false, true},  // stride 2, K = 32
    {1, 9, 10, 1, 8, 3, 3, 1, 2, false, false},   // one channel, no bias, uneven strides: 8-filter tiles
    {2, 15, 15, 16, 32, 5, 5, 2, 2, false, true}, // experiment 1's conv2 in small: dx direct too (S*C = 80)
    {3, 11, 12, 8, 16, 3, 3, 1, 1, false, false}, // S*C = 24: dx runs of 16 and 8; dx items of 2 images + 1
    {1, 8, 9, 5, 24, 3, 3, 1, 1, false, true},    // K = 24: 8-filter tiles; S*C = 15: dx through im2col
    {2, 9, 9, 48, 32, 7, 7, 1, 1, false, true},   // 75,264 weights, S*C = 336: long runs
    {2, 10, 10, 64, 64, 9, 9, 1, 1, false, true}, // 331,776 weights: blocked forward, im2col + GEMM backward
    {2, 6, 6, 4, 3, 1, 1, 2, 2, false, false},  // 1x1 s2: im2col with a 1x1 window
    // conv2d.cpp goes through blocks of output rows that may span images (forward, weight gradient)
    // and, for the input gradient, images in blocks of >= 128 pixels or several small images at once:
    {5, 24, 24, 10, 4, 5, 5, 1, 1, false, true},  // 400 pixels of 250 floats: blocks span images
    {3, 44, 44, 10, 4, 5, 5, 1, 1, true, false},  // 1,936 pixels per image: several blocks per image
    {41, 6, 6, 3, 4, 3, 3, 1, 1, false, true},    // 16 pixels per image: dx items of 8 images, the last of 1
    // A batch of fewer than 8 images splits the direct weight gradient's taps into ranges as well;
    // ranges sized from taps / ranges rounded down left the last taps of these unsummed (garbage):
    {3, 9, 9, 1, 8, 5, 5, 1, 1, false, false},    // 25 taps in 2 ranges
    {2, 13, 13, 3, 16, 7, 7, 2, 2, false, true},  // a 7x7 RGB stem at batch 2: 147 taps in 4 ranges
    {1, 8, 8, 4, 8, 5, 5, 1, 1, false, false},    // 100 taps in 8 ranges
    // (Added last, so the cases above keep their random data.)
    // The direct forward also takes 1x1 layers and large weights where K is a multiple of 8:
    {3, 5, 5, 24, 16, 1, 1, 1, 1, false, true},    // 1x1: a direct forward, one GEMM backward
    {2, 7, 7, 8, 16, 1, 1, 2, 2, false, false},    // 1x1 s2: windows of one pixel, strided
    {2, 9, 9, 32, 1024, 3, 3, 1, 1, false, true},  // 294,912 weights: the blocked forward, tap blocks
                                                    // of 256 and 32, 98 pixels (a last tile of 2)
    {2, 36, 30, 3, 16, 5, 5, 1, 1, false, true},   // 832 pixels per image: the direct weight gradient's
                                                    // chunks of 512 pixels and a last one of 320
};

// (A stream rather than a chain of string '+': GCC 12 at -O3 warns falsely (-Wrestrict) on the chain.)
std::string describe(const Case& c) {
  std::ostringstream out;
  out << "N" << c.N << " " << c.H << "x" << c.W << "x" << c.C << " K" << c.K << " " << c.R << "x" << c.S << " s"
      << c.sh << "," << c.sw << (c.same ? " same" : " valid") << (c.bias ? " bias" : "");
  return out.str();
}

// Float sums of thousands of terms (the 7x7 and 9x9 windows over 48-64 channels below) drift
// further from the double reference than the 1e-5 that holds up to a few hundred: ~1e-5 per 500.
// An output sums R*S*C terms, an input-gradient element up to K*R*S, a weight or bias gradient's
// N*OH*OW (every output pixel of the batch).
double long_sums(const Conv2dShape& s) { return std::max(1.0, double(s.R) * s.S * s.C / 500.0); }
double long_dx_sums(const Conv2dShape& s) { return std::max(1.0, double(s.K) * s.R * s.S / 500.0); }
double long_dw_sums(const Conv2dShape& s) { return std::max(1.0, double(s.N) * s.OH * s.OW / 500.0); }

TEST(Conv2d, ForwardMatchesDirectLoops) {
  uint32_t seed = 1;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.sh, c.sw, c.same);
    const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, seed++);
    const auto w = random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, seed++);
    const auto b = random_vector(s.K, seed++);
    std::vector<float> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 123.0f);  // must be overwritten
    cpu::conv2d_forward(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
    expect_all_near(y, naive_forward(s, x, w, c.bias ? b.data() : nullptr), 1e-5 * long_sums(s), "y");
  }
}

TEST(Conv2d, BackwardMatchesDirectLoops) {
  uint32_t seed = 100;
  for (const Case& c : kCases) {
    SCOPED_TRACE(describe(c));
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.sh, c.sw, c.same);
    const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, seed++);
    const auto w = random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, seed++);
    const auto dy = random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, seed++);
    // Pre-filled with garbage: the kernel must overwrite, not accumulate.
    std::vector<float> dx(x.size(), 7.0f), dw(w.size(), 7.0f), db(s.K, 7.0f);
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    const NaiveGrads ref = naive_backward(s, x, w, dy);
    // dw and db sum over every output pixel of the batch (up to ~8000 terms). A flat 3e-5 held on
    // OpenBLAS's AVX2 kernels and failed by 1% (3.03e-5 over 5,808 terms) on its AVX-512 ones.
    expect_all_near(dx, ref.dx, 1e-5 * long_dx_sums(s), "dx");
    expect_all_near(dw, ref.dw, 1e-5 * long_dw_sums(s), "dw");
    expect_all_near(db, ref.db, 1e-5 * long_dw_sums(s), "db");
  }
}

// The direct kernels' 16-float (AVX-512) and 8-float paths give the same bits (conv2d_direct.cpp
// says why). Shapes for each tile both paths choose: 8, 16, 24, 32, 48 and 64 filters, runs of 16
// taps and a last 8 (dx), tap ranges that end in tiles of 3 and 1, image counts that leave short
// pixel tiles. The other Conv2d tests check whichever path this CPU runs
// against loops in double.
class DirectAvx512 : public ::testing::Test {  // gives the switch back as it found it, even on a failure
 protected:
  void SetUp() override { was_on_ = cpu::direct::avx512(); }
  void TearDown() override { cpu::direct::set_avx512(was_on_); }

 private:
  bool was_on_ = false;
};

TEST_F(DirectAvx512, GivesTheSameBitsAsThe8FloatKernels) {
  cpu::direct::set_avx512(true);
  if (!cpu::direct::avx512()) GTEST_SKIP() << "this CPU has no AVX-512 (x86-64-v4): only the 8-float kernels run";
  const Case cases[] = {
      {3, 12, 11, 3, 16, 5, 5, 1, 1, false, true},   // experiment 1's conv1 in small (no direct dx: S*C = 15)
      {2, 15, 15, 16, 32, 5, 5, 2, 2, false, true},  // conv2: dx direct (S*C = 80: 5 runs of 16)
      {2, 13, 13, 32, 64, 5, 5, 2, 2, false, true},  // conv3: 64 filters
      {3, 11, 12, 8, 16, 3, 3, 1, 1, false, false},  // S*C = 24: dx runs of 16 and a last 8
      {1, 9, 10, 1, 8, 3, 3, 1, 2, false, false},    // 8 filters
      {2, 10, 9, 8, 24, 3, 3, 1, 1, false, true},    // 24 filters
      {1, 9, 9, 1, 48, 5, 5, 1, 1, false, true},     // 48 filters: dw's 16-filter tiles (rows of 5 taps)
      {3, 9, 9, 3, 64, 5, 5, 1, 1, false, false},    // 64 filters: dw's 64-filter tiles (rows of 15: 3 x 5)
      {2, 9, 10, 16, 16, 3, 3, 1, 1, false, true},   // neighbours' windows 16 floats apart: dx's 3-block
                                                      // tiles add into the same elements from two pixels
      {2, 6, 7, 1024, 512, 1, 1, 1, 1, false, true}, // forward only: 1x1, large weights (packed tiles)
      {2, 7, 7, 64, 520, 3, 3, 2, 2, false, false},  // forward only: large weights in 8-filter tiles
      {1, 6, 6, 128, 240, 3, 3, 1, 1, false, true},  // forward only: large weights in 16-filter tiles
  };
  uint32_t seed = 300;
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.sh, c.sw, c.same);
    ASSERT_TRUE(cpu::direct::handles_forward(s));
    const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, seed++);
    const auto w = random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, seed++);
    const auto b = random_vector(s.K, seed++);
    const auto dy = random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, seed++);
    auto run = [&](bool wide) {
      cpu::direct::set_avx512(wide);
      std::vector<float> y(dy.size()), dx(x.size()), dw(w.size());
      cpu::direct::forward(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
      if (cpu::direct::handles_input_gradient(s)) cpu::direct::input_gradient(s, w.data(), dy.data(), dx.data());
      if (cpu::direct::handles(s)) cpu::direct::weight_gradient(s, x.data(), dy.data(), dw.data());
      return std::vector<std::vector<float>>{y, dx, dw};
    };
    const auto wide = run(true), narrow = run(false);
    const char* names[] = {"y", "dx", "dw"};
    for (int i = 0; i < 3; ++i) {
      SCOPED_TRACE(names[i]);
      ASSERT_EQ(wide[i].size(), narrow[i].size());
      for (size_t j = 0; j < wide[i].size(); ++j)
        ASSERT_EQ(std::memcmp(&wide[i][j], &narrow[i][j], sizeof(float)), 0)
            << "element " << j << ": " << wide[i][j] << " (AVX-512) against " << narrow[i][j];
    }
  }
}

// Over 262,144 weights the direct forward blocks like a GEMM (groups of panels, blocks of taps,
// windows copied into a buffer) but keeps each output's sum in the same order: every slice of
// filters gives the bits that the unblocked kernel gives for those filters alone.
TEST(Conv2d, LargeWeightsForwardGivesTheBitsOfTheUnblockedKernel) {
  const Case cases[] = {
      {2, 9, 9, 72, 1024, 3, 3, 1, 1, false, true},  // several groups of panels, tap blocks 256 + 256 + 136
      {2, 6, 7, 1024, 512, 1, 1, 1, 1, false, true}, // 1x1: 4 whole tap blocks
      {2, 7, 7, 64, 520, 3, 3, 2, 2, false, false},  // 8-filter tiles, 18 pixels
      {1, 6, 6, 128, 240, 3, 3, 1, 1, false, true},  // 16-filter tiles (AVX-512): 16 pixels, tiles 12 + 4,
                                                      // a last tap block of 128, an uneven last group
      {1, 5, 5, 128, 256, 3, 3, 1, 1, false, false}, // 9 pixels: tiles 8 + 1 (AVX-512), 6 + 3 (8 floats)
  };
  constexpr int kSlice = 40;  // filters a slice: a multiple of 8 under every case's K, 23,040-40,960 weights
  uint32_t seed = 400;
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c));
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.sh, c.sw, c.same);
    const int64_t taps = int64_t{s.R} * s.S * s.C;
    ASSERT_GT(s.K * taps, 262144) << "not a large-weights shape";
    const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, seed++);
    const auto w = random_vector(static_cast<size_t>(s.K * taps), seed++);
    const auto b = random_vector(s.K, seed++);
    std::vector<float> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.K);
    cpu::direct::forward(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
    for (int k0 = 0; k0 < s.K; k0 += kSlice) {
      Conv2dShape part = s;
      part.K = std::min(kSlice, s.K - k0);
      std::vector<float> part_y(static_cast<size_t>(s.N) * s.OH * s.OW * part.K);
      cpu::direct::forward(part, x.data(), w.data() + k0 * taps, c.bias ? b.data() + k0 : nullptr, part_y.data());
      for (size_t p = 0; p < part_y.size() / part.K; ++p)
        for (int k = 0; k < part.K; ++k)
          ASSERT_EQ(std::memcmp(&y[p * s.K + k0 + k], &part_y[p * part.K + k], sizeof(float)), 0)
              << "pixel " << p << ", filter " << k0 + k << ": " << y[p * s.K + k0 + k] << " against "
              << part_y[p * part.K + k] << " from filters " << k0 << ".." << k0 + part.K - 1 << " alone";
    }
  }
}

// Weights packed once (conv2d_pack_forward_weights: what the engine keeps for frozen layers) give
// the bits of conv2d_forward, which packs them on every call: small and large weights, a last tap
// block of 136 (the packing pads it), in the 16-float kernels and the 8-float ones, whose panels
// differ (the layout says which).
TEST_F(DirectAvx512, PackedForwardWeightsGiveTheBitsOfTheForward) {
  const Case cases[] = {
      {3, 12, 11, 3, 16, 5, 5, 1, 1, false, true},   // experiment 1's conv1: small weights
      {2, 13, 13, 32, 64, 5, 5, 2, 2, false, false}, // conv3: 64 filters
      {2, 9, 9, 72, 1024, 3, 3, 1, 1, false, true},  // large: tap blocks 256 + 256 + 136, groups of panels
      {2, 6, 7, 1024, 512, 1, 1, 1, 1, false, true}, // large 1x1: 4 whole tap blocks
      {2, 7, 7, 64, 520, 3, 3, 2, 2, false, false},  // large in 8-filter tiles
  };
  uint32_t seed = 500;
  for (const bool wide : {true, false}) {
    cpu::direct::set_avx512(wide);
    if (wide && !cpu::direct::avx512()) continue;  // this CPU has no AVX-512: the 8-float kernels only
    for (const Case& c : cases) {
      SCOPED_TRACE(describe(c) + (wide ? ", 16-float kernels" : ", 8-float kernels"));
      const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.sh, c.sw, c.same);
      const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, seed++);
      const auto w = random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, seed++);
      const auto b = random_vector(s.K, seed++);
      const cpu::Conv2dPacking packing = cpu::conv2d_forward_packing(s);
      ASSERT_GE(packing.floats, static_cast<int64_t>(w.size()));
      std::vector<float> packed(static_cast<size_t>(packing.floats), std::nanf("")), y(s.N * s.OH * s.OW * s.K),
          y_packed(y.size());
      cpu::conv2d_pack_forward_weights(s, w.data(), packed.data());
      cpu::conv2d_forward(s, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
      cpu::conv2d_forward_packed(s, x.data(), packed.data(), c.bias ? b.data() : nullptr, y_packed.data());
      for (size_t j = 0; j < y.size(); ++j)
        ASSERT_EQ(std::memcmp(&y[j], &y_packed[j], sizeof(float)), 0)
            << "element " << j << ": " << y_packed[j] << " from packed weights against " << y[j];
    }
  }
  // The two widths' packings are told apart, so a packing made under one is not used under the other.
  const Conv2dShape s = make_conv2d_shape(2, 9, 9, 72, 1024, 3, 3, 1, 1, false);
  cpu::direct::set_avx512(false);
  EXPECT_EQ(cpu::conv2d_forward_packing(s).layout, 16);  // the 8-float kernels' panels: 16 filters
  cpu::direct::set_avx512(true);
  if (cpu::direct::avx512()) {
    EXPECT_EQ(cpu::conv2d_forward_packing(s).layout, 32);
  }
  // A padded shape's forward goes through im2col and packs nothing.
  EXPECT_EQ(cpu::conv2d_forward_packing(make_conv2d_shape(1, 8, 8, 3, 16, 3, 3, 1, 1, true)).floats, 0);
}

TEST(Conv2d, BackwardComputesOnlyTheRequestedGradients) {
  const Conv2dShape s = make_conv2d_shape(2, 7, 7, 3, 4, 3, 3, 2, 2, true);
  const auto x = random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C, 7);
  const auto w = random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, 8);
  const auto dy = random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 9);
  const NaiveGrads ref = naive_backward(s, x, w, dy);

  std::vector<float> dw(w.size(), 7.0f);
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), nullptr, dw.data(), nullptr);
  expect_all_near(dw, ref.dw, 1e-5, "dw alone");

  std::vector<float> dx(x.size(), 7.0f);
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), nullptr, nullptr);
  expect_all_near(dx, ref.dx, 1e-5, "dx alone");

  std::vector<float> db(s.K, 7.0f);
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), nullptr, nullptr, db.data());
  expect_all_near(db, ref.db, 1e-5, "db alone");
}

TEST(Conv2d, HandComputedSamePaddedSum) {
  // A 3x3 all-ones filter over a 3x3 image of ones with 'same' padding counts the in-image
  // neighbours: 4 in the corners, 6 on the edges, 9 in the centre.
  const Conv2dShape s = make_conv2d_shape(1, 3, 3, 1, 1, 3, 3, 1, 1, true);
  const std::vector<float> x(9, 1.0f), w(9, 1.0f);
  std::vector<float> y(9);
  cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{4, 6, 4, 6, 9, 6, 4, 6, 4}));
}

}  // namespace
}  // namespace cxr::kernels
