// CUDA batch normalisation (kernels/batchnorm.h), over the last axis of x[M][C].
//
// Per-channel statistics are sums over M rows, in double, by kernels/cuda/channel_sums.cuh:
// deterministic, the same on any GPU. Training takes one pass over x for the statistics (shifted
// sums, batchnorm_terms.cuh) and one to normalise; the backward pass one for its two sums and one
// for dx. Where the GPU holds a block per chunk of rows at once, one kernel does both passes instead,
// keeping the rows in shared memory between them (batchnorm_resident.cu; the same bits). The
// elementwise passes use __fmul_rn/__fadd_rn (and __dmul_rn for the per-channel factors), which
// nvcc never fuses into an FMA, so each element is computed exactly as the CPU computes it (from
// statistics that differ from the CPU's only in the order and the way their double sums were added).
#include <cstdint>

#include "kernels/batchnorm.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/cuda/batchnorm_resident.h"
#include "kernels/cuda/batchnorm_terms.cuh"
#include "kernels/cuda/channel_sums.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/dropout_mask.cuh"
#include "kernels/env_setting.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/scratch.cuh"

namespace cxr::kernels::cuda {
namespace {

using detail::ChunkPlan;
using detail::kFinalizeThreads;

// The Terms of channel_sums.cuh's passes (batchnorm_terms.cuh): ShiftedSums for the training
// statistics, GradientSums for the backward passes.
using bn::GradientSums;
using bn::inverse_std;
using bn::ShiftedSums;

// Queues a pass of Terms<4> when x and dy rows are float4s, else of Terms<1>; args: the Terms' fields.
template <template <int> class Terms, class... Fields>
void launch_sums(int64_t M, int C, const detail::ChunkPlan& plan, const float* x, const float* dy, double* partials,
                 Fields... fields) {
  if (detail::quad_channels(C, x, dy))
    detail::launch_channel_partials(M, C, plan, Terms<4>{fields...}, partials);
  else
    detail::launch_channel_partials(M, C, plan, Terms<1>{fields...}, partials);
}

// Finalising kernels: one block of kFinalizeThreads per channel.

// Saves mean, inverse std and variance in float, and the double statistics (bn::finalize_moments).
__global__ void finalize_moments_kernel(int64_t M, int C, int chunks, const float* x, const double* partials,
                                        float epsilon, float* save_mean, float* save_inv_std, float* save_var,
                                        double* stats, bn::MovingAverages moving) {
  bn::finalize_moments(M, C, chunks, x, partials, epsilon, blockIdx.x, threadIdx.x, save_mean, save_inv_std, save_var,
                       stats, moving);
}

// Writes dbeta/dgamma (when not null) and the means of the sums (bn::finalize_gradient).
__global__ void finalize_gradient_kernel(int64_t M, int C, int chunks, const double* partials, float* dgamma,
                                         float* dbeta, double* sums) {
  bn::finalize_gradient(M, C, chunks, partials, blockIdx.x, threadIdx.x, dgamma, dbeta, sums);
}

// Elementwise passes: out[i] = op(a[i], b[i], channel of i), a and b being x and/or dy. One kernel
// for the four of them: each thread moves float4s when C is a multiple of 4 and every pointer is
// 16-byte aligned (four consecutive elements are then four channels of one row), else single floats.
// Index is uint32_t when M * C fits (the channel is then a 32-bit remainder, several times cheaper
// than a 64-bit one), else int64_t.
template <int V>
__device__ __forceinline__ void load_values(const float* p, uint64_t i, float (&v)[V]) {
  if (p == nullptr) {
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] = 0.0f;
  } else if constexpr (V == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p + i);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
    v[0] = p[i];
  }
}

// out[i .. i + V) = op of the loaded values; c is the channel of element i.
template <class Index, int V, class Op>
__device__ __forceinline__ void store_values(float* out, Index i, const float (&av)[V], const float (&bv)[V],
                                             const Op& op, int C) {
  const int c = static_cast<int>(i % static_cast<Index>(C));
  float r[V];
#pragma unroll
  for (int j = 0; j < V; ++j) r[j] = op(av[j], bv[j], c + j);
  if constexpr (V == 4)
    *reinterpret_cast<float4*>(out + i) = make_float4(r[0], r[1], r[2], r[3]);
  else
    out[i] = r[0];
}

// Two grid-stride rounds at a time, both loaded before either is stored (out may be a or b, so the
// compiler may not hoist the second round's loads itself): twice the bytes in flight per thread, as
// kernels/cuda/map.cuh does.
//
// The rounds walk the tensor from its end: in training this pass follows the sums' pass, which read
// x (and dy) from front to back, so their ends are what L2 still holds (50 MB on an H100, against
// experiment 3's 31.5 MB x), whereas walking forward, each line of out written may evict the next
// line to read. Measured together with 8 rows in flight in the sums' pass (H100, 2026-11-26): batch
// norm forward 1.02x, backward 1.06x; neither was timed alone.
template <class Index, int V, class Op>
__global__ void channel_map_kernel(Index items, int C, const float* a, const float* b, float* out, Op op) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  Index q = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
  const Index last = items - 1;  // item q of the walk is item last - q of the tensor
  for (; q + stride < items; q += 2 * stride) {
    const Index i0 = (last - q) * V, i1 = (last - q - stride) * V;
    float a0[V], b0[V], a1[V], b1[V];
    load_values<V>(a, i0, a0);
    load_values<V>(b, i0, b0);
    load_values<V>(a, i1, a1);
    load_values<V>(b, i1, b1);
    store_values<Index, V>(out, i0, a0, b0, op, C);
    store_values<Index, V>(out, i1, a1, b1, op, C);
  }
  if (q < items) {
    float a0[V], b0[V];
    load_values<V>(a, (last - q) * V, a0);
    load_values<V>(b, (last - q) * V, b0);
    store_values<Index, V>(out, (last - q) * V, a0, b0, op, C);
  }
}

// Queues out = op(a, b, channel) over count = M * C elements; a or b may be null (then unread).
template <class Op>
void launch_channel_map(int64_t count, int C, const float* a, const float* b, float* out, Op op) {
  const bool vectorized = C % 4 == 0 && detail::aligned16(a) && detail::aligned16(b) && detail::aligned16(out);
  const int64_t items = vectorized ? count / 4 : count;
  const int blocks = detail::grid_size(items);
  if (count <= INT32_MAX) {
    if (vectorized)
      channel_map_kernel<uint32_t, 4><<<blocks, detail::kBlockThreads, 0, stream()>>>(
          static_cast<uint32_t>(items), C, a, b, out, op);
    else
      channel_map_kernel<uint32_t, 1><<<blocks, detail::kBlockThreads, 0, stream()>>>(
          static_cast<uint32_t>(items), C, a, b, out, op);
  } else if (vectorized) {
    channel_map_kernel<int64_t, 4><<<blocks, detail::kBlockThreads, 0, stream()>>>(items, C, a, b, out, op);
  } else {
    channel_map_kernel<int64_t, 1><<<blocks, detail::kBlockThreads, 0, stream()>>>(items, C, a, b, out, op);
  }
  CXR_CUDA_CHECK_LAST();
}

// The four passes, element by element exactly as the CPU computes them (no FMA contraction): the
// per-channel factors from the double statistics rounded once to float, then float arithmetic.
using bn::normalized;

struct Normalize {  // y = (x - mean) * (gamma * inv) + beta; stats = [mean | inv] in double
  const float *gamma, *beta;
  const double* stats;
  int C;
  __device__ float operator()(float x, float, int c) const { return bn::normalize(x, gamma, beta, stats, C, c); }
};

struct NormalizeWithMoving {  // inference: the moving statistics
  const float *gamma, *beta, *mean, *var;
  float epsilon;
  __device__ float operator()(float x, float, int c) const {
    return normalized(x, mean[c], __dmul_rn(gamma[c], inverse_std(var, epsilon, c)), beta[c]);
  }
};

struct TrainInputGradient {  // dx = gamma * inv * (dy - mean(dy) - xhat * mean(dy * xhat)); sums = those means
  const float *gamma, *mean, *inv_std;
  const double* sums;
  int C;
  __device__ float operator()(float x, float dy, int c) const {
    return bn::input_gradient(x, dy, mean[c], inv_std[c], static_cast<float>(sums[c]), static_cast<float>(sums[C + c]),
                              static_cast<float>(__dmul_rn(gamma[c], inv_std[c])));
  }
};

struct InferenceInputGradient {  // dx = dy * gamma * inv: the statistics are constants
  const float *gamma, *var;
  float epsilon;
  __device__ float operator()(float, float dy, int c) const {
    return static_cast<float>(__dmul_rn(dy, __dmul_rn(gamma[c], inverse_std(var, epsilon, c))));
  }
};

__global__ void update_moving_kernel(int C, const float* batch_mean, const float* batch_var, bn::MovingAverages moving) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) bn::update_moving(moving, c, batch_mean, batch_var);
}

EnvSetting g_resident("CXR_BATCHNORM_RESIDENT", 1, 0);
EnvSetting g_dropout_relu("CXR_BATCHNORM_DROPOUT_RELU", 1, 0);
// CXR_BATCHNORM_FOLD_MOVING=0: the moving statistics by their own kernel after the forward, as before
// they were folded into its finalising (to time the launch that saves).
EnvSetting g_fold_moving("CXR_BATCHNORM_FOLD_MOVING", 1, 0);

// The update to fold into a forward: `moving`, unless folding is off, when `after` runs it instead.
struct FoldedUpdate {
  const MovingUpdate* folded;
  const MovingUpdate* after;
};
FoldedUpdate fold(const MovingUpdate* moving) {
  return g_fold_moving.get() == 1 ? FoldedUpdate{moving, nullptr} : FoldedUpdate{nullptr, moving};
}
void update_after(int64_t M, int C, const float* save_mean, const float* save_var, const MovingUpdate* after) {
  if (after)
    batchnorm_update_moving(M, C, save_mean, save_var, after->momentum, after->unbiased_variance, after->moving_mean,
                            after->moving_var);
}

// A batch of no rows: dgamma and dbeta are sums over nothing, 0 as on the CPU (the engine's tensors
// for them come uninitialised from the caching allocator).
void zero_parameter_gradients(int C, float* dgamma_or_null, float* dbeta_or_null) {
  if (C <= 0) return;
  if (dgamma_or_null) fill(C, 0.0f, dgamma_or_null);
  if (dbeta_or_null) fill(C, 0.0f, dbeta_or_null);
}

}  // namespace

void set_batchnorm_resident(bool allowed) { g_resident.set(allowed ? 1 : 0); }

bool batchnorm_resident() { return g_resident.get() == 1; }

void set_batchnorm_dropout_relu(bool allowed) { g_dropout_relu.set(allowed ? 1 : 0); }

bool batchnorm_dropout_relu() { return g_dropout_relu.get() == 1; }

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var,
                             const MovingUpdate* moving) {
  if (M <= 0 || C <= 0) return;
  const FoldedUpdate update = fold(moving);
  const ChunkPlan plan = detail::plan_chunks(M);
  const detail::Scratch<double> partials(detail::partial_doubles(plan, C), "batch norm partial sums"),
      stats(2 * static_cast<int64_t>(C), "batch norm statistics");
  if (batchnorm_resident() && detail::batchnorm_forward_train_resident(M, C, x, gamma, beta, epsilon, y, save_mean,
                                                                       save_inv_std, save_var, partials.get(),
                                                                       stats.get(), update.folded)) {
    update_after(M, C, save_mean, save_var, update.after);
    return;
  }
  launch_sums<ShiftedSums>(M, C, plan, x, nullptr, partials.get(), x);
  finalize_moments_kernel<<<C, kFinalizeThreads, 0, stream()>>>(M, C, plan.chunks, x, partials.get(), epsilon,
                                                               save_mean, save_inv_std, save_var, stats.get(),
                                                               bn::moving_averages(M, update.folded));
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  launch_channel_map(count, C, x, nullptr, y, Normalize{gamma, beta, stats.get(), C});
  update_after(M, C, save_mean, save_var, update.after);
}

void batchnorm_update_moving(int64_t M, int C, const float* batch_mean, const float* batch_var, float momentum,
                             bool unbiased_variance, float* moving_mean, float* moving_var) {
  if (C <= 0) return;
  update_moving_kernel<<<(C + 255) / 256, 256, 0, stream()>>>(
      C, batch_mean, batch_var, bn::moving_averages(M, momentum, unbiased_variance, moving_mean, moving_var));
  CXR_CUDA_CHECK_LAST();
}

void batchnorm_forward_inference(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                 const float* moving_mean, const float* moving_var, float epsilon, float* y) {
  const int64_t count = M * C;
  if (count <= 0) return;
  launch_channel_map(count, C, x, nullptr, y, NormalizeWithMoving{gamma, beta, moving_mean, moving_var, epsilon});
}

void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (M <= 0 || C <= 0) return zero_parameter_gradients(C, dgamma, dbeta);
  const ChunkPlan plan = detail::plan_chunks(M);
  const detail::Scratch<double> partials(detail::partial_doubles(plan, C), "batch norm partial sums"),
      sums(2 * static_cast<int64_t>(C), "batch norm gradient sums");
  if (batchnorm_resident() && detail::batchnorm_backward_train_resident(M, C, x, gamma, save_mean, save_inv_std, dy,
                                                                        dx, dgamma, dbeta, partials.get(),
                                                                        sums.get()))
    return;
  launch_sums<GradientSums>(M, C, plan, x, dy, partials.get(), x, dy, save_mean, save_inv_std,
                            static_cast<const float*>(nullptr), 0.0f);
  finalize_gradient_kernel<<<C, kFinalizeThreads, 0, stream()>>>(M, C, plan.chunks, partials.get(), dgamma, dbeta,
                                                                sums.get());
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  launch_channel_map(count, C, x, dy, dx, TrainInputGradient{gamma, save_mean, save_inv_std, sums.get(), C});
}

void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null) {
  if (M <= 0 || C <= 0) return zero_parameter_gradients(C, dgamma_or_null, dbeta_or_null);
  const int64_t count = M * C;
  if (dx_or_null)
    launch_channel_map(count, C, nullptr, dy, dx_or_null, InferenceInputGradient{gamma, moving_var, epsilon});
  if (!dgamma_or_null && !dbeta_or_null) return;
  const ChunkPlan plan = detail::plan_chunks(M);
  const detail::Scratch<double> partials(detail::partial_doubles(plan, C), "batch norm partial sums");
  launch_sums<GradientSums>(M, C, plan, x, dy, partials.get(), x, dy, moving_mean,
                            static_cast<const float*>(nullptr), moving_var, epsilon);
  finalize_gradient_kernel<<<C, kFinalizeThreads, 0, stream()>>>(M, C, plan.chunks, partials.get(), dgamma_or_null,
                                                                dbeta_or_null, nullptr);
  CXR_CUDA_CHECK_LAST();
}

// The fused op: one resident kernel each way where it applies; elsewhere batch norm's kernels, then
// dropout-relu's (forward), or dropout-relu's gradient into a buffer, then batch norm's (backward).
void batchnorm_dropout_relu_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                          float epsilon, float rate, uint64_t seed, uint64_t stream_id, float* y,
                                          float* save_mean, float* save_inv_std, float* save_var,
                                          const MovingUpdate* moving) {
  (void)detail::DropoutMask::of(rate, seed, stream_id);  // a bad rate refused before any work
  if (M <= 0 || C <= 0) return;
  if (batchnorm_resident()) {
    const ChunkPlan plan = detail::plan_chunks(M);
    const detail::Scratch<double> partials(detail::partial_doubles(plan, C), "batch norm partial sums"),
        stats(2 * static_cast<int64_t>(C), "batch norm statistics");
    const FoldedUpdate update = fold(moving);
    if (detail::batchnorm_dropout_relu_forward_train_resident(M, C, x, gamma, beta, epsilon, rate, seed, stream_id, y,
                                                              save_mean, save_inv_std, save_var, partials.get(),
                                                              stats.get(), update.folded)) {
      update_after(M, C, save_mean, save_var, update.after);
      return;
    }
  }
  batchnorm_forward_train(M, C, x, gamma, beta, epsilon, y, save_mean, save_inv_std, save_var, moving);
  dropout_relu_forward(M * C, rate, seed, stream_id, y, y);
}

void batchnorm_dropout_relu_backward_train(int64_t M, int C, const float* x, const float* gamma,
                                           const float* save_mean, const float* save_inv_std, float rate,
                                           const float* y, const float* dy, float* dx, float* dgamma, float* dbeta) {
  (void)detail::DropoutMask::of(rate, 0, 0);  // a bad rate refused before any work
  if (M <= 0 || C <= 0) return zero_parameter_gradients(C, dgamma, dbeta);
  if (batchnorm_resident()) {
    const ChunkPlan plan = detail::plan_chunks(M);
    const detail::Scratch<double> partials(detail::partial_doubles(plan, C), "batch norm partial sums"),
        sums(2 * static_cast<int64_t>(C), "batch norm gradient sums");
    if (detail::batchnorm_dropout_relu_backward_train_resident(M, C, x, gamma, save_mean, save_inv_std, rate, y, dy,
                                                               dx, dgamma, dbeta, partials.get(), sums.get()))
      return;
  }
  const detail::Scratch<float> gradient(M * C, "dropout-relu gradient");
  dropout_relu_backward(M * C, rate, y, dy, gradient.get());
  batchnorm_backward_train(M, C, x, gamma, save_mean, save_inv_std, gradient.get(), dx, dgamma, dbeta);
}

}  // namespace cxr::kernels::cuda
