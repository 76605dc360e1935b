// Batch norm's training passes in one kernel whose blocks stay resident on the GPU
// (kernels/cuda/batchnorm_resident.cu). Host code; used by kernels/cuda/batchnorm.cu.
#pragma once

#include <cstdint>

#include "kernels/batchnorm.h"

namespace cxr::kernels::cuda::detail {

// Queues the resident forward pass and returns true when it applies: C a multiple of 4 that divides
// 128 (4, 8, ..., 128), x and y 16-byte aligned, and every block of the chunk plan held by the GPU at
// once; else queues nothing and returns false. partials: detail::partial_doubles(plan, C) doubles,
// stats: 2 * C. Same outputs, to the bit, as the two-pass kernels of batchnorm.cu, the moving
// statistics updated as they finalise where `moving` is not null.
bool batchnorm_forward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                      float epsilon, float* y, float* save_mean, float* save_inv_std, float* save_var,
                                      double* partials, double* stats, const MovingUpdate* moving);

// The same, with dropout (kernels/dropout.h's mask of rate, seed and stream) and relu applied to the
// outputs before they are written: y = relu(dropout(batch norm's y)), the same bits as the three
// kernels one after another. Shapes it declines as above.
bool batchnorm_dropout_relu_forward_train_resident(int64_t M, int C, const float* x, const float* gamma,
                                                   const float* beta, float epsilon, float rate, uint64_t seed,
                                                   uint64_t stream_id, float* y, float* save_mean,
                                                   float* save_inv_std, float* save_var, double* partials,
                                                   double* stats, const MovingUpdate* moving);

// The backward pass the same way (x and dy kept): dx, dgamma and dbeta (either may be null), with
// sums: 2 * C doubles. Same outputs, to the bit, as batchnorm.cu's two passes.
bool batchnorm_backward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                                       const float* save_inv_std, const float* dy, float* dx, float* dgamma,
                                       float* dbeta, double* partials, double* sums);

// The fused op's backward: the gradient batch norm receives is dropout-relu's, y > 0 ? dy * scale : 0
// from the op's output y, formed as dy is loaded (y read once too). The same bits as
// dropout_relu_backward into a buffer, then batchnorm_backward_train_resident on it.
bool batchnorm_dropout_relu_backward_train_resident(int64_t M, int C, const float* x, const float* gamma,
                                                    const float* save_mean, const float* save_inv_std, float rate,
                                                    const float* y, const float* dy, float* dx, float* dgamma,
                                                    float* dbeta, double* partials, double* sums);

}  // namespace cxr::kernels::cuda::detail
