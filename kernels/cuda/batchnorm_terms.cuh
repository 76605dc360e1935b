// Batch norm's training-forward pieces shared by its two-pass kernels (kernels/cuda/batchnorm.cu)
// and its resident kernel (kernels/cuda/batchnorm_resident.cu), so that both add, finalise and
// normalise in exactly the same way and give the same bits.
#pragma once

#include <cstdint>

#include "kernels/cuda/channel_sums.cuh"

namespace cxr::kernels::cuda::bn {

// channel_sums.cuh's Terms for the training statistics, in one pass: sums of d = x - K and of d * d,
// K being the channel's value in row 0. Then mean = K + sum(d) / M and var = sum(d * d) / M -
// (sum(d) / M)^2. The shift keeps the subtraction from cancelling: its relative error is about
// 2^-53 * (1 + (mean - K)^2 / var), where unshifted sums of x and x * x would lose (mean^2 / var)
// times that. The CPU takes two passes (the mean, then squared deviations); one pass saves a read of
// x and two launches.
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
  __device__ Loaded load(int64_t i) const { return detail::load_floats<V>(x + i); }
  __device__ void add(const Loaded& v, double (&sum_d)[V], double (&sum_d2)[V]) const {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const double d = __dsub_rn(v.v[j], shift[j]);
      sum_d[j] = __dadd_rn(sum_d[j], d);
      sum_d2[j] = __dadd_rn(sum_d2[j], __dmul_rn(d, d));  // no FMA: the same sums on every build
    }
  }
};

// Channel c's statistics from the chunks' partial sums, by a block of kFinalizeThreads (t: the
// thread's index; every thread must call it): thread 0 saves mean, inverse std and variance in
// float, and stats[c] = mean, stats[C + c] = inv_std in double for the normalising pass.
__device__ inline void finalize_moments(int64_t M, int C, int chunks, const float* x, const double* partials,
                                        float epsilon, int c, int t, float* save_mean, float* save_inv_std,
                                        float* save_var, double* stats) {
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

}  // namespace cxr::kernels::cuda::bn
