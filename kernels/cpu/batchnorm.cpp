// Rows are walked in memory order with one double accumulator per channel, so every pass streams
// x contiguously whatever C is; the per-element passes (normalise, input gradient) run in float from
// per-channel factors rounded once. The per-row channel loops go through __restrict pointers so GCC
// vectorises them (with aliasing unknown it left the variance pass scalar), and each pass also has
// an AVX2 clone (AVX2 without FMA, so no contraction: the same operations in the same order per
// channel, hence the same bits as the scalar loops and as kernels/cuda/batchnorm.cu's).
//
// Threads (kernels/cpu/parallel.h): the per-row passes split their rows over the OpenMP threads. The
// per-channel sums split into blocks of kSumRowsPerBlock rows, a constant: each block sums its rows in
// order into partial sums of its own, and the partials are then added in block order on one thread,
// so every sum is added in the same order (and gives the same bits) on any thread count.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/column_sums.h"
#include "kernels/cpu/parallel.h"

#define CXR_BN_CLONES __attribute__((target_clones("avx2", "default")))

namespace cxr::kernels::cpu {
namespace {

// Calls body(m0, m1) on ranges of rows covering [0, M), on the OpenMP threads.
template <typename Body>
void for_rows(int64_t M, int C, Body&& body) {
  parallel_for(M, min_items_per_thread(C), body);
}

// Per-channel sums over all rows in blocks of kSumRowsPerBlock (parallel.h's blocked_sums), the
// blocks column_sums.h adds bias gradients in.
template <typename AddBlock>
void channel_block_sums(int64_t M, int C, int width, AddBlock&& add_block, double* totals) {
  cpu::blocked_sums(M, kSumRowsPerBlock, min_items_per_thread(kSumRowsPerBlock * C), width, add_block, totals);
}

// With d = x[m][c] - shift[c]: sum_d[c] += d, sum_d2[c] += d * d, over all rows. One pass for both
// statistics, as the CUDA kernels take (kernels/cuda/batchnorm_terms.cuh's ShiftedSums): the shift,
// the channel's value in row 0, keeps var = E[d^2] - E[d]^2 from cancelling (relative error about
// 2^-53 * (1 + (mean - shift)^2 / var)), where unshifted sums of x and x^2 would lose mean^2 / var
// times that. Two passes (the mean, then squared deviations) read x once more: ~0.5% of experiment 1's
// training step.
CXR_BN_CLONES void shifted_sums(int64_t M, int C, const float* __restrict x, const double* __restrict shift,
                                double* __restrict sum_d, double* __restrict sum_d2) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict row = x + m * C;
    for (int c = 0; c < C; ++c) {
      const double d = row[c] - shift[c];
      sum_d[c] += d;
      sum_d2[c] += d * d;
    }
  }
}

// y = (x - mean) * (gamma * inv) + beta. The statistics are summed in double, but this per-element
// pass runs in float, 8 values a vector: in double it was compute-bound (conversions and 4-wide
// arithmetic: 297 us for experiment 1's first layer at 2 threads, 2.5x the time the bytes take).
// x - mean first, so a large mean does not cancel against beta.
CXR_BN_CLONES void normalize(int64_t M, int C, const float* __restrict x, const float* __restrict mean,
                             const float* __restrict scale, const float* __restrict beta, float* __restrict y) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict row = x + m * C;
    float* __restrict out = y + m * C;
    for (int c = 0; c < C; ++c) out[c] = (row[c] - mean[c]) * scale[c] + beta[c];
  }
}

// sum_dy[c] += dy, sum_dy_xhat[c] += dy * (x - mean) * inv_std, over all rows.
CXR_BN_CLONES void gradient_sums(int64_t M, int C, const float* __restrict x, const float* __restrict dy,
                                 const double* __restrict mean, const double* __restrict inv,
                                 double* __restrict sum_dy, double* __restrict sum_dy_xhat) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict xr = x + m * C;
    const float* __restrict gr = dy + m * C;
    for (int c = 0; c < C; ++c) {
      const double g = gr[c];
      sum_dy[c] += g;
      sum_dy_xhat[c] += g * (xr[c] - mean[c]) * inv[c];
    }
  }
}

// dx = gamma * inv * (dy - mean_dy - xhat * mean_dy_xhat), xhat = (x - mean) * inv: in float, as
// normalize is, with the per-channel factors (sums in double) rounded once.
CXR_BN_CLONES void input_gradient(int64_t M, int C, const float* __restrict x, const float* __restrict dy,
                                  const float* __restrict mean, const float* __restrict inv,
                                  const float* __restrict scale, const float* __restrict mean_dy,
                                  const float* __restrict mean_dy_xhat, float* __restrict dx) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict xr = x + m * C;
    const float* __restrict gr = dy + m * C;
    float* __restrict out = dx + m * C;
    for (int c = 0; c < C; ++c) {
      const float xhat = (xr[c] - mean[c]) * inv[c];
      out[c] = scale[c] * (gr[c] - mean_dy[c] - xhat * mean_dy_xhat[c]);
    }
  }
}

// dx = dy * gamma * inv: the statistics are constants.
CXR_BN_CLONES void scale_gradient(int64_t M, int C, const float* __restrict dy, const float* __restrict gamma,
                                  const double* __restrict inv, float* __restrict dx) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict gr = dy + m * C;
    float* __restrict out = dx + m * C;
    for (int c = 0; c < C; ++c) out[c] = static_cast<float>(gr[c] * (gamma[c] * inv[c]));
  }
}

std::vector<double> inverse_std(int C, const float* var, float epsilon) {
  std::vector<double> inv(C);
  for (int c = 0; c < C; ++c) inv[c] = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
  return inv;
}

// sums[0, C) = sum of dy, sums[C, 2C) = sum of dy * (x - mean) * inv, per channel.
void gradient_sums_blocked(int64_t M, int C, const float* x, const float* dy, const double* mean, const double* inv,
                           double* sums) {
  channel_block_sums(M, C, 2 * C, [=](int64_t m0, int64_t m1, double* partial) {
    gradient_sums(m1 - m0, C, x + m0 * C, dy + m0 * C, mean, inv, partial, partial + C);
  }, sums);
}

// y = gamma * (x - mean) * inv + beta over all rows, on the OpenMP threads.
void normalize_rows(int64_t M, int C, const float* x, const float* gamma, const double* mean, const double* inv,
                    const float* beta, float* y) {
  std::vector<float> mean_f(C), scale(C);
  for (int c = 0; c < C; ++c) {
    mean_f[c] = static_cast<float>(mean[c]);
    scale[c] = static_cast<float>(gamma[c] * inv[c]);
  }
  for_rows(M, C, [&](int64_t m0, int64_t m1) {
    normalize(m1 - m0, C, x + m0 * C, mean_f.data(), scale.data(), beta, y + m0 * C);
  });
}

}  // namespace

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var) {
  std::vector<double> shift(C, 0.0), sums(2 * C, 0.0), mean(C), inv(C);
  if (M > 0) std::copy(x, x + C, shift.begin());
  channel_block_sums(M, C, 2 * C, [=, k = shift.data()](int64_t m0, int64_t m1, double* partial) {
    shifted_sums(m1 - m0, C, x + m0 * C, k, partial, partial + C);
  }, sums.data());
  const double count = static_cast<double>(M);
  for (int c = 0; c < C; ++c) {  // the formulas of batchnorm_terms.cuh's finalize_moments
    const double d_mean = sums[c] / count;
    const double var = std::max(0.0, sums[C + c] / count - d_mean * d_mean);  // >= 0 despite rounding
    mean[c] = shift[c] + d_mean;
    inv[c] = 1.0 / std::sqrt(var + epsilon);
    save_mean[c] = static_cast<float>(mean[c]);
    save_inv_std[c] = static_cast<float>(inv[c]);
    save_var[c] = static_cast<float>(var);
  }
  normalize_rows(M, C, x, gamma, mean.data(), inv.data(), beta, y);
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
  const std::vector<double> mean(moving_mean, moving_mean + C);
  normalize_rows(M, C, x, gamma, mean.data(), inv.data(), beta, y);  // the same formula with the moving statistics
}

void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
  const std::vector<double> mean(save_mean, save_mean + C), inv(save_inv_std, save_inv_std + C);
  std::vector<double> sums(2 * C, 0.0);  // sum of dy, then sum of dy * xhat
  gradient_sums_blocked(M, C, x, dy, mean.data(), inv.data(), sums.data());
  std::vector<float> mean_dy(C), mean_dy_xhat(C), scale(C);  // the means the formula subtracts
  for (int c = 0; c < C; ++c) {
    dbeta[c] = static_cast<float>(sums[c]);
    dgamma[c] = static_cast<float>(sums[C + c]);
    mean_dy[c] = static_cast<float>(sums[c] / static_cast<double>(M));
    mean_dy_xhat[c] = static_cast<float>(sums[C + c] / static_cast<double>(M));
    scale[c] = static_cast<float>(gamma[c] * inv[c]);
  }
  for_rows(M, C, [&](int64_t m0, int64_t m1) {
    input_gradient(m1 - m0, C, x + m0 * C, dy + m0 * C, save_mean, save_inv_std, scale.data(), mean_dy.data(),
                   mean_dy_xhat.data(), dx + m0 * C);
  });
}

void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null) {
  const std::vector<double> inv = inverse_std(C, moving_var, epsilon);
  if (dx_or_null)
    for_rows(M, C, [&](int64_t m0, int64_t m1) {
      scale_gradient(m1 - m0, C, dy + m0 * C, gamma, inv.data(), dx_or_null + m0 * C);
    });
  if (!dgamma_or_null && !dbeta_or_null) return;
  const std::vector<double> mean(moving_mean, moving_mean + C);
  std::vector<double> sums(2 * C, 0.0);
  gradient_sums_blocked(M, C, x, dy, mean.data(), inv.data(), sums.data());
  for (int c = 0; c < C; ++c) {
    if (dbeta_or_null) dbeta_or_null[c] = static_cast<float>(sums[c]);
    if (dgamma_or_null) dgamma_or_null[c] = static_cast<float>(sums[C + c]);
  }
}

}  // namespace cxr::kernels::cpu
