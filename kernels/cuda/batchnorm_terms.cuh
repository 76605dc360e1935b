// Batch norm's per-channel sums, their finalising and the elementwise arithmetic of training, shared
// by its two-pass kernels (kernels/cuda/batchnorm.cu) and its resident kernels
// (kernels/cuda/batchnorm_resident.cu), so that both add, finalise and map in exactly the same way
// and give the same bits.
#pragma once

#include <cstdint>

#include "kernels/batchnorm.h"
#include "kernels/cuda/channel_sums.cuh"
#include "kernels/cuda/dropout_mask.cuh"

namespace cxr::kernels::cuda::bn {

// channel_sums.cuh's Terms for the training statistics, in one pass: sums of d = x - K and of d * d,
// K being the channel's value in row 0. Then mean = K + sum(d) / M and var = sum(d * d) / M -
// (sum(d) / M)^2. The shift keeps the subtraction from cancelling: its relative error is about
// 2^-53 * (1 + (mean - K)^2 / var), where unshifted sums of x and x * x would lose (mean^2 / var)
// times that. One pass saves a read of x and two launches. The CPU sums the same terms
// (kernels/cpu/batchnorm.cpp's shifted_sums) in another order.
template <int V>
struct ShiftedSums {
  static constexpr int kChannels = V;
  using Loaded = detail::Floats<V>;
  const float* x;
  double shift[V] = {};
  __device__ void begin(int c) {
#pragma unroll
    for (int j = 0; j < V; ++j) shift[j] = x[c + j];
  }
  template <bool kStreaming = false>
  __device__ Loaded load(int64_t i) const {
    return detail::load_floats<V, kStreaming>(x + i);
  }
  __device__ void add(const Loaded& v, double (&sum_d)[V], double (&sum_d2)[V]) const {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const double d = __dsub_rn(v.v[j], shift[j]);
      sum_d[j] = __dadd_rn(sum_d[j], d);
      sum_d2[j] = __dadd_rn(sum_d2[j], __dmul_rn(d, d));  // no FMA: the same sums on every build
    }
  }
};

// batchnorm_update_moving's arithmetic (kernels/batchnorm.h) for channel c, from the batch's float
// statistics, in double without contraction: its own kernel's, and the forward passes' as they
// finalise (MovingUpdate). mean null: no update.
struct MovingAverages {
  float* mean = nullptr;
  float* var = nullptr;
  double keep = 0.0, take = 0.0, bessel = 1.0;
};
inline MovingAverages moving_averages(int64_t M, float momentum, bool unbiased_variance, float* mean, float* var) {
  const double bessel = unbiased_variance && M > 1 ? static_cast<double>(M) / static_cast<double>(M - 1) : 1.0;
  return {mean, var, static_cast<double>(momentum), 1.0 - static_cast<double>(momentum), bessel};
}
inline MovingAverages moving_averages(int64_t M, const MovingUpdate* update) {
  if (!update) return {};
  return moving_averages(M, update->momentum, update->unbiased_variance, update->moving_mean, update->moving_var);
}
__device__ inline void update_moving(const MovingAverages& m, int c, const float* batch_mean, const float* batch_var) {
  m.mean[c] = static_cast<float>(__dadd_rn(__dmul_rn(m.keep, m.mean[c]), __dmul_rn(m.take, batch_mean[c])));
  m.var[c] = static_cast<float>(
      __dadd_rn(__dmul_rn(m.keep, m.var[c]), __dmul_rn(m.take, __dmul_rn(batch_var[c], m.bessel))));
}

// Channel c's statistics from the chunks' partial sums, by a block of kFinalizeThreads (t: the
// thread's index; every thread must call it): thread 0 saves mean, inverse std and variance in
// float, and stats[c] = mean, stats[C + c] = inv_std in double for the normalising pass; then
// updates the moving statistics from the saved ones where `moving` has them.
__device__ inline void finalize_moments(int64_t M, int C, int chunks, const float* x, const double* partials,
                                        float epsilon, int c, int t, float* save_mean, float* save_inv_std,
                                        float* save_var, double* stats, const MovingAverages& moving) {
  const detail::ChunkTotals sums = detail::chunk_totals(partials, chunks, C, c, t);
  if (t != 0) return;
  const double sum_d = sums.a, sum_d2 = sums.b;
  const double count = static_cast<double>(M), d_mean = sum_d / count;
  const double var = fmax(0.0, __dsub_rn(sum_d2 / count, __dmul_rn(d_mean, d_mean)));  // >= 0 despite rounding
  const double mean = __dadd_rn(static_cast<double>(x[c]), d_mean), inv = 1.0 / sqrt(var + epsilon);
  save_mean[c] = static_cast<float>(mean);
  save_inv_std[c] = static_cast<float>(inv);
  save_var[c] = static_cast<float>(var);
  stats[c] = mean;
  stats[C + c] = inv;
  if (moving.mean) update_moving(moving, c, save_mean, save_var);
}

// sum(dy) and sum(dy * xhat), xhat = (x - mean) * inv. mean/inv come either from the saved float
// statistics (training) or from the moving ones (inference: inv computed here).
__device__ inline double inverse_std(const float* var, float epsilon, int c) {
  return 1.0 / sqrt(static_cast<double>(var[c]) + epsilon);
}

template <int V>
struct GradientSums {
  static constexpr int kChannels = V;
  struct Loaded {
    detail::Floats<V> x, dy;
  };
  const float* x;
  const float* dy;
  const float* mean;
  const float* inv_std_or_null;
  const float* var_or_null;
  float epsilon;
  double mu[V] = {}, inv[V] = {};
  __device__ void begin(int c) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      mu[j] = mean[c + j];
      inv[j] = inv_std_or_null ? static_cast<double>(inv_std_or_null[c + j]) : inverse_std(var_or_null, epsilon, c + j);
    }
  }
  template <bool kStreaming = false>
  __device__ Loaded load(int64_t i) const {
    return {detail::load_floats<V, kStreaming>(x + i), detail::load_floats<V, kStreaming>(dy + i)};
  }
  __device__ void add(const Loaded& v, double (&sum_dy)[V], double (&sum_dy_xhat)[V]) const {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const double g = v.dy.v[j];
      sum_dy[j] = __dadd_rn(sum_dy[j], g);
      sum_dy_xhat[j] = __dadd_rn(sum_dy_xhat[j], __dmul_rn(__dmul_rn(g, __dsub_rn(v.x.v[j], mu[j])), inv[j]));
    }
  }
};

// GradientSums of batch norm followed by dropout and relu (the fused op's backward): the gradient
// reaching batch norm is dropout-relu's, y > 0 ? dy * scale : 0 from the op's output y, computed as
// each element is loaded and never stored. The same values, so the same sums, as GradientSums over
// that gradient written out first.
template <int V>
struct DropoutReluGradientSums : GradientSums<V> {
  using Loaded = typename GradientSums<V>::Loaded;
  static constexpr int kRowsInFlight = 3;  // 4 spilled 16 bytes in the resident kernel (CUDA 13, sm_90)
  const float* relu_y;
  float scale;
  template <bool kStreaming = false>
  __device__ Loaded load(int64_t i) const {
    Loaded v = GradientSums<V>::template load<kStreaming>(i);
    const detail::Floats<V> y = detail::load_floats<V, kStreaming>(relu_y + i);
#pragma unroll
    for (int j = 0; j < V; ++j) v.dy.v[j] = detail::dropout_relu_gradient(y.v[j], v.dy.v[j], scale);
    return v;
  }
};

// Channel c's gradient sums from the chunks' partial sums, by a block of kFinalizeThreads (t: the
// thread's index; every thread must call it): thread 0 writes dbeta/dgamma (when not null) and
// sums[c] = sum_dy / M, sums[C + c] = sum_dy_xhat / M (when not null).
__device__ inline void finalize_gradient(int64_t M, int C, int chunks, const double* partials, int c, int t,
                                         float* dgamma, float* dbeta, double* sums) {
  const detail::ChunkTotals totals = detail::chunk_totals(partials, chunks, C, c, t);
  const double sum_dy = totals.a, sum_dy_xhat = totals.b;
  if (t == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (sums) {
      sums[c] = sum_dy / static_cast<double>(M);
      sums[C + c] = sum_dy_xhat / static_cast<double>(M);
    }
  }
}

// Element by element exactly as the CPU computes it (no FMA contraction): the per-channel factor
// from the double statistics rounded once to float, then float arithmetic.
__device__ __forceinline__ float normalized(float x, float mean, double gamma_inv, float beta) {
  return __fadd_rn(__fmul_rn(__fsub_rn(x, mean), static_cast<float>(gamma_inv)), beta);
}

// y for x of channel c in training: (x - mean) * (gamma * inv) + beta, stats = [mean | inv].
__device__ __forceinline__ float normalize(float x, const float* gamma, const float* beta, const double* stats, int C,
                                           int c) {
  return normalized(x, static_cast<float>(stats[c]), __dmul_rn(gamma[c], stats[C + c]), beta[c]);
}

// dx in training: gamma * inv * (dy - mean(dy) - xhat * mean(dy * xhat)), xhat = (x - mean) * inv,
// with mean_dy and mean_dy_xhat rounded to float and factor = gamma * inv rounded from double.
__device__ __forceinline__ float input_gradient(float x, float dy, float mean, float inv_std, float mean_dy,
                                                float mean_dy_xhat, float factor) {
  const float xhat = __fmul_rn(__fsub_rn(x, mean), inv_std);
  return __fmul_rn(factor, __fsub_rn(__fsub_rn(dy, mean_dy), __fmul_rn(xhat, mean_dy_xhat)));
}

}  // namespace cxr::kernels::cuda::bn
