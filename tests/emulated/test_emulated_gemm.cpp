// The custom CUDA SGEMM and convolution (kernels/cuda/gemm.cu, conv2d.cu, tiled_gemm.cuh, big_sgemm.cuh), run from
// their own source on the CPU emulator (tests/emulated/cuda_emulator.h), against the CPU kernels.
// Inputs are small integers, so every order of summation gives the same float and the comparison
// is exact: any wrong index, missed tile or lost split-K slice shows.
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "big_sgemm.emulated.h"  // cuda::detail::big_sgemm_fits
#include "tiled_gemm.emulated.h"  // cuda::detail::tall_tiles, tile_shape
#include "small_weight_gradient.emulated.h"  // cuda::detail::small_weight_gradient_fits, small_dw_plan
#include "direct_conv_forward.emulated.h"  // cuda::detail::direct_conv_forward_fits
#include "kernels/conv2d.h"
#include "kernels/dense.h"
#include "kernels/shape_limit.h"

namespace cxr::kernels {
namespace {

std::vector<float> small_integers(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(-2, 2);
  std::vector<float> v(n);
  for (float& f : v) f = static_cast<float>(dist(rng));
  return v;
}

void expect_equal(const std::vector<float>& cpu, const std::vector<float>& emulated, const std::string& what) {
  ASSERT_EQ(cpu.size(), emulated.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < cpu.size(); ++i)
    if (cpu[i] != emulated[i] && ++bad <= 3)
      ADD_FAILURE() << what << " element " << i << ": CPU " << cpu[i] << ", emulated CUDA " << emulated[i];
  EXPECT_EQ(bad, 0) << what;
}

struct GemmShape {
  int M, N, K;
};

// cuda::sgemm against cpu::sgemm in all four layouts, beta 0 and 1.
void expect_sgemm_matches_the_cpu(const GemmShape g) {
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (float beta : {0.0f, 1.0f}) {
        const std::string what = "sgemm " + std::to_string(g.M) + "x" + std::to_string(g.N) + "x" +
                                 std::to_string(g.K) + (trans_a ? " A^T" : "") + (trans_b ? " B^T" : "") + " beta " +
                                 std::to_string(beta);
        const auto a = small_integers(static_cast<size_t>(g.M) * g.K, 1);
        const auto b = small_integers(static_cast<size_t>(g.K) * g.N, 2);
        auto want = small_integers(static_cast<size_t>(g.M) * g.N, 3), got = want;
        cpu::sgemm(trans_a, trans_b, g.M, g.N, g.K, 2.0f, a.data(), b.data(), beta, want.data());
        cuda::sgemm(trans_a, trans_b, g.M, g.N, g.K, 2.0f, a.data(), b.data(), beta, got.data());
        expect_equal(want, got, what);
      }
}

// The general tiled kernel: every tile width (16, 32, 64 along each side, 128 x 128), ragged edges,
// K = 0, and split-K (few tiles, long K; up to 128 slices).
TEST(EmulatedCuda, SgemmMatchesTheCpuInEveryLayout) {
  for (const GemmShape g : {GemmShape{1, 1, 1}, {5, 7, 3}, {16, 16, 16}, {17, 33, 15}, {33, 17, 100}, {65, 63, 17},
                            {100, 70, 0}, {16, 16, 2561}, {40, 3, 513}, {130, 20, 1100}, {31, 17, 9}, {2, 30, 1000},
                            {16, 16, 16384},      // 128 K-slices: 8 in each of the final sum's groups
                            {2112, 2050, 20}}) {  // the last: 128 x 128 tiles (8 x 8 per thread), ragged edges
    const std::vector<float> probe(4);
    EXPECT_FALSE(cuda::detail::big_sgemm_fits(false, false, g.M, g.N, g.K, probe.data(), probe.data(), probe.data()))
        << g.M << "x" << g.N << "x" << g.K << " was meant for the general kernel";
    expect_sgemm_matches_the_cpu(g);
  }
}

// Large aligned products take big_sgemm.cuh (128 x 128 tiles, float4 loads, double-buffered shared
// tiles, k-steps of 16): ragged edges on both sides, a K that ends half-way through a step's second
// half (36 = 2 x 16 + 4), a K inside the first half, K = 0.
TEST(EmulatedCuda, BigSgemmMatchesTheCpuInEveryLayout) {
  for (const GemmShape g : {GemmShape{1540, 1284, 36}, {1412, 1536, 4}, {1536, 1412, 0}, {1412, 1284, 28}}) {
    const std::vector<float> probe(4);
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true})
        ASSERT_TRUE(cuda::detail::big_sgemm_fits(trans_a, trans_b, g.M, g.N, g.K, probe.data(), probe.data(),
                                                 probe.data()))
            << g.M << "x" << g.N << "x" << g.K << " was meant for big_sgemm";
    expect_sgemm_matches_the_cpu(g);
  }
  // Rows of whole float4s but a misaligned matrix: the general kernel, same answer.
  const std::vector<float> probe(8);
  EXPECT_FALSE(cuda::detail::big_sgemm_fits(false, false, 1540, 1284, 36, probe.data() + 1, probe.data(),
                                            probe.data()));
  EXPECT_FALSE(cuda::detail::big_sgemm_fits(false, false, 1540, 1284, 37, probe.data(), probe.data(), probe.data()));
}

// Dense forward with and without a bias (the bias added in the GEMM's output step), split-K included.
TEST(EmulatedCuda, DenseForwardMatchesTheCpu) {
  for (const GemmShape g : {GemmShape{32, 64, 1024}, {5, 3, 37}, {32, 1, 1024}, {7, 130, 70}})
    for (bool with_bias : {false, true}) {
      const std::string what = "dense " + std::to_string(g.M) + "x" + std::to_string(g.K) + "x" + std::to_string(g.N) +
                               (with_bias ? " with bias" : "");
      const auto x = small_integers(static_cast<size_t>(g.M) * g.K, 8);
      const auto w = small_integers(static_cast<size_t>(g.K) * g.N, 9);
      const auto bias = small_integers(static_cast<size_t>(g.N), 10);
      std::vector<float> want(static_cast<size_t>(g.M) * g.N), got(want.size(), 1e30f);  // unwritten shows
      cpu::dense_forward(g.M, g.K, g.N, x.data(), w.data(), with_bias ? bias.data() : nullptr, want.data());
      cuda::dense_forward(g.M, g.K, g.N, x.data(), w.data(), with_bias ? bias.data() : nullptr, got.data());
      expect_equal(want, got, what);
    }
}

struct ConvCase {
  int N, H, W, C, K, R, S, stride_h, stride_w;
  bool same;
};

// Experiment 1's layer types, ResNet's 1x1 stride-2 shortcut and 3x3 'same', strides above the filter,
// 7x7, weight gradients split over K, and stride phases of the input gradient split over K (their
// partial sums then written to the phase's pixels).
const ConvCase kConvCases[] = {{2, 12, 12, 3, 4, 5, 5, 1, 1, false}, {2, 13, 11, 16, 5, 5, 5, 2, 2, false},
                               {2, 9, 9, 20, 33, 1, 1, 2, 2, false}, {1, 11, 13, 7, 17, 3, 3, 3, 3, true},
                               {1, 12, 12, 5, 4, 2, 2, 3, 3, true},  {2, 8, 8, 64, 70, 3, 3, 1, 1, true},
                               {1, 9, 10, 2, 3, 7, 7, 2, 2, true},   {3, 20, 20, 8, 40, 3, 3, 1, 1, true},
                               {2, 9, 9, 8, 128, 3, 3, 2, 2, false},
                               // Strides as large as Keras allows: one output pixel, and phases (the
                               // input gradient's) only where the input has rows and columns.
                               {2, 7, 6, 3, 4, 3, 3, 1000000000, 1000000000, false},
                               {1, 5, 7, 2, 3, 3, 3, 2147483647, 2147483647, true},
                               {2, 9, 8, 3, 5, 3, 2, 1000000000, 2, true}};

// Sets the tiled GEMM's layout choice for a scope (kernels/dense.h), then puts back the automatic one.
struct TallTilesFor {
  explicit TallTilesFor(cuda::TallTiles mode) { cuda::set_gemm_tall_tiles(mode); }
  ~TallTilesFor() { cuda::set_gemm_tall_tiles(cuda::TallTiles::kAuto); }
};

// Forward, input, weight and bias gradients of one convolution, each against the CPU's.
void expect_convolution_matches_the_cpu(const ConvCase c) {
  const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.stride_h, c.stride_w, c.same);
  const std::string what = std::to_string(c.N) + "x" + std::to_string(c.H) + "x" + std::to_string(c.W) + "x" +
                           std::to_string(c.C) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" +
                           std::to_string(c.S) + " stride " + std::to_string(c.stride_h) + (c.same ? " same" : "");
  const size_t in = static_cast<size_t>(s.N) * s.H * s.W * s.C, out = static_cast<size_t>(s.N) * s.OH * s.OW * s.K;
  const size_t weights = static_cast<size_t>(s.K) * s.R * s.S * s.C;
  const auto x = small_integers(in, 4), w = small_integers(weights, 5), dy = small_integers(out, 6);
  const auto bias = small_integers(static_cast<size_t>(s.K), 7);
  std::vector<float> y(out), dx(in), dw(weights), db(static_cast<size_t>(s.K));
  std::vector<float> ey(out), edx(in, 1e30f), edw(weights), edb(static_cast<size_t>(s.K));  // unwritten dx shows
  cpu::conv2d_forward(s, x.data(), w.data(), bias.data(), y.data());
  cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  cuda::conv2d_forward(s, x.data(), w.data(), bias.data(), ey.data());
  cuda::conv2d_backward(s, x.data(), w.data(), dy.data(), edx.data(), edw.data(), edb.data());
  expect_equal(y, ey, what + " forward");
  expect_equal(dx, edx, what + " dx");
  expect_equal(dw, edw, what + " dw");
  expect_equal(db, edb, what + " bias gradient");
  // Without a bias (the kernel adds it while writing y, when there is one).
  cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
  std::fill(ey.begin(), ey.end(), 1e30f);  // what is not written shows
  cuda::conv2d_forward(s, x.data(), w.data(), nullptr, ey.data());
  expect_equal(y, ey, what + " forward without bias");
}

TEST(EmulatedCuda, ConvolutionMatchesTheCpu) {
  for (const ConvCase c : kConvCases) expect_convolution_matches_the_cpu(c);
}

// The tall tiles (tiled_gemm.cuh: 128-row tiles, 32 x 8 threads, 4 x 2 or 4 x 4 a thread) on every
// product they can take, ragged edges and all: plain matrices of at most 32 columns, and every
// convolution GEMM of at most 32 columns (forwards of few filters, input gradients of few channels).
TEST(EmulatedCuda, TallTilesMatchTheCpu) {
  const TallTilesFor always(cuda::TallTiles::kAlways);
  for (const GemmShape g : {GemmShape{1, 1, 1}, {5, 7, 3}, {33, 17, 100}, {31, 17, 9}, {200, 16, 40},
                            {300, 32, 70}, {129, 9, 33}, {257, 31, 17}}) {
    const cuda::detail::TileShape usual = cuda::detail::tile_shape(g.M, g.N, true);
    EXPECT_TRUE(cuda::detail::tall_tiles(g.M, g.N, 1, usual)) << g.M << "x" << g.N << "x" << g.K;
    expect_sgemm_matches_the_cpu(g);
  }
  for (const ConvCase c : kConvCases) expect_convolution_matches_the_cpu(c);
}

// Left to choose, the tiled GEMM takes the tall tiles for many rows and at most 32 columns unsplit,
// and the 16 x 16 layout otherwise; both give the CPU's numbers.
TEST(EmulatedCuda, TallTilesWhereThereAreRowsEnough) {
  using cuda::detail::tall_tiles;
  using cuda::detail::tile_shape;
  EXPECT_TRUE(tall_tiles(264 * 128, 16, 1, tile_shape(264 * 128, 16, false)));
  EXPECT_FALSE(tall_tiles(263 * 128, 16, 1, tile_shape(263 * 128, 16, false)));  // under 2 an SM
  EXPECT_FALSE(tall_tiles(264 * 128, 33, 1, tile_shape(264 * 128, 33, false)));  // too wide
  EXPECT_FALSE(tall_tiles(264 * 128, 16, 2, tile_shape(264 * 128, 16, false)));  // split over K
  {
    const TallTilesFor never(cuda::TallTiles::kNever);
    EXPECT_FALSE(tall_tiles(264 * 128, 16, 1, tile_shape(264 * 128, 16, false)));
  }
  expect_sgemm_matches_the_cpu({264 * 128 + 5, 20, 24});
}

// An input gradient of 1 channel over 32,767 x 1 pixels padded by 2 ('same' 5 x 5): quotients up to
// 32,768, past a signed 16-bit field (gemm_loaders.h's PhasePixel packs them unsigned), in both layouts.
TEST(EmulatedCuda, InputGradientOfTheTallestInput) {
  for (cuda::TallTiles mode : {cuda::TallTiles::kNever, cuda::TallTiles::kAlways}) {
    const TallTilesFor layout(mode);
    expect_convolution_matches_the_cpu({1, 32767, 1, 1, 2, 5, 5, 1, 1, true});
  }
}

// Each case through a first-layer kernel (kernels/conv2d.h's run-time choices): `fits` must take
// it, and the convolution must match the CPU with the kernel (`allow(true)`) and without.
void expect_first_layer_kernel_matches_the_cpu(std::initializer_list<ConvCase> cases,
                                               bool (*fits)(const Conv2dShape&), void (*allow)(bool)) {
  for (const ConvCase c : cases) {
    const Conv2dShape s = make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.stride_h, c.stride_w, c.same);
    EXPECT_TRUE(fits(s)) << c.C << " channels, " << c.K << " filters of " << c.R << "x" << c.S;
    for (bool allowed : {true, false}) {
      allow(allowed);
      expect_convolution_matches_the_cpu(c);
    }
    allow(true);  // the default
  }
}

// The small-output weight gradient (kernels/cuda/small_weight_gradient.cuh) on the shapes it takes,
// with it and with the tiled GEMM: a first layer of 17,424 pixels (273 blocks of 2 chunks of 32, the
// last block one chunk of 16), the largest output (32 filters x 128 taps: one group of 256 threads),
// one weight (256 groups of one thread), and odd filter and tap counts with 'same' padding.
TEST(EmulatedCuda, SmallWeightGradientMatchesTheCpu) {
  using cuda::detail::small_weight_gradient_fits;
  expect_first_layer_kernel_matches_the_cpu({{9, 48, 48, 3, 16, 5, 5, 1, 1, false},
                                             {2, 9, 9, 8, 32, 4, 4, 1, 1, false},
                                             {3, 7, 5, 1, 1, 1, 1, 1, 1, false},
                                             {2, 15, 13, 3, 7, 5, 5, 2, 2, true}},
                                            small_weight_gradient_fits, cuda::set_conv_small_weight_gradient);
  const auto shape = [](int C, int K, int R) { return make_conv2d_shape(1, 9, 9, C, K, R, R, 1, 1, false); };
  EXPECT_EQ(cuda::detail::small_dw_plan(17424).blocks, 273);
  EXPECT_FALSE(small_weight_gradient_fits(shape(3, 33, 5)));  // 33 filters
  EXPECT_FALSE(small_weight_gradient_fits(shape(43, 16, 2)));  // 172 taps x channels
}

// The direct forward (kernels/cuda/direct_conv_forward.cuh) on the shapes it takes, with it and with
// the GEMM: experiment 1's first layer on a smaller image (38 x 38 outputs: two tiles a side, the
// second ragged), 'same' padding on every side with odd sizes and fewer than 16 filters, 7 x 7 taps
// over 4 channels (the largest patch), and a single 1 x 1 filter over one channel.
TEST(EmulatedCuda, DirectForwardMatchesTheCpu) {
  using cuda::detail::direct_conv_forward_fits;
  expect_first_layer_kernel_matches_the_cpu({{1, 42, 42, 3, 16, 5, 5, 1, 1, false},
                                             {2, 37, 29, 3, 7, 3, 3, 1, 1, true},
                                             {1, 34, 33, 4, 16, 7, 7, 1, 1, true},
                                             {3, 5, 4, 1, 1, 1, 1, 1, 1, false}},
                                            direct_conv_forward_fits, cuda::set_conv_direct_forward);
  const auto shape = [](int C, int K, int R, int stride) {
    return make_conv2d_shape(1, 20, 20, C, K, R, R, stride, stride, false);
  };
  EXPECT_FALSE(direct_conv_forward_fits(shape(3, 16, 5, 2)));  // strided
  EXPECT_FALSE(direct_conv_forward_fits(shape(5, 16, 5, 1)));  // 5 channels
  EXPECT_FALSE(direct_conv_forward_fits(shape(3, 17, 5, 1)));  // 17 filters
  EXPECT_FALSE(direct_conv_forward_fits(shape(3, 16, 8, 1)));  // 8 x 8 taps
}

// The im2col loaders keep a window's corner in 16 bits a coordinate: a taller input is refused with
// a message naming the limit and the way around it, before any memory is touched.
TEST(EmulatedCuda, ConvolutionRefusesInputsPastSixteenBitCorners) {
  const Conv2dShape tall = make_conv2d_shape(1, 40000, 8, 1, 1, 3, 3, 1, 1, false);
  try {
    cuda::conv2d_forward(tall, nullptr, nullptr, nullptr, nullptr);
    ADD_FAILURE() << "a 40000-pixel-high input was accepted";
  } catch (const ShapeLimitError& e) {  // bad input for the run, which the engine reports as such
    EXPECT_NE(std::string(e.what()).find("32767"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("40000 x 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cuda::conv2d_backward(tall, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr), ShapeLimitError);
  const Conv2dShape largest = make_conv2d_shape(1, 32767, 1, 1, 1, 1, 1, 1, 1, false);
  std::vector<float> x(32767, 1.0f), w(1, 2.0f), y(32767);
  cuda::conv2d_forward(largest, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y.back(), 2.0f);
}

}  // namespace
}  // namespace cxr::kernels
