// One tiled SGEMM kernel behind the custom sgemm, dense and the implicit-GEMM convolution:
//   C[M][N] = alpha * sum_k A(m, k) * B(k, n) + beta * C
// where A and B are *loaders*, small structs with `__device__ float operator()(int m_or_k, ...)` that
// read an element from wherever it lives (a plain matrix, possibly transposed, or an image gathered
// on the fly as im2col would have laid it out). So the convolution needs no im2col buffer.
//
// Tiling (correctness first, simple): 64x64 output tiles, k-steps of 16, 256 threads; each thread
// owns a 4x4 strided micro-tile (rows ty + 16i, columns tx + 16j) so shared-memory reads are
// broadcast or conflict-free. A loader states along which index consecutive elements sit in memory
// (kContiguousK / kContiguousN) so a warp's global loads are coalesced.
//
// Split-K: when M x N has few tiles and K is long (convolution weight gradients reduce over every
// pixel of the batch), blockIdx.z takes a fixed slice of K and writes a partial tile; a second
// kernel adds the partials in slice order. The slice count depends on the shape only, so results
// are deterministic and the same on every GPU.
#pragma once

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_helpers.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

inline constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

template <class LoadA, class LoadB>
__global__ void __launch_bounds__(kGemmThreads)
    tiled_gemm_kernel(int M, int N, int K, int k_per_slice, LoadA load_a, LoadB load_b, float alpha, float beta,
                      float* C, int64_t slice_stride) {
  __shared__ float a_tile[kTileK][kTileM];
  __shared__ float b_tile[kTileK][kTileN + 4];  // +4: the k-fastest store would hit one bank otherwise
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int m0 = blockIdx.y * kTileM, n0 = blockIdx.x * kTileN;
  const int k_begin = blockIdx.z * k_per_slice;
  const int k_end = min(K, k_begin + k_per_slice);
  float acc[4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += kTileK) {
#pragma unroll
    for (int i = 0; i < kTileM * kTileK / kGemmThreads; ++i) {
      const int idx = tid + i * kGemmThreads;
      const int mm = LoadA::kContiguousK ? idx / kTileK : idx % kTileM;
      const int kk = LoadA::kContiguousK ? idx % kTileK : idx / kTileM;
      const int m = m0 + mm, k = k0 + kk;
      a_tile[kk][mm] = (m < M && k < k_end) ? load_a(m, k) : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < kTileN * kTileK / kGemmThreads; ++i) {
      const int idx = tid + i * kGemmThreads;
      const int nn = LoadB::kContiguousN ? idx % kTileN : idx / kTileK;
      const int kk = LoadB::kContiguousN ? idx / kTileN : idx % kTileK;
      const int n = n0 + nn, k = k0 + kk;
      b_tile[kk][nn] = (n < N && k < k_end) ? load_b(k, n) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = a_tile[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = b_tile[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  float* c = C + blockIdx.z * slice_stride;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n >= N) continue;
      const int64_t at = static_cast<int64_t>(m) * N + n;
      c[at] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[at];  // beta 0: C is not read
    }
  }
}

// C = alpha * (sum of the slices' partials, in slice order) + beta * C.
__global__ void add_gemm_slices(int64_t count, int slices, const float* partials, float alpha, float beta, float* C);

// How many K-slices a GEMM of this shape gets: 1 unless the output has fewer tiles than about two
// waves of an H100 and K is long; a function of the shape alone.
inline int gemm_slices(int M, int N, int K) {
  const int64_t tiles = static_cast<int64_t>((M + kTileM - 1) / kTileM) * ((N + kTileN - 1) / kTileN);
  if (tiles >= 256 || K < 4 * kTileK * 8) return 1;
  const int64_t by_k = K / (kTileK * 8);  // at least 128 values of k per slice
  const int64_t by_tiles = (256 + tiles - 1) / tiles;
  const int64_t slices = by_k < by_tiles ? by_k : by_tiles;
  return static_cast<int>(slices < 1 ? 1 : (slices > 64 ? 64 : slices));
}

void* gemm_scratch(size_t bytes);          // device_alloc for the slices' partials
void release_gemm_scratch(void* scratch);  // device_free

template <class LoadA, class LoadB>
void launch_tiled_gemm(int M, int N, int K, LoadA load_a, LoadB load_b, float alpha, float beta, float* C) {
  if (M <= 0 || N <= 0) return;
  const int slices = K > 0 ? gemm_slices(M, N, K) : 1;
  const int k_per_slice = slices == 1 ? (K > 0 ? K : 1) : ((K + slices - 1) / slices + kTileK - 1) / kTileK * kTileK;
  const dim3 grid((N + kTileN - 1) / kTileN, (M + kTileM - 1) / kTileM, slices);
  const int64_t count = static_cast<int64_t>(M) * N;
  if (slices == 1) {
    tiled_gemm_kernel<<<grid, kGemmThreads, 0, stream()>>>(M, N, K, k_per_slice, load_a, load_b, alpha, beta, C, 0);
    CXR_CUDA_CHECK_LAST();
    return;
  }
  float* partials = static_cast<float*>(gemm_scratch(sizeof(float) * static_cast<size_t>(count) * slices));
  struct Release {
    void* p;
    ~Release() { release_gemm_scratch(p); }  // stream order makes the reuse safe, also when a check throws
  } release{partials};
  tiled_gemm_kernel<<<grid, kGemmThreads, 0, stream()>>>(M, N, K, k_per_slice, load_a, load_b, 1.0f, 0.0f,
                                                         partials, count);
  CXR_CUDA_CHECK_LAST();
  const int threads = 256;
  const int64_t blocks = (count + threads - 1) / threads;
  add_gemm_slices<<<static_cast<unsigned>(blocks), threads, 0, stream()>>>(count, slices, partials, alpha, beta, C);
  CXR_CUDA_CHECK_LAST();
}

// Loaders over plain row-major matrices: A is [M][K] ([K][M] when transposed), B [K][N] ([N][K]).
template <bool kTrans>
struct MatrixA {
  static constexpr bool kContiguousK = !kTrans;
  const float* p;
  int ld;  // K, or M when transposed
  __device__ float operator()(int m, int k) const {
    return kTrans ? p[static_cast<int64_t>(k) * ld + m] : p[static_cast<int64_t>(m) * ld + k];
  }
};
template <bool kTrans>
struct MatrixB {
  static constexpr bool kContiguousN = !kTrans;
  const float* p;
  int ld;  // N, or K when transposed
  __device__ float operator()(int k, int n) const {
    return kTrans ? p[static_cast<int64_t>(n) * ld + k] : p[static_cast<int64_t>(k) * ld + n];
  }
};

}  // namespace cxr::kernels::cuda::detail
