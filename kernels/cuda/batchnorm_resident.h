// Batch norm's training passes in one kernel whose blocks stay resident on the GPU
// (kernels/cuda/batchnorm_resident.cu). Host code; used by kernels/cuda/batchnorm.cu.
#pragma once

#include <cstdint>

namespace cxr::kernels::cuda::detail {

// Queues the resident forward pass and returns true when it applies: C a multiple of 4 that divides
// 128 (4, 8, ..., 128), x and y 16-byte aligned, and every block of the chunk plan held by the GPU at
// once; else queues nothing and returns false. partials: detail::partial_doubles(plan, C) doubles,
// stats: 2 * C. Same outputs, to the bit, as the two-pass kernels of batchnorm.cu.
bool batchnorm_forward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                      float epsilon, float* y, float* save_mean, float* save_inv_std, float* save_var,
                                      double* partials, double* stats);

// The backward pass the same way (x and dy kept): dx, dgamma and dbeta (either may be null), with
// sums: 2 * C doubles. Same outputs, to the bit, as batchnorm.cu's two passes.
bool batchnorm_backward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                                       const float* save_inv_std, const float* dy, float* dx, float* dgamma,
                                       float* dbeta, double* partials, double* sums);

}  // namespace cxr::kernels::cuda::detail
