// The custom SGEMM for large plain matrices (issue 7's target: at least 80% of cuBLAS at n = 4096):
//   C[M][N] = alpha * op(A) op(B) + beta * C, all row-major, A [M][K] ([K][M] when transposed),
//   B [K][N] ([N][K] when transposed).
// The general tiled kernel (tiled_gemm.cuh) reads one float at a time through loaders shared with the
// convolution and waits at a barrier while each step's tile arrives. This one is the classic
// CUDA-core SGEMM for the case where both matter most (every side long, every row 16-byte aligned):
//
// - 128 x 128 output tiles, k-steps of 16, 256 threads; each thread owns 8 x 8 outputs as 2 x 2
//   blocks of 4 x 4 (rows r..r+3 and r+16..r+19, columns c..c+3 and c+32..c+35), so per k it reads
//   2 float4 of A and 2 of B from shared memory for 64 FMAs.
// - Warps tile 32 x 64; lane l takes rows 4 (l / 8) and columns 4 (l % 8) within it: 8 lanes read
//   one float4 of A (a broadcast) and 8 consecutive float4 of B (128 bytes, no bank conflict). On an
//   H100 a warp's float4 read costs 3 shared-memory wavefronts on average (Nsight Compute,
//   2026-11-26), so per k its 4 reads take 12 cycles of the SM's shared-memory pipe against 16 of its
//   64 FMAs: the pipe is 75% busy, not the bound.
// - Global reads follow each operand's contiguous index: float4s, a warp reading 512 contiguous bytes,
//   or, for an operand contiguous along k (stored transposed, [k][128] in shared memory), single
//   floats, each warp-wide copy reading 4 rows x 32 bytes (BigTileCopy<true>).
// - Double buffering with cp.async (async_copy.h): the next step's tiles are copied into the other
//   shared buffer while this step's 1,024 FMAs a thread run, with no register holding them, and one
//   barrier per step. Measured at n = 4096 on an H100, 2026-11-26: staged through registers, the
//   copy's loads were scheduled by ptxas after the arithmetic, at the 128-register limit (73% of
//   cuBLAS, long-scoreboard stalls 0.89 cycles an instruction); with cp.async and 8-k steps, 83%
//   (0.15); 16-k steps, which the freed registers allow, halve the barriers and loop overhead per
//   FMA for 33 KB of shared memory a block: 87%.
//
// Each output sums its products in k order with one FMA each and is scaled by gemm_output, as in the
// general kernel: the two give the same bits (up to the sign of a sum that is exactly zero).
#pragma once

#include <cstdint>

#include "kernels/cuda/async_copy.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_output.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

inline constexpr int kBigTile = 128, kBigTileK = 16, kBigThreads = 256;
inline constexpr int kBigPitch = kBigTile + 4;  // a shared row: float4-aligned, transposing stores conflict-free

// One operand's tile copies for one thread, a step's 128 x 16 floats being 8 per thread. kAlongK: the
// operand's contiguous index is k (A not transposed, B transposed) and its tile is stored transposed.
template <bool kAlongK>
struct BigTileCopy;

// [K][extent]: a warp copies one k's 128 columns, a float4 a lane (512 contiguous bytes), for k and
// k + 8.
template <>
struct BigTileCopy<false> {
  const float* p;  // this thread's float4 at k = 0
  int ld;
  int k_offset;  // this thread's k within a step
  int slot;      // the first of its 4 columns
  bool inside;   // those 4 lie inside the matrix (extent % 4 == 0: all or none)

  __device__ BigTileCopy(const float* base, int ld_, int extent, int origin, int tid) : ld(ld_) {
    slot = (tid % 32) * 4;
    k_offset = tid / 32;
    inside = origin + slot < extent;
    p = inside ? base + static_cast<int64_t>(k_offset) * ld + origin + slot : base;
  }

  // Starts copying the step at k0 into tile; zeros where it lies outside the matrix.
  __device__ void start(int k0, int K, float (*tile)[kBigPitch]) const {
#pragma unroll
    for (int h = 0; h < kBigTileK / 8; ++h) {
      const int k = k0 + k_offset + 8 * h;
      const bool valid = inside && k < K;
      copy_async<16>(&tile[k_offset + 8 * h][slot], valid ? p + static_cast<int64_t>(k0 + 8 * h) * ld : p, valid);
    }
  }
};

// [extent][K], stored as [k][row]: one float per copy. Each of a warp's copies covers 4 rows x 8 k
// (lane l: row l / 8, k l % 8), so it reads 4 whole 32-byte sectors, as a float4 per lane would
// read 16, and its 32 stores hit 32 different banks (a shared row of 132 floats shifts k's rows by 4
// banks). Lanes reading k and k + 1 of one row instead (a float4 per thread pair, the register-staged
// version's layout) would make each copy touch 16 sectors: 4 times the requests to L1, whose
// bandwidth the shared-memory reads need.
template <>
struct BigTileCopy<true> {
  const float* row;  // this thread's first row at k = 0, its k_offset included
  int ld;
  int k_offset;   // this thread's k within a step
  int slot;       // its first row within the tile; its copy j takes row slot + 4 j
  int rows_left;  // rows of the matrix from slot on

  __device__ BigTileCopy(const float* base, int ld_, int extent, int origin, int tid) : ld(ld_) {
    const int lane = tid % 32;
    slot = (tid / 32) * 16 + lane / 8;
    k_offset = lane % 8;
    rows_left = extent - origin - slot;
    row = rows_left > 0 ? base + static_cast<int64_t>(origin + slot) * ld + k_offset : base;
  }

  __device__ void start(int k0, int K, float (*tile)[kBigPitch]) const {
#pragma unroll
    for (int h = 0; h < kBigTileK / 8; ++h)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int k = k0 + 8 * h;  // this copy's step-relative k is k_offset + 8 h
        const bool valid = 4 * j < rows_left && k + k_offset < K;
        copy_async<4>(&tile[k_offset + 8 * h][slot + 4 * j], valid ? row + static_cast<int64_t>(4 * j) * ld + k : row,
                      valid);
      }
  }
};

template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kBigThreads, 2)
    big_sgemm_kernel(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float alpha, float beta,
                     float* C) {
  __shared__ __align__(16) float a_tile[2][kBigTileK][kBigPitch];  // [buffer][k][m]
  __shared__ __align__(16) float b_tile[2][kBigTileK][kBigPitch];  // [buffer][k][n]
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int m0 = blockIdx.x * kBigTile, n0 = blockIdx.y * kBigTile;
  const BigTileCopy<!kTransA> copy_a(A, lda, M, m0, tid);
  const BigTileCopy<kTransB> copy_b(B, ldb, N, n0, tid);
  const int row = (warp / 2) * 32 + (lane / 8) * 4;  // this thread's first row and column in the tile
  const int col = (warp % 2) * 64 + (lane % 8) * 4;

  copy_a.start(0, K, a_tile[0]);
  copy_b.start(0, K, b_tile[0]);
  copy_async_wait_all();
  __syncthreads();

  float acc[8][8] = {};
  int buffer = 0;
  for (int k0 = 0; k0 < K; k0 += kBigTileK) {
    if (k0 + kBigTileK < K) {  // into the other buffer, which every thread finished reading before the last barrier
      copy_a.start(k0 + kBigTileK, K, a_tile[buffer ^ 1]);
      copy_b.start(k0 + kBigTileK, K, b_tile[buffer ^ 1]);
    }
#pragma unroll
    for (int kk = 0; kk < kBigTileK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][row]);
      const float4 a1 = *reinterpret_cast<const float4*>(&a_tile[buffer][kk][row + 16]);
      const float4 b0 = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][col]);
      const float4 b1 = *reinterpret_cast<const float4*>(&b_tile[buffer][kk][col + 32]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    copy_async_wait_all();  // this thread's copies for the next step have landed,
    __syncthreads();        // and everyone's; nobody reads this buffer any more
    buffer ^= 1;
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int m = m0 + row + (i / 4) * 16 + i % 4;
    if (m >= M) continue;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n0 + col + half * 32;
      if (n >= N) continue;  // N % 4 == 0: the float4 is all in or all out
      float4* c = reinterpret_cast<float4*>(C + static_cast<int64_t>(m) * N + n);
      const float* v = &acc[i][half * 4];
      if (beta == 0.0f) {  // C is not read
        *c = make_float4(gemm_output(alpha, v[0]), gemm_output(alpha, v[1]), gemm_output(alpha, v[2]),
                         gemm_output(alpha, v[3]));
      } else {
        const float4 old = *c;
        *c = make_float4(gemm_output(alpha, v[0], beta, old.x), gemm_output(alpha, v[1], beta, old.y),
                         gemm_output(alpha, v[2], beta, old.z), gemm_output(alpha, v[3], beta, old.w));
      }
    }
  }
}

// Whether big_sgemm_kernel takes this product: every matrix 16-byte aligned with rows of whole
// float4s, and at least one 128 x 128 tile per SM of an H100 (132), so no SM idles for its sake.
inline bool big_sgemm_fits(bool trans_a, bool trans_b, int M, int N, int K, const float* A, const float* B,
                           const float* C) {
  const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  const int64_t tiles_m = (static_cast<int64_t>(M) + kBigTile - 1) / kBigTile;
  const int64_t tiles_n = (static_cast<int64_t>(N) + kBigTile - 1) / kBigTile;
  const bool indices_fit = M <= INT32_MAX - kBigTile && N <= INT32_MAX - kBigTile;  // a tile's last row in int
  return indices_fit && tiles_m * tiles_n >= 132 && tiles_n <= 65535 && lda % 4 == 0 && ldb % 4 == 0 && N % 4 == 0 &&
         aligned16(A) && aligned16(B) && aligned16(C);
}

template <bool kTransA, bool kTransB>
void launch_big_sgemm(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  const int lda = kTransA ? M : K, ldb = kTransB ? K : N;
  const dim3 grid((M + kBigTile - 1) / kBigTile, (N + kBigTile - 1) / kBigTile);
  big_sgemm_kernel<kTransA, kTransB><<<grid, kBigThreads, 0, stream()>>>(M, N, K, A, lda, B, ldb, alpha, beta, C);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
