// Rows are walked in memory order with one double accumulator per channel, so every pass streams
// x contiguously whatever C is.
#include "kernels/batchnorm.h"

#include <cmath>
#include <vector>

namespace cxr::kernels::cpu {
namespace {

std::vector<double> inverse_std(int C, const float* var, float epsilon) {
  std::vector<double> inv(C);
  for (int c = 0; c < C; ++c) inv[c] = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
  return inv;
}

}  // namespace

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var) {
  std::vector<double> mean(C, 0.0), var(C, 0.0), inv(C);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) mean[c] += x[m * C + c];
  for (int c = 0; c < C; ++c) mean[c] /= static_cast<double>(M);
  // Two passes (mean first, then squared deviations): no E[x^2] - E[x]^2 cancellation.
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const double d = x[m * C + c] - mean[c];
      var[c] += d * d;
    }
  for (int c = 0; c < C; ++c) {
    var[c] /= static_cast<double>(M);
    inv[c] = 1.0 / std::sqrt(var[c] + epsilon);
    save_mean[c] = static_cast<float>(mean[c]);
    save_inv_std[c] = static_cast<float>(inv[c]);
    save_var[c] = static_cast<float>(var[c]);
  }
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c)
      y[m * C + c] = static_cast<float>(gamma[c] * (x[m * C + c] - mean[c]) * inv[c] + beta[c]);
}

void batchnorm_update_moving(int64_t M, int C, const float* batch_mean, const float* batch_var, float momentum,
                             bool unbiased_variance, float* moving_mean, float* moving_var) {
  const double bessel = unbiased_variance && M > 1 ? static_cast<double>(M) / static_cast<double>(M - 1) : 1.0;
  const double keep = momentum, take = 1.0 - static_cast<double>(momentum);
  for (int c = 0; c < C; ++c) {
    moving_mean[c] = static_cast<float>(keep * moving_mean[c] + take * batch_mean[c]);
    moving_var[c] = static_cast<float>(keep * moving_var[c] + take * (batch_var[c] * bessel));
  }
}

void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y) {
  const std::vector<double> inv = inverse_std(C, moving_var, epsilon);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c)
      y[m * C + c] = static_cast<float>(gamma[c] * (x[m * C + c] - static_cast<double>(moving_mean[c])) * inv[c] +
                                        beta[c]);
}

void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
  std::vector<double> sum_dy(C, 0.0), sum_dy_xhat(C, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const double g = dy[m * C + c];
      sum_dy[c] += g;
      sum_dy_xhat[c] += g * (x[m * C + c] - static_cast<double>(save_mean[c])) * save_inv_std[c];
    }
  for (int c = 0; c < C; ++c) {
    dbeta[c] = static_cast<float>(sum_dy[c]);
    dgamma[c] = static_cast<float>(sum_dy_xhat[c]);
    sum_dy[c] /= static_cast<double>(M);  // from here on: the means the formula subtracts
    sum_dy_xhat[c] /= static_cast<double>(M);
  }
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const double inv = save_inv_std[c];
      const double xhat = (x[m * C + c] - static_cast<double>(save_mean[c])) * inv;
      dx[m * C + c] = static_cast<float>(gamma[c] * inv * (dy[m * C + c] - sum_dy[c] - xhat * sum_dy_xhat[c]));
    }
}

void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null) {
  const std::vector<double> inv = inverse_std(C, moving_var, epsilon);
  if (dx_or_null) {
    for (int64_t m = 0; m < M; ++m)
      for (int c = 0; c < C; ++c) dx_or_null[m * C + c] = static_cast<float>(dy[m * C + c] * (gamma[c] * inv[c]));
  }
  if (!dgamma_or_null && !dbeta_or_null) return;
  std::vector<double> sum_dy(C, 0.0), sum_dy_xhat(C, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const double g = dy[m * C + c];
      sum_dy[c] += g;
      sum_dy_xhat[c] += g * (x[m * C + c] - static_cast<double>(moving_mean[c])) * inv[c];
    }
  for (int c = 0; c < C; ++c) {
    if (dbeta_or_null) dbeta_or_null[c] = static_cast<float>(sum_dy[c]);
    if (dgamma_or_null) dgamma_or_null[c] = static_cast<float>(sum_dy_xhat[c]);
  }
}

}  // namespace cxr::kernels::cpu
