// How every custom GEMM kernel (tiled_gemm.cuh, big_sgemm.cuh) writes an output: alpha * acc, or
// alpha * acc + beta * c. Written as intrinsics because nvcc's FMA contraction may fuse either
// product, and chose differently from one expression to the next (within one float4 of
// big_sgemm.cuh); this way each kernel rounds the same way and gives the same bits.
#pragma once

namespace cxr::kernels::cuda::detail {

__device__ __forceinline__ float gemm_output(float alpha, float acc) { return __fmul_rn(alpha, acc); }

__device__ __forceinline__ float gemm_output(float alpha, float acc, float beta, float c) {
  return __fmaf_rn(alpha, acc, __fmul_rn(beta, c));
}

}  // namespace cxr::kernels::cuda::detail
