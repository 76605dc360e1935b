// Direct convolution for few input channels (kernels/cpu/conv2d_direct.h). GCC vector extensions
// (8 floats) rather than intrinsics, so the code is portable; each entry point has an x86-64-v3
// clone (AVX2 + FMA) picked at load time where the CPU has it. Outputs are computed in float with
// a different summation order than im2col + OpenBLAS: equal within float rounding, not bitwise.
// Measured on experiment 1's first layer (2-core EPYC, one thread): forward 4.6 -> 2.8 ms,
// weight gradient 4.7 -> 2.7 ms; on experiment 3's, 34 -> 19 ms and 37 -> 22 ms.
#include "kernels/cpu/conv2d_direct.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/parallel.h"

// The 32-byte vector helpers below are always inlined, so no vector ever crosses a call: GCC's
// warning that such a return "changes the ABI" without AVX does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

#define CXR_DIRECT_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))

namespace cxr::kernels::cpu::direct {
namespace {

using v8 = float __attribute__((vector_size(32)));

[[gnu::always_inline]] inline v8 load(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }

// wt[(r*S + s)*C + c][k] = w[k][r][s][c]: one tap's K weights contiguous.
std::vector<float> taps_major(const Conv2dShape& s, const float* w) {
  const int64_t taps = int64_t{s.R} * s.S * s.C;
  std::vector<float> wt(static_cast<size_t>(taps * s.K));
  for (int k = 0; k < s.K; ++k)
    for (int64_t t = 0; t < taps; ++t) wt[t * s.K + k] = w[k * taps + t];
  return wt;
}

// PB output pixels of one row (starting at ow0) times KV*8 filters (starting at kb), accumulated in
// registers over every tap, then written with the bias.
template <int KV, int PB>
[[gnu::always_inline]] inline void forward_block(const Conv2dShape& s, const float* x_img, const float* wt,
                                                 const float* bias, int oh, int ow0, int kb, float* y_row) {
  v8 acc[PB][KV];
  for (int q = 0; q < KV; ++q) {
    const v8 b = bias ? load(bias + kb + 8 * q) : v8{};
    for (int p = 0; p < PB; ++p) acc[p][q] = b;
  }
  for (int r = 0; r < s.R; ++r) {
    const float* x_row = x_img + static_cast<int64_t>(oh * s.stride_h + r) * s.W * s.C;
    for (int sx = 0; sx < s.S; ++sx) {
      for (int c = 0; c < s.C; ++c) {
        const float* wp = wt + (static_cast<int64_t>((r * s.S + sx) * s.C + c)) * s.K + kb;
        v8 wv[KV];
        for (int q = 0; q < KV; ++q) wv[q] = load(wp + 8 * q);
        for (int p = 0; p < PB; ++p) {
          const float xv = x_row[static_cast<int64_t>((ow0 + p) * s.stride_w + sx) * s.C + c];
          for (int q = 0; q < KV; ++q) acc[p][q] += xv * wv[q];
        }
      }
    }
  }
  for (int p = 0; p < PB; ++p)
    for (int q = 0; q < KV; ++q) store(y_row + static_cast<int64_t>(ow0 + p) * s.K + kb + 8 * q, acc[p][q]);
}

// Output rows [row0, row1) of the whole batch (row = n * OH + oh). Inlined into each clone of
// forward_dispatch, so the whole loop nest is compiled for its target (a plain template would be
// compiled once, for the baseline, and called from both clones).
template <int KV, int PB>
[[gnu::always_inline]] inline void forward_rows(const Conv2dShape& s, const float* x, const float* wt,
                                                const float* bias, float* y, int64_t row0, int64_t row1) {
  const int64_t image = int64_t{s.H} * s.W * s.C;
  for (int64_t row = row0; row < row1; ++row) {
    const int n = static_cast<int>(row / s.OH), oh = static_cast<int>(row % s.OH);
    float* y_row = y + row * s.OW * s.K;
    for (int kb = 0; kb < s.K; kb += 8 * KV) {
      int ow = 0;
      for (; ow + PB <= s.OW; ow += PB) forward_block<KV, PB>(s, x + n * image, wt, bias, oh, ow, kb, y_row);
      for (; ow < s.OW; ++ow) forward_block<KV, 1>(s, x + n * image, wt, bias, oh, ow, kb, y_row);
    }
  }
}

// Called once per thread's range of rows: the parallel loop stays outside the clones, since a
// lambda inside one would be compiled for the baseline target only.
CXR_DIRECT_CLONES void forward_dispatch(const Conv2dShape& s, const float* x, const float* wt, const float* bias,
                                        float* y, int64_t row0, int64_t row1) {
  if (s.K % 16 == 0) forward_rows<2, 4>(s, x, wt, bias, y, row0, row1);
  else forward_rows<1, 8>(s, x, wt, bias, y, row0, row1);
}

// dwt[t][kb..] += sum over the pixels [p0, p1) of one image of x[pixel's window + off[t]] * dy[pixel],
// for TB taps from t0 at once, KV*8 filters from kb, in registers.
template <int KV, int TB>
[[gnu::always_inline]] inline void weight_block(const Conv2dShape& s, const float* x_img, const float* dy_img,
                                                const int64_t* off, int t0, int kb, int p0, int p1, float* dwt) {
  v8 acc[TB][KV] = {};
  for (int p = p0; p < p1; ++p) {
    const int oh = p / s.OW, ow = p % s.OW;
    const float* origin = x_img + (static_cast<int64_t>(oh * s.stride_h) * s.W + ow * s.stride_w) * s.C;
    v8 g[KV];
    for (int q = 0; q < KV; ++q) g[q] = load(dy_img + static_cast<int64_t>(p) * s.K + kb + 8 * q);
    for (int t = 0; t < TB; ++t) {
      const float xv = origin[off[t0 + t]];
      for (int q = 0; q < KV; ++q) acc[t][q] += xv * g[q];
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int q = 0; q < KV; ++q) {
      float* d = dwt + static_cast<int64_t>(t0 + t) * s.K + kb + 8 * q;
      store(d, load(d) + acc[t][q]);
    }
}

// The taps [tap0, tap1) of dwt, summed over the whole batch. Each tap's sums run in the same order
// whichever range it falls in, so splitting the taps over threads does not change the result.
template <int KV>
[[gnu::always_inline]] inline void weight_taps(const Conv2dShape& s, const float* x, const float* dy,
                                               const int64_t* off, int tap0, int tap1, float* dwt) {
  constexpr int kTaps = KV == 2 ? 6 : 12;  // taps per pass: KV*kTaps accumulators + KV + 1 registers
  const int pixels = s.OH * s.OW;
  // Pixels in chunks whose dy (chunk * K floats, 128 KB) stays in L2 across the passes over the taps.
  const int chunk = std::max(1, static_cast<int>((int64_t{1} << 15) / s.K));
  const int64_t image = int64_t{s.H} * s.W * s.C;
  for (int n = 0; n < s.N; ++n) {
    const float* x_img = x + n * image;
    const float* dy_img = dy + static_cast<int64_t>(n) * pixels * s.K;
    for (int p0 = 0; p0 < pixels; p0 += chunk) {
      const int p1 = std::min(pixels, p0 + chunk);
      for (int kb = 0; kb < s.K; kb += 8 * KV) {
        int t = tap0;
        for (; t + kTaps <= tap1; t += kTaps) weight_block<KV, kTaps>(s, x_img, dy_img, off, t, kb, p0, p1, dwt);
        for (; t + 3 <= tap1; t += 3) weight_block<KV, 3>(s, x_img, dy_img, off, t, kb, p0, p1, dwt);
        for (; t < tap1; ++t) weight_block<KV, 1>(s, x_img, dy_img, off, t, kb, p0, p1, dwt);
      }
    }
  }
}

CXR_DIRECT_CLONES void weight_dispatch(const Conv2dShape& s, const float* x, const float* dy, const int64_t* off,
                                       int tap0, int tap1, float* dwt) {
  if (s.K % 16 == 0) weight_taps<2>(s, x, dy, off, tap0, tap1, dwt);
  else weight_taps<1>(s, x, dy, off, tap0, tap1, dwt);
}

}  // namespace

bool handles(const Conv2dShape& s) {
  // K <= 32: with 64 filters (ResNet's stem) OpenBLAS's GEMM is as fast again (measured).
  return s.C <= 4 && s.K % 8 == 0 && s.K <= 32 && s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 &&
         s.pad_right == 0;
}

void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  const std::vector<float> wt = taps_major(s, w);
  // ~1 MFLOP per output row of experiment 1's first layer: a few rows per thread already pay.
  parallel_for(int64_t{s.N} * s.OH, 4, [&](int64_t row0, int64_t row1) {
    forward_dispatch(s, x, wt.data(), bias_or_null, y, row0, row1);
  });
}

void weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int taps = s.R * s.S * s.C;
  std::vector<int64_t> off(static_cast<size_t>(taps));  // each tap's offset from its window's origin
  for (int r = 0; r < s.R; ++r)
    for (int sx = 0; sx < s.S; ++sx)
      for (int c = 0; c < s.C; ++c) off[(r * s.S + sx) * s.C + c] = (static_cast<int64_t>(r) * s.W + sx) * s.C + c;
  std::vector<float> dwt(static_cast<size_t>(taps) * s.K, 0.0f);
  parallel_for(taps, 12, [&](int64_t tap0, int64_t tap1) {
    weight_dispatch(s, x, dy, off.data(), static_cast<int>(tap0), static_cast<int>(tap1), dwt.data());
  });
  for (int k = 0; k < s.K; ++k)
    for (int t = 0; t < taps; ++t) dw[static_cast<int64_t>(k) * taps + t] = dwt[static_cast<int64_t>(t) * s.K + k];
}

}  // namespace cxr::kernels::cpu::direct
