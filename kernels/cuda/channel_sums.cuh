// Deterministic per-channel sums over the rows of x[M][C] (channels last), in double: batch norm's
// statistics and gradient sums (kernels/cuda/batchnorm.cu) and the bias gradients of Conv2D and
// Dense, which are column sums (kernels/cuda/gemm.cu).
//
// The rows are cut into chunks, a number that depends on M alone (never on the GPU), and the grid is
// (channel groups) x (chunks): each block writes one partial per channel of its group, and a
// finalising block per channel adds that channel's partials in a fixed order. So the result is the
// same on every run and every GPU, and a layer of few channels still spreads over every SM. (The
// first versions gave each group of 32 channels one block: the bias gradient of experiment 1's
// first convolution, 67,712 rows of 16 channels, took 141 us of the layer's 205 us backward pass on
// an H100, 2026-11-26, and experiment 3's first batch norm ran on one SM, measured on an H200.)
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

// Partial-sum blocks are 32 lanes x kSumWarps warps. A lane serves one channel of the block's group;
// when C divides 32 (C = 1, 2, 4, 8, 16) the group is all C channels and each warp covers 32 / C
// rows at a time, so no lane idles.
inline constexpr int kSumWarps = 8;
inline constexpr int kMaxChunks = 1024;          // about one wave of 8 blocks per SM on an H100
inline constexpr int64_t kMinRowsPerChunk = 64;  // below that, a block's set-up outweighs its rows
inline constexpr int kSumUnroll = 4;             // rows a lane loads before it adds any of them
inline constexpr int kFinalizeThreads = 256;     // one block per channel: 4 partials a thread

struct ChunkPlan {
  int width;           // channels per block: C when C divides 32, else 32
  int channel_blocks;  // ceil(C / width)
  int chunks;          // row chunks, from M alone
  int64_t rows_per_chunk;
};

inline ChunkPlan plan_chunks(int64_t M, int C) {
  ChunkPlan plan{};
  plan.width = C < 32 && 32 % C == 0 ? C : 32;
  plan.channel_blocks = (C + plan.width - 1) / plan.width;
  const int64_t by_rows = (M + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
  const int64_t wanted = std::min<int64_t>(kMaxChunks, std::max<int64_t>(1, by_rows));
  plan.rows_per_chunk = (M + wanted - 1) / wanted;
  plan.chunks = static_cast<int>((M + plan.rows_per_chunk - 1) / plan.rows_per_chunk);
  return plan;
}

// Two partial sums per chunk and channel.
inline int64_t partial_doubles(const ChunkPlan& plan, int C) { return 2 * static_cast<int64_t>(plan.chunks) * C; }

// A Terms type says what a pass adds per element into two accumulators a and b:
//   begin(c)           caches the lane's per-channel constants (a lane keeps one channel),
//   load(i)            reads what element i needs (a Terms::Loaded value),
//   add(loaded, a, b)  adds its terms.
// Splitting load from add lets a lane issue kSumUnroll rows' loads before the first addition, so
// that several loads are in flight per lane (one at a time left the first version at 60% of the
// DRAM bandwidth, H100). The additions stay in row order: the same bits as a plain loop.
//
// partials[k * C + c] and partials[chunks * C + k * C + c]: chunk k's two sums for channel c. Block
// (g, k) covers channel group g and chunk k; every lane's rows and every addition's order are fixed.
template <class Terms>
__global__ void channel_partials_kernel(int64_t M, int C, ChunkPlan plan, Terms terms, double* partials) {
  __shared__ double warp_a[kSumWarps][32], warp_b[kSumWarps][32];
  const int lane = threadIdx.x, width = plan.width;
  const int c = blockIdx.x * width + lane % width;
  const int rows_per_warp = 32 / width;
  const int walker = threadIdx.y * rows_per_warp + lane / width, walkers = kSumWarps * rows_per_warp;
  const int64_t first = static_cast<int64_t>(blockIdx.y) * plan.rows_per_chunk;
  const int64_t end = first + plan.rows_per_chunk < M ? first + plan.rows_per_chunk : M;
  double a = 0.0, b = 0.0;
  if (c < C) {
    terms.begin(c);
    int64_t m = first + walker;
    for (; m + (kSumUnroll - 1) * walkers < end; m += kSumUnroll * walkers) {
      typename Terms::Loaded v[kSumUnroll];
#pragma unroll
      for (int u = 0; u < kSumUnroll; ++u) v[u] = terms.load((m + u * walkers) * C + c);
#pragma unroll
      for (int u = 0; u < kSumUnroll; ++u) terms.add(v[u], a, b);
    }
    for (; m < end; m += walkers) terms.add(terms.load(m * C + c), a, b);
  }
  // Lanes l and l ^ offset hold the same channel when offset >= width (both powers of two).
  for (int offset = 16; offset >= width; offset /= 2) {
    a += __shfl_xor_sync(0xffffffffu, a, offset);
    b += __shfl_xor_sync(0xffffffffu, b, offset);
  }
  if (lane < width) {
    warp_a[threadIdx.y][lane] = a;
    warp_b[threadIdx.y][lane] = b;
  }
  __syncthreads();
  if (threadIdx.y == 0 && lane < width && c < C) {
    double total_a = 0.0, total_b = 0.0;
    for (int w = 0; w < kSumWarps; ++w) {
      total_a += warp_a[w][lane];
      total_b += warp_b[w][lane];
    }
    const int64_t at = static_cast<int64_t>(blockIdx.y) * C + c;
    partials[at] = total_a;
    partials[static_cast<int64_t>(plan.chunks) * C + at] = total_b;
  }
}

template <class Terms>
void launch_channel_partials(int64_t M, int C, const ChunkPlan& plan, const Terms& terms, double* partials) {
  channel_partials_kernel<<<dim3(plan.channel_blocks, plan.chunks), dim3(32, kSumWarps), 0, stream()>>>(
      M, C, plan, terms, partials);
  CXR_CUDA_CHECK_LAST();
}

// Both totals of channel c's partials (the first and the second sums), returned to every thread of
// a block of kFinalizeThreads: thread t loads chunks t, t + 256, ... of both (all at once), adds them
// in that order, then a fixed tree in shared memory. Every thread of the block must call it.
// (One warp per channel adding 32 partials a lane one after another took 8 us per sum for
// experiment 3's first batch norm on an H100, 2026-11-26; a block per channel with a loop of
// dependent loads per sum still took 3.5 us per sum.)
struct ChunkTotals {
  double a, b;
};
__device__ inline ChunkTotals chunk_totals(const double* partials, int chunks, int C, int c) {
  constexpr int kPerThread = kMaxChunks / kFinalizeThreads;
  static_assert(kMaxChunks % kFinalizeThreads == 0, "plan_chunks never makes more chunks than a block loads");
  __shared__ double tree_a[kFinalizeThreads], tree_b[kFinalizeThreads];
  const int64_t second = static_cast<int64_t>(chunks) * C;
  double va[kPerThread], vb[kPerThread];
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    const int k = threadIdx.x + u * kFinalizeThreads;
    const int64_t at = static_cast<int64_t>(k) * C + c;
    va[u] = k < chunks ? partials[at] : 0.0;
    vb[u] = k < chunks ? partials[second + at] : 0.0;
  }
  double a = 0.0, b = 0.0;
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    a += va[u];
    b += vb[u];
  }
  tree_a[threadIdx.x] = a;
  tree_b[threadIdx.x] = b;
  __syncthreads();
  for (int half = kFinalizeThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      tree_a[threadIdx.x] += tree_a[threadIdx.x + half];
      tree_b[threadIdx.x] += tree_b[threadIdx.x + half];
    }
    __syncthreads();
  }
  const ChunkTotals totals{tree_a[0], tree_b[0]};
  __syncthreads();  // the trees are free again for another call
  return totals;
}

}  // namespace cxr::kernels::cuda::detail
