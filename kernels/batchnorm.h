// Batch normalisation over the last axis: x is [M][C], M = N*H*W rows (or N for 2-D inputs) and C
// channels; gamma, beta and every statistic are [C]. Statistics are accumulated in double. Every
// output is OVERWRITTEN. Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {

// The moving statistics' update (batchnorm_update_moving's arguments), for a training forward to make
// as it finalises the batch's statistics: the same arithmetic, so the same bits, and on CUDA no launch
// of its own (one fewer per batch norm a step; CXR_BATCHNORM_FOLD_MOVING=0 runs its kernel after).
struct MovingUpdate {
  float momentum;
  bool unbiased_variance;
  float* moving_mean;
  float* moving_var;
};

namespace cpu {
// Training mode: y = gamma * (x - mean) * inv_std + beta with the batch's mean and BIASED variance,
// inv_std = 1 / sqrt(var + epsilon). Saves mean and inv_std for the backward pass, and the biased
// variance itself for batchnorm_update_moving (taking var directly instead of recovering it from
// inv_std and epsilon avoids the cancellation in 1/inv_std^2 - epsilon when var << epsilon). With
// `moving`, then updates the moving statistics from those, as batchnorm_update_moving would.
void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var,
                             const MovingUpdate* moving = nullptr);

// Training forward, then dropout (kernels/dropout.h's mask of rate, seed and stream) and relu: y is
// dropout_relu_forward(batchnorm_forward_train(x)) bit for bit, in one pass over x after the
// statistics instead of two passes over the normalised tensor, which is never written. The saved
// statistics are batchnorm_forward_train's.
void batchnorm_dropout_relu_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                          float epsilon, float rate, uint64_t seed, uint64_t stream, float* y,
                                          float* save_mean, float* save_inv_std, float* save_var,
                                          const MovingUpdate* moving = nullptr);
// Its gradient from the forward's output y: batchnorm_backward_train with dy replaced by
// dropout_relu_backward(y, dy), bit for bit, that gradient computed where it is read, never stored.
void batchnorm_dropout_relu_backward_train(int64_t M, int C, const float* x, const float* gamma,
                                           const float* save_mean, const float* save_inv_std, float rate,
                                           const float* y, const float* dy, float* dx, float* dgamma, float* dbeta);

// moving = momentum * moving + (1 - momentum) * batch_stat, computed in double. The variance
// statistic is batch_var * M/(M-1) when unbiased_variance (what TensorFlow's fused kernel does for
// 4-D inputs, with M/(M-1) taken as 1 when M == 1), batch_var as is otherwise (Keras's 2-D path).
void batchnorm_update_moving(int64_t M, int C, const float* batch_mean, const float* batch_var, float momentum,
                             bool unbiased_variance, float* moving_mean, float* moving_var);

// Inference mode (and frozen layers): normalises with the moving statistics.
void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y);

// Gradient of batchnorm_forward_train, through the batch statistics:
//   xhat = (x - mean) * inv_std, dbeta = sum(dy), dgamma = sum(dy * xhat),
//   dx = gamma * inv_std * (dy - dbeta/M - xhat * dgamma/M).
void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta);

// Gradient of batchnorm_forward_inference (the statistics are constants). Null outputs are skipped.
void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null);
}  // namespace cpu

namespace cuda {  // kernels/cuda/batchnorm.cu: statistics in double with a fixed reduction order
void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var,
                             const MovingUpdate* moving = nullptr);
void batchnorm_update_moving(int64_t M, int C, const float* batch_mean, const float* batch_var, float momentum,
                             bool unbiased_variance, float* moving_mean, float* moving_var);
void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y);
void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta);
void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null);
// The fused op (the CPU functions' contract, bit for bit the CUDA kernels of batch norm then
// dropout_relu): one resident kernel each way where batchnorm_resident() allows and the shape fits,
// otherwise those kernels one after another.
void batchnorm_dropout_relu_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                          float epsilon, float rate, uint64_t seed, uint64_t stream, float* y,
                                          float* save_mean, float* save_inv_std, float* save_var,
                                          const MovingUpdate* moving = nullptr);
void batchnorm_dropout_relu_backward_train(int64_t M, int C, const float* x, const float* gamma,
                                           const float* save_mean, const float* save_inv_std, float rate,
                                           const float* y, const float* dy, float* dx, float* dgamma, float* dbeta);
// Whether the engine runs batch norm, dropout and relu on CUDA as the fused op above (on unless the
// environment has CXR_BATCHNORM_DROPOUT_RELU=0) or as two ops, as before; benchmarks compare the two.
void set_batchnorm_dropout_relu(bool allowed);
bool batchnorm_dropout_relu();
// Whether batchnorm_forward_train and batchnorm_backward_train may use their resident kernels
// (kernels/cuda/batchnorm_resident.cu: the rows kept in shared memory between the sums and the
// elementwise step) where they apply, instead of a pass for each. Both give the same bits. Allowed unless the environment has
// CXR_BATCHNORM_RESIDENT=0; benchmarks and tests set it to compare the two.
void set_batchnorm_resident(bool allowed);
bool batchnorm_resident();
}  // namespace cuda

// cuDNN (kernels/cuda/cudnn_batchnorm.cpp), CUDNN_BATCHNORM_SPATIAL, float accumulation. cuDNN feeds
// its running variance the UNBIASED batch variance, TensorFlow's fused rule for 4-D inputs only, so
// the engine takes this path for 4-D inputs and keeps the custom kernels for 2-D ones (Keras's biased
// rule). The inference backward has no cuDNN call: it stays cuda::batchnorm_backward_inference.
namespace vendor {
// Training forward AND the moving-statistics update in one cuDNN call (with the unbiased variance,
// and factor = 1 - momentum). save_var is not produced: the update needs it no more.
void batchnorm_forward_train_and_update(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                        float epsilon, float momentum, float* y, float* save_mean,
                                        float* save_inv_std, float* moving_mean, float* moving_var);
void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y);
// epsilon: the forward's, as cuDNN asks for it.
void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, float epsilon, const float* dy, float* dx, float* dgamma,
                              float* dbeta);
}  // namespace vendor
}  // namespace cxr::kernels
