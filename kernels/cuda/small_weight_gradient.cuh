// The weight gradient of a convolution with a small output, such as a model's first layer (16 filters
// of 5 x 5 x 3: 16 x 75 weights summed over every pixel of the batch, 492,032 of them in experiment 3):
//   dw[k][rsc] = sum over output pixels p of dy[p][k] * col(x)[p][rsc]
// The tiled GEMM (tiled_gemm.cuh) runs this as 16 x 64 tiles of 1 x 4 micro-tiles: 59% of its columns
// padding, and a shared-memory read per FMA; on an H100, 2026-11-26, experiment 3's first layer took
// 272 us backward against cuDNN's 170 (experiment 1's: its GEMM 39 of 54 us, 40% of SM throughput).
//
// Here the whole output fits one block: each thread owns a 4 x 4 micro-tile (4 filters x 4 taps: a
// float4 of dy and 4 input values from shared memory for 16 FMAs), and the block's 256 threads form
// G groups of T = ceil(K / 4) * ceil(RSC / 4) threads (G = 3 of 76 for 16 x 75), group g taking pixels
// g, g + G, ... of each segment. A segment is up to 32 neighbouring output pixels of one row; a block
// walks a fixed run of segments, copying the next one's dy rows and the input patch its windows see
// (R rows of 31 stride + S pixels) to shared memory with cp.async while it multiplies the current one;
// then it adds its groups' sums in order and writes its partial output, and add_gemm_slices adds the
// blocks' partials in order. Block count and segment runs depend on the shape alone: deterministic,
// the same on every GPU. CXR_CONV_SMALL_DW=0 (or cuda::set_conv_small_weight_gradient(false)) sends
// these shapes back to the tiled GEMM, for comparison.
//
// The first version copied each segment's im2col values (75 a pixel for 5 x 5 x 3), ~17 instructions
// each: on an H100 (2026-11-26) its rounds were bound by issuing them (0.73 instructions a cycle an
// SM partition, 3.3 us a round of 32 pixels), the FMAs a third of the instructions. The patch is 4.4x
// fewer copies, each cheaper, and a tap's place in it is the same for every pixel but a shift.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_output.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/tiled_gemm.cuh"  // add_gemm_slices

namespace cxr::kernels::cuda::detail {

inline constexpr int kSmallDwThreads = 256, kSmallDwSegment = 32;  // threads a block; pixels a segment
inline constexpr int kSmallDwMaxFilters = 32, kSmallDwMaxTaps = 128;  // K and R*S*C it takes
inline constexpr int kSmallDwMaxPatch = 4096;  // floats of one segment's input patch
// Blocks: 4 an SM of an H100 (~42 KB of shared memory each), one wave; each block then sums 31 of
// experiment 3's 15,872 segments, and add_gemm_slices reads 512 partial outputs (2.5 MB).
inline constexpr int64_t kSmallDwBlocks = 4 * 132;

CXR_HOST_DEVICE constexpr int round_up4(int n) { return (n + 3) / 4 * 4; }

// Input columns a segment's windows span, and the floats of its patch (R rows of them, C a column).
CXR_HOST_DEVICE inline int small_dw_patch_columns(const Conv2dShape& s) { return (kSmallDwSegment - 1) * s.stride_w + s.S; }
inline int64_t small_dw_patch_floats(const Conv2dShape& s) {
  return static_cast<int64_t>(s.R) * small_dw_patch_columns(s) * s.C;
}

// (No pixels, an empty batch, goes to the tiled GEMM, which writes the zeros.)
inline bool small_weight_gradient_fits(const Conv2dShape& s) {
  return s.K <= kSmallDwMaxFilters && s.R * s.S * s.C <= kSmallDwMaxTaps && s.N > 0 && s.OH > 0 && s.OW > 0 &&
         small_dw_patch_floats(s) <= kSmallDwMaxPatch;
}

// How a shape's segments are dealt out: `per_block` consecutive segments a block, `blocks` blocks.
struct SmallDwPlan {
  int64_t segments, per_block, blocks;
};
inline SmallDwPlan small_dw_plan(int64_t segments) {
  const int64_t per_block = (segments + kSmallDwBlocks - 1) / kSmallDwBlocks;
  return {segments, per_block, (segments + per_block - 1) / per_block};
}
inline int small_dw_segments_a_row(const Conv2dShape& s) { return (s.OW + kSmallDwSegment - 1) / kSmallDwSegment; }

// Block b writes its sums of segments [b per_block, (b + 1) per_block) to partials + b K RSC, [K][RSC].
// Segment i is row i / segments_a_row (n OH + oh) of the output, pixels 32 (i % segments_a_row) on.
// (static: one definition for each file that includes this header, the CPU emulator's included.)
static __global__ void __launch_bounds__(kSmallDwThreads, 4)
    small_weight_gradient_kernel(Conv2dShape s, const float* x, const float* dy, int64_t segments,
                                 int64_t segments_per_block, float* partials) {
  const int taps = s.R * s.S * s.C, filters = s.K;
  const int taps4 = round_up4(taps), filters4 = round_up4(filters);
  const int group_threads = filters4 / 4 * (taps4 / 4), groups = kSmallDwThreads / group_threads;
  const int patch_columns = small_dw_patch_columns(s), patch_row = patch_columns * s.C;  // floats a patch row
  const int segments_a_row = (s.OW + kSmallDwSegment - 1) / kSmallDwSegment;
  // Two segments in flight: dy [stage][pixel][filter] and the patch [stage][r][column][c]. The patch
  // stages are reused at the end for the groups' sums (groups x group_threads x 16 <= 4,096 floats).
  __shared__ __align__(16) float dy_chunk[2][kSmallDwSegment * kSmallDwMaxFilters];
  __shared__ __align__(16) float patch[2][kSmallDwMaxPatch];
  const int tid = threadIdx.x;

  // Where a segment is: output row (n OH + oh) and first column; advanced one segment at a time.
  struct Segment {
    int64_t row;
    int ow0, pixels;  // pixels: up to 32, fewer at a row's end
  };
  const int64_t first = blockIdx.x * segments_per_block, last = min(segments, first + segments_per_block);
  Segment next{first / segments_a_row, static_cast<int>(first % segments_a_row) * kSmallDwSegment, 0};
  const auto advance = [&](Segment& g) {
    g.ow0 += kSmallDwSegment;
    if (g.ow0 >= s.OW) {
      g.ow0 = 0;
      ++g.row;
    }
  };

  // This thread's share of a segment's copies, the same in every segment: dy of pixel tid / 8,
  // filters tid % 8 + 8 i (a warp: 4 neighbouring rows of dy); input rows tid / 32 + 8 i, columns
  // tid % 32 + 32 j, each column's C values (a warp: one row, neighbouring columns).
  const int my_pixel = tid / 8, my_filter0 = tid % 8;
  const auto copy_segment = [&](int stage, Segment& g) {
    g.pixels = min(kSmallDwSegment, s.OW - g.ow0);
    const int64_t p = g.row * s.OW + g.ow0 + my_pixel;  // this thread's dy row
    const bool pixel_in = my_pixel < g.pixels;
    for (int k = my_filter0; k < filters; k += 8)
      copy_async<4>(dy_chunk[stage] + my_pixel * filters4 + k, dy + p * filters + k, pixel_in);
    const int n = static_cast<int>(g.row / s.OH), oh = static_cast<int>(g.row % s.OH);
    const int ih0 = oh * s.stride_h - s.pad_top, iw0 = g.ow0 * s.stride_w - s.pad_left;
    for (int r = tid / 32; r < s.R; r += kSmallDwThreads / 32) {
      const int ih = ih0 + r;
      const float* source = x + (static_cast<int64_t>(n) * s.H + ih) * s.W * s.C;  // outside x when ih is: not read
      for (int column = tid % 32; column < patch_columns; column += 32) {
        const int iw = iw0 + column;
        const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;  // else zeros, as im2col's padding
        for (int c = 0; c < s.C; ++c)
          copy_async<4>(patch[stage] + r * patch_row + column * s.C + c, source + static_cast<int64_t>(iw) * s.C + c,
                        inside);
      }
    }
  };

  // This thread's micro-tile: filters 4 fm.., taps 4 ft.. (fm fastest: a warp reads 4 or 8 float4s of
  // dy and 8 or 4 taps' values). Tap j = (r, t, c) of pixel q is patch[r][q stride + t][c]: at
  // offset[i] + q stride C. Taps past RSC read tap 0: their sums are never stored.
  const int group = tid / group_threads, t = tid % group_threads;
  const int fm = t % (filters4 / 4), ft = t / (filters4 / 4);
  int offset[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int j = 4 * ft + i < taps ? 4 * ft + i : 0;
    const int c = j % s.C, rt = j / s.C;
    offset[i] = rt / s.S * patch_row + rt % s.S * s.C + c;
  }
  const int pixel_step = s.stride_w * s.C;
  float acc[4][4] = {};

  Segment current = next;
  if (first < last) copy_segment(0, current);
  copy_async_wait_all();
  __syncthreads();
  for (int64_t i = first, stage = 0; i < last; ++i, stage ^= 1) {
    next = current;
    advance(next);
    if (i + 1 < last) copy_segment(static_cast<int>(stage ^ 1), next);  // lands during the FMAs
    if (group < groups) {
      // Pointers stepped from pixel to pixel: an add each, not a multiply-add for every read.
      const float* d = dy_chunk[stage] + group * filters4 + 4 * fm;
      const float* b[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = patch[stage] + offset[j] + group * pixel_step;
#pragma unroll 2
      for (int q = group; q < current.pixels; q += groups) {
        const float4 a = *reinterpret_cast<const float4*>(d);
        const float av[4] = {a.x, a.y, a.z, a.w};
        float bv[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          bv[j] = *b[j];
          b[j] += groups * pixel_step;
        }
        d += groups * filters4;
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[r][j] = fmaf(av[r], bv[j], acc[r][j]);
      }
    }
    current = next;
    copy_async_wait_all();
    __syncthreads();  // the next segment is in for everyone; this one's readers are done with it
  }

  // The groups' sums, added in group order by one thread an output.
  float* sums = patch[0];  // [group][thread of the group][16]
  if (group < groups)
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) sums[(group * group_threads + t) * 16 + i * 4 + j] = acc[i][j];
  __syncthreads();
  float* out = partials + static_cast<int64_t>(blockIdx.x) * filters * taps;
  for (int o = tid; o < filters * taps; o += kSmallDwThreads) {
    const int k = o / taps, j = o % taps;
    const int owner = k / 4 + filters4 / 4 * (j / 4), element = k % 4 * 4 + j % 4;
    float total = 0.0f;
    for (int g = 0; g < groups; ++g) total += sums[(g * group_threads + owner) * 16 + element];
    out[o] = total;
  }
}

// dw = dy^T col(x) for a shape small_weight_gradient_fits (at least one pixel).
inline void small_weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int64_t count = static_cast<int64_t>(s.K) * s.R * s.S * s.C;
  const SmallDwPlan plan = small_dw_plan(static_cast<int64_t>(s.N) * s.OH * small_dw_segments_a_row(s));
  const Scratch<float> partials(count * plan.blocks, "small weight gradient partials");
  small_weight_gradient_kernel<<<static_cast<unsigned>(plan.blocks), kSmallDwThreads, 0, stream()>>>(
      s, x, dy, plan.segments, plan.per_block, partials.get());
  CXR_CUDA_CHECK_LAST();
  const int slices = static_cast<int>(plan.blocks);
  add_gemm_slices<<<static_cast<unsigned>((count + kSumColumns - 1) / kSumColumns),
                    dim3(kSumColumns, slice_groups(slices)), 0, stream()>>>(
      count, s.R * s.S * s.C, slices, partials.get(), GemmOutput{1.0f, 0.0f, dw, nullptr, 0});
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
