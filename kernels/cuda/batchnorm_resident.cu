// Batch norm's training passes with their input read from DRAM once (kernels/cuda/batchnorm_resident.h).
//
// The two-pass forward (batchnorm.cu) reads x for the statistics, then again to normalise: three
// tensor-sized transfers where a copy makes two, so it cannot pass ~67% of the copy bandwidth (it ran
// at 49% on an H100 for experiment 3's first batch norm, 31.5 MB, 2026-11-26); the backward reads x
// and dy twice (54%). Here one block per chunk of rows (the same chunks, channel_sums.cuh) keeps its
// rows in shared memory while it adds them, every block waits at a grid-wide barrier, blocks 0..C-1
// finalise the per-channel totals, a second barrier, and each block computes its rows' outputs from
// shared memory (the rows that did not fit, from global memory, much of it still in L2). It is
// cuDNN's "persistent" batch norm idea: an H100's 132 SMs hold 2 blocks of 93 KB each, 24.4 MB of
// rows at once (experiment 3's first batch norm: 77% of x forward, 39% of x and dy backward).
// Measured on an H100, 2026-11-26: 1.04-2.02x the two passes on five of the experiments' shapes,
// experiment 3's first forward 43.0 -> 35.9 us (59% of copy), its backward 59.3 -> 57.2 us (56%).
// Each row's last read from global memory and every output store are streaming (ld/st.global.cs:
// L2 evicts those lines first), so L2 keeps the rows that did not fit for their second read:
// 35.5 -> 32.8 us forward, 54.7 -> 46.8 us backward on an H100, 2026-11-27 (CXR_BATCHNORM_STREAMING=0
// turns it off). Tried the same day and dropped: each block first asking the copy engine to bring
// its chunk into L2 (cp.async.bulk.prefetch.L2), no faster at any of the experiments' shapes.
//
// The barriers need every block resident at once: a cooperative launch, which the runtime refuses
// otherwise. The additions, the finalising and the elementwise arithmetic are batchnorm.cu's own
// device code (channel_sums.cuh's chunk_partials, batchnorm_terms.cuh), in the same order: the same
// bits. Tests compare these kernels with the two passes bit for bit: on the CPU emulator
// (tests/emulated, whose cooperative launch runs the blocks in turns between the grid barriers, on a
// small emulated GPU) and on a GPU (tests/cuda/batchnorm_resident_test.cpp, at the experiments' sizes).
#include "kernels/cuda/batchnorm_resident.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <mutex>
#include <type_traits>

#include "kernels/cuda/batchnorm_terms.cuh"
#include "kernels/cuda/channel_sums.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/dropout_mask.cuh"
#include "kernels/env_setting.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 32 * kSumWarps;
static_assert(kThreads == kFinalizeThreads, "a block finalises a channel with all its threads");
constexpr int kMaxDevices = 64;

// Keeps the first `rows` rows of the block's chunk in shared memory: what a lane loaded for its four
// channels of a row (x, or x and dy), at the row's place. (The backward's 32-byte values make a
// warp's shared stores and loads 2-way bank conflicted; keeping x and dy in separate planes would
// not be, but the second plane's address spilled registers at the 128 the kernel may have.)
// With `streaming`, the kept rows are loaded as their last read (channel_sums.cuh's load_floats):
// L2 then gives their lines up first and keeps the rows that did not fit, read again in step 3.
template <class Loaded>
struct KeepInShared {
  static constexpr bool kMayStream = true;
  Loaded* cache;
  int64_t first, rows;
  int quads;  // C / 4
  bool streaming;
  __device__ void operator()(int64_t row, int c, const Loaded& v) const {
    if (row - first < rows) cache[(row - first) * quads + c / 4] = v;
  }
  __device__ bool streams(int64_t row) const { return streaming && row - first < rows; }
};

// The two passes the kernel runs: the forward's statistics and y, and the backward's sums and dx.
// Each gives its channel_sums.cuh Terms, the finalising of channel c by a block, and the elementwise
// step for four channels (map, given the float4's index in the tensor), exactly as batchnorm.cu's
// kernels compute them. kDropoutRelu: the fused op's passes (batch norm, then dropout and relu):
// the forward's outputs go through dropout_mask.cuh's dropout and relu before they are written,
// and the backward's Terms read the op's output y to form dropout-relu's gradient as they load dy.
template <bool kDropoutRelu>
struct ForwardPass {
  using Terms = bn::ShiftedSums<4>;
  const float *x, *gamma, *beta;
  float epsilon;
  float *out, *save_mean, *save_inv_std, *save_var;  // out: y
  double* stats;                                      // [mean | inv] in double, 2C
  DropoutMask mask;                                   // read when kDropoutRelu
  bn::MovingAverages moving;                          // updated as channels are finalised (mean null: not)
  __device__ Terms terms() const { return Terms{x}; }
  __device__ void finalize(int64_t M, int C, int chunks, const double* partials, int c, int t) const {
    bn::finalize_moments(M, C, chunks, x, partials, epsilon, c, t, save_mean, save_inv_std, save_var, stats, moving);
  }
  struct Map {  // bn::normalize for channels c..c + 3, its factors read once
    float mean[4], shift[4];
    double factor[4];
    DropoutMask mask;
    __device__ float4 operator()(const typename Terms::Loaded& v, int64_t quad) const {
      const float4 y = make_float4(bn::normalized(v.v[0], mean[0], factor[0], shift[0]),
                                   bn::normalized(v.v[1], mean[1], factor[1], shift[1]),
                                   bn::normalized(v.v[2], mean[2], factor[2], shift[2]),
                                   bn::normalized(v.v[3], mean[3], factor[3], shift[3]));
      if constexpr (kDropoutRelu) return detail::dropout_relu4(mask, static_cast<uint64_t>(quad), y);
      return y;
    }
  };
  __device__ Map map(int C, int c) const {
    Map m;
    m.mask = mask;
    for (int j = 0; j < 4; ++j) {
      m.mean[j] = static_cast<float>(stats[c + j]);
      m.factor[j] = __dmul_rn(gamma[c + j], stats[C + c + j]);
      m.shift[j] = beta[c + j];
    }
    return m;
  }
};

template <bool kDropoutRelu>
struct BackwardPass {
  using Terms = std::conditional_t<kDropoutRelu, bn::DropoutReluGradientSums<4>, bn::GradientSums<4>>;
  const float *x, *dy, *gamma, *save_mean, *save_inv_std;
  float *out, *dgamma, *dbeta;  // out: dx
  double* sums;                 // [mean(dy) | mean(dy * xhat)] in double, 2C
  const float* relu_y;          // the fused op's output, read when kDropoutRelu
  float scale;                  // dropout's
  __device__ Terms terms() const {
    const bn::GradientSums<4> plain{x, dy, save_mean, save_inv_std, nullptr, 0.0f};
    if constexpr (kDropoutRelu) return Terms{plain, relu_y, scale};
    else return plain;
  }
  __device__ void finalize(int64_t M, int C, int chunks, const double* partials, int c, int t) const {
    bn::finalize_gradient(M, C, chunks, partials, c, t, dgamma, dbeta, sums);
  }
  struct Map {  // bn::input_gradient for channels c..c + 3, its factors read once
    float mean[4], inv[4], mean_dy[4], mean_dy_xhat[4], factor[4];
    __device__ float at(const typename Terms::Loaded& v, int j) const {
      return bn::input_gradient(v.x.v[j], v.dy.v[j], mean[j], inv[j], mean_dy[j], mean_dy_xhat[j], factor[j]);
    }
    __device__ float4 operator()(const typename Terms::Loaded& v, int64_t) const {
      return make_float4(at(v, 0), at(v, 1), at(v, 2), at(v, 3));
    }
  };
  __device__ Map map(int C, int c) const {
    Map m;
    for (int j = 0; j < 4; ++j) {
      m.mean[j] = save_mean[c + j];
      m.inv[j] = save_inv_std[c + j];
      m.mean_dy[j] = static_cast<float>(sums[c + j]);
      m.mean_dy_xhat[j] = static_cast<float>(sums[C + c + j]);
      m.factor[j] = static_cast<float>(__dmul_rn(gamma[c + j], save_inv_std[c + j]));
    }
    return m;
  }
};

// Block k: chunk k. Two blocks an SM (128 registers, as the partial-sum kernels take anyway). When
// there are fewer chunks than channels, the grid has a block per channel, the blocks past the last
// chunk only finalising: one block finalising a whole layer's channels in turn took 66 us for 32
// rows of 64 channels (experiment 2's dense batch norm) on an H100, 2026-11-26, where the two passes
// took 14.
template <class Pass>
__global__ void __launch_bounds__(kThreads, 2)
    batchnorm_resident_kernel(int64_t M, int C, ChunkPlan plan, int64_t kept_rows, bool streaming, Pass pass,
                              double* partials) {
  using Loaded = typename Pass::Terms::Loaded;
  extern __shared__ float4 shared[];
  Loaded* cache = reinterpret_cast<Loaded*>(shared);
  const cg::grid_group grid = cg::this_grid();
  const int quads = C / 4, chunk = blockIdx.x;
  const bool has_rows = chunk < plan.chunks;  // the same for the whole block
  const int64_t first = static_cast<int64_t>(chunk) * plan.rows_per_chunk;
  const int64_t rows = plan.rows_per_chunk < M - first ? plan.rows_per_chunk : M - first;

  // 1. The chunk's partial sums, exactly as channel_partials_kernel<Terms> adds them, rows kept.
  // (Tried on an H100, 2026-11-26: the kept rows first copied to shared memory with cp.async, the
  // block's whole share in flight at once, the others prefetched to L2, then all added. Slower: the
  // kernel took 35 us forward and 66 backward for experiment 3's first batch norm, against 30 and 55
  // here, where the additions overlap the loads.)
  typename Pass::Terms terms = pass.terms();
  if (has_rows)
    chunk_partials(M, C, quads, plan, 0, chunk, terms, partials,
                   KeepInShared<Loaded>{cache, first, kept_rows, quads, streaming});
  grid.sync();

  // 2. Channel c's totals by block c, as batchnorm.cu's finalising kernels compute them.
  const int t = threadIdx.y * 32 + threadIdx.x;
  for (int c = blockIdx.x; c < C; c += gridDim.x) pass.finalize(M, C, plan.chunks, partials, c, t);
  grid.sync();
  if (!has_rows) return;

  // 3. The chunk's outputs, float4 i of the chunk by thread i % kThreads: its four channels are the
  // same at every step (quads divides kThreads and the kept items), so their factors are read once.
  const typename Pass::Map map = pass.map(C, 4 * (t % quads));
  const int64_t items = rows * quads, kept = (kept_rows < rows ? kept_rows : rows) * quads;
  float4* out = reinterpret_cast<float4*>(pass.out) + first * quads;
  const auto store = [&](int64_t i, float4 value) {
    if (streaming) __stcs(out + i, value);
    else out[i] = value;
  };
  for (int64_t i = t; i < kept; i += kThreads) store(i, map(cache[i], first * quads + i));
  // The rows that did not fit, from global memory, kInFlight loads a thread before the first is
  // used. (One at a time, each thread waited on a load per item: on an H100, 2026-11-26, this kernel
  // took 32.9 us for experiment 3's first batch norm forward, 23% of its rows here, and 57.9 us
  // backward, 61%, warps waiting on loads 7.4 and 14.6 cycles an instruction.)
  constexpr int kInFlight = 4;
  for (int64_t i = kept + t; i < items; i += kInFlight * kThreads) {
    Loaded v[kInFlight];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int64_t at = (first * quads + i + u * kThreads) * 4;
      if (i + u * kThreads < items) v[u] = streaming ? terms.template load<true>(at) : terms.load(at);
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u)
      if (i + u * kThreads < items) store(i + u * kThreads, map(v[u], first * quads + i + u * kThreads));
  }
}

// What a device offers a resident kernel: the shared memory a block may keep rows in with 2 blocks
// an SM, and how many blocks it holds at once with that much. Measured once per device and pass.
struct Fit {
  bool known = false;
  int64_t cache_bytes = 0;
  int blocks = 0;  // 0: no cooperative launch on this device
};

template <class Pass>
Fit measure_fit() {
  const auto kernel = batchnorm_resident_kernel<Pass>;
  const int device = current_device("batch norm (resident)");
  int cooperative = 0, sms = 0, per_sm = 0, per_block_optin = 0, reserved = 0;
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&per_block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device));
  cudaFuncAttributes attributes{};
  CXR_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
  Fit fit;
  fit.known = true;
  const int64_t fixed = static_cast<int64_t>(attributes.sharedSizeBytes);
  fit.cache_bytes = std::min<int64_t>(per_block_optin - fixed, per_sm / 2 - reserved - fixed) / 32 * 32;
  if (!cooperative || fit.cache_bytes <= 0) return fit;
  CXR_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(fit.cache_bytes)));
  CXR_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                      cudaSharedmemCarveoutMaxShared));
  int per_sm_blocks = 0;
  CXR_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm_blocks, kernel, kThreads,
                                                               static_cast<size_t>(fit.cache_bytes)));
  fit.blocks = per_sm_blocks * sms;
  return fit;
}

template <class Pass>
struct DeviceFits {
  static inline std::mutex mutex;
  static inline Fit fits[kMaxDevices];
};

template <class Pass>
Fit device_fit() {
  const int device = current_device("batch norm (resident)");
  if (device >= kMaxDevices) return Fit{};  // no blocks: the two passes
  std::lock_guard lock(DeviceFits<Pass>::mutex);
  Fit& fit = DeviceFits<Pass>::fits[device];
  if (!fit.known) fit = measure_fit<Pass>();
  return fit;
}

// After a refused launch: this device takes the two passes from now on.
template <class Pass>
void give_up_on_device() {
  const int device = current_device("batch norm (resident)");
  std::lock_guard lock(DeviceFits<Pass>::mutex);
  DeviceFits<Pass>::fits[device].blocks = 0;  // device < kMaxDevices: device_fit let it launch
}

// Streaming last reads and stores (the top of this file); CXR_BATCHNORM_STREAMING=0 turns them off.
EnvSetting g_streaming("CXR_BATCHNORM_STREAMING", 1, 0);

// C a multiple of 4 that divides 128: one channel group (channel_sums.cuh), quads dividing kThreads.
bool resident_channels(int C) { return C > 0 && C % 4 == 0 && C / 4 <= 32 && 32 % (C / 4) == 0; }

// Queues batchnorm_resident_kernel<Pass> when every chunk's block fits on the device at once.
template <class Pass>
bool launch_resident(int64_t M, int C, const Pass& pass, double* partials) {
  const ChunkPlan plan = plan_chunks(M);
  const Fit fit = device_fit<Pass>();
  if (plan.chunks > fit.blocks) return false;
  const int blocks = std::max(plan.chunks, std::min(C, fit.blocks));  // a block per channel to finalise
  const int64_t row_bytes = static_cast<int64_t>(C / 4) * sizeof(typename Pass::Terms::Loaded);
  const int64_t kept_rows = std::min(plan.rows_per_chunk, fit.cache_bytes / row_bytes);

  cudaLaunchAttribute cooperative{};
  cooperative.id = cudaLaunchAttributeCooperative;
  cooperative.val.cooperative = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(blocks));
  config.blockDim = dim3(32, kSumWarps);
  config.dynamicSmemBytes = static_cast<size_t>(kept_rows * row_bytes);
  config.stream = stream();
  config.attrs = &cooperative;
  config.numAttrs = 1;
  const cudaError_t launched = cudaLaunchKernelEx(&config, batchnorm_resident_kernel<Pass>, M, C, plan, kept_rows,
                                                  g_streaming.get() != 0,
                                                  pass, partials);
  // The occupancy query said the blocks fit, but a tool that instruments kernels (compute-sanitizer)
  // may leave room for fewer: the runtime then refuses the launch, and the two passes do the work.
  if (launched == cudaErrorCooperativeLaunchTooLarge) {
    (void)cudaGetLastError();  // clears it
    give_up_on_device<Pass>();
    return false;
  }
  CXR_CUDA_CHECK(launched);
  return true;
}

}  // namespace

bool batchnorm_forward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                      float epsilon, float* y, float* save_mean, float* save_inv_std, float* save_var,
                                      double* partials, double* stats, const MovingUpdate* moving) {
  if (M <= 0 || !resident_channels(C) || !aligned16(x) || !aligned16(y)) return false;
  return launch_resident(M, C,
                         ForwardPass<false>{x, gamma, beta, epsilon, y, save_mean, save_inv_std, save_var, stats, {},
                                            bn::moving_averages(M, moving)},
                         partials);
}

bool batchnorm_dropout_relu_forward_train_resident(int64_t M, int C, const float* x, const float* gamma,
                                                   const float* beta, float epsilon, float rate, uint64_t seed,
                                                   uint64_t stream_id, float* y, float* save_mean,
                                                   float* save_inv_std, float* save_var, double* partials,
                                                   double* stats, const MovingUpdate* moving) {
  if (M <= 0 || !resident_channels(C) || !aligned16(x) || !aligned16(y)) return false;
  return launch_resident(M, C,
                         ForwardPass<true>{x, gamma, beta, epsilon, y, save_mean, save_inv_std, save_var, stats,
                                           DropoutMask::of(rate, seed, stream_id), bn::moving_averages(M, moving)},
                         partials);
}

bool batchnorm_backward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* save_mean,
                                       const float* save_inv_std, const float* dy, float* dx, float* dgamma,
                                       float* dbeta, double* partials, double* sums) {
  if (M <= 0 || !resident_channels(C) || !aligned16(x) || !aligned16(dy) || !aligned16(dx)) return false;
  return launch_resident(
      M, C, BackwardPass<false>{x, dy, gamma, save_mean, save_inv_std, dx, dgamma, dbeta, sums, nullptr, 1.0f},
      partials);
}

bool batchnorm_dropout_relu_backward_train_resident(int64_t M, int C, const float* x, const float* gamma,
                                                    const float* save_mean, const float* save_inv_std, float rate,
                                                    const float* y, const float* dy, float* dx, float* dgamma,
                                                    float* dbeta, double* partials, double* sums) {
  if (M <= 0 || !resident_channels(C) || !aligned16(x) || !aligned16(y) || !aligned16(dy) || !aligned16(dx))
    return false;
  const float scale = DropoutMask::of(rate, 0, 0).scale;
  return launch_resident(
      M, C, BackwardPass<true>{x, dy, gamma, save_mean, save_inv_std, dx, dgamma, dbeta, sums, y, scale}, partials);
}

}  // namespace cxr::kernels::cuda::detail
