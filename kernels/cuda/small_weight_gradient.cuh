// The weight gradient of a convolution with a small output, such as a model's first layer (16 filters
// of 5 x 5 x 3: 16 x 75 weights summed over every pixel of the batch, 492,032 of them in experiment 3):
//   dw[k][rsc] = sum over output pixels p of dy[p][k] * col(x)[p][rsc]
// The tiled GEMM (tiled_gemm.cuh) runs this as 16 x 64 tiles of 1 x 4 micro-tiles: 59% of its columns
// padding, and a shared-memory read per FMA; on an H100, 2026-11-26, experiment 3's first layer took
// 272 us backward against cuDNN's 170 (experiment 1's: its GEMM 39 of 54 us, 40% of SM throughput).
//
// Here a block computes a tile of up to 32 filters x 128 taps (the whole output of a first layer; 4
// tiles of 32 x 100 for experiment 3's second layer, 32 filters of 5 x 5 x 16): each thread owns a
// 4 x 4 micro-tile (4 filters x 4 taps: a float4 of dy and 4 input values from shared memory for 16
// FMAs), and the block's 256 threads form G groups of T = tile filters / 4 * tile taps / 4 threads
// (G = 3 of 76 for 16 x 75), group g taking pixels g, g + G, ... of each segment. A segment is up to
// 32 neighbouring output pixels of one row; a block walks a fixed run of segments, copying the next
// one's dy rows and the input patch its taps see (the rows of its taps, 31 stride + S pixels each)
// to shared memory with cp.async while it multiplies the current one; then it adds its groups' sums
// in order and writes its tile of its partial output, and add_gemm_slices adds the partials in
// order. Block count, tiles and segment runs depend on the shape alone: deterministic, the same on
// every GPU. CXR_CONV_SMALL_DW=0 (or cuda::set_conv_small_weight_gradient(false)) sends these
// shapes back to the tiled GEMM, for comparison.
//
// The first version copied each segment's im2col values (75 a pixel for 5 x 5 x 3), ~17 instructions
// each: on an H100 (2026-11-26) its rounds were bound by issuing them (0.73 instructions a cycle an
// SM partition, 3.3 us a round of 32 pixels), the FMAs a third of the instructions. The patch is 4.4x
// fewer copies, each cheaper, and a tap's place in it is the same for every pixel but a shift.
#pragma once

#include <algorithm>
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
inline constexpr int kSmallDwTileFilters = 32, kSmallDwTileTaps = 128;  // a block's tile, at most
inline constexpr int kSmallDwMaxFilters = 64, kSmallDwMaxTaps = 1024;   // K and R*S*C the kernel takes
inline constexpr int kSmallDwMaxPatch = 4096;  // floats of one segment's input patch
// Blocks: 4 an SM of an H100 (~41 KB of shared memory each), one wave; a first layer's single tile
// then has 528 runs of segments (experiment 3: 31 segments each, 512 partial outputs of 2.5 MB).
inline constexpr int64_t kSmallDwBlocks = 4 * 132;

CXR_HOST_DEVICE constexpr int round_up4(int n) { return (n + 3) / 4 * 4; }

// How the [K][RSC] output is cut into tiles: filter_tiles x tap_tiles of tile_filters x tile_taps
// (multiples of 4, as even as they go; the last of each ragged), and the most input rows the taps of
// one tile span. All from the shape: the same on every GPU.
struct SmallDwTiling {
  int filter_tiles, tap_tiles, tile_filters, tile_taps, patch_rows;
  CXR_HOST_DEVICE int tiles() const { return filter_tiles * tap_tiles; }
};
inline SmallDwTiling small_dw_tiling(const Conv2dShape& s) {
  const int taps = s.R * s.S * s.C, row_taps = s.S * s.C;
  SmallDwTiling t{};
  t.filter_tiles = (s.K + kSmallDwTileFilters - 1) / kSmallDwTileFilters;
  t.tap_tiles = (taps + kSmallDwTileTaps - 1) / kSmallDwTileTaps;
  t.tile_filters = round_up4((s.K + t.filter_tiles - 1) / t.filter_tiles);
  t.tile_taps = round_up4((taps + t.tap_tiles - 1) / t.tap_tiles);
  for (int j0 = 0; j0 < taps; j0 += t.tile_taps) {
    const int last = (j0 + t.tile_taps < taps ? j0 + t.tile_taps : taps) - 1;
    t.patch_rows = std::max(t.patch_rows, last / row_taps - j0 / row_taps + 1);
  }
  return t;
}

// Input columns a segment's windows span, and the floats of a tile's patch (its rows, C a column).
CXR_HOST_DEVICE inline int small_dw_patch_columns(const Conv2dShape& s) { return (kSmallDwSegment - 1) * s.stride_w + s.S; }
inline int64_t small_dw_patch_floats(const Conv2dShape& s) {
  return static_cast<int64_t>(small_dw_tiling(s).patch_rows) * small_dw_patch_columns(s) * s.C;
}

// (No pixels, an empty batch, goes to the tiled GEMM, which writes the zeros.)
inline bool small_weight_gradient_fits(const Conv2dShape& s) {
  return s.K <= kSmallDwMaxFilters && s.R * s.S * s.C <= kSmallDwMaxTaps && s.N > 0 && s.OH > 0 && s.OW > 0 &&
         small_dw_patch_floats(s) <= kSmallDwMaxPatch;
}

// How a shape's segments are dealt out: `per_block` consecutive segments to each of `blocks` runs
// (every tile has the same runs; a run's partial output is one slice for add_gemm_slices).
struct SmallDwPlan {
  int64_t segments, per_block, blocks;
};
inline SmallDwPlan small_dw_plan(int64_t segments, int tiles) {
  const int64_t runs = std::max<int64_t>(1, kSmallDwBlocks / tiles);
  const int64_t per_block = (segments + runs - 1) / runs;
  return {segments, per_block, (segments + per_block - 1) / per_block};
}
inline int small_dw_segments_a_row(const Conv2dShape& s) { return (s.OW + kSmallDwSegment - 1) / kSmallDwSegment; }

// Block (b, tile) writes its sums of segments [b per_block, (b + 1) per_block) to its tile of
// partials + b K RSC, [K][RSC]. Segment i is row i / segments_a_row (n OH + oh) of the output,
// pixels 32 (i % segments_a_row) on.
// (static: one definition for each file that includes this header, the CPU emulator's included.)
static __global__ void __launch_bounds__(kSmallDwThreads, 4)
    small_weight_gradient_kernel(Conv2dShape s, SmallDwTiling tiling, const float* x, const float* dy,
                                 int64_t segments, int64_t segments_per_block, float* partials) {
  const int taps = s.R * s.S * s.C, row_taps = s.S * s.C;
  // This block's tile: filters k0.., taps j0.. (kn and jn of them; the rows r_lo.. of the patch).
  const int k0 = static_cast<int>(blockIdx.y) / tiling.tap_tiles * tiling.tile_filters;
  const int j0 = static_cast<int>(blockIdx.y) % tiling.tap_tiles * tiling.tile_taps;
  const int kn = min(tiling.tile_filters, s.K - k0), jn = min(tiling.tile_taps, taps - j0);
  const int r_lo = j0 / row_taps, rows = (j0 + jn - 1) / row_taps - r_lo + 1;
  const int filters4 = tiling.tile_filters, taps4 = tiling.tile_taps;  // a tile's row widths in shared memory
  const int group_threads = filters4 / 4 * (taps4 / 4), groups = kSmallDwThreads / group_threads;
  const int patch_columns = small_dw_patch_columns(s), patch_row = patch_columns * s.C;  // floats a patch row
  const int segments_a_row = (s.OW + kSmallDwSegment - 1) / kSmallDwSegment;
  // Two segments in flight: dy [stage][pixel][filter] and the patch [stage][row][column][c]. The patch
  // stages are reused at the end for the groups' sums (groups x group_threads x 16 <= 4,096 floats).
  __shared__ __align__(16) float dy_chunk[2][kSmallDwSegment * kSmallDwTileFilters];
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
    for (int k = my_filter0; k < kn; k += 8)
      copy_async<4>(dy_chunk[stage] + my_pixel * filters4 + k, dy + p * s.K + k0 + k, pixel_in);
    const int n = static_cast<int>(g.row / s.OH), oh = static_cast<int>(g.row % s.OH);
    const int ih0 = oh * s.stride_h - s.pad_top + r_lo, iw0 = g.ow0 * s.stride_w - s.pad_left;
    for (int r = tid / 32; r < rows; r += kSmallDwThreads / 32) {
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

  // This thread's micro-tile: filters 4 fm.., taps 4 ft.. of the tile (fm fastest: a warp reads 4 or 8
  // float4s of dy and 8 or 4 taps' values). Tap j = (r, t, c) of pixel q is patch[r - r_lo][q stride +
  // t][c]: at offset[i] + q stride C. Taps past the tile read its first: their sums are never stored.
  const int group = tid / group_threads, t = tid % group_threads;
  const int fm = t % (filters4 / 4), ft = t / (filters4 / 4);
  int offset[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int j = j0 + (4 * ft + i < jn ? 4 * ft + i : 0);
    const int c = j % s.C, rt = j / s.C;
    offset[i] = (rt / s.S - r_lo) * patch_row + rt % s.S * s.C + c;
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

  // The groups' sums, added in group order by one thread an output of the tile.
  float* sums = patch[0];  // [group][thread of the group][16]
  if (group < groups)
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) sums[(group * group_threads + t) * 16 + i * 4 + j] = acc[i][j];
  __syncthreads();
  float* out = partials + static_cast<int64_t>(blockIdx.x) * s.K * taps;
  for (int o = tid; o < kn * jn; o += kSmallDwThreads) {
    const int k = o / jn, j = o % jn;
    const int owner = k / 4 + filters4 / 4 * (j / 4), element = k % 4 * 4 + j % 4;
    float total = 0.0f;
    for (int g = 0; g < groups; ++g) total += sums[(g * group_threads + owner) * 16 + element];
    out[(k0 + k) * taps + j0 + j] = total;
  }
}

// dw = dy^T col(x) for a shape small_weight_gradient_fits (at least one pixel).
inline void small_weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw) {
  const int64_t count = static_cast<int64_t>(s.K) * s.R * s.S * s.C;
  const SmallDwTiling tiling = small_dw_tiling(s);
  const SmallDwPlan plan = small_dw_plan(static_cast<int64_t>(s.N) * s.OH * small_dw_segments_a_row(s), tiling.tiles());
  const Scratch<float> partials(count * plan.blocks, "small weight gradient partials");
  small_weight_gradient_kernel<<<dim3(static_cast<unsigned>(plan.blocks), static_cast<unsigned>(tiling.tiles())),
                                 kSmallDwThreads, 0, stream()>>>(s, tiling, x, dy, plan.segments, plan.per_block,
                                                                 partials.get());
  CXR_CUDA_CHECK_LAST();
  const int slices = static_cast<int>(plan.blocks);
  add_gemm_slices<<<static_cast<unsigned>((count + kSumColumns - 1) / kSumColumns),
                    dim3(kSumColumns, slice_groups(slices)), 0, stream()>>>(
      count, s.R * s.S * s.C, slices, partials.get(), GemmOutput{1.0f, 0.0f, dw, nullptr, 0});
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
