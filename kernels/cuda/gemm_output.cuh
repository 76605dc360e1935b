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

// Where and how the tiled kernel writes C[m][n]: alpha * acc + beta * C (C not read when beta is 0),
// + bias[n] when bias is not null (a convolution's bias, instead of a pass that fills y with it
// first). Under split-K, slice z writes its partial tile at C + z * slice_stride.
struct GemmOutput {
  float alpha, beta;
  float* C;
  const float* bias;
  int64_t slice_stride;
  // The value for C[m][n] at `c` (read only when beta is not 0) from the sum `acc`.
  __device__ __forceinline__ float value(float acc, const float* c, int n) const {
    const float v = beta == 0.0f ? gemm_output(alpha, acc) : gemm_output(alpha, acc, beta, *c);
    return bias ? __fadd_rn(v, bias[n]) : v;
  }
};

}  // namespace cxr::kernels::cuda::detail
