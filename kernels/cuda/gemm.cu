// Custom CUDA twins of kernels/cpu/dense.cpp: the SGEMM on plain matrices (kernels/cuda/big_sgemm.cuh
// for large aligned ones, the tiled kernel of kernels/cuda/tiled_gemm.cuh for the rest), Dense forward
// and backward on it, and the small helpers the convolution shares
// (bias rows, column sums, the split-K reduction).
#include "kernels/cuda/big_sgemm.cuh"
#include "kernels/cuda/channel_sums.cuh"
#include "kernels/env_setting.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/scratch.cuh"
#include "kernels/cuda/tiled_gemm.cuh"
#include "kernels/dense.h"
#include "kernels/elementwise.h"

namespace cxr::kernels::cuda {
namespace detail {
namespace {

// Column sums are channel sums (kernels/cuda/channel_sums.cuh) with one accumulator used.
template <int V>
struct ColumnTerms {
  static constexpr int kChannels = V;
  using Loaded = Floats<V>;
  const float* x;
  __device__ void begin(int) {}
  __device__ Loaded load(int64_t i) const { return load_floats<V>(x + i); }
  __device__ void add(const Loaded& v, double (&sum)[V], double (&)[V]) const {
#pragma unroll
    for (int j = 0; j < V; ++j) sum[j] = __dadd_rn(sum[j], static_cast<double>(v.v[j]));
  }
};

__global__ void finalize_column_sums_kernel(int C, int chunks, const double* partials, float* out) {
  const ChunkTotals totals = chunk_totals(partials, chunks, C, blockIdx.x, threadIdx.x);  // .b: ColumnTerms' zeros
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<float>(totals.a);
}

__global__ void fill_rows_kernel(int64_t count, int cols, const float* bias, float* y) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    y[i] = bias[i % cols];
}

}  // namespace

constexpr int kSliceBatch = 16;  // add_gemm_slices's loads in flight a thread

__global__ void add_gemm_slices(int64_t count, int N, int slices, const float* partials, GemmOutput out) {
  __shared__ float group_sums[kSliceGroups][kSumColumns + 1];
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kSumColumns + threadIdx.x;  // a warp: 32 consecutive outputs
  const int groups = blockDim.y;  // slice_groups(slices)
  float acc = 0.0f;
  // 16 loads in flight, then their additions in slice order (the same bits as one at a time).
  // nvcc's own unroll by 4 left a thread of the small weight gradient's sum (27 slices) waiting on
  // DRAM 7 times in turn (7.3 us for 2.5 MB, experiment 1's first layer, H100, 2026-11-26); asked to
  // unroll by 16, it ran the remainder (up to 15 slices) one load at a time first (10.0 us for 491).
  if (i < count)
    for (int s0 = threadIdx.y; s0 < slices; s0 += kSliceBatch * groups) {
      float v[kSliceBatch];
#pragma unroll
      for (int u = 0; u < kSliceBatch; ++u) {
        const int s = s0 + u * groups;
        v[u] = s < slices ? partials[s * count + i] : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < kSliceBatch; ++u)
        if (s0 + u * groups < slices) acc += v[u];  // skipped, not + 0: -0 stays -0
    }
  group_sums[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || i >= count) return;
  float total = 0.0f;
  for (int g = 0; g < groups; ++g) total += group_sums[g][threadIdx.x];
  const int64_t m = i / N;
  const int n = static_cast<int>(i - m * N);
  float* c = out.C + out.rows.at(static_cast<int>(m), N) + n;
  *c = out.value(total, c, n);
}


void column_sums(int64_t rows, int cols, const float* x, float* out) {
  if (cols <= 0) return;
  if (rows <= 0) {  // sums of no rows, as on the CPU (plan_chunks needs a row)
    cuda::fill(cols, 0.0f, out);
    return;
  }
  const ChunkPlan plan = plan_chunks(rows);
  const Scratch<double> partials(partial_doubles(plan, cols), "column sums (a bias gradient)");
  if (quad_channels(cols, x))
    launch_channel_partials(rows, cols, plan, ColumnTerms<4>{x}, partials.get());
  else
    launch_channel_partials(rows, cols, plan, ColumnTerms<1>{x}, partials.get());
  finalize_column_sums_kernel<<<cols, kFinalizeThreads, 0, stream()>>>(cols, plan.chunks, partials.get(), out);
  CXR_CUDA_CHECK_LAST();
}

void fill_rows(int64_t rows, int cols, const float* bias, float* y) {
  const int64_t count = rows * cols;
  if (count <= 0) return;
  fill_rows_kernel<<<grid_size(count), kBlockThreads, 0, stream()>>>(count, cols, bias, y);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace detail

namespace {
EnvSetting g_tall_tiles("CXR_GEMM_TALL_TILES", static_cast<int>(TallTiles::kAuto),
                                static_cast<int>(TallTiles::kNever));
}  // namespace

void set_gemm_tall_tiles(TallTiles mode) { g_tall_tiles.set(static_cast<int>(mode)); }

TallTiles gemm_tall_tiles() { return static_cast<TallTiles>(g_tall_tiles.get()); }

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C) {
  using detail::MatrixA;
  using detail::MatrixB;
  if (M > 0 && N > 0 && detail::big_sgemm_fits(trans_a, trans_b, M, N, K, A, B, C)) {
    if (!trans_a && !trans_b) detail::launch_big_sgemm<false, false>(M, N, K, alpha, A, B, beta, C);
    else if (!trans_a) detail::launch_big_sgemm<false, true>(M, N, K, alpha, A, B, beta, C);
    else if (!trans_b) detail::launch_big_sgemm<true, false>(M, N, K, alpha, A, B, beta, C);
    else detail::launch_big_sgemm<true, true>(M, N, K, alpha, A, B, beta, C);
    return;
  }
  const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  if (!trans_a && !trans_b)
    detail::launch_tiled_gemm(M, N, K, MatrixA<false>{A, lda}, MatrixB<false>{B, ldb}, alpha, beta, C);
  else if (!trans_a)
    detail::launch_tiled_gemm(M, N, K, MatrixA<false>{A, lda}, MatrixB<true>{B, ldb}, alpha, beta, C);
  else if (!trans_b)
    detail::launch_tiled_gemm(M, N, K, MatrixA<true>{A, lda}, MatrixB<false>{B, ldb}, alpha, beta, C);
  else
    detail::launch_tiled_gemm(M, N, K, MatrixA<true>{A, lda}, MatrixB<true>{B, ldb}, alpha, beta, C);
}

void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y) {
  if (bias_or_null && !detail::big_sgemm_fits(false, false, B, out, in, x, w, y)) {
    // The bias added as each output is written, as the convolution does: no pass that fills y first.
    detail::launch_tiled_gemm(B, out, in, detail::MatrixA<false>{x, in}, detail::MatrixB<false>{w, out}, 1.0f, 0.0f,
                              y, bias_or_null);
    return;
  }
  if (bias_or_null) detail::fill_rows(B, out, bias_or_null, y);  // big_sgemm.cuh has no bias step
  sgemm(false, false, B, out, in, 1.0f, x, w, bias_or_null ? 1.0f : 0.0f, y);
}

void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null) {
  if (dx_or_null) sgemm(false, true, B, in, out, 1.0f, dy, w, 0.0f, dx_or_null);
  if (dw_or_null) sgemm(true, false, in, out, B, 1.0f, x, dy, 0.0f, dw_or_null);
  if (dbias_or_null) detail::column_sums(B, out, dy, dbias_or_null);
}

}  // namespace cxr::kernels::cuda
