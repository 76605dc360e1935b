// The weight gradient of a convolution with a small output, such as a model's first layer (16 filters
// of 5 x 5 x 3: 16 x 75 weights summed over every pixel of the batch, 492,032 of them in experiment 3):
//   dw[k][rsc] = sum over output pixels p of dy[p][k] * col(x)[p][rsc]
// The tiled GEMM (tiled_gemm.cuh) runs this as 16 x 64 tiles of 1 x 4 micro-tiles: 59% of its columns
// padding, and a shared-memory read per FMA; on an H100, 2026-11-26, experiment 3's first layer took
// 272 us backward against cuDNN's 170 (experiment 1's: its GEMM 39 of 54 us, 40% of SM throughput).
//
// Here the whole output fits one block: each thread owns a 4 x 4 micro-tile (4 filters x 4 taps, two
// float4 reads from shared memory for 16 FMAs), and the block's 256 threads form G groups of
// T = ceil(K / 4) * ceil(RSC / 4) threads (G = 3 of 76 for 16 x 75), group g taking pixels g, g + G,
// ... of each chunk of 32. A block walks a fixed run of chunks, copying the next chunk's dy rows and
// im2col values to shared memory with cp.async while it multiplies the current one; then it adds its
// groups' sums in order and writes its partial output, and add_gemm_slices adds the blocks' partials
// in order. Block count and chunk runs depend on the shape alone: deterministic, the same on every GPU.
// CXR_CONV_SMALL_DW=0 (or cuda::set_conv_small_weight_gradient(false)) sends these shapes back to the
// tiled GEMM, for comparison.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_loaders.h"
#include "kernels/cuda/gemm_output.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/tiled_gemm.cuh"  // add_gemm_slices

namespace cxr::kernels::cuda::detail {

inline constexpr int kSmallDwThreads = 256, kSmallDwChunk = 32;  // threads a block; pixels a chunk
inline constexpr int kSmallDwMaxFilters = 32, kSmallDwMaxTaps = 128;  // K and R*S*C it takes
// Blocks: 4 an SM of an H100 (~42 KB of shared memory each), one wave; each block then sums 30 of
// experiment 3's 15,376 chunks, and add_gemm_slices reads 528 partial outputs (2.5 MB).
inline constexpr int64_t kSmallDwBlocks = 4 * 132;

CXR_HOST_DEVICE constexpr int round_up4(int n) { return (n + 3) / 4 * 4; }

// (No pixels, an empty batch, goes to the tiled GEMM, which writes the zeros.)
inline bool small_weight_gradient_fits(const Conv2dShape& s) {
  return s.K <= kSmallDwMaxFilters && s.R * s.S * s.C <= kSmallDwMaxTaps && s.N > 0 && s.OH > 0 && s.OW > 0;
}

// How a shape's chunks are dealt out: `per_block` consecutive chunks a block, `blocks` blocks.
struct SmallDwPlan {
  int64_t chunks, per_block, blocks;
};
inline SmallDwPlan small_dw_plan(int64_t pixels) {
  const int64_t chunks = (pixels + kSmallDwChunk - 1) / kSmallDwChunk;
  const int64_t per_block = (chunks + kSmallDwBlocks - 1) / kSmallDwBlocks;
  return {chunks, per_block, (chunks + per_block - 1) / per_block};
}

// Block b writes its sums of chunks [b per_block, (b + 1) per_block) to partials + b K RSC, [K][RSC].
// kPadded: some windows reach into the padding ('same'), so every im2col value is bounds-checked.
template <bool kPadded>
__global__ void __launch_bounds__(kSmallDwThreads, 4)
    small_weight_gradient_kernel(Conv2dShape s, const float* x, const float* dy, int64_t pixels,
                                 int64_t chunks_per_block, float* partials) {
  const int taps = s.R * s.S * s.C, filters = s.K;
  const int taps4 = round_up4(taps), filters4 = round_up4(filters);  // a chunk's row widths in shared memory
  const int group_threads = filters4 / 4 * (taps4 / 4), groups = kSmallDwThreads / group_threads;
  // Two chunks in flight: [stage][pixel][filter] and [stage][pixel][tap]. The tap stages are reused at
  // the end for the groups' sums (groups x group_threads x 16 <= 4,096 floats, one stage).
  __shared__ __align__(16) float dy_chunk[2][kSmallDwChunk * kSmallDwMaxFilters];
  __shared__ __align__(16) float col_chunk[2][kSmallDwChunk * kSmallDwMaxTaps];
  __shared__ Tap tap_of[kSmallDwMaxTaps];
  const Im2colIndex index{s};
  const int tid = threadIdx.x;
  if (tid < taps) tap_of[tid] = index.tap(tid);
  // The rows' padding (filters and taps up to the next multiple of 4) is never written: it only meets
  // padded filters or taps, whose sums are never stored.

  // This thread's share of a chunk's copies, the same in every chunk: pixel tid / 8's im2col values
  // and dy values, taps and filters tid % 8 + 8 i (a warp: 4 neighbouring pixels x 8 neighbouring taps,
  // a few cache lines of x; 4 neighbouring rows of dy).
  const int my_pixel = tid / 8, my_column0 = tid % 8;
  const int64_t first_chunk = blockIdx.x * chunks_per_block;
  const int64_t end_pixel = min(pixels, (first_chunk + chunks_per_block) * kSmallDwChunk);
  const auto copy_chunk = [&](int stage, int64_t p0) {
    const bool pixel_in = p0 + my_pixel < end_pixel;  // false only in a block's last, ragged chunk
    const PixelOrigin origin = index.pixel(pixel_in ? static_cast<int>(p0 + my_pixel) : 0);
    const float* window = x + origin.base;  // may point before x when the window starts in padding
    float* col_row = col_chunk[stage] + my_pixel * taps4;
    for (int j = my_column0; j < taps; j += 8) {
      const Tap t = tap_of[j];
      bool valid = pixel_in;
      if constexpr (kPadded) {
        const unsigned ih = static_cast<unsigned>(origin.ih0() + t.r), iw = static_cast<unsigned>(origin.iw0() + t.s);
        valid = valid && ih < static_cast<unsigned>(s.H) && iw < static_cast<unsigned>(s.W);  // < 0 wraps
      }
      // Zeros in the padding and past the pixels, where the address is never read (no selecting a
      // safe one: that doubled the copy's instructions).
      copy_async<4>(col_row + j, window + t.offset, valid);
    }
    const float* dy_row = dy + (p0 + my_pixel) * filters;
    float* dy_chunk_row = dy_chunk[stage] + my_pixel * filters4;
    for (int k = my_column0; k < filters; k += 8) copy_async<4>(dy_chunk_row + k, dy_row + k, pixel_in);
  };

  // This thread's micro-tile: filters 4 fm.., taps 4 ft.. (fm fastest: a warp's dy reads are 4 or 8
  // float4s, its im2col reads 8 or 4 neighbouring float4s).
  const int group = tid / group_threads, t = tid % group_threads;
  const int fm = t % (filters4 / 4), ft = t / (filters4 / 4);
  float acc[4][4] = {};

  __syncthreads();  // tap_of
  int64_t p0 = first_chunk * kSmallDwChunk;
  copy_chunk(0, p0);
  copy_async_wait_all();
  __syncthreads();
  for (int stage = 0; p0 < end_pixel; p0 += kSmallDwChunk, stage ^= 1) {
    if (p0 + kSmallDwChunk < end_pixel) copy_chunk(stage ^ 1, p0 + kSmallDwChunk);  // lands during the FMAs
    if (group < groups)
      for (int q = group; q < kSmallDwChunk; q += groups) {
        const float4 a = *reinterpret_cast<const float4*>(dy_chunk[stage] + q * filters4 + 4 * fm);
        const float4 b = *reinterpret_cast<const float4*>(col_chunk[stage] + q * taps4 + 4 * ft);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    copy_async_wait_all();
    __syncthreads();  // the next chunk is in for everyone; this one's readers are done with it
  }

  // The groups' sums, added in group order by one thread an output.
  float* sums = col_chunk[0];  // [group][thread of the group][16]
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
  const int64_t pixels = static_cast<int64_t>(s.N) * s.OH * s.OW;
  const int64_t count = static_cast<int64_t>(s.K) * s.R * s.S * s.C;
  const SmallDwPlan plan = small_dw_plan(pixels);
  const Scratch<float> partials(count * plan.blocks, "small weight gradient partials");
  const bool padded = s.pad_top > 0 || s.pad_left > 0 || s.pad_bottom > 0 || s.pad_right > 0;
  const auto kernel = padded ? small_weight_gradient_kernel<true> : small_weight_gradient_kernel<false>;
  kernel<<<static_cast<unsigned>(plan.blocks), kSmallDwThreads, 0, stream()>>>(s, x, dy, pixels, plan.per_block,
                                                                               partials.get());
  CXR_CUDA_CHECK_LAST();
  const int slices = static_cast<int>(plan.blocks);
  add_gemm_slices<<<static_cast<unsigned>((count + kSumColumns - 1) / kSumColumns),
                    dim3(kSumColumns, slice_groups(slices)), 0, stream()>>>(
      count, s.R * s.S * s.C, slices, partials.get(), GemmOutput{1.0f, 0.0f, dw, nullptr, 0});
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
