// Forward convolution of an input with few channels, such as a model's first layer (3 channels into
// 16 filters of 5 x 5 in experiments 1-3), computed directly from a tile of the input in shared memory:
//   y[n][oh][ow][k] = sum over taps (r, s, c), in that order, of x[n][oh + r - pad_top][ow + s - pad_left][c]
//                     w[k][r][s][c], then + bias[k]
// The implicit GEMM (tiled_gemm.cuh) gathers each pixel's R*S*C im2col values from global memory, every
// input value 25 times over for 5 x 5 taps, ~17 instructions a value: its 128 x 16 tiles ran
// experiment 3's first layer at 9.3 TFLOP/s on an H100 (127 us, 2026-11-26), where a third of
// the FMA rate would take ~60 us.
//
// Here a block loads once the input its 32 x 32 output pixels see ((31 + R) x (31 + S) x C values,
// zeros in the padding) and the weights into shared memory. Thread (lane, warp) owns 4 pixels of
// column `lane`, rows 4 warp .. 4 warp + 3, and 16 filters: per tap, 4 input values (consecutive
// lanes C floats apart: no bank conflict for odd C) and four float4s of weights (one address for
// the whole warp) feed 64 FMAs. Each output adds its products in tap order from zero, as the GEMM
// does, then the bias the same way: the same bits. Stride 1, at most 4 channels, 16 filters and
// 7 x 7 taps; CXR_CONV_DIRECT=0 (or cuda::set_conv_direct_forward(false)) sends these shapes back to
// the GEMM, for comparison.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

inline constexpr int kDirectTile = 32;       // output rows and columns of a block
inline constexpr int kDirectPixelRows = 4;   // output rows of a thread (one column)
inline constexpr int kDirectThreads = kDirectTile * kDirectTile / kDirectPixelRows;  // 256: 8 warps
inline constexpr int kDirectFilters = 16, kDirectMaxChannels = 4, kDirectMaxSide = 7;
inline constexpr int kDirectPatchSide = kDirectTile - 1 + kDirectMaxSide;  // input rows and columns a block sees

inline bool direct_conv_forward_fits(const Conv2dShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.C <= kDirectMaxChannels && s.K <= kDirectFilters &&
         s.R <= kDirectMaxSide && s.S <= kDirectMaxSide && s.N > 0 && s.N <= 65535 && s.OH > 0 && s.OW > 0;
}

// Block (bx, by, n) computes output rows 32 by.., columns 32 bx.. of image n; kBias: bias is not null.
template <bool kBias>
__global__ void __launch_bounds__(kDirectThreads, 2)
    direct_conv_forward_kernel(Conv2dShape s, const float* x, const float* w, const float* bias, float* y) {
  __shared__ float patch[kDirectPatchSide * kDirectPatchSide * kDirectMaxChannels];  // [row][column][c]
  __shared__ __align__(16) float weights[kDirectMaxSide * kDirectMaxSide * kDirectMaxChannels * kDirectFilters];
  __shared__ float bias_of[kDirectFilters];  // read from shared memory: y's stores might alias bias
  const int tid = threadIdx.x, n = blockIdx.z;
  const int oh0 = blockIdx.y * kDirectTile, ow0 = blockIdx.x * kDirectTile;
  const int taps = s.R * s.S * s.C, row_taps = s.S * s.C;
  const int patch_rows = kDirectTile - 1 + s.R, patch_row = (kDirectTile - 1 + s.S) * s.C;  // floats a row

  // Everything a block reads is copied with cp.async, so no copy waits for the one before it: the
  // first version's loads went through registers, 4 a round (H100, 2026-11-26: warps waited on them
  // a fifth of experiment 1's 19.5 us kernel, ~6 DRAM round trips a block before the first FMA).
  // weights[tap][k] = w[k][tap], zero for the filters past K (their sums are never stored).
  for (int e = tid; e < taps * kDirectFilters; e += kDirectThreads) {
    const int tap = e / kDirectFilters, k = e % kDirectFilters;
    copy_async<4>(weights + e, w + static_cast<int64_t>(k) * taps + tap, k < s.K);
  }
  if (kBias && tid < kDirectFilters) copy_async<4>(bias_of + tid, bias + tid, tid < s.K);
  // The input rows oh0 - pad_top .., columns ow0 - pad_left ..: a warp a row, a lane a pixel (its C
  // values), zeros in the padding. (An address outside x is formed but never read.)
  const int ih0 = oh0 - s.pad_top, iw0 = ow0 - s.pad_left, patch_columns = kDirectTile - 1 + s.S;
  const float* image = x + static_cast<int64_t>(n) * s.H * s.W * s.C;
  for (int row = tid / 32; row < patch_rows; row += kDirectThreads / 32) {
    const int ih = ih0 + row;
    const float* source = image + static_cast<int64_t>(ih) * s.W * s.C;
    for (int column = tid % 32; column < patch_columns; column += 32) {
      const int iw = iw0 + column;
      const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
      for (int c = 0; c < s.C; ++c)
        copy_async<4>(patch + row * patch_row + column * s.C + c, source + iw * s.C + c, inside);
    }
  }
  copy_async_wait_all();
  __syncthreads();

  const int lane = tid % kDirectTile, row0 = tid / kDirectTile * kDirectPixelRows;
  const float* mine = patch + row0 * patch_row + lane * s.C;  // this thread's first pixel's tap (0, 0, 0)
  float acc[kDirectPixelRows][kDirectFilters] = {};
  for (int r = 0; r < s.R; ++r)
    for (int t = 0; t < row_taps; ++t) {  // t = s * C + c: consecutive in a patch row
      const float4* wt = reinterpret_cast<const float4*>(weights + (r * row_taps + t) * kDirectFilters);
      float wv[kDirectFilters];
#pragma unroll
      for (int q = 0; q < kDirectFilters / 4; ++q) {
        const float4 v = wt[q];
        wv[4 * q] = v.x;
        wv[4 * q + 1] = v.y;
        wv[4 * q + 2] = v.z;
        wv[4 * q + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < kDirectPixelRows; ++i) {
        const float xv = mine[(i + r) * patch_row + t];
#pragma unroll
        for (int k = 0; k < kDirectFilters; ++k) acc[i][k] = fmaf(xv, wv[k], acc[i][k]);
      }
    }

  const int ow = ow0 + lane;
  if (ow >= s.OW) return;
  const bool whole_rows = s.K == kDirectFilters && reinterpret_cast<uintptr_t>(y) % 16 == 0;
#pragma unroll
  for (int i = 0; i < kDirectPixelRows; ++i) {
    const int oh = oh0 + row0 + i;
    if (oh >= s.OH) break;
    float* out = y + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.K;
    float v[kDirectFilters];
#pragma unroll
    for (int k = 0; k < kDirectFilters; ++k) v[k] = kBias && k < s.K ? __fadd_rn(acc[i][k], bias_of[k]) : acc[i][k];
    if (whole_rows) {
#pragma unroll
      for (int q = 0; q < kDirectFilters / 4; ++q)
        reinterpret_cast<float4*>(out)[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
    } else {
#pragma unroll
      for (int k = 0; k < kDirectFilters; ++k)
        if (k < s.K) out[k] = v[k];
    }
  }
}

// y = conv(x, w) + bias for a shape direct_conv_forward_fits.
inline void direct_conv_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null,
                                float* y) {
  const dim3 grid((s.OW + kDirectTile - 1) / kDirectTile, (s.OH + kDirectTile - 1) / kDirectTile, s.N);  // N <= 65535
  const auto kernel = bias_or_null ? direct_conv_forward_kernel<true> : direct_conv_forward_kernel<false>;
  kernel<<<grid, kDirectThreads, 0, stream()>>>(s, x, w, bias_or_null, y);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
