// Custom CUDA convolution (kernels/conv2d.h), NHWC x OHWI, as implicit GEMMs on the tiled SGEMM of
// kernels/cuda/tiled_gemm.cuh: the loaders below read the input as the CPU's im2col matrix would
// hold it, so no column buffer is ever built.
//   forward: y[pixels][K]   = col(x)[pixels][RSC] . w[K][RSC]^T   (+ bias rows)
//   dw:      dw[K][RSC]     = dy[pixels][K]^T . col(x)[pixels][RSC]   (split-K over the pixels)
//   dx:      dx[in_px][C]   = sum over (r, s, k) of dy at the output pixel that saw in_px through
//                             filter tap (r, s), times w[k][r][s][c]: a GEMM with K' = R*S*K.
#include "kernels/conv2d.h"
#include "kernels/cuda/tiled_gemm.cuh"

namespace cxr::kernels::cuda {
namespace {

// col(x)(pixel, (r*S + s)*C + c): the input value filter tap (r, s) sees at output pixel `pixel`,
// 0 in the padding. Consecutive k are consecutive channels: contiguous in NHWC.
struct Im2col {
  Conv2dShape s;
  const float* x;
  __device__ float at(int pixel, int k) const {
    const int c = k % s.C, rs = k / s.C, tap_s = rs % s.S, tap_r = rs / s.S;
    const int ow = pixel % s.OW, t = pixel / s.OW, oh = t % s.OH, n = t / s.OH;
    const int ih = oh * s.stride_h - s.pad_top + tap_r, iw = ow * s.stride_w - s.pad_left + tap_s;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) return 0.0f;
    return x[((static_cast<int64_t>(n) * s.H + ih) * s.W + iw) * s.C + c];
  }
};

struct ForwardA {  // A(m = pixel, k = rsc)
  static constexpr bool kContiguousK = true;
  Im2col col;
  __device__ float operator()(int m, int k) const { return col.at(m, k); }
};
struct WeightTransposed {  // B(k = rsc, n = filter) = w[n][rsc]
  static constexpr bool kContiguousN = false;
  const float* w;
  int rsc;
  __device__ float operator()(int k, int n) const { return w[static_cast<int64_t>(n) * rsc + k]; }
};

struct GradOutputTransposed {  // A(m = filter, k = pixel) = dy[pixel][m]
  static constexpr bool kContiguousK = false;
  const float* dy;
  int K;
  __device__ float operator()(int m, int k) const { return dy[static_cast<int64_t>(k) * K + m]; }
};
struct Im2colB {  // B(k = pixel, n = rsc)
  static constexpr bool kContiguousN = true;
  Im2col col;
  __device__ float operator()(int k, int n) const { return col.at(k, n); }
};

// A(m = input pixel, k' = (r*S + s)*K + k): dy at the output pixel whose tap (r, s) lands on the
// input pixel, or 0 when no output pixel does (stride gaps, borders).
struct GradOutputGather {
  static constexpr bool kContiguousK = true;
  Conv2dShape s;
  const float* dy;
  __device__ float operator()(int m, int kp) const {
    const int k = kp % s.K, rs = kp / s.K, tap_s = rs % s.S, tap_r = rs / s.S;
    const int iw = m % s.W, t = m / s.W, ih = t % s.H, n = t / s.H;
    const int h = ih + s.pad_top - tap_r, w = iw + s.pad_left - tap_s;  // = oh * stride_h, ow * stride_w
    if (h < 0 || w < 0 || h % s.stride_h != 0 || w % s.stride_w != 0) return 0.0f;
    const int oh = h / s.stride_h, ow = w / s.stride_w;
    if (oh >= s.OH || ow >= s.OW) return 0.0f;
    return dy[((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k];
  }
};
struct WeightTap {  // B(k' = (r*S + s)*K + k, n = c) = w[k][r][s][c]
  static constexpr bool kContiguousN = true;
  Conv2dShape s;
  const float* w;
  __device__ float operator()(int kp, int c) const {
    const int k = kp % s.K, rs = kp / s.K;
    return w[(static_cast<int64_t>(k) * s.R * s.S + rs) * s.C + c];
  }
};

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (bias_or_null) detail::fill_rows(pixels, s.K, bias_or_null, y);
  detail::launch_tiled_gemm(pixels, s.K, rsc, ForwardA{Im2col{s, x}}, WeightTransposed{w, rsc}, 1.0f,
                            bias_or_null ? 1.0f : 0.0f, y);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (dbias_or_null) detail::column_sums(pixels, s.K, dy, dbias_or_null);
  if (dw_or_null)
    detail::launch_tiled_gemm(s.K, rsc, pixels, GradOutputTransposed{dy, s.K}, Im2colB{Im2col{s, x}}, 1.0f, 0.0f,
                              dw_or_null);
  if (dx_or_null)
    detail::launch_tiled_gemm(s.N * s.H * s.W, s.C, s.R * s.S * s.K, GradOutputGather{s, dy}, WeightTap{s, w}, 1.0f,
                              0.0f, dx_or_null);
}

}  // namespace cxr::kernels::cuda
