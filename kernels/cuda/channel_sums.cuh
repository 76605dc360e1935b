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
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

// Partial-sum blocks are 32 lanes x kSumWarps warps. A lane serves V consecutive channels of the
// block's group (V = Terms::kChannels: 4 when the rows are made of float4s, else 1); when the C / V
// lane-channels divide 32 the group is all of them and each warp covers 32 / (C / V) rows at a time,
// so no lane idles.
//
// At most 256 chunks: one wave of blocks that each stream many rows. The partial sums of batch norm
// take 127-128 registers a thread (two rounds of rows a lane: one being added, the next in flight), so
// an H100 holds 2 of these blocks per SM, 264 at once. Measured on an H100 for experiment 3's first
// batch norm (492,032 rows), 2026-11-26: 1,024 chunks ran as 3.9 waves of blocks of 481 rows, each
// block's load latency and reduction exposed: 17.7 us, 55% of DRAM bandwidth (58% with 4-byte loads
// and 4 blocks an SM before that). 256 chunks, a lane loading a round and then adding it: 16.5 us,
// 59%, warps waiting on loads 10.9 of every 17.9 cycles. The pipelined loop below (the next round in
// flight while a lane adds) did not move it: the whole forward took 43.0 us against 42.8. What bounds
// this pass is still open (docs/gpu-runs.md).
inline constexpr int kSumWarps = 8;
inline constexpr int kMaxChunks = 256;
inline constexpr int64_t kMinRowsPerChunk = 64;  // below that, a block's set-up outweighs its rows
inline constexpr int kFinalizeThreads = 256;     // one block per channel: a partial a thread

// The rows' cut into chunks: a function of M alone, so the partials' layout (and the order of every
// addition) does not depend on the GPU.
struct ChunkPlan {
  int chunks;
  int64_t rows_per_chunk;
};

inline ChunkPlan plan_chunks(int64_t M) {
  ChunkPlan plan{};
  const int64_t by_rows = (M + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
  const int64_t wanted = std::min<int64_t>(kMaxChunks, std::max<int64_t>(1, by_rows));
  plan.rows_per_chunk = (M + wanted - 1) / wanted;
  plan.chunks = static_cast<int>((M + plan.rows_per_chunk - 1) / plan.rows_per_chunk);
  return plan;
}

// Two partial sums per chunk and channel.
inline int64_t partial_doubles(const ChunkPlan& plan, int C) { return 2 * static_cast<int64_t>(plan.chunks) * C; }

// Whether a pass may read each row's channels as float4s: C % 4 == 0 and every buffer 16-byte aligned.
inline bool quad_channels(int C, const void* p, const void* q = nullptr) {
  return C % 4 == 0 && aligned16(p) && aligned16(q);
}

// V consecutive floats, read as one float4 when V = 4. kStreaming: a load marked as the data's last
// use (ld.global.cs: L2 evicts its line first), so that it does not push out of L2 what will be read
// again (batch norm's resident kernels stream the rows they keep in shared memory).
template <int V>
struct Floats {
  float v[V];
};
template <int V, bool kStreaming = false>
__device__ __forceinline__ Floats<V> load_floats(const float* p) {
  Floats<V> f;
  if constexpr (V == 4) {
    const float4* q4 = reinterpret_cast<const float4*>(p);
    float4 q;
    if constexpr (kStreaming) q = __ldcs(q4);
    else q = *q4;
    f.v[0] = q.x, f.v[1] = q.y, f.v[2] = q.z, f.v[3] = q.w;
  } else if constexpr (kStreaming) {
    f.v[0] = __ldcs(p);
  } else {
    f.v[0] = *p;
  }
  return f;
}

// A Terms type says what a pass adds per element into two accumulators a and b, for kChannels
// consecutive channels per lane:
//   begin(c)           caches the lane's per-channel constants (a lane keeps channels c.. for the pass),
//   load(i)            reads what elements i.. need (a Terms::Loaded value),
//   add(loaded, a, b)  adds their terms to a[j], b[j], j < kChannels.
// Splitting load from add lets a lane issue several rows' loads before the first addition, so that
// bytes enough are in flight (one 4-byte load at a time left the first version at 60% of the DRAM
// bandwidth on an H100; four at a time, 57%, most of the warps' time still waiting on them; two
// float4s at a time, then one at a time for the last rows, 58%, 2026-11-26). A lane now loads up to
// 8 rows (about 128 bytes) a round, the rows past the chunk's end masked rather than left to a
// one-at-a-time loop. The additions stay in row order: the same bits as a plain loop.
//
// partials[k * C + c] and partials[chunks * C + k * C + c]: chunk k's two sums for channel c. Block
// (g, k) covers channel group g and chunk k; every lane's rows and every addition's order are fixed
// (for a given V: the float4 and single-float passes add a channel's rows in different orders).
//
// The block's work is a device function so that batch norm's resident kernels
// (kernels/cuda/batchnorm_resident.cu) run exactly these additions in their first phase: keep(row, c,
// loaded) sees every row a lane adds (KeepNothing here; there, it keeps the row in shared memory).
// A Keep with kMayStream has the rows for which keep.streams(row) holds loaded with
// Terms::load<true> (a streaming load: the row's last read from global memory).
struct KeepNothing {
  static constexpr bool kMayStream = false;
  template <class Loaded>
  __device__ void operator()(int64_t, int, const Loaded&) const {}
};

// Rows a lane loads before it adds any: Terms::kRowsInFlight where a Terms sets it (one that reads
// three tensors, whose loads would otherwise spill registers), else about 128 bytes' worth. The
// additions are in row order whatever this is.
template <class Terms>
constexpr int rows_in_flight() {
  if constexpr (requires { Terms::kRowsInFlight; }) return Terms::kRowsInFlight;
  return sizeof(typename Terms::Loaded) <= 16 ? 8 : 4;
}

template <class Terms, class Keep>
__device__ __forceinline__ void chunk_partials(int64_t M, int C, int width, const ChunkPlan& plan, int group,
                                               int chunk, Terms& terms, double* partials, const Keep& keep) {
  constexpr int V = Terms::kChannels;
  constexpr int kUnroll = rows_in_flight<Terms>();
  __shared__ double warp_a[kSumWarps][32 * V], warp_b[kSumWarps][32 * V];
  const int lane = threadIdx.x;
  const int c = (group * width + lane % width) * V;  // the lane's first channel
  const int rows_per_warp = 32 / width;
  const int walker = threadIdx.y * rows_per_warp + lane / width, walkers = kSumWarps * rows_per_warp;
  const int64_t first = static_cast<int64_t>(chunk) * plan.rows_per_chunk;
  const int64_t end = first + plan.rows_per_chunk < M ? first + plan.rows_per_chunk : M;
  double a[V] = {}, b[V] = {};
  if (c < C) {
    terms.begin(c);
    // Software-pipelined: a round's loads are issued before the previous round's additions, so a
    // lane always has rows in flight (measured no faster on an H100 than a round at a time, and kept:
    // the resident batch norm was measured with it).
    const int64_t step = static_cast<int64_t>(kUnroll) * walkers;
    typename Terms::Loaded v[kUnroll], next[kUnroll];
    const auto load_round = [&](int64_t m, typename Terms::Loaded (&into)[kUnroll]) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t row = m + u * walkers;
        if (row >= end) continue;
        if constexpr (Keep::kMayStream)
          into[u] = keep.streams(row) ? terms.template load<true>(row * C + c) : terms.load(row * C + c);
        else
          into[u] = terms.load(row * C + c);
      }
    };
    load_round(first + walker, v);
    for (int64_t m = first + walker; m < end; m += step) {
      load_round(m + step, next);
#pragma unroll
      for (int u = 0; u < kUnroll; ++u)
        if (m + u * walkers < end) {
          keep(m + u * walkers, c, v[u]);
          terms.add(v[u], a, b);
        }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) v[u] = next[u];
    }
  }
  // Lanes l and l ^ offset hold the same channels when offset >= width (both powers of two).
  for (int offset = 16; offset >= width; offset /= 2)
#pragma unroll
    for (int j = 0; j < V; ++j) {
      a[j] += __shfl_xor_sync(0xffffffffu, a[j], offset);
      b[j] += __shfl_xor_sync(0xffffffffu, b[j], offset);
    }
  if (lane < width)
#pragma unroll
    for (int j = 0; j < V; ++j) {
      warp_a[threadIdx.y][lane * V + j] = a[j];
      warp_b[threadIdx.y][lane * V + j] = b[j];
    }
  __syncthreads();
  if (threadIdx.y == 0 && lane < width && c < C)
#pragma unroll
    for (int j = 0; j < V; ++j) {
      double total_a = 0.0, total_b = 0.0;
      for (int w = 0; w < kSumWarps; ++w) {
        total_a += warp_a[w][lane * V + j];
        total_b += warp_b[w][lane * V + j];
      }
      const int64_t at = static_cast<int64_t>(chunk) * C + c + j;
      partials[at] = total_a;
      partials[static_cast<int64_t>(plan.chunks) * C + at] = total_b;
    }
}

template <class Terms>
__global__ void channel_partials_kernel(int64_t M, int C, int width, ChunkPlan plan, Terms terms, double* partials) {
  chunk_partials(M, C, width, plan, blockIdx.x, blockIdx.y, terms, partials, KeepNothing{});
}

// How many lane-channels (V channels each) a block's group has: all of them when they divide 32.
inline int group_width(int lane_channels) {
  return lane_channels < 32 && 32 % lane_channels == 0 ? lane_channels : 32;
}

template <class Terms>
void launch_channel_partials(int64_t M, int C, const ChunkPlan& plan, const Terms& terms, double* partials) {
  const int lane_channels = C / Terms::kChannels;  // C % kChannels == 0 (quad_channels)
  const int width = group_width(lane_channels);
  const int channel_blocks = (lane_channels + width - 1) / width;
  channel_partials_kernel<<<dim3(channel_blocks, plan.chunks), dim3(32, kSumWarps), 0, stream()>>>(
      M, C, width, plan, terms, partials);
  CXR_CUDA_CHECK_LAST();
}

// Both totals of channel c's partials (the first and the second sums), returned to every thread of
// a block of kFinalizeThreads: thread t (its index in the block) loads chunks t, t + 256, ... of both
// (all at once; one each while kMaxChunks is 256), adds them in that order, then a fixed tree in
// shared memory. Every thread of the block must call it.
// (One warp per channel adding 32 partials a lane one after another took 8 us per sum for
// experiment 3's first batch norm on an H100, 2026-11-26; a block per channel with a loop of
// dependent loads per sum still took 3.5 us per sum.)
struct ChunkTotals {
  double a, b;
};
__device__ inline ChunkTotals chunk_totals(const double* partials, int chunks, int C, int c, int t) {
  constexpr int kPerThread = kMaxChunks / kFinalizeThreads;
  static_assert(kMaxChunks % kFinalizeThreads == 0, "plan_chunks never makes more chunks than a block loads");
  __shared__ double tree_a[kFinalizeThreads], tree_b[kFinalizeThreads];
  const int64_t second = static_cast<int64_t>(chunks) * C;
  double va[kPerThread], vb[kPerThread];
#pragma unroll
  for (int u = 0; u < kPerThread; ++u) {
    const int k = t + u * kFinalizeThreads;
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
  tree_a[t] = a;
  tree_b[t] = b;
  __syncthreads();
  for (int half = kFinalizeThreads / 2; half > 0; half /= 2) {
    if (t < half) {
      tree_a[t] += tree_a[t + half];
      tree_b[t] += tree_b[t + half];
    }
    __syncthreads();
  }
  const ChunkTotals totals{tree_a[0], tree_b[0]};
  __syncthreads();  // the trees are free again for another call
  return totals;
}

}  // namespace cxr::kernels::cuda::detail
