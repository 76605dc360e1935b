// Plain-loop references the CPU suite validates cxrnet's kernels against before timing them: one
// output element at a time, straight from the definitions, in double. Slow on purpose; used on a
// sample of indices (report.h: sample_indices).
#pragma once
#include <cstdint>

#include "kernels/conv2d.h"

namespace cxr::bench::reference {

// y[i] of conv2d_forward, i indexing [N][OH][OW][K].
inline double conv_forward_at(const kernels::Conv2dShape& s, const float* x, const float* w, const float* b,
                              int64_t i) {
  const int k = static_cast<int>(i % s.K), ow = static_cast<int>(i / s.K % s.OW);
  const int oh = static_cast<int>(i / s.K / s.OW % s.OH), n = static_cast<int>(i / s.K / s.OW / s.OH);
  double acc = b ? b[k] : 0.0;
  for (int r = 0; r < s.R; ++r)
    for (int q = 0; q < s.S; ++q) {
      const int ih = oh * s.stride_h - s.pad_top + r, iw = ow * s.stride_w - s.pad_left + q;
      if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
      for (int c = 0; c < s.C; ++c)
        acc += static_cast<double>(x[((static_cast<int64_t>(n) * s.H + ih) * s.W + iw) * s.C + c]) *
               w[((static_cast<int64_t>(k) * s.R + r) * s.S + q) * s.C + c];
    }
  return acc;
}

// dw[i] of conv2d_backward, i indexing [K][R][S][C].
inline double conv_dw_at(const kernels::Conv2dShape& s, const float* x, const float* dy, int64_t i) {
  const int c = static_cast<int>(i % s.C), q = static_cast<int>(i / s.C % s.S);
  const int r = static_cast<int>(i / s.C / s.S % s.R), k = static_cast<int>(i / s.C / s.S / s.R);
  double acc = 0;
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const int ih = oh * s.stride_h - s.pad_top + r, iw = ow * s.stride_w - s.pad_left + q;
        if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
        acc += static_cast<double>(dy[((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k]) *
               x[((static_cast<int64_t>(n) * s.H + ih) * s.W + iw) * s.C + c];
      }
  return acc;
}

// dx[i] of conv2d_backward, i indexing [N][H][W][C].
inline double conv_dx_at(const kernels::Conv2dShape& s, const float* w, const float* dy, int64_t i) {
  const int c = static_cast<int>(i % s.C), iw = static_cast<int>(i / s.C % s.W);
  const int ih = static_cast<int>(i / s.C / s.W % s.H), n = static_cast<int>(i / s.C / s.W / s.H);
  double acc = 0;
  for (int r = 0; r < s.R; ++r)
    for (int q = 0; q < s.S; ++q) {
      const int th = ih + s.pad_top - r, tw = iw + s.pad_left - q;
      if (th < 0 || tw < 0 || th % s.stride_h != 0 || tw % s.stride_w != 0) continue;
      const int oh = th / s.stride_h, ow = tw / s.stride_w;
      if (oh >= s.OH || ow >= s.OW) continue;
      for (int k = 0; k < s.K; ++k)
        acc += static_cast<double>(dy[((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k]) *
               w[((static_cast<int64_t>(k) * s.R + r) * s.S + q) * s.C + c];
    }
  return acc;
}

// C[i] of a row-major C[M][N] = op(A) . op(B) (A [M][K] or [K][M] when trans_a, B [K][N] or [N][K]).
inline double gemm_at(bool trans_a, bool trans_b, int M, int N, int K, const float* A, const float* B, int64_t i) {
  const int64_t row = i / N, col = i % N;
  double acc = 0;
  for (int64_t k = 0; k < K; ++k)
    acc += static_cast<double>(trans_a ? A[k * M + row] : A[row * K + k]) * (trans_b ? B[col * K + k] : B[k * N + col]);
  return acc;
}

}  // namespace cxr::bench::reference
