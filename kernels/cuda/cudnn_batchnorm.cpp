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
// M/(M-1) is undefined and the CPU takes it as 1; INT32_MAX elements or more; an epsilon below
// CUDNN_BN_MIN_EPSILON) run on the custom kernels.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "kernels/batchnorm.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cudnn_descriptors.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"
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
  BatchNormPlan(int64_t M, int C) : BatchNormPlan(M, C, balanced_divisor(M)) {}

 private:
  BatchNormPlan(int64_t M, int C, int n) : x(n, static_cast<int>(M / n), 1, C) {  // one divisor search a call
    CXR_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bn.get(), x.get(), CUDNN_BATCHNORM_SPATIAL));
  }
};

// Training runs in CUDNN_BATCHNORM_SPATIAL_PERSISTENT, cuDNN's optimised path for NHWC float inputs
// (PyTorch's choice for channels-last batch norm): in plain SPATIAL mode cuDNN took 3.2 + 4.9 ms for
// experiment 3's first layer on an H200, twice the (then slow) custom kernels, and made vendor
// experiment 3 slower than custom. Where cuDNN refuses the mode for a shape (any "not supported"
// status: cuDNN 9 has sub-codes), the call is repeated in SPATIAL mode; both save the same mean and
// inverse standard deviation, so either backward fits either forward. The mode that worked is kept
// per shape and direction, and logged once, so later calls go straight to it.
constexpr const char* kForwardCall = "cudnnBatchNormalizationForwardTraining";

bool refused(cudnnStatus_t status) { return CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED; }

struct ModeKey {
  int64_t M;
  int C;
  bool backward;
  auto operator<=>(const ModeKey&) const = default;
};

std::mutex g_modes_mutex;
std::map<ModeKey, cudnnBatchNormMode_t> g_modes;

std::optional<cudnnBatchNormMode_t> known_mode(const ModeKey& key) {
  std::lock_guard lock(g_modes_mutex);
  const auto it = g_modes.find(key);
  return it == g_modes.end() ? std::nullopt : std::optional(it->second);
}

void remember_mode(const ModeKey& key, cudnnBatchNormMode_t mode) {
  {
    std::lock_guard lock(g_modes_mutex);
    g_modes[key] = mode;
  }
  const int n = balanced_divisor(key.M);
  cuda::detail::log_vendor_choice("cuDNN batch norm " + std::string(key.backward ? "backward" : "forward") +
                                  " (training) x[" + std::to_string(key.M) + "," + std::to_string(key.C) + "] as [" +
                                  std::to_string(n) + "," + std::to_string(key.M / n) + ",1," +
                                  std::to_string(key.C) + "]: " +
                                  (mode == CUDNN_BATCHNORM_SPATIAL_PERSISTENT ? "SPATIAL_PERSISTENT" : "SPATIAL"));
}

// Runs call(mode) in the mode known for the shape, or finds it: PERSISTENT, else SPATIAL. `undo` runs
// between a refused attempt and the retry (the forward restores the moving statistics, which nothing
// promises a refused call left alone).
template <class Call, class Undo>
void run_in_training_mode(const ModeKey& key, const char* what, Call call, Undo undo) {
  if (const auto mode = known_mode(key)) {
    const cudnnStatus_t status = call(*mode);
    if (status != CUDNN_STATUS_SUCCESS) cuda::detail::throw_cudnn_error(status, what, __FILE__, __LINE__);
    return;
  }
  cudnnBatchNormMode_t mode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
  cudnnStatus_t status = call(mode);
  if (refused(status)) {
    undo();
    mode = CUDNN_BATCHNORM_SPATIAL;
    status = call(mode);
  }
  if (status != CUDNN_STATUS_SUCCESS) cuda::detail::throw_cudnn_error(status, what, __FILE__, __LINE__);
  remember_mode(key, mode);
}

// cuDNN's batch-norm kernels index with 32-bit integers (PyTorch keeps them under INT32_MAX elements
// for that reason): larger tensors, M = 1 (M/(M-1) undefined; the CPU takes it as 1) and an epsilon
// below CUDNN_BN_MIN_EPSILON run on the custom kernels.
bool expressible(int64_t M, int C, float epsilon) {
  return M >= 2 && C > 0 && M * C < INT32_MAX && static_cast<double>(epsilon) >= CUDNN_BN_MIN_EPSILON;
}

}  // namespace

void batchnorm_forward_train_and_update(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                        float epsilon, float momentum, float* y, float* save_mean,
                                        float* save_inv_std, float* moving_mean, float* moving_var) {
  if (!expressible(M, C, epsilon)) {
    // Scratch goes back to the cache when it leaves scope, also when a launch check throws.
    const cuda::detail::Scratch<float> save_var(C, "batch_norm var");
    cuda::batchnorm_forward_train(M, C, x, gamma, beta, epsilon, y, save_mean, save_inv_std, save_var.get());
    cuda::batchnorm_update_moving(M, C, save_mean, save_var.get(), momentum, true, moving_mean, moving_var);
    return;
  }
  const BatchNormPlan plan(M, C);
  const float alpha = 1.0f, beta_blend = 0.0f;
  const double factor = 1.0 - static_cast<double>(momentum);  // cuDNN weighs the new statistic
  const auto forward = [&](cudnnBatchNormMode_t mode) {
    return cudnnBatchNormalizationForwardTraining(cuda::detail::cudnn_handle(), mode, &alpha, &beta_blend,
                                                  plan.x.get(), x, plan.x.get(), y, plan.bn.get(), gamma, beta,
                                                  factor, moving_mean, moving_var, static_cast<double>(epsilon),
                                                  save_mean, save_inv_std);
  };
  const ModeKey key{M, C, false};
  if (known_mode(key)) return run_in_training_mode(key, kForwardCall, forward, [] {});
  // The shape's first call: keep a copy of the moving statistics for a retry.
  const size_t bytes = sizeof(float) * static_cast<size_t>(C);
  const cuda::detail::Scratch<float> kept(2 * static_cast<int64_t>(C), "batch_norm moving statistics");
  const auto copy = [&](float* to, const float* from) {
    CXR_CUDA_CHECK(cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToDevice, cuda::stream()));
  };
  copy(kept.get(), moving_mean);
  copy(kept.get() + C, moving_var);
  run_in_training_mode(key, kForwardCall, forward, [&] {
    copy(moving_mean, kept.get());
    copy(moving_var, kept.get() + C);
  });
}

void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y) {
  if (C <= 0 || M < 1 || M * C >= INT32_MAX || static_cast<double>(epsilon) < CUDNN_BN_MIN_EPSILON)
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
  // dx, dgamma and dbeta are overwritten (beta 0): a refused attempt needs no undoing.
  run_in_training_mode(
      ModeKey{M, C, true}, "cudnnBatchNormalizationBackward",
      [&](cudnnBatchNormMode_t mode) {
        return cudnnBatchNormalizationBackward(cuda::detail::cudnn_handle(), mode, &one, &zero, &one, &zero,
                                               plan.x.get(), x, plan.x.get(), dy, plan.x.get(), dx, plan.bn.get(),
                                               gamma, dgamma, dbeta, static_cast<double>(epsilon), save_mean,
                                               save_inv_std);
      },
      [] {});
}

}  // namespace cxr::kernels::vendor
