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
//
// Batch norm, dropout and relu as one op (batchnorm_dropout_relu_*, for Keras's Conv2D ->
// BatchNormalization -> Dropout -> relu blocks): the forward normalises a block of dropout's 1,024
// elements into a buffer in L1 and masks it from there; the backward computes dropout-relu's gradient
// from y wherever the two passes read it. Against the three kernels (bench_kernels, 2-core Zen 4 VM,
// interleaved): backward 11-23% faster at experiments 1 and 3's layers, forward 0-18% (drawing the
// Philox words bounds it, not memory).
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/column_sums.h"
#include "kernels/cpu/dropout_block.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/target_clones.h"

#define CXR_BN_CLONES CXR_TARGET_CLONES("avx2", "default")

namespace cxr::kernels::cpu {
namespace {

// Blocks of dropout's Philox words per thread at the least (kernels/cpu/dropout.cpp's reason).
constexpr int64_t kMinDropoutBlocksPerThread = 4;

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

// The gradient reaching batch norm's output at an element: dy itself, or, where dropout and relu
// follow in one op (batchnorm_dropout_relu_*), dropout_relu_backward's y > 0 ? dy * scale : 0,
// computed from the op's output y where it is read instead of being stored.
template <bool kDropoutRelu>
[[gnu::always_inline]] inline float output_gradient(float y, float dy, float dropout_scale) {
  if constexpr (kDropoutRelu) return dropout_relu_gradient(y, dy, dropout_scale);
  return dy;
}

// sum_dy[c] += dy, sum_dy_xhat[c] += dy * (x - mean) * inv_std, over all rows (dy: output_gradient;
// y is not read without kDropoutRelu, and may be null). Always inlined into the clones below, so
// each is vectorised for its target.
template <bool kDropoutRelu>
[[gnu::always_inline]] inline void gradient_sums_of(int64_t M, int C, const float* __restrict x,
                                                    const float* __restrict y, const float* __restrict dy,
                                                    float dropout_scale, const double* __restrict mean,
                                                    const double* __restrict inv, double* __restrict sum_dy,
                                                    double* __restrict sum_dy_xhat) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict xr = x + m * C;
    const float* __restrict yr = kDropoutRelu ? y + m * C : y;
    const float* __restrict gr = dy + m * C;
    for (int c = 0; c < C; ++c) {
      const double g = output_gradient<kDropoutRelu>(kDropoutRelu ? yr[c] : 0.0f, gr[c], dropout_scale);
      sum_dy[c] += g;
      sum_dy_xhat[c] += g * (xr[c] - mean[c]) * inv[c];
    }
  }
}
CXR_BN_CLONES void gradient_sums(int64_t M, int C, const float* x, const float* dy, const double* mean,
                                 const double* inv, double* sum_dy, double* sum_dy_xhat) {
  gradient_sums_of<false>(M, C, x, nullptr, dy, 1.0f, mean, inv, sum_dy, sum_dy_xhat);
}
CXR_BN_CLONES void gradient_sums_dropout_relu(int64_t M, int C, const float* x, const float* y, const float* dy,
                                              float dropout_scale, const double* mean, const double* inv,
                                              double* sum_dy, double* sum_dy_xhat) {
  gradient_sums_of<true>(M, C, x, y, dy, dropout_scale, mean, inv, sum_dy, sum_dy_xhat);
}

// The per-channel factors of the input gradient, rounded to float once (sums in double).
struct InputGradientFactors {
  std::vector<float> scale, mean_dy, mean_dy_xhat;
};

// dx = gamma * inv * (dy - mean_dy - xhat * mean_dy_xhat), xhat = (x - mean) * inv: in float, as
// normalize is (dy: output_gradient).
template <bool kDropoutRelu>
[[gnu::always_inline]] inline void input_gradient_of(int64_t M, int C, const float* __restrict x,
                                                     const float* __restrict y, const float* __restrict dy,
                                                     float dropout_scale, const float* __restrict mean,
                                                     const float* __restrict inv, const float* __restrict scale,
                                                     const float* __restrict mean_dy,
                                                     const float* __restrict mean_dy_xhat, float* __restrict dx) {
  for (int64_t m = 0; m < M; ++m) {
    const float* __restrict xr = x + m * C;
    const float* __restrict yr = kDropoutRelu ? y + m * C : y;
    const float* __restrict gr = dy + m * C;
    float* __restrict out = dx + m * C;
    for (int c = 0; c < C; ++c) {
      const float g = output_gradient<kDropoutRelu>(kDropoutRelu ? yr[c] : 0.0f, gr[c], dropout_scale);
      const float xhat = (xr[c] - mean[c]) * inv[c];
      out[c] = scale[c] * (g - mean_dy[c] - xhat * mean_dy_xhat[c]);
    }
  }
}
CXR_BN_CLONES void input_gradient(int64_t M, int C, const float* x, const float* dy, const float* mean,
                                  const float* inv, const InputGradientFactors& f, float* dx) {
  input_gradient_of<false>(M, C, x, nullptr, dy, 1.0f, mean, inv, f.scale.data(), f.mean_dy.data(),
                           f.mean_dy_xhat.data(), dx);
}
CXR_BN_CLONES void input_gradient_dropout_relu(int64_t M, int C, const float* x, const float* y, const float* dy,
                                               float dropout_scale, const float* mean, const float* inv,
                                               const InputGradientFactors& f, float* dx) {
  input_gradient_of<true>(M, C, x, y, dy, dropout_scale, mean, inv, f.scale.data(), f.mean_dy.data(),
                          f.mean_dy_xhat.data(), dx);
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

// The per-channel factors of normalize: mean and gamma * inv, rounded to float once.
struct NormalizeFactors {
  std::vector<float> mean, scale;
};
NormalizeFactors normalize_factors(int C, const float* gamma, const double* mean, const double* inv) {
  NormalizeFactors f{std::vector<float>(C), std::vector<float>(C)};
  for (int c = 0; c < C; ++c) {
    f.mean[c] = static_cast<float>(mean[c]);
    f.scale[c] = static_cast<float>(gamma[c] * inv[c]);
  }
  return f;
}

// y = gamma * (x - mean) * inv + beta over all rows, on the OpenMP threads.
void normalize_rows(int64_t M, int C, const float* x, const float* gamma, const double* mean, const double* inv,
                    const float* beta, float* y) {
  const NormalizeFactors f = normalize_factors(C, gamma, mean, inv);
  for_rows(M, C, [&](int64_t m0, int64_t m1) {
    normalize(m1 - m0, C, x + m0 * C, f.mean.data(), f.scale.data(), beta, y + m0 * C);
  });
}

// z[k] = normalize's output at element base + k, for k < len: the rows the span covers, the first
// and the last perhaps only in part (a span need not start or end at a row's start).
void normalize_span(int64_t base, int64_t len, int C, const float* x, const NormalizeFactors& f, const float* beta,
                    float* z) {
  int64_t k = 0;
  const int c0 = static_cast<int>(base % C);
  if (c0 != 0) {  // the rest of a row that began before the span
    k = std::min<int64_t>(C - c0, len);
    normalize(1, static_cast<int>(k), x + base, f.mean.data() + c0, f.scale.data() + c0, beta + c0, z);
  }
  const int64_t rows = (len - k) / C;
  normalize(rows, C, x + base + k, f.mean.data(), f.scale.data(), beta, z + k);
  k += rows * C;
  if (k < len)  // the start of a row that ends after the span
    normalize(1, static_cast<int>(len - k), x + base + k, f.mean.data(), f.scale.data(), beta, z + k);
}

// The batch's statistics per channel: mean and inv = 1 / sqrt(var + epsilon) in double, and their
// float copies for the backward pass and the moving statistics.
void batch_statistics(int64_t M, int C, const float* x, float epsilon, double* mean, double* inv, float* save_mean,
                      float* save_inv_std, float* save_var) {
  std::vector<double> shift(C, 0.0), sums(2 * C, 0.0);
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
}

// dbeta and dgamma, and the factors of the input gradient, from sums = (sum of dy, sum of dy * xhat).
InputGradientFactors finish_gradient_sums(int64_t M, int C, const float* gamma, const double* inv,
                                          const std::vector<double>& sums, float* dgamma, float* dbeta) {
  InputGradientFactors f{std::vector<float>(C), std::vector<float>(C), std::vector<float>(C)};
  for (int c = 0; c < C; ++c) {
    dbeta[c] = static_cast<float>(sums[c]);
    dgamma[c] = static_cast<float>(sums[C + c]);
    f.mean_dy[c] = static_cast<float>(sums[c] / static_cast<double>(M));
    f.mean_dy_xhat[c] = static_cast<float>(sums[C + c] / static_cast<double>(M));
    f.scale[c] = static_cast<float>(gamma[c] * inv[c]);
  }
  return f;
}

// sums[0, C) = sum of dy, sums[C, 2C) = sum of dy * (x - mean) * inv, per channel.
void gradient_sums_blocked(int64_t M, int C, const float* x, const float* dy, const double* mean, const double* inv,
                           double* sums) {
  channel_block_sums(M, C, 2 * C, [=](int64_t m0, int64_t m1, double* partial) {
    gradient_sums(m1 - m0, C, x + m0 * C, dy + m0 * C, mean, inv, partial, partial + C);
  }, sums);
}

}  // namespace

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var,
                             const MovingUpdate* moving) {
  std::vector<double> mean(C), inv(C);
  batch_statistics(M, C, x, epsilon, mean.data(), inv.data(), save_mean, save_inv_std, save_var);
  normalize_rows(M, C, x, gamma, mean.data(), inv.data(), beta, y);
  if (moving)
    batchnorm_update_moving(M, C, save_mean, save_var, moving->momentum, moving->unbiased_variance,
                            moving->moving_mean, moving->moving_var);
}

void batchnorm_dropout_relu_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                          float epsilon, float rate, uint64_t seed, uint64_t stream, float* y,
                                          float* save_mean, float* save_inv_std, float* save_var,
                                          const MovingUpdate* moving) {
  const DropoutMask mask = dropout_mask(rate, seed, stream);  // checks the rate before any work
  std::vector<double> mean(C), inv(C);
  batch_statistics(M, C, x, epsilon, mean.data(), inv.data(), save_mean, save_inv_std, save_var);
  const NormalizeFactors f = normalize_factors(C, gamma, mean.data(), inv.data());
  // Dropout's blocks of Philox words, each normalised into a buffer in L1 and masked from there.
  const int64_t n = M * C, blocks = (n + kPhiloxBlockWords - 1) / kPhiloxBlockWords;
  parallel_for(blocks, kMinDropoutBlocksPerThread, [&](int64_t first_block, int64_t end_block) {
    float z[kPhiloxBlockWords];
    for (int64_t b = first_block; b < end_block; ++b) {
      const int64_t base = b * kPhiloxBlockWords, len = std::min(kPhiloxBlockWords, n - base);
      normalize_span(base, len, C, x, f, beta, z);
      dropout_relu_block(mask, base, len, z, y + base);
    }
  });
  if (moving)
    batchnorm_update_moving(M, C, save_mean, save_var, moving->momentum, moving->unbiased_variance,
                            moving->moving_mean, moving->moving_var);
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
  const InputGradientFactors f = finish_gradient_sums(M, C, gamma, inv.data(), sums, dgamma, dbeta);
  for_rows(M, C, [&](int64_t m0, int64_t m1) {
    input_gradient(m1 - m0, C, x + m0 * C, dy + m0 * C, save_mean, save_inv_std, f, dx + m0 * C);
  });
}

void batchnorm_dropout_relu_backward_train(int64_t M, int C, const float* x, const float* gamma,
                                           const float* save_mean, const float* save_inv_std, float rate,
                                           const float* y, const float* dy, float* dx, float* dgamma, float* dbeta) {
  const float dropout_scale = dropout_mask(rate, 0, 0).scale;
  const std::vector<double> mean(save_mean, save_mean + C), inv(save_inv_std, save_inv_std + C);
  std::vector<double> sums(2 * C, 0.0);
  channel_block_sums(M, C, 2 * C, [&](int64_t m0, int64_t m1, double* partial) {
    gradient_sums_dropout_relu(m1 - m0, C, x + m0 * C, y + m0 * C, dy + m0 * C, dropout_scale, mean.data(),
                               inv.data(), partial, partial + C);
  }, sums.data());
  const InputGradientFactors f = finish_gradient_sums(M, C, gamma, inv.data(), sums, dgamma, dbeta);
  for_rows(M, C, [&](int64_t m0, int64_t m1) {
    input_gradient_dropout_relu(m1 - m0, C, x + m0 * C, y + m0 * C, dy + m0 * C, dropout_scale, save_mean,
                                save_inv_std, f, dx + m0 * C);
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
