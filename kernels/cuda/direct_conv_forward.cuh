// A stride-1 convolution computed directly from tiles of its input in shared memory:
//   y[n][oh][ow][k] = sum over taps (r, s, c) of x[n][oh + r - pad_top][ow + s - pad_left][c] w[k][r][s][c],
//                     then + bias[k]
// used for two things:
// - the forward of an input with few channels, such as a model's first layer (3 channels into 16
//   filters of 5 x 5 in experiments 1-3). The implicit GEMM (tiled_gemm.cuh) gathers each pixel's
//   R*S*C im2col values from global memory, every input value 25 times over for 5 x 5 taps, ~17
//   instructions a value: its 128 x 16 tiles ran experiment 3's first layer at 9.3 TFLOP/s on an
//   H100 (127 us, 2026-11-26); this kernel took 55.6 us.
// - the input gradient of a stride-1 convolution with at most 64 input channels (direct_input_gradient
//   below): dx is the forward convolution of dy, padded by R - 1 - pad, with the weights flipped and
//   their two channel axes swapped. The GEMM gathered dy at ~10 TFLOP/s there (experiment 3's
//   second layer: 295 us of its 525 us backward).
//
// A block computes 32 x 32 output pixels of one image for a group of kFilters filters (16, or 8 for
// the input gradient: twice the blocks, half the registers). It walks the input channels 4 at a
// time: copies the input its pixels see ((31 + R) x (31 + S) x 4 values, zeros in the padding) and
// those channels' weights to shared memory with cp.async, then thread (lane, warp) adds, for its 4
// pixels of column `lane` (rows 4 warp .. 4 warp + 3) and the group's filters, per tap 4 input values
// (consecutive lanes an odd number of floats apart: no bank conflict) times the filters' weights (one
// address for the whole warp, float4s). Each output adds its products chunk by chunk, within a chunk
// in tap order (r, s, c), from zero, then the bias: for at most 4 channels (one chunk) that is the
// GEMM's order, the same bits. CXR_CONV_DIRECT=0 (or cuda::set_conv_direct_forward(false)) sends the
// forward back to the GEMM, CXR_CONV_DIRECT_DX=0 (set_conv_direct_input_gradient) the input gradient.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"

namespace cxr::kernels::cuda::detail {

inline constexpr int kDirectTile = 32;       // output rows and columns of a block
inline constexpr int kDirectPixelRows = 4;   // output rows of a thread (one column)
inline constexpr int kDirectThreads = kDirectTile * kDirectTile / kDirectPixelRows;  // 256: 8 warps
inline constexpr int kDirectFilters = 16, kDirectMaxChannels = 4, kDirectMaxSide = 7;
inline constexpr int kDirectPatchSide = kDirectTile - 1 + kDirectMaxSide;  // input rows and columns a block sees
// A patch column holds a chunk's channels, padded to an odd count (4 -> 5, 2 -> 3) so that lanes
// reading neighbouring columns hit different banks.
inline constexpr int kDirectColumnFloats = kDirectMaxChannels + 1;

inline bool direct_conv_forward_fits(const Conv2dShape& s) {
  return s.stride_h == 1 && s.stride_w == 1 && s.C <= kDirectMaxChannels && s.K <= kDirectFilters &&
         s.R <= kDirectMaxSide && s.S <= kDirectMaxSide && s.N > 0 && s.N <= 65535 && s.OH > 0 && s.OW > 0;
}

// Block (bx, by, n groups + g) computes output rows 32 by.., columns 32 bx.. of image n, filters
// kFilters g..; kBias: bias is not null.
template <bool kBias, int kFilters>
__global__ void __launch_bounds__(kDirectThreads, 2)
    direct_conv_kernel(Conv2dShape s, int groups, const float* x, const float* w, const float* bias, float* y) {
  __shared__ float patch[kDirectPatchSide * kDirectPatchSide * kDirectColumnFloats];  // [row][column][c]
  __shared__ __align__(16) float weights[kDirectMaxSide * kDirectMaxSide * kDirectMaxChannels * kFilters];
  __shared__ float bias_of[kFilters];  // read from shared memory: y's stores might alias bias
  const int tid = threadIdx.x, n = static_cast<int>(blockIdx.z) / groups;
  const int k0 = static_cast<int>(blockIdx.z) % groups * kFilters, kn = min(kFilters, s.K - k0);
  const int oh0 = blockIdx.y * kDirectTile, ow0 = blockIdx.x * kDirectTile;
  const int taps = s.R * s.S * s.C;
  const int patch_rows = kDirectTile - 1 + s.R, patch_columns = kDirectTile - 1 + s.S;
  const int ih0 = oh0 - s.pad_top, iw0 = ow0 - s.pad_left;
  const float* image = x + static_cast<int64_t>(n) * s.H * s.W * s.C;
  const int lane = tid % kDirectTile, row0 = tid / kDirectTile * kDirectPixelRows;
  if (kBias && tid < kFilters) copy_async<4>(bias_of + tid, bias + k0 + tid, tid < kn);
  float acc[kDirectPixelRows][kFilters] = {};

  for (int c0 = 0; c0 < s.C; c0 += kDirectMaxChannels) {
    const int cc = min(kDirectMaxChannels, s.C - c0), column = cc | 1;  // floats a patch column
    const int patch_row = patch_columns * column;  // floats a patch row
    if (c0 > 0) __syncthreads();  // everyone is done with the last chunk
    // Everything a block reads is copied with cp.async, so no copy waits for the one before it (the
    // first version's loads went through registers, 4 at a time: ~6 DRAM round trips a block).
    // weights[(r S + t) cc + c][k] = w[k0 + k][r][t][c0 + c], zero for the filters past K.
    for (int e = tid; e < s.R * s.S * cc * kFilters; e += kDirectThreads) {
      const int tap = e / kFilters, k = e % kFilters, rt = tap / cc, c = tap - rt * cc;
      copy_async<4>(weights + e, w + static_cast<int64_t>(k0 + k) * taps + rt * s.C + c0 + c, k < kn);
    }
    // The input rows oh0 - pad_top .., columns ow0 - pad_left ..: a warp a row, a lane a pixel (its
    // chunk's channels), zeros in the padding. (An address outside x is formed but never read.)
    for (int row = tid / 32; row < patch_rows; row += kDirectThreads / 32) {
      const int ih = ih0 + row;
      const float* source = image + static_cast<int64_t>(ih) * s.W * s.C + c0;
      for (int col = tid % 32; col < patch_columns; col += 32) {
        const int iw = iw0 + col;
        const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
        for (int c = 0; c < cc; ++c)
          copy_async<4>(patch + row * patch_row + col * column + c, source + static_cast<int64_t>(iw) * s.C + c,
                        inside);
      }
    }
    copy_async_wait_all();
    __syncthreads();

    const float* mine = patch + row0 * patch_row + lane * column;  // this thread's first pixel's tap (0, 0, 0)
    for (int r = 0; r < s.R; ++r)
      for (int t = 0; t < s.S; ++t)
        for (int c = 0; c < cc; ++c) {
          const float4* wt = reinterpret_cast<const float4*>(weights + ((r * s.S + t) * cc + c) * kFilters);
          float wv[kFilters];
#pragma unroll
          for (int q = 0; q < kFilters / 4; ++q) {
            const float4 v = wt[q];
            wv[4 * q] = v.x;
            wv[4 * q + 1] = v.y;
            wv[4 * q + 2] = v.z;
            wv[4 * q + 3] = v.w;
          }
#pragma unroll
          for (int i = 0; i < kDirectPixelRows; ++i) {
            const float xv = mine[(i + r) * patch_row + t * column + c];
#pragma unroll
            for (int k = 0; k < kFilters; ++k) acc[i][k] = fmaf(xv, wv[k], acc[i][k]);
          }
        }
  }

  const int ow = ow0 + lane;
  if (ow >= s.OW) return;
  const bool whole_rows = kn == kFilters && s.K % 4 == 0 && reinterpret_cast<uintptr_t>(y) % 16 == 0;
#pragma unroll
  for (int i = 0; i < kDirectPixelRows; ++i) {
    const int oh = oh0 + row0 + i;
    if (oh >= s.OH) break;
    float* out = y + ((static_cast<int64_t>(n) * s.OH + oh) * s.OW + ow) * s.K + k0;
    float v[kFilters];
#pragma unroll
    for (int k = 0; k < kFilters; ++k) v[k] = kBias && k < kn ? __fadd_rn(acc[i][k], bias_of[k]) : acc[i][k];
    if (whole_rows) {
#pragma unroll
      for (int q = 0; q < kFilters / 4; ++q)
        reinterpret_cast<float4*>(out)[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
    } else {
#pragma unroll
      for (int k = 0; k < kFilters; ++k)
        if (k < kn) out[k] = v[k];
    }
  }
}

// Blocks of a direct convolution of shape s in groups of kFilters filters.
template <int kFilters>
int64_t direct_conv_blocks(const Conv2dShape& s) {
  return static_cast<int64_t>((s.OW + kDirectTile - 1) / kDirectTile) * ((s.OH + kDirectTile - 1) / kDirectTile) *
         s.N * ((s.K + kFilters - 1) / kFilters);
}

template <int kFilters>
void launch_direct_conv(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  const int groups = (s.K + kFilters - 1) / kFilters;  // N groups <= 65535: the callers' fits
  const dim3 grid((s.OW + kDirectTile - 1) / kDirectTile, (s.OH + kDirectTile - 1) / kDirectTile, s.N * groups);
  const auto kernel = bias_or_null ? direct_conv_kernel<true, kFilters> : direct_conv_kernel<false, kFilters>;
  kernel<<<grid, kDirectThreads, 0, stream()>>>(s, groups, x, w, bias_or_null, y);
  CXR_CUDA_CHECK_LAST();
}

// y = conv(x, w) + bias for a shape direct_conv_forward_fits.
inline void direct_conv_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null,
                                float* y) {
  launch_direct_conv<kDirectFilters>(s, x, w, bias_or_null, y);
}

// The input gradient as a forward convolution: 8 filters a block (its C output channels); below 256
// blocks (two an SM of an H100 at most) the GEMM, whose tiles share the work out more finely, is left
// the shape. At most 64 channels: 8 groups.
inline constexpr int kDirectGradientFilters = 8, kDirectGradientMaxChannels = 64;
inline constexpr int64_t kDirectGradientMinBlocks = 256;

// dy as the input of a forward convolution that gives dx: dy's pixels, padded by R - 1 - pad on each
// side, K channels, into C filters.
inline Conv2dShape input_gradient_as_forward(const Conv2dShape& s) {
  Conv2dShape t = s;
  t.H = s.OH;
  t.W = s.OW;
  t.C = s.K;
  t.K = s.C;
  t.pad_top = s.R - 1 - s.pad_top;
  t.pad_bottom = s.R - 1 - s.pad_bottom;
  t.pad_left = s.S - 1 - s.pad_left;
  t.pad_right = s.S - 1 - s.pad_right;
  t.OH = s.H;
  t.OW = s.W;
  return t;
}

// The shapes the kernel can take (stride 1, a tap of every side within the padding, at most 64
// channels and 7 x 7 taps), whatever their size.
inline bool direct_input_gradient_takes(const Conv2dShape& s) {
  const int groups = (s.C + kDirectGradientFilters - 1) / kDirectGradientFilters;
  return s.stride_h == 1 && s.stride_w == 1 && s.R <= kDirectMaxSide && s.S <= kDirectMaxSide && s.N > 0 &&
         s.C > 0 && s.K > 0 && s.C <= kDirectGradientMaxChannels && static_cast<int64_t>(s.N) * groups <= 65535 &&
         s.OH > 0 && s.OW > 0 && s.pad_top < s.R && s.pad_bottom < s.R && s.pad_left < s.S && s.pad_right < s.S;
}

// ... and those it is meant for: enough blocks to fill the GPU.
inline bool direct_input_gradient_fits(const Conv2dShape& s) {
  return direct_input_gradient_takes(s) &&
         direct_conv_blocks<kDirectGradientFilters>(input_gradient_as_forward(s)) >= kDirectGradientMinBlocks;
}

// flipped[c][r][t][k] = w[k][R - 1 - r][S - 1 - t][c]: the weights of input_gradient_as_forward.
// (static: one definition for each file that includes this header, the CPU emulator's included.)
static __global__ void flip_weights_kernel(Conv2dShape s, const float* w, float* flipped) {
  const int64_t count = static_cast<int64_t>(s.K) * s.R * s.S * s.C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; o < count; o += stride) {
    const int k = static_cast<int>(o % s.K);
    int64_t rest = o / s.K;
    const int t = static_cast<int>(rest % s.S);
    rest /= s.S;
    const int r = static_cast<int>(rest % s.R), c = static_cast<int>(rest / s.R);
    flipped[o] = w[((static_cast<int64_t>(k) * s.R + (s.R - 1 - r)) * s.S + (s.S - 1 - t)) * s.C + c];
  }
}

// dx (overwritten) of a convolution for a shape direct_input_gradient_takes.
inline void direct_input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  const int64_t count = static_cast<int64_t>(s.K) * s.R * s.S * s.C;
  const Scratch<float> flipped(count, "flipped convolution weights");
  flip_weights_kernel<<<grid_size(count), kBlockThreads, 0, stream()>>>(s, w, flipped.get());
  CXR_CUDA_CHECK_LAST();
  launch_direct_conv<kDirectGradientFilters>(input_gradient_as_forward(s), dy, flipped.get(), nullptr, dx);
}

}  // namespace cxr::kernels::cuda::detail
