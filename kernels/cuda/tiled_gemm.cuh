// One tiled SGEMM kernel behind the custom sgemm, dense and the implicit-GEMM convolution:
//   C[M][N] = alpha * sum_k A(m, k) * B(k, n) + beta * C
// where A and B are *loaders* (kernels/cuda/gemm_loaders.h) that read an element from wherever it
// lives (a plain matrix, possibly transposed, or an image gathered on the fly as im2col would have
// laid it out). So the convolution needs no im2col buffer.
//
// Tiling: 64x64 output tiles (16 or 32 wide along a dimension of 32 or less; 128x128 for large plain
// matrices; 128 x 16 or 128 x 32, the "tall tiles", for many rows of at most 32 columns), k-steps of
// 16, 256 threads in a 16 x 16 grid (32 x 8 for the tall tiles). Each thread owns a micro-tile of up to
// 4x4 outputs, consecutive rows and columns (8x8: 2x2 blocks of 4x4, 64 apart), which it reads from
// the shared tiles as float4s (float2s, floats for narrower ones). Shared memory returns one 32-bit
// register to 32 lanes per cycle (a wavefront), so a float4 read costs 4 wavefronts, or 2 when lanes
// 2n and 2n + 1 read the same address (documented for CC 7.x; A's reads here do, B's do not). Per k
// and warp a 4x4 micro-tile then costs about 6 wavefronts for 4 cycles of FMAs (2/3 of the FMA
// rate), a 4x1 one 3 for 1 (a third). The first version read one float per value, strided by 16: 8
// and 5 wavefronts (1/2 and 1/5). (Measured on an H100, 2026-11-26: 1.4-2.6 wavefronts per shared
// load in the convolution GEMMs, 3 per float4 read in big_sgemm.cuh, almost no bank conflicts.)
// Only 8x8 micro-tiles reach the FMA rate (big_sgemm.cuh). Each thread
// loads up to 4 elements of each tile per step, laid along the operand's contiguous index
// (kContiguousK) so a warp's global loads are coalesced; the loader's row half of each is computed
// once before the k loop, its column half once per step (see the loaders).
//
// Split-K: when M x N has few tiles and K is long (convolution weight gradients reduce over every
// pixel of the batch), blockIdx.z takes a fixed slice of K and writes a partial tile; a second
// kernel adds the partials in slice order. The slice count depends on the shape only, so results
// are deterministic and the same on every GPU.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_helpers.h"
#include "kernels/cuda/gemm_loaders.h"
#include "kernels/cuda/gemm_output.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/dense.h"  // gemm_tall_tiles
#include "kernels/shape_limit.h"

namespace cxr::kernels::cuda::detail {

// The column half of a loader's index for k = k0 + kk: from the step's shared table when the loader
// keeps one, else computed here (it is cheap: a multiplication at most).
template <class Load>
__device__ typename Load::Col step_col(const Load& load, const typename Load::Col* table, int k0, int kk) {
  if constexpr (Load::kColTable)
    return table[kk];
  else
    return load.col(k0 + kk);
}

// Thread tid's kLoads values of one operand's tile step at k0 (kWidth x kTileK, laid as tile_wide and
// tile_deep say), zero past `limit` along the width or past k_end. Along k a thread's loads share one
// k, so one column, read once; across it they share one row (rows[0]). (Read per load, the column
// table cost three shared loads each inside the branch around it: with the dy gather's arithmetic,
// about 30 instructions a load, 631 in the tall input gradient's k-step for its 128 FMAs.)
template <bool kAlongK, int kWidth, int kLoads, int kRows, class Load>
__device__ __forceinline__ void load_operand_step(const Load& load, const typename Load::Row (&rows)[kRows],
                                                  const typename Load::Col* table, int tid, int base, int limit,
                                                  int k0, int k_end, float (&into)[kLoads]) {
  if constexpr (kAlongK) {
    const int kk = tile_deep(true, kWidth, tid, 0);
    const typename Load::Col col = step_col(load, table, k0, kk);
    const bool k_in = k0 + kk < k_end;
#pragma unroll
    for (int i = 0; i < kLoads; ++i)
      into[i] = (k_in && base + tile_wide(true, kWidth, tid, i) < limit) ? load(rows[i], col) : 0.0f;
  } else {
    const bool in = base + tile_wide(false, kWidth, tid, 0) < limit;
#pragma unroll
    for (int i = 0; i < kLoads; ++i) {
      const int kk = tile_deep(false, kWidth, tid, i);
      into[i] = (in && k0 + kk < k_end) ? load(rows[0], step_col(load, table, k0, kk)) : 0.0f;
    }
  }
}

// Where the v-th of a thread's `count` (1, 2, 4 or 8) values along one side lies in the tile, for
// thread t of the `threads` along that side: runs of consecutive values, one shared-memory vector each.
CXR_HOST_DEVICE constexpr int micro_offset(int count, int threads, int t, int v) {
  return count <= 4 ? t * count + v : (v / 4) * (threads * 4) + t * 4 + v % 4;
}

// A thread's kCount values of one k-row of a shared tile, as micro_offset lays them out for kThreads
// threads along that side.
template <int kCount, int kThreads>
__device__ __forceinline__ void read_micro(const float* tile_row, int t, float (&v)[kCount]) {
  if constexpr (kCount == 1) {
    v[0] = tile_row[t];
  } else if constexpr (kCount == 2) {
    const float2 p = *reinterpret_cast<const float2*>(tile_row + 2 * t);
    v[0] = p.x;
    v[1] = p.y;
  } else {
#pragma unroll
    for (int r = 0; r < kCount / 4; ++r) {
      const float4 p = *reinterpret_cast<const float4*>(tile_row + micro_offset(kCount, kThreads, t, 4 * r));
      v[4 * r] = p.x;
      v[4 * r + 1] = p.y;
      v[4 * r + 2] = p.z;
      v[4 * r + 3] = p.w;
    }
  }
}

// kRun consecutive outputs from v to c: one 4-, 8- or 16-byte store.
template <int kRun>
__device__ __forceinline__ void store_run(float* c, const float* v) {
  if constexpr (kRun == 1) *c = v[0];
  else if constexpr (kRun == 2) *reinterpret_cast<float2*>(c) = make_float2(v[0], v[1]);
  else *reinterpret_cast<float4*>(c) = make_float4(v[0], v[1], v[2], v[3]);
}

// A tile of (kTy kI) x (kTx kJ) outputs, the 256 threads laid kTy = 256 / kTx along M and kTx along N
// (16 x 16, or 32 x 8 for the tall tiles of tile_shape); thread (tx, ty) owns rows
// micro_offset(kI, kTy, ty, i) and columns micro_offset(kJ, kTx, tx, j). At least 3 blocks per SM (85
// registers a thread; ptxas: no spill) for the 64x64 and narrower tiles, whose k-steps wait on
// gathered loads that only other blocks can hide (left to itself, ptxas took up to 109 registers for
// the im2col loader: 2 blocks); 2 for 128x128 and the tall tiles (8 loads of A a thread and step).
//
// Two-stage pipeline: the shared tiles (and the loaders' column tables) are double-buffered, and a
// thread's loads for k-step s + 1 are issued before it multiplies step s's tiles, so the global
// latency overlaps the arithmetic and one barrier per k-step suffices. (The first version loaded,
// waited, stored, synchronised, multiplied and synchronised again, up to three barriers a step: on
// an H100, 2026-11-26, its convolution GEMMs ran at 27-38% of the SM's throughput and 34-46% of the
// memory's, latency-bound, e.g. 1.9 us per k-step for e1_conv2's input gradient.) Why one barrier
// is enough: step s stores its tiles into buffer s % 2, and the column tables of step s + 1 into the
// other, before its barrier. The tiles were last read by step s - 2's products, the tables by the
// loads of step s - 1, issued during step s - 2: every thread finished both before barrier s - 1.
template <int kI, int kJ, int kTx, class LoadA, class LoadB>
__global__ void __launch_bounds__(kGemmThreads, kI * kJ == 64 || kTx != kThreadsPerSide ? 2 : 3)
    tiled_gemm_kernel(int M, int N, int K, int k_per_slice, LoadA load_a, LoadB load_b, GemmOutput out) {
  constexpr int kTy = kGemmThreads / kTx, kTileM = kTy * kI, kTileN = kTx * kJ;
  constexpr int kLoadsA = tile_loads(kTileM), kLoadsB = tile_loads(kTileN);  // a thread's, per k-step
  constexpr bool kAAlongK = LoadA::kContiguousK, kBAlongK = LoadB::kContiguousK;
  static_assert(kLoadsA >= 1 && kLoadsB >= 1 && kLoadsA * kGemmThreads == kTileM * kTileK &&
                    kLoadsB * kGemmThreads == kTileN * kTileK,
                "the threads load each tile step whole, the same count each");
  // +4: the k-fastest stores would hit one bank otherwise; rows stay 16-byte aligned for float4 reads.
  __shared__ __align__(16) float a_tile[2][kTileK][kTileM + 4];
  __shared__ __align__(16) float b_tile[2][kTileK][kTileN + 4];
  __shared__ typename LoadA::Col a_cols[2][kTileK];  // used when LoadA::kColTable
  __shared__ typename LoadB::Col b_cols[2][kTileK];  // used when LoadB::kColTable
  const int tid = threadIdx.x, tx = tid % kTx, ty = tid / kTx;
  const int m0 = blockIdx.x * kTileM, n0 = blockIdx.y * kTileN;  // x: up to 2^31 - 1 tiles of the long M
  const int k_begin = blockIdx.z * k_per_slice;
  const int k_end = min(K, k_begin + k_per_slice);

  // The row halves of this thread's loads never change: computed once (one row when its loads run
  // along k, tile_wide being the same for all of them).
  constexpr int kRowsA = kAAlongK ? kLoadsA : 1, kRowsB = kBAlongK ? kLoadsB : 1;
  typename LoadA::Row a_rows[kRowsA];
  typename LoadB::Row b_rows[kRowsB];
#pragma unroll
  for (int i = 0; i < kRowsA; ++i) a_rows[i] = load_a.row(m0 + tile_wide(kAAlongK, kTileM, tid, i));
#pragma unroll
  for (int j = 0; j < kRowsB; ++j) b_rows[j] = load_b.row(n0 + tile_wide(kBAlongK, kTileN, tid, j));

  // Column tables of the step at k0 into buffer `buf` (two warps write them).
  const auto write_cols = [&](int buf, int k0) {
    if constexpr (LoadA::kColTable)
      if (tid < kTileK) a_cols[buf][tid] = load_a.col(k0 + tid);
    if constexpr (LoadB::kColTable)
      if (tid >= 32 && tid < 32 + kTileK) b_cols[buf][tid - 32] = load_b.col(k0 + tid - 32);  // another warp
  };
  // This thread's values of the step at k0 (its columns from table `buf`), zero past M, N or k_end.
  float a_next[kLoadsA], b_next[kLoadsB];
  const auto load_step = [&](int buf, int k0) {
    load_operand_step<kAAlongK, kTileM>(load_a, a_rows, a_cols[buf], tid, m0, M, k0, k_end, a_next);
    load_operand_step<kBAlongK, kTileN>(load_b, b_rows, b_cols[buf], tid, n0, N, k0, k_end, b_next);
  };

  if (k_begin < k_end) {  // the same for the whole block (a GEMM with K = 0 loads nothing)
    if constexpr (LoadA::kColTable || LoadB::kColTable) {
      write_cols(0, k_begin);
      __syncthreads();
    }
    load_step(0, k_begin);
  }
  float acc[kI][kJ] = {};
  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += kTileK, buf ^= 1) {
#pragma unroll
    for (int i = 0; i < kLoadsA; ++i)
      a_tile[buf][tile_deep(kAAlongK, kTileM, tid, i)][tile_wide(kAAlongK, kTileM, tid, i)] = a_next[i];
#pragma unroll
    for (int j = 0; j < kLoadsB; ++j)
      b_tile[buf][tile_deep(kBAlongK, kTileN, tid, j)][tile_wide(kBAlongK, kTileN, tid, j)] = b_next[j];
    const bool more = k0 + kTileK < k_end;
    if (more) write_cols(buf ^ 1, k0 + kTileK);
    __syncthreads();
    if (more) load_step(buf ^ 1, k0 + kTileK);  // in flight while this step's products are computed
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[kI], b[kJ];
      read_micro<kI, kTy>(a_tile[buf][kk], ty, a);
      read_micro<kJ, kTx>(b_tile[buf][kk], tx, b);
#pragma unroll
      for (int i = 0; i < kI; ++i)
#pragma unroll
        for (int j = 0; j < kJ; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }
  // Each run of consecutive columns is stored as one vector when every row of C is made of whole
  // runs and C is aligned for them; else one float at a time, past N skipped.
  float* c = out.C + blockIdx.z * out.slice_stride;
  constexpr int kRun = kJ < 4 ? kJ : 4;
  const bool whole_runs = N % kRun == 0 && reinterpret_cast<uintptr_t>(c) % (sizeof(float) * kRun) == 0;
#pragma unroll
  for (int i = 0; i < kI; ++i) {
    const int m = m0 + micro_offset(kI, kTy, ty, i);
    if (m >= M) continue;
    const int64_t row = out.rows.at(m, N);
#pragma unroll
    for (int r = 0; r < kJ / kRun; ++r) {
      const int n = n0 + micro_offset(kJ, kTx, tx, r * kRun);  // the run's first column
      const int64_t at = row + n;
      if (whole_runs) {
        if (n >= N) continue;  // N % kRun == 0: the run is all in or all out
        float v[kRun];
#pragma unroll
        for (int q = 0; q < kRun; ++q) v[q] = out.value(acc[i][r * kRun + q], c + at + q, n + q);
        store_run<kRun>(c + at, v);
      } else {
#pragma unroll
        for (int q = 0; q < kRun; ++q)
          if (n + q < N) c[at + q] = out.value(acc[i][r * kRun + q], c + at + q, n + q);
      }
    }
  }
}

// C = alpha * (sum of the slices' partials) + beta * C (+ bias), C being [count / N][N] (row m at
// out.rows.at(m, N)), the partials plain [count / N][N] matrices, slice after slice. A block
// sums kSumColumns outputs, each over G = slice_groups(slices) groups of slices in parallel (group
// g: slices g, g + G, ..., in order), then the groups in order: a fixed order, so deterministic. G is
// at most 16 and never more than the slices (16 groups for 4 slices left three quarters of the
// threads idle: 11 us to sum e1_conv3's input-gradient phase on an H100).
inline constexpr int kSumColumns = 32, kSliceGroups = 16;
inline int slice_groups(int slices) { return slices < kSliceGroups ? slices : kSliceGroups; }
__global__ void add_gemm_slices(int64_t count, int N, int slices, const float* partials, GemmOutput out);

// Micro-tile size along a dimension of `extent`: 1, 2 or 4 (tiles 16, 32 or 64 wide).
inline int micro_tile(int extent) { return extent <= 16 ? 1 : (extent <= 32 ? 2 : 4); }

// Threads' micro-tiles for a GEMM of this shape, a function of the shape alone: up to 4 x 4 (64 x 64
// tiles), or 8 x 8 (128 x 128 tiles: twice the arithmetic per value loaded from shared memory) for
// plain matrices whose sides are long enough that 128 x 128 tiles still number two waves of an H100's
// 132 SMs (aligned ones go to kernels/cuda/big_sgemm.cuh before they get here). (Two blocks of 256
// threads per SM leave 128 registers a thread: the convolution's loaders would spill there, so they
// keep 64 x 64.)
struct TileShape {
  int i, j;
};
inline TileShape tile_shape(int M, int N, bool plain_matrices) {
  constexpr int64_t kTwoWaves = 2 * 132;
  const int64_t big_tiles = static_cast<int64_t>((M + 127) / 128) * ((N + 127) / 128);
  if (plain_matrices && M >= 128 && N >= 128 && big_tiles >= kTwoWaves) return {8, 8};
  return {micro_tile(M), micro_tile(N)};
}

template <class Load>
inline constexpr bool kPlainMatrix = false;
template <bool kAlongK>
inline constexpr bool kPlainMatrix<MatrixOperand<kAlongK>> = true;

// How many K-slices a GEMM of this shape gets: 1 unless the output has fewer than 256 tiles and K
// is long; then enough for about 792 blocks (two full waves of an H100's 132 SMs at the 3 blocks per
// SM of the small tiles: a block waits on its global loads at every k-step, and only other
// resident blocks hide that wait), each with at least 128 values of k, at most 1,024 slices. A
// function of the shape alone, so the result is deterministic and the same on every GPU. (Capped at
// 64 slices of 256 blocks in all, experiment 3's first weight gradient, 16 x 75 outputs over 492,032
// pixels, gave each of 128 blocks 480 k-steps of 16, one after another.) "Long" is 4 slices' worth
// (512) when the tiles fill the SMs at least once, 2 slices' worth (256) when they do not: three of
// e1_conv3's input-gradient phases, 55 tiles with K = 256-384, ran unsplit on 55 of the H100's 132
// SMs at 13-15% of their throughput, 20-27 us each (2026-11-26).
inline constexpr int64_t kSplitKBlocks = 2 * 3 * 132, kMaxSlices = 1024, kSms = 132;
inline int gemm_slices(int M, int N, int K, bool plain_matrices) {
  const TileShape t = tile_shape(M, N, plain_matrices);
  const int tile_m = kThreadsPerSide * t.i, tile_n = kThreadsPerSide * t.j;
  const int64_t tiles = static_cast<int64_t>((M + tile_m - 1) / tile_m) * ((N + tile_n - 1) / tile_n);
  const int long_k = (tiles < kSms ? 2 : 4) * kTileK * 8;
  if (tiles >= 256 || K < long_k) return 1;
  const int64_t by_k = K / (kTileK * 8);  // at least 128 values of k per slice
  const int64_t by_tiles = (kSplitKBlocks + tiles - 1) / tiles;
  const int64_t slices = by_k < by_tiles ? by_k : by_tiles;
  return static_cast<int>(slices < 1 ? 1 : (slices > kMaxSlices ? kMaxSlices : slices));
}

// The tall tiles: for a product of at most 32 columns and many rows, 128 x 16 tiles (4 x 2 a thread)
// or 128 x 32 (4 x 4), the threads laid 32 x 8, where the 16 x 16 layout gives 64 x 16 (4 x 1) or
// 64 x 32 (4 x 2). Per k and warp a 4 x 1 micro-tile reads about 3 shared-memory wavefronts for its
// 4 FMAs, a third of the FMA rate; 4 x 2 with 8 threads along N about 3 for 8 (its A vector shared by
// 8 lanes, its B vectors 64 contiguous bytes). Measured on an H100, 2026-11-26, before this layout:
// experiment 3's second convolution ran its forward (64 x 32 tiles) at 17 TFLOP/s and its input
// gradient (16 channels: 64 x 16 tiles) at 7, 418 of the layer's 637 us backward. Measured with
// them (same card and run, tall tiles on against off): that input gradient 418 -> 374 us (the layer's
// backward 645 -> 600), experiment 3's first forward 146.5 -> 140.2 us, experiment 1's first 26.3 ->
// 28.1 us (529 tall tiles: two waves of 264 and one block). Far from the 2x the wavefronts promised:
// the gathered loads' arithmetic, not shared memory, held the issue slots (load_operand_step).
// Only for unsplit products (the split-K plan stays that of the 16 x 16 layout), with tall tiles
// enough for 2 blocks an SM (they take up to 128 registers a thread: 2 blocks an SM, where the
// 64-row tiles fit 3); TallTiles::kAlways takes them for every eligible shape (tests) and kNever
// never (comparisons).
inline bool tall_tiles(int M, int N, int slices, const TileShape& usual) {
  if (usual.i == 8 || N > 32 || slices != 1) return false;
  switch (cxr::kernels::cuda::gemm_tall_tiles()) {
    case TallTiles::kNever: return false;
    case TallTiles::kAlways: return true;
    default: return (M + 127) / 128 >= 2 * kSms;
  }
}

template <int kI, int kJ, int kTx, class LoadA, class LoadB>
void launch_tiles(int M, int N, int K, int k_per_slice, int slices, const LoadA& load_a, const LoadB& load_b,
                  const GemmOutput& out) {
  constexpr int kTileM = kGemmThreads / kTx * kI, kTileN = kTx * kJ;
  const dim3 grid((M + kTileM - 1) / kTileM, (N + kTileN - 1) / kTileN, slices);
  if (grid.y > 65535)
    throw ShapeLimitError("the custom CUDA GEMM takes at most 65535 tiles of " + std::to_string(kTileN) +
                          " columns; this product has " + std::to_string(N) +
                          " (a Dense layer's input features, say): --kernels vendor (cuBLAS), or --device cpu");
  tiled_gemm_kernel<kI, kJ, kTx><<<grid, kGemmThreads, 0, stream()>>>(M, N, K, k_per_slice, load_a, load_b, out);
  CXR_CUDA_CHECK_LAST();
}

template <int kI, class LoadA, class LoadB>
void launch_tiles_for_n(int M, int N, int K, int k_per_slice, int slices, const LoadA& load_a, const LoadB& load_b,
                        const GemmOutput& out) {
  switch (tile_shape(M, N, kPlainMatrix<LoadA> && kPlainMatrix<LoadB>).j) {
    case 1: return launch_tiles<kI, 1, kThreadsPerSide>(M, N, K, k_per_slice, slices, load_a, load_b, out);
    case 2: return launch_tiles<kI, 2, kThreadsPerSide>(M, N, K, k_per_slice, slices, load_a, load_b, out);
    default: return launch_tiles<kI, 4, kThreadsPerSide>(M, N, K, k_per_slice, slices, load_a, load_b, out);
  }
}

// The kernel for this shape's tile sizes.
template <class LoadA, class LoadB>
void launch_sized_tiles(int M, int N, int K, int k_per_slice, int slices, const LoadA& load_a, const LoadB& load_b,
                        const GemmOutput& out) {
  const TileShape usual = tile_shape(M, N, kPlainMatrix<LoadA> && kPlainMatrix<LoadB>);
  if constexpr (kPlainMatrix<LoadA> && kPlainMatrix<LoadB>)
    if (usual.i == 8) return launch_tiles<8, 8, kThreadsPerSide>(M, N, K, k_per_slice, slices, load_a, load_b, out);
  if (tall_tiles(M, N, slices, usual)) {
    if (usual.j == 1) return launch_tiles<4, 2, 8>(M, N, K, k_per_slice, slices, load_a, load_b, out);
    return launch_tiles<4, 4, 8>(M, N, K, k_per_slice, slices, load_a, load_b, out);
  }
  switch (usual.i) {  // 1, 2 or 4 here
    case 1: return launch_tiles_for_n<1>(M, N, K, k_per_slice, slices, load_a, load_b, out);
    case 2: return launch_tiles_for_n<2>(M, N, K, k_per_slice, slices, load_a, load_b, out);
    default: return launch_tiles_for_n<4>(M, N, K, k_per_slice, slices, load_a, load_b, out);
  }
}

// C = alpha * A B + beta * C, plus bias[n] on every row when bias is not null, row m of C at
// C + rows.at(m, N).
template <class LoadA, class LoadB>
void launch_tiled_gemm(int M, int N, int K, LoadA load_a, LoadB load_b, float alpha, float beta, float* C,
                       const float* bias = nullptr, const OutputRows& rows = OutputRows{}) {
  if (M <= 0 || N <= 0) return;
  const int slices = K > 0 ? gemm_slices(M, N, K, kPlainMatrix<LoadA> && kPlainMatrix<LoadB>) : 1;
  const int k_per_slice = slices == 1 ? (K > 0 ? K : 1) : ((K + slices - 1) / slices + kTileK - 1) / kTileK * kTileK;
  const int64_t count = static_cast<int64_t>(M) * N;
  if (slices == 1) {
    launch_sized_tiles(M, N, K, k_per_slice, 1, load_a, load_b, GemmOutput{alpha, beta, C, bias, 0, rows});
    return;
  }
  const Scratch<float> partials(count * slices, "split-K GEMM partials");
  launch_sized_tiles(M, N, K, k_per_slice, slices, load_a, load_b,
                     GemmOutput{1.0f, 0.0f, partials.get(), nullptr, count});
  const int64_t blocks = (count + kSumColumns - 1) / kSumColumns;
  add_gemm_slices<<<static_cast<unsigned>(blocks), dim3(kSumColumns, slice_groups(slices)), 0, stream()>>>(
      count, N, slices, partials.get(), GemmOutput{alpha, beta, C, bias, 0, rows});
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
