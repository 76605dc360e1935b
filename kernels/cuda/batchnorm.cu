// CUDA batch normalisation (kernels/batchnorm.h), over the last axis of x[M][C].
//
// Per-channel statistics are sums over M rows, in double. The rows are cut into chunks, a number
// that depends on M alone (never on the GPU), and the grid is (channel groups) x (chunks): each block
// writes one partial per channel of its group, and a finalising kernel adds a channel's partials in a
// fixed order. So the result is deterministic and the same on any GPU, and a layer of few channels
// still spreads over every SM (the first version gave each group of 32 channels one block: experiment
// 3's first batch norm, 16 channels over 492,032 rows, ran on one SM at 1% of the bandwidth, measured
// on an H200). The elementwise passes use __fmul_rn/__fadd_rn (and __dmul_rn for the per-channel
// factors), which nvcc never fuses into an FMA, so each element is computed exactly as the CPU
// computes it (from statistics that differ from the CPU's only in the order their double sums were
// added).
#include <algorithm>
#include <cstdint>

#include "kernels/batchnorm.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda {
namespace {

// Partial-sum blocks are 32 lanes x kWarps warps. A lane serves one channel of the block's group;
// when C divides 32 (C = 1, 2, 4, 8, 16) the group is all C channels and each warp covers 32 / C
// rows at a time, so no lane idles.
constexpr int kWarps = 8;
constexpr int kMaxChunks = 1024;          // at most ~8 blocks per SM of an H100, per channel group
constexpr int64_t kMinRowsPerChunk = 64;  // below that, a block's set-up outweighs its rows

struct ChunkPlan {
  int width;           // channels per block: C when C divides 32, else 32
  int channel_blocks;  // ceil(C / width)
  int chunks;          // row chunks, from M alone
  int64_t rows_per_chunk;
};

ChunkPlan plan_chunks(int64_t M, int C) {
  ChunkPlan plan{};
  plan.width = C < 32 && 32 % C == 0 ? C : 32;
  plan.channel_blocks = (C + plan.width - 1) / plan.width;
  const int64_t by_rows = (M + kMinRowsPerChunk - 1) / kMinRowsPerChunk;
  const int64_t wanted = std::min<int64_t>(kMaxChunks, std::max<int64_t>(1, by_rows));
  plan.rows_per_chunk = (M + wanted - 1) / wanted;
  plan.chunks = static_cast<int>((M + plan.rows_per_chunk - 1) / plan.rows_per_chunk);
  return plan;
}

// What a partial-sum pass adds per element, into two accumulators. begin(c) caches the thread's
// per-channel constants (a lane keeps one channel for the whole pass).
struct SumOfX {
  const float* x;
  __device__ void begin(int) {}
  __device__ void add(int64_t i, double& a, double&) const { a += x[i]; }
};

struct SumOfSquaredDeviations {  // the second pass over x, once the mean is known: no cancellation
  const float* x;
  const double* mean;
  double mu = 0.0;
  __device__ void begin(int c) { mu = mean[c]; }
  __device__ void add(int64_t i, double& a, double&) const {
    const double d = __dsub_rn(x[i], mu);
    a = __dadd_rn(a, __dmul_rn(d, d));  // no FMA, like the CPU's loop
  }
};

// sum(dy) and sum(dy * xhat), xhat = (x - mean) * inv. mean/inv come either from the saved float
// statistics (training) or from the moving ones (inference: inv computed here).
__device__ double inverse_std(const float* var, float epsilon, int c) {
  return 1.0 / sqrt(static_cast<double>(var[c]) + epsilon);
}

struct GradientSums {
  const float* x;
  const float* dy;
  const float* mean;
  const float* inv_std_or_null;
  const float* var_or_null;
  float epsilon;
  double mu = 0.0, inv = 0.0;
  __device__ void begin(int c) {
    mu = mean[c];
    inv = inv_std_or_null ? static_cast<double>(inv_std_or_null[c]) : inverse_std(var_or_null, epsilon, c);
  }
  __device__ void add(int64_t i, double& sum_dy, double& sum_dy_xhat) const {
    const double g = dy[i];
    sum_dy += g;
    sum_dy_xhat += __dmul_rn(__dmul_rn(g, __dsub_rn(x[i], mu)), inv);
  }
};

// partials[k * C + c] and partials[chunks * C + k * C + c]: chunk k's two sums for channel c. Block
// (g, k) covers channel group g and chunk k; every lane's rows and every addition's order are fixed.
template <class Terms>
__global__ void channel_partials_kernel(int64_t M, int C, ChunkPlan plan, Terms terms, double* partials) {
  __shared__ double warp_a[kWarps][32], warp_b[kWarps][32];
  const int lane = threadIdx.x, width = plan.width;
  const int c = blockIdx.x * width + lane % width;
  const int rows_per_warp = 32 / width;
  const int walker = threadIdx.y * rows_per_warp + lane / width, walkers = kWarps * rows_per_warp;
  const int64_t first = static_cast<int64_t>(blockIdx.y) * plan.rows_per_chunk;
  const int64_t end = first + plan.rows_per_chunk < M ? first + plan.rows_per_chunk : M;
  double a = 0.0, b = 0.0;
  if (c < C) {
    terms.begin(c);
    for (int64_t m = first + walker; m < end; m += walkers) terms.add(m * C + c, a, b);
  }
  // Lanes l and l ^ offset hold the same channel when offset >= width (both powers of two).
  for (int offset = 16; offset >= width; offset /= 2) {
    a += __shfl_xor_sync(0xffffffffu, a, offset);
    b += __shfl_xor_sync(0xffffffffu, b, offset);
  }
  if (lane < width) {
    warp_a[threadIdx.y][lane] = a;
    warp_b[threadIdx.y][lane] = b;
  }
  __syncthreads();
  if (threadIdx.y == 0 && lane < width && c < C) {
    double total_a = 0.0, total_b = 0.0;
    for (int w = 0; w < kWarps; ++w) {
      total_a += warp_a[w][lane];
      total_b += warp_b[w][lane];
    }
    const int64_t at = static_cast<int64_t>(blockIdx.y) * C + c;
    partials[at] = total_a;
    partials[static_cast<int64_t>(plan.chunks) * C + at] = total_b;
  }
}

template <class Terms>
void launch_partials(int64_t M, int C, const ChunkPlan& plan, const Terms& terms, double* partials) {
  channel_partials_kernel<<<dim3(plan.channel_blocks, plan.chunks), dim3(32, kWarps), 0, stream()>>>(M, C, plan, terms,
                                                                                                  partials);
  CXR_CUDA_CHECK_LAST();
}

// The total of channel c's partials (which = 0: the first sums, 1: the second), valid in every lane
// of the warp that calls it: lane l adds chunks l, l + 32, ..., then a fixed shuffle tree.
__device__ double chunk_total(const double* partials, int chunks, int C, int c, int which) {
  const double* p = partials + static_cast<int64_t>(which) * chunks * C;
  double total = 0.0;
  for (int k = threadIdx.x; k < chunks; k += 32) total += p[static_cast<int64_t>(k) * C + c];
  for (int offset = 16; offset > 0; offset /= 2) total += __shfl_xor_sync(0xffffffffu, total, offset);
  return total;
}

// Finalising kernels: one warp (block) per channel.
__global__ void finalize_mean_kernel(int64_t M, int C, int chunks, const double* partials, double* stats) {
  const int c = blockIdx.x;
  const double mean = chunk_total(partials, chunks, C, c, 0) / static_cast<double>(M);
  if (threadIdx.x == 0) stats[c] = mean;
}

// stats[c] = mean, stats[C + c] = inv_std, in double for the normalising pass.
__global__ void finalize_variance_kernel(int64_t M, int C, int chunks, const double* partials, float epsilon,
                                         float* save_mean, float* save_inv_std, float* save_var, double* stats) {
  const int c = blockIdx.x;
  const double var = chunk_total(partials, chunks, C, c, 0) / static_cast<double>(M);
  if (threadIdx.x == 0) {
    const double mean = stats[c], inv = 1.0 / sqrt(var + epsilon);
    save_mean[c] = static_cast<float>(mean);
    save_inv_std[c] = static_cast<float>(inv);
    save_var[c] = static_cast<float>(var);
    stats[C + c] = inv;
  }
}

// Writes dbeta/dgamma (when not null) and sums[c] = sum_dy / M, sums[C + c] = sum_dy_xhat / M.
__global__ void finalize_gradient_kernel(int64_t M, int C, int chunks, const double* partials, float* dgamma,
                                         float* dbeta, double* sums) {
  const int c = blockIdx.x;
  const double sum_dy = chunk_total(partials, chunks, C, c, 0), sum_dy_xhat = chunk_total(partials, chunks, C, c, 1);
  if (threadIdx.x == 0) {
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (sums) {
      sums[c] = sum_dy / static_cast<double>(M);
      sums[C + c] = sum_dy_xhat / static_cast<double>(M);
    }
  }
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

template <class Index, int V, class Op>
__global__ void channel_map_kernel(Index items, int C, const float* a, const float* b, float* out, Op op) {
  const Index stride = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index q = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; q < items; q += stride) {
    const Index i = q * V;
    const int c = static_cast<int>(i % static_cast<Index>(C));
    float av[V], bv[V], r[V];
    load_values<V>(a, i, av);
    load_values<V>(b, i, bv);
#pragma unroll
    for (int j = 0; j < V; ++j) r[j] = op(av[j], bv[j], c + j);
    if constexpr (V == 4)
      *reinterpret_cast<float4*>(out + i) = make_float4(r[0], r[1], r[2], r[3]);
    else
      out[i] = r[0];
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
__device__ __forceinline__ float normalized(float x, float mean, double gamma_inv, float beta) {
  return __fadd_rn(__fmul_rn(__fsub_rn(x, mean), static_cast<float>(gamma_inv)), beta);
}

struct Normalize {  // y = (x - mean) * (gamma * inv) + beta; stats = [mean | inv] in double
  const float *gamma, *beta;
  const double* stats;
  int C;
  __device__ float operator()(float x, float, int c) const {
    return normalized(x, static_cast<float>(stats[c]), __dmul_rn(gamma[c], stats[C + c]), beta[c]);
  }
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
    const float xhat = __fmul_rn(__fsub_rn(x, mean[c]), inv_std[c]);
    const float inner = __fsub_rn(__fsub_rn(dy, static_cast<float>(sums[c])),
                                  __fmul_rn(xhat, static_cast<float>(sums[C + c])));
    return __fmul_rn(static_cast<float>(__dmul_rn(gamma[c], inv_std[c])), inner);
  }
};

struct InferenceInputGradient {  // dx = dy * gamma * inv: the statistics are constants
  const float *gamma, *var;
  float epsilon;
  __device__ float operator()(float, float dy, int c) const {
    return static_cast<float>(__dmul_rn(dy, __dmul_rn(gamma[c], inverse_std(var, epsilon, c))));
  }
};

__global__ void update_moving_kernel(int C, const float* batch_mean, const float* batch_var, double keep, double take,
                                     double bessel, float* moving_mean, float* moving_var) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  moving_mean[c] = static_cast<float>(__dadd_rn(__dmul_rn(keep, moving_mean[c]), __dmul_rn(take, batch_mean[c])));
  moving_var[c] = static_cast<float>(
      __dadd_rn(__dmul_rn(keep, moving_var[c]), __dmul_rn(take, __dmul_rn(batch_var[c], bessel))));
}

// Device scratch of doubles; back to the cache when the kernels that use it are queued.
struct Scratch {
  double* ptr;
  explicit Scratch(int64_t doubles)
      : ptr(static_cast<double*>(device_alloc(sizeof(double) * static_cast<size_t>(doubles), "batchnorm sums"))) {}
  ~Scratch() { device_free(ptr); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

// Two partial sums per chunk and channel.
int64_t partial_doubles(const ChunkPlan& plan, int C) { return 2 * static_cast<int64_t>(plan.chunks) * C; }

}  // namespace

void batchnorm_forward_train(int64_t M, int C, const float* x, const float* gamma, const float* beta, float epsilon,
                             float* y, float* save_mean, float* save_inv_std, float* save_var) {
  if (M <= 0 || C <= 0) return;
  const ChunkPlan plan = plan_chunks(M, C);
  Scratch partials(partial_doubles(plan, C)), stats(2 * static_cast<int64_t>(C));
  // Two passes like the CPU (mean, then squared deviations): no E[x^2] - E[x]^2 cancellation.
  launch_partials(M, C, plan, SumOfX{x}, partials.ptr);
  finalize_mean_kernel<<<C, 32, 0, stream()>>>(M, C, plan.chunks, partials.ptr, stats.ptr);
  CXR_CUDA_CHECK_LAST();
  launch_partials(M, C, plan, SumOfSquaredDeviations{x, stats.ptr}, partials.ptr);
  finalize_variance_kernel<<<C, 32, 0, stream()>>>(M, C, plan.chunks, partials.ptr, epsilon, save_mean, save_inv_std,
                                                   save_var, stats.ptr);
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  launch_channel_map(count, C, x, nullptr, y, Normalize{gamma, beta, stats.ptr, C});
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
  launch_channel_map(count, C, x, nullptr, y, NormalizeWithMoving{gamma, beta, moving_mean, moving_var, epsilon});
}

void batchnorm_backward_train(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                              const float* save_inv_std, const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (M <= 0 || C <= 0) return;
  const ChunkPlan plan = plan_chunks(M, C);
  Scratch partials(partial_doubles(plan, C)), sums(2 * static_cast<int64_t>(C));
  launch_partials(M, C, plan, GradientSums{x, dy, save_mean, save_inv_std, nullptr, 0.0f}, partials.ptr);
  finalize_gradient_kernel<<<C, 32, 0, stream()>>>(M, C, plan.chunks, partials.ptr, dgamma, dbeta, sums.ptr);
  CXR_CUDA_CHECK_LAST();
  const int64_t count = M * C;
  launch_channel_map(count, C, x, dy, dx, TrainInputGradient{gamma, save_mean, save_inv_std, sums.ptr, C});
}

void batchnorm_backward_inference(int64_t M, int C, const float* x, const float* gamma, const float* moving_mean,
                                  const float* moving_var, float epsilon, const float* dy, float* dx_or_null,
                                  float* dgamma_or_null, float* dbeta_or_null) {
  if (M <= 0 || C <= 0) return;
  const int64_t count = M * C;
  if (dx_or_null)
    launch_channel_map(count, C, nullptr, dy, dx_or_null, InferenceInputGradient{gamma, moving_var, epsilon});
  if (!dgamma_or_null && !dbeta_or_null) return;
  const ChunkPlan plan = plan_chunks(M, C);
  Scratch partials(partial_doubles(plan, C));
  launch_partials(M, C, plan, GradientSums{x, dy, moving_mean, nullptr, moving_var, epsilon}, partials.ptr);
  finalize_gradient_kernel<<<C, 32, 0, stream()>>>(M, C, plan.chunks, partials.ptr, dgamma_or_null, dbeta_or_null,
                                                   nullptr);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
