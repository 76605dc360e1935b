// CUDA batch normalisation (kernels/batchnorm.h), over the last axis of x[M][C].
//
// Per-channel statistics are reduced by one block per group of 32 channels: thread (c, r) walks
// rows r, r + 32, ... of channel c in double, and the 32 partials are added in a fixed order, so the
// result is deterministic. The elementwise passes use __dmul_rn/__dadd_rn, which nvcc never fuses
// into an FMA, so each element is computed exactly as the CPU computes it (from statistics that
// differ from the CPU's only in the order their double sums were added).
#include "kernels/batchnorm.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda {
namespace {

constexpr int kChannels = 32, kRows = 32;

// The sum over a block's 32 row-walkers, in thread (c, 0) and also returned to every thread of c.
__device__ double channel_total(double value, double (*partial)[kChannels + 1]) {
  partial[threadIdx.y][threadIdx.x] = value;
  __syncthreads();
  if (threadIdx.y == 0) {
    double total = 0.0;
    for (int i = 0; i < kRows; ++i) total += partial[i][threadIdx.x];
    partial[0][threadIdx.x] = total;
  }
  __syncthreads();
  const double total = partial[0][threadIdx.x];
  __syncthreads();  // the buffer is reused by the next call
  return total;
}

// Two passes like the CPU (mean, then squared deviations): no E[x^2] - E[x]^2 cancellation.
// stats[c] = mean, stats[C + c] = inv_std, in double for the normalising pass.
__global__ void train_stats_kernel(int64_t M, int C, const float* x, float epsilon, float* save_mean,
                                   float* save_inv_std, float* save_var, double* stats) {
  __shared__ double partial[kRows][kChannels + 1];
  const int c = blockIdx.x * kChannels + threadIdx.x;
  const bool active = c < C;
  double acc = 0.0;
  if (active)
    for (int64_t m = threadIdx.y; m < M; m += kRows) acc += x[m * C + c];
  const double mean = channel_total(acc, partial) / static_cast<double>(M);
  acc = 0.0;
  if (active)
    for (int64_t m = threadIdx.y; m < M; m += kRows) {
      const double d = x[m * C + c] - mean;
      acc += d * d;
    }
  const double var = channel_total(acc, partial) / static_cast<double>(M);
  if (active && threadIdx.y == 0) {
    const double inv = 1.0 / sqrt(var + epsilon);
    save_mean[c] = static_cast<float>(mean);
    save_inv_std[c] = static_cast<float>(inv);
    save_var[c] = static_cast<float>(var);
    stats[c] = mean;
    stats[C + c] = inv;
  }
}

__global__ void normalize_kernel(int64_t count, int C, const float* x, const float* gamma, const float* beta,
                                 const double* stats, float* y) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int c = static_cast<int>(i % C);
    const double centered = __dsub_rn(x[i], stats[c]);
    y[i] = static_cast<float>(__dadd_rn(__dmul_rn(__dmul_rn(gamma[c], centered), stats[C + c]), beta[c]));
  }
}

__global__ void update_moving_kernel(int C, const float* batch_mean, const float* batch_var, double keep, double take,
                                     double bessel, float* moving_mean, float* moving_var) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  moving_mean[c] = static_cast<float>(__dadd_rn(__dmul_rn(keep, moving_mean[c]), __dmul_rn(take, batch_mean[c])));
  moving_var[c] = static_cast<float>(
      __dadd_rn(__dmul_rn(keep, moving_var[c]), __dmul_rn(take, __dmul_rn(batch_var[c], bessel))));
}

__device__ double inverse_std(const float* var, float epsilon, int c) {
  return 1.0 / sqrt(static_cast<double>(var[c]) + epsilon);
}

__global__ void inference_kernel(int64_t count, int C, const float* x, const float* gamma, const float* beta,
                                 const float* mean, const float* var, float epsilon, float* y) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int c = static_cast<int>(i % C);
    const double centered = __dsub_rn(x[i], static_cast<double>(mean[c]));
    y[i] = static_cast<float>(
        __dadd_rn(__dmul_rn(__dmul_rn(gamma[c], centered), inverse_std(var, epsilon, c)), beta[c]));
  }
}

// sum(dy) and sum(dy * xhat) per channel, xhat = (x - mean) * inv. mean/inv come either from the
// saved float statistics (training) or from the moving ones (inference: inv computed here).
// Writes dbeta/dgamma (when not null) and sums[c] = sum_dy / M, sums[C + c] = sum_dy_xhat / M.
__global__ void grad_sums_kernel(int64_t M, int C, const float* x, const float* dy, const float* mean,
                                 const float* inv_std_or_null, const float* var_or_null, float epsilon, float* dgamma,
                                 float* dbeta, double* sums) {
  __shared__ double partial[kRows][kChannels + 1];
  const int c = blockIdx.x * kChannels + threadIdx.x;
  const bool active = c < C;
  double sum_dy = 0.0, sum_dy_xhat = 0.0;
  if (active) {
    const double mu = mean[c];
    const double inv = inv_std_or_null ? static_cast<double>(inv_std_or_null[c]) : inverse_std(var_or_null, epsilon, c);
    for (int64_t m = threadIdx.y; m < M; m += kRows) {
      const double g = dy[m * C + c];
      sum_dy += g;
      sum_dy_xhat += __dmul_rn(__dmul_rn(g, __dsub_rn(x[m * C + c], mu)), inv);
    }
  }
  sum_dy = channel_total(sum_dy, partial);
  sum_dy_xhat = channel_total(sum_dy_xhat, partial);
  if (active && threadIdx.y == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (sums) {
      sums[c] = sum_dy / static_cast<double>(M);
      sums[C + c] = sum_dy_xhat / static_cast<double>(M);
    }
  }
}

__global__ void train_dx_kernel(int64_t count, int C, const float* x, const float* gamma, const float* mean,
                                const float* inv_std, const float* dy, const double* sums, float* dx) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int c = static_cast<int>(i % C);
    const double inv = inv_std[c];
    const double xhat = __dmul_rn(__dsub_rn(x[i], static_cast<double>(mean[c])), inv);
    const double inner = __dsub_rn(__dsub_rn(dy[i], sums[c]), __dmul_rn(xhat, sums[C + c]));
    dx[i] = static_cast<float>(__dmul_rn(__dmul_rn(gamma[c], inv), inner));
  }
}

__global__ void inference_dx_kernel(int64_t count, int C, const float* gamma, const float* var, float epsilon,
                                    const float* dy, float* dx) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const int c = static_cast<int>(i % C);
    dx[i] = static_cast<float>(__dmul_rn(dy[i], __dmul_rn(gamma[c], inverse_std(var, epsilon, c))));
  }
}

int channel_blocks(int C) { return (C + kChannels - 1) / kChannels; }

// Scratch for double statistics; back to the cache when the kernels that use it are queued.
struct Scratch {
  double* ptr;
  explicit Scratch(int C) : ptr(static_cast<double*>(device_alloc(sizeof(double) * 2 * C, "batchnorm statistics"))) {}
  ~Scratch() { device_free(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

}  // namespace

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var) {
  if (M <= 0 || C <= 0) return;
  Scratch stats(C);
  train_stats_kernel<<<channel_blocks(C), dim3(kChannels, kRows), 0, stream()>>>(M, C, x, epsilon, save_mean,
                                                                                 save_inv_std, save_var, stats.ptr);
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  normalize_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(count, C, x, gamma, beta,
                                                                                     stats.ptr, y);
  CXR_CUDA_CHECK_LAST();
}

void batchnorm_update_moving(int64_t M, int C, const float* batch_mean, const float* batch_var, float momentum,
                             bool unbiased_variance, float* moving_mean, float* moving_var) {
  if (C <= 0) return;
  const double bessel = unbiased_variance && M > 1 ? static_cast<double>(M) / static_cast<double>(M - 1) : 1.0;
  const double keep = momentum, take = 1.0 - static_cast<double>(momentum);
  update_moving_kernel<<<(C + 255) / 256, 256, 0, stream()>>>(C, batch_mean, batch_var, keep, take, bessel,
                                                              moving_mean, moving_var);
  CXR_CUDA_CHECK_LAST();
}

void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y) {
  const int64_t count = M * C;
  if (count <= 0) return;
  inference_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(count, C, x, gamma, beta,
                                                                                     moving_mean, moving_var, epsilon, y);
  CXR_CUDA_CHECK_LAST();
}

void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (M <= 0 || C <= 0) return;
  Scratch sums(C);
  grad_sums_kernel<<<channel_blocks(C), dim3(kChannels, kRows), 0, stream()>>>(M, C, x, dy, save_mean, save_inv_std,
                                                                               nullptr, 0.0f, dgamma, dbeta, sums.ptr);
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  train_dx_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(count, C, x, gamma, save_mean,
                                                                                    save_inv_std, dy, sums.ptr, dx);
  CXR_CUDA_CHECK_LAST();
}

void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null) {
  if (M <= 0 || C <= 0) return;
  const int64_t count = M * C;
  if (dx_or_null) {
    inference_dx_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(count, C, gamma, moving_var,
                                                                                          epsilon, dy, dx_or_null);
    CXR_CUDA_CHECK_LAST();
  }
  if (!dgamma_or_null && !dbeta_or_null) return;
  grad_sums_kernel<<<channel_blocks(C), dim3(kChannels, kRows), 0, stream()>>>(
      M, C, x, dy, moving_mean, nullptr, moving_var, epsilon, dgamma_or_null, dbeta_or_null, nullptr);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
