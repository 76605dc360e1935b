// cuDNN batch normalisation (kernels/batchnorm.h, namespace vendor): spatial batch norm over x viewed
// as an NHWC tensor [n][h][1][C] with n * h = M, which normalises every channel over all M rows,
// exactly the [M][C] layout of the custom kernels. Not [M][1][1][C]: cuDNN's inference refuses
// n >= 65536 (CUDNN_STATUS_NOT_SUPPORTED, seen on an H200 with cuDNN 9.14 at M = 32 x 46 x 46), and
// its training forward took 3.9 ms on that shape against 0.45 ms split. cuDNN accumulates in float
// (the custom kernels in double), so results agree to float rounding, not bit for bit.
//
// Moving statistics: cuDNN's exponentialAverageFactor is the weight of the NEW batch statistic
// (running = factor * batch + (1 - factor) * running) while Keras's momentum is the weight of the old
// value, so factor = 1 - momentum; and cuDNN feeds the running variance the UNBIASED batch variance,
// which is TensorFlow's fused rule for 4-D inputs. Shapes cuDNN cannot take (M < 2, where
// M/(M-1) is undefined and the CPU takes it as 1; more rows than an int; an epsilon below
// CUDNN_BN_MIN_EPSILON) run on the custom kernels.
#include <algorithm>
#include <cmath>

#include "kernels/batchnorm.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cudnn_descriptors.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor_handles.h"

namespace cxr::kernels::vendor {
namespace {

using cuda::detail::TensorDesc;

// The largest divisor of M that is at most sqrt(M) (1 when M is prime): a balanced n x h split of the
// rows, n < 46341 for any int M. At most sqrt(M) trial divisions, a few microseconds.
int balanced_divisor(int64_t M) {
  int64_t n = static_cast<int64_t>(std::sqrt(static_cast<double>(M)));
  while (n > 1 && (n * n > M || M % n != 0)) --n;
  return static_cast<int>(std::max<int64_t>(n, 1));
}

struct BatchNormPlan {
  TensorDesc x;   // also y, dy, dx
  TensorDesc bn;  // [1][C][1][1]: gamma, beta, every statistic
  BatchNormPlan(int64_t M, int C)
      : x(balanced_divisor(M), static_cast<int>(M / balanced_divisor(M)), 1, C) {
    CXR_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bn.get(), x.get(), CUDNN_BATCHNORM_SPATIAL));
  }
};

// Training runs in CUDNN_BATCHNORM_SPATIAL_PERSISTENT, cuDNN's optimised path for NHWC float inputs
// (PyTorch's choice for channels-last batch norm): in plain SPATIAL mode cuDNN took 3.2 + 4.9 ms for
// experiment 3's first layer on an H200, twice the (then slow) custom kernels, and made vendor
// experiment 3 slower than custom. Where cuDNN refuses the mode for a shape, the call is repeated in
// SPATIAL mode; both save the same mean and inverse standard deviation, so either backward fits.
template <class Call>
cudnnStatus_t in_training_mode(Call call) {
  const cudnnStatus_t status = call(CUDNN_BATCHNORM_SPATIAL_PERSISTENT);
  return status == CUDNN_STATUS_NOT_SUPPORTED ? call(CUDNN_BATCHNORM_SPATIAL) : status;
}

bool expressible(int64_t M, int C, float epsilon) {
  return M >= 2 && cuda::detail::fits_int(M) && C > 0 && static_cast<double>(epsilon) >= CUDNN_BN_MIN_EPSILON;
}

}  // namespace

void batchnorm_forward_train_and_update(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                        float epsilon, float momentum, float* y, float* save_mean,
                                        float* save_inv_std, float* moving_mean, float* moving_var) {
  if (!expressible(M, C, epsilon)) {
    float* save_var = static_cast<float*>(cuda::device_alloc(sizeof(float) * static_cast<size_t>(C), "batch_norm var"));
    cuda::batchnorm_forward_train(M, C, x, gamma, beta, epsilon, y, save_mean, save_inv_std, save_var);
    cuda::batchnorm_update_moving(M, C, save_mean, save_var, momentum, true, moving_mean, moving_var);
    cuda::device_free(save_var);  // reusable by work queued after this point: the stream keeps the order
    return;
  }
  const BatchNormPlan plan(M, C);
  const float alpha = 1.0f, beta_blend = 0.0f;
  const double factor = 1.0 - static_cast<double>(momentum);  // cuDNN weighs the new statistic
  CXR_CUDNN_CHECK(in_training_mode([&](cudnnBatchNormMode_t mode) {
    return cudnnBatchNormalizationForwardTraining(cuda::detail::cudnn_handle(), mode, &alpha, &beta_blend,
                                                  plan.x.get(), x, plan.x.get(), y, plan.bn.get(), gamma, beta,
                                                  factor, moving_mean, moving_var, static_cast<double>(epsilon),
                                                  save_mean, save_inv_std);
  }));
}

void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y) {
  if (!cuda::detail::fits_int(M) || C <= 0 || static_cast<double>(epsilon) < CUDNN_BN_MIN_EPSILON)
    return cuda::batchnorm_forward_inference(M, C, x, gamma, beta, moving_mean, moving_var, epsilon, y);
  const BatchNormPlan plan(M, C);
  const float alpha = 1.0f, beta_blend = 0.0f;
  CXR_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
      cuda::detail::cudnn_handle(), CUDNN_BATCHNORM_SPATIAL, &alpha, &beta_blend, plan.x.get(), x, plan.x.get(), y,
      plan.bn.get(), gamma, beta, moving_mean, moving_var, static_cast<double>(epsilon)));
}

// save_mean and save_inv_std are what either forward saved: cuDNN's saved inverse variance is
// 1 / sqrt(biased var + epsilon), the custom kernel's save_inv_std. cuDNN asks for the forward's
// epsilon as well.
void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, float epsilon, const float* dy, float* dx, float* dgamma,
                              float* dbeta) {
  if (!expressible(M, C, epsilon))
    return cuda::batchnorm_backward_train(M, C, x, gamma, save_mean, save_inv_std, dy, dx, dgamma, dbeta);
  const BatchNormPlan plan(M, C);
  const float one = 1.0f, zero = 0.0f;  // overwrite dx, dgamma and dbeta
  CXR_CUDNN_CHECK(in_training_mode([&](cudnnBatchNormMode_t mode) {
    return cudnnBatchNormalizationBackward(cuda::detail::cudnn_handle(), mode, &one, &zero, &one, &zero,
                                           plan.x.get(), x, plan.x.get(), dy, plan.x.get(), dx, plan.bn.get(), gamma,
                                           dgamma, dbeta, static_cast<double>(epsilon), save_mean, save_inv_std);
  }));
}

}  // namespace cxr::kernels::vendor
