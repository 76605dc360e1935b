// The custom CUDA GEMM's loaders (kernels/cuda/gemm_loaders.h) are host code too: here, on the CPU,
// every element they produce is checked against the plain im2col formulas, and whole convolutions
// summed through them (the GEMMs the CUDA kernel runs) against kernels/cpu/conv2d.cpp. Also the
// kernel's load layout: each thread's loads cover every element of a tile step exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cuda/gemm_loaders.h"

namespace cxr::kernels::cuda::detail {
namespace {

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

struct Case {
  int N, H, W, C, K, R, S, stride_h, stride_w;
  bool same;
};

// Experiment 1's layer types (5x5 stride 1 and 2 on RGB and 16 channels), ResNet's 1x1, 3x3 'same'
// with uneven padding, 7x7 stride 2 and 3x3 stride 2 with stride gaps, and non-square ones.
const std::vector<Case> kCases = {
    {2, 12, 12, 3, 4, 5, 5, 1, 1, false}, {2, 13, 11, 16, 5, 5, 5, 2, 2, false}, {1, 7, 7, 8, 6, 1, 1, 1, 1, false},
    {2, 6, 5, 3, 3, 3, 3, 1, 1, true},    {1, 9, 10, 2, 3, 7, 7, 2, 2, true},    {2, 8, 7, 5, 2, 3, 3, 2, 2, true},
    {1, 10, 6, 4, 3, 3, 2, 3, 1, false}, {2, 9, 9, 20, 33, 1, 1, 2, 2, false},  // ResNet's 1x1 stride-2 shortcut
    {1, 12, 12, 5, 4, 2, 2, 3, 3, true}};  // stride above the filter: taps never meet some pixels

std::string name(const Case& c) {
  return "N" + std::to_string(c.N) + " " + std::to_string(c.H) + "x" + std::to_string(c.W) + "x" +
         std::to_string(c.C) + " K" + std::to_string(c.K) + " " + std::to_string(c.R) + "x" + std::to_string(c.S) +
         " stride " + std::to_string(c.stride_h) + "," + std::to_string(c.stride_w) + (c.same ? " same" : " valid");
}

Conv2dShape shape_of(const Case& c) {
  return make_conv2d_shape(c.N, c.H, c.W, c.C, c.K, c.R, c.S, c.stride_h, c.stride_w, c.same);
}

// The im2col value (pixel, (r*S + s)*C + c), written out plainly.
float im2col(const Conv2dShape& s, const std::vector<float>& x, int pixel, int rsc) {
  const int c = rsc % s.C, r = rsc / s.C / s.S, tap_s = rsc / s.C % s.S;
  const int ow = pixel % s.OW, oh = pixel / s.OW % s.OH, n = pixel / s.OW / s.OH;
  const int ih = oh * s.stride_h - s.pad_top + r, iw = ow * s.stride_w - s.pad_left + tap_s;
  if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return 0.0f;
  return x[((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C + c];
}

// dy at the output pixel that saw input pixel `in_pixel` through tap (r, s), for filter k; else 0.
float gathered_dy(const Conv2dShape& s, const std::vector<float>& dy, int in_pixel, int kp) {
  const int k = kp % s.K, r = kp / s.K / s.S, tap_s = kp / s.K % s.S;
  const int iw = in_pixel % s.W, ih = in_pixel / s.W % s.H, n = in_pixel / s.W / s.H;
  const int h = ih + s.pad_top - r, w = iw + s.pad_left - tap_s;
  if (h < 0 || w < 0 || h % s.stride_h != 0 || w % s.stride_w != 0) return 0.0f;
  const int oh = h / s.stride_h, ow = w / s.stride_w;
  if (oh >= s.OH || ow >= s.OW) return 0.0f;
  return dy[((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k];
}

// C[M][N] = sum_k A(m, k) B(k, n) through the loaders' two stages, in double.
template <class LoadA, class LoadB>
std::vector<double> gemm(int M, int N, int K, const LoadA& a, const LoadB& b) {
  std::vector<double> out(static_cast<size_t>(M) * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = 0.0;
      for (int k = 0; k < K; ++k) acc += static_cast<double>(a(a.row(m), a.col(k))) * b(b.row(n), b.col(k));
      out[static_cast<size_t>(m) * N + n] = acc;
    }
  return out;
}

void expect_near_all(const std::vector<float>& want, const std::vector<double>& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(want[i] - got[i]) <= 1e-4 * (1.0 + std::fabs(got[i]))) && ++bad <= 3)  // NaN fails
      ADD_FAILURE() << what << " element " << i << ": CPU kernel " << want[i] << ", loaders " << got[i];
  EXPECT_EQ(bad, 0) << what;
}

TEST(GemmLoaders, Im2colLoadersGiveEveryIm2colValue) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    const Conv2dShape s = shape_of(c);
    const std::vector<float> x = random_values(static_cast<size_t>(s.N) * s.H * s.W * s.C, 1);
    const Im2colA a{{s}, x.data()};
    const Im2colB b{{s}, x.data()};
    const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
    int mismatches = 0;
    for (int p = 0; p < pixels; ++p)
      for (int k = 0; k < rsc; ++k) {
        const float want = im2col(s, x, p, k);
        if (a(a.row(p), a.col(k)) != want || b(b.row(k), b.col(p)) != want) ++mismatches;
      }
    EXPECT_EQ(mismatches, 0);
  }
}

// The input pixel (as n * H * W + ih * W + iw) of row m of a stride phase.
int phase_pixel(const Conv2dShape& s, const StridePhase& p, int m) {
  const int j = m % p.cols, i = m / p.cols % p.rows, n = m / p.cols / p.rows;
  return (n * s.H + p.ih0 + s.stride_h * i) * s.W + p.iw0 + s.stride_w * j;
}

// k' of the all-taps layout, (r * S + s) * K + k, for k' = (r' * taps_s + s') * K + k of a phase.
int all_taps_index(const Conv2dShape& s, const StridePhase& p, int kp) {
  const int k = kp % s.K, rs = kp / s.K;
  const int r = p.ph + s.stride_h * (rs / p.taps_s), tap_s = p.pw + s.stride_w * (rs % p.taps_s);
  return (r * s.S + tap_s) * s.K + k;
}

// The phases cover every input pixel once, each meets every tap that reaches its pixels (any other
// gives 0), and the gather gives dy at the output pixel that saw the input pixel through the tap.
TEST(GemmLoaders, StridePhasesGatherDyAtTheOutputPixelThatSawEachInputPixel) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    const Conv2dShape s = shape_of(c);
    const std::vector<float> dy = random_values(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 2);
    std::vector<int> seen(static_cast<size_t>(s.N) * s.H * s.W, 0);
    int mismatches = 0, nonzero = 0, missed_taps = 0;
    for (int ph = 0; ph < s.stride_h; ++ph)
      for (int pw = 0; pw < s.stride_w; ++pw) {
        const StridePhase p = stride_phase(s, ph, pw);
        const PhaseGradOutput a{s, p, dy.data()};
        const int depth = p.taps_r * p.taps_s * s.K;
        for (int m = 0; m < p.pixels(s); ++m) {
          const int pixel = phase_pixel(s, p, m);
          ++seen[static_cast<size_t>(pixel)];
          std::vector<bool> met(static_cast<size_t>(s.R) * s.S * s.K, false);
          for (int kp = 0; kp < depth; ++kp) {
            const int all = all_taps_index(s, p, kp);
            met[static_cast<size_t>(all)] = true;
            const float want = gathered_dy(s, dy, pixel, all);
            nonzero += want != 0.0f;
            if (a(a.row(m), a.col(kp)) != want) ++mismatches;
          }
          for (int all = 0; all < s.R * s.S * s.K; ++all)
            if (!met[static_cast<size_t>(all)] && gathered_dy(s, dy, pixel, all) != 0.0f) ++missed_taps;
        }
      }
    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(missed_taps, 0);
    EXPECT_GT(nonzero, 0);  // the comparison saw real values, not only padding
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<std::ptrdiff_t>(seen.size()));
  }
}

// dx from the phases' GEMMs, each phase's rows put back at their pixels (conv2d.cu's scatter).
std::vector<double> input_gradient_by_phase(const Conv2dShape& s, const std::vector<float>& w,
                                            const std::vector<float>& dy) {
  std::vector<double> dx(static_cast<size_t>(s.N) * s.H * s.W * s.C, -1e30);  // unwritten shows
  for (int ph = 0; ph < s.stride_h; ++ph)
    for (int pw = 0; pw < s.stride_w; ++pw) {
      const StridePhase p = stride_phase(s, ph, pw);
      const std::vector<double> part = gemm(p.pixels(s), s.C, p.taps_r * p.taps_s * s.K,
                                            PhaseGradOutput{s, p, dy.data()}, PhaseWeight{s, p, w.data()});
      for (int m = 0; m < p.pixels(s); ++m)
        for (int ch = 0; ch < s.C; ++ch)
          dx[static_cast<size_t>(phase_pixel(s, p, m)) * s.C + ch] = part[static_cast<size_t>(m) * s.C + ch];
    }
  return dx;
}

// The GEMMs of kernels/cuda/conv2d.cu, summed through the loaders, are the CPU convolution.
TEST(GemmLoaders, ConvolutionGemmsThroughTheLoadersMatchTheCpuKernel) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    const Conv2dShape s = shape_of(c);
    const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C, in_pixels = s.N * s.H * s.W;
    const std::vector<float> x = random_values(static_cast<size_t>(in_pixels) * s.C, 3);
    const std::vector<float> w = random_values(static_cast<size_t>(s.K) * rsc, 4);
    const std::vector<float> dy = random_values(static_cast<size_t>(pixels) * s.K, 5);
    std::vector<float> y(static_cast<size_t>(pixels) * s.K), dx(x.size()), dw(w.size());
    cpu::conv2d_forward(s, x.data(), w.data(), nullptr, y.data());
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), dx.data(), dw.data(), nullptr);
    expect_near_all(y, gemm(pixels, s.K, rsc, Im2colA{{s}, x.data()}, MatrixB<true>{w.data(), rsc}), "forward");
    expect_near_all(dw, gemm(s.K, rsc, pixels, MatrixA<true>{dy.data(), s.K}, Im2colB{{s}, x.data()}), "dw");
    expect_near_all(dx, input_gradient_by_phase(s, w, dy), "dx");
  }
}

// Stride 1 is a single phase holding the whole input in order and every tap: the GEMM can write dx.
TEST(GemmLoaders, StrideOneIsOnePhaseOfEveryPixelInOrder) {
  const Conv2dShape s = make_conv2d_shape(2, 9, 7, 3, 4, 3, 5, 1, 1, true);
  const StridePhase p = stride_phase(s, 0, 0);
  EXPECT_EQ(p.pixels(s), s.N * s.H * s.W);
  EXPECT_EQ(p.taps_r * p.taps_s, s.R * s.S);
  for (int m = 0; m < p.pixels(s); ++m) ASSERT_EQ(phase_pixel(s, p, m), m);
  for (int kp = 0; kp < s.R * s.S * s.K; ++kp) ASSERT_EQ(all_taps_index(s, p, kp), kp);
}

// kContiguousK promises the kernel which index walks memory one float at a time (k, else the row):
// a wrong flag would still give right results, only slow ones. Reading an image whose values are
// their own addresses + 1 (0 stays padding) shows the stride of every loader.
template <class Load>
int64_t expect_unit_stride(const Load& load, int rows, int depth, int period) {
  int64_t checked = 0;
  for (int i = 0; i < rows; ++i)
    for (int k = 0; k < depth; ++k) {
      const bool along_k = Load::kContiguousK;
      const int next_i = along_k ? i : i + 1, next_k = along_k ? k + 1 : k;
      if (next_i >= rows || next_k >= depth || (along_k ? next_k : next_i) % period == 0) continue;  // next group
      const float here = load(load.row(i), load.col(k)), next = load(load.row(next_i), load.col(next_k));
      if (here == 0.0f || next == 0.0f) continue;  // padding
      ++checked;
      if (next - here != 1.0f) {
        ADD_FAILURE() << "(" << i << ", " << k << "): address " << here - 1 << ", next " << next - 1;
        return checked;
      }
    }
  return checked;
}

TEST(GemmLoaders, ContiguousFlagMatchesEachLoadersMemoryStride) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(name(c));
    const Conv2dShape s = shape_of(c);
    std::vector<float> x(static_cast<size_t>(s.N) * s.H * s.W * s.C), dy(static_cast<size_t>(s.N) * s.OH * s.OW * s.K),
        w(static_cast<size_t>(s.K) * s.R * s.S * s.C);
    for (auto* v : {&x, &dy, &w})
      for (size_t j = 0; j < v->size(); ++j) (*v)[j] = static_cast<float>(j + 1);
    const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
    // Consecutive rsc are consecutive channels within a tap; consecutive k' consecutive filters.
    EXPECT_GT(expect_unit_stride(Im2colA{{s}, x.data()}, pixels, rsc, s.C), 0);
    EXPECT_GT(expect_unit_stride(Im2colB{{s}, x.data()}, rsc, pixels, s.C), 0);
    int64_t gathered = 0, weights = 0;
    for (int ph = 0; ph < s.stride_h; ++ph)
      for (int pw = 0; pw < s.stride_w; ++pw) {
        const StridePhase p = stride_phase(s, ph, pw);
        const int depth = p.taps_r * p.taps_s * s.K;
        gathered += expect_unit_stride(PhaseGradOutput{s, p, dy.data()}, p.pixels(s), depth, s.K);
        weights += expect_unit_stride(PhaseWeight{s, p, w.data()}, s.C, depth, s.C);
      }
    EXPECT_GT(gathered, 0);
    EXPECT_GT(weights, 0);
    EXPECT_GT(expect_unit_stride(MatrixB<true>{w.data(), rsc}, s.K, rsc, rsc), 0);
    EXPECT_GT(expect_unit_stride(MatrixA<true>{dy.data(), s.K}, s.K, pixels, s.K), 0);
  }
}

TEST(GemmLoaders, MatrixLoadersReadEachLayout) {
  const int M = 5, N = 7, K = 3;
  const std::vector<float> a = random_values(M * K, 6), b = random_values(K * N, 7);
  std::vector<float> a_t(M * K), b_t(K * N);  // [K][M] and [N][K]
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) a_t[k * M + m] = a[m * K + k];
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) b_t[n * K + k] = b[k * N + n];
  const MatrixA<false> plain_a{a.data(), K};
  const MatrixA<true> trans_a{a_t.data(), M};
  const MatrixB<false> plain_b{b.data(), N};
  const MatrixB<true> trans_b{b_t.data(), K};
  for (int m = 0; m < M; ++m)
    for (int k = 0; k < K; ++k) {
      EXPECT_EQ(plain_a(plain_a.row(m), plain_a.col(k)), a[m * K + k]);
      EXPECT_EQ(trans_a(trans_a.row(m), trans_a.col(k)), a[m * K + k]);
    }
  for (int k = 0; k < K; ++k)
    for (int n = 0; n < N; ++n) {
      EXPECT_EQ(plain_b(plain_b.row(n), plain_b.col(k)), b[k * N + n]);
      EXPECT_EQ(trans_b(trans_b.row(n), trans_b.col(k)), b[k * N + n]);
    }
}

// Every (wide, deep) position of a tile step (16, 32, 64 or 128 wide x 16 deep) is loaded by exactly one
// (thread, load), in both layouts; along k, a thread's loads share one k, along the width one row;
// and consecutive threads read consecutive addresses along the contiguous index.
TEST(GemmLoaders, TileLoadLayoutCoversEachElementOnce) {
  for (int width : {16, 32, 64, 128})
    for (bool contiguous_k : {true, false}) {
      SCOPED_TRACE(std::to_string(width) + (contiguous_k ? " wide, contiguous k" : " wide, contiguous width"));
      ASSERT_EQ(tile_loads(width), width / 16);
      std::vector<int> hits(static_cast<size_t>(width) * kTileK, 0);
      for (int tid = 0; tid < kGemmThreads; ++tid)
        for (int i = 0; i < tile_loads(width); ++i) {
          const int wide = tile_wide(contiguous_k, width, tid, i), deep = tile_deep(contiguous_k, width, tid, i);
          ASSERT_TRUE(wide >= 0 && wide < width && deep >= 0 && deep < kTileK) << tid << " " << i;
          ++hits[static_cast<size_t>(deep) * width + wide];
          if (contiguous_k)
            EXPECT_EQ(deep, tile_deep(true, width, tid, 0));
          else
            EXPECT_EQ(wide, tile_wide(false, width, tid, 0));
        }
      for (int h : hits) ASSERT_EQ(h, 1);
      EXPECT_EQ(contiguous_k ? tile_deep(true, width, 1, 0) - tile_deep(true, width, 0, 0)
                             : tile_wide(false, width, 1, 0) - tile_wide(false, width, 0, 0),
                1);
    }
}

}  // namespace
}  // namespace cxr::kernels::cuda::detail
