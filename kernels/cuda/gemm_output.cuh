// How every custom GEMM kernel (tiled_gemm.cuh, big_sgemm.cuh) writes an output: alpha * acc, or
// alpha * acc + beta * c. Written as intrinsics because nvcc's FMA contraction may fuse either
// product, and chose differently from one expression to the next (within one float4 of
// big_sgemm.cuh); this way each kernel rounds the same way and gives the same bits.
#pragma once

#include <cstdint>

namespace cxr::kernels::cuda::detail {

__device__ __forceinline__ float gemm_output(float alpha, float acc) { return __fmul_rn(alpha, acc); }

__device__ __forceinline__ float gemm_output(float alpha, float acc, float beta, float c) {
  return __fmaf_rn(alpha, acc, __fmul_rn(beta, c));
}

// Where row m of C starts: m * N, or (rows != 0) in a strided layout, for a convolution's input
// gradient computed one stride phase at a time (kernels/cuda/conv2d.cu): row m = (n, i, j), j < cols,
// i < rows, lives at first + n * image_stride + i * row_stride + j * col_stride. Writing the phase
// straight into dx saves a scratch buffer and a scatter pass per phase (4 of experiment 1's second
// convolution's 12 backward launches, 22 of its 190 us on an H100, 2026-11-26).
struct OutputRows {
  int cols = 0, rows = 0;  // 0: plain rows
  int64_t first = 0, image_stride = 0, row_stride = 0, col_stride = 0;
  __device__ __forceinline__ int64_t at(int m, int N) const {
    if (cols == 0) return static_cast<int64_t>(m) * N;
    const int j = m % cols, t = m / cols;
    return first + static_cast<int64_t>(t / rows) * image_stride + static_cast<int64_t>(t % rows) * row_stride +
           static_cast<int64_t>(j) * col_stride;
  }
};

// Where and how the tiled kernel writes C[m][n]: alpha * acc + beta * C (C not read when beta is 0),
// + bias[n] when bias is not null (a convolution's bias, instead of a pass that fills y with it
// first), row m at C + rows.at(m, N). Under split-K, slice z writes its partial tile at
// C + z * slice_stride, in plain rows.
struct GemmOutput {
  float alpha, beta;
  float* C;
  const float* bias;
  int64_t slice_stride;
  OutputRows rows{};
  // The value for C[m][n] at `c` (read only when beta is not 0) from the sum `acc`.
  __device__ __forceinline__ float value(float acc, const float* c, int n) const {
    const float v = beta == 0.0f ? gemm_output(alpha, acc) : gemm_output(alpha, acc, beta, *c);
    return bias ? __fadd_rn(v, bias[n]) : v;
  }
};

}  // namespace cxr::kernels::cuda::detail
