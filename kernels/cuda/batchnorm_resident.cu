// Batch norm's training forward pass with x read from DRAM once (kernels/cuda/batchnorm_resident.h).
//
// The two-pass forward (batchnorm.cu) reads x for the statistics, then again to normalise: three
// tensor-sized transfers where a copy makes two, so it cannot pass ~67% of the copy bandwidth (it ran
// at 49% on an H100 for experiment 3's first batch norm, 31.5 MB, 2026-11-26). Here one block per
// chunk of rows (the same chunks, channel_sums.cuh) keeps its rows in shared memory while it adds
// them, every block waits at a grid-wide barrier, blocks 0..C-1 finalise the statistics, a second
// barrier, and each block normalises its rows from shared memory (the rows that did not fit, from
// x, most of them still in L2). It is cuDNN's "persistent" batch norm idea: an H100's 132 SMs hold
// 2 blocks of ~100 KB each, 26 MB of rows at once.
//
// The barriers need every block resident at once: a cooperative launch, which the runtime refuses
// otherwise. The additions, the finalising and the normalising are batchnorm.cu's own device code
// (channel_sums.cuh's chunk_partials, batchnorm_terms.cuh), in the same order: the same bits.
// The CPU emulator (tests/emulated) cannot run a grid-wide barrier, as it runs blocks one after
// another; the GPU tests (tests/cuda/batchnorm_resident_test.cpp) compare this kernel with the two
// passes bit for bit.
#include "kernels/cuda/batchnorm_resident.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <mutex>

#include "kernels/cuda/batchnorm_terms.cuh"
#include "kernels/cuda/channel_sums.cuh"
#include "kernels/cuda/check.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {
namespace {

namespace cg = cooperative_groups;

constexpr int kThreads = 32 * kSumWarps;
static_assert(kThreads == kFinalizeThreads, "a block finalises a channel with all its threads");
constexpr int kMaxDevices = 64;

// Keeps the first `rows` rows of the block's chunk in shared memory, a float4 per lane-channel.
struct KeepInShared {
  float4* cache;
  int64_t first, rows;
  int quads;  // C / 4
  __device__ void operator()(int64_t row, int c, const Floats<4>& v) const {
    if (row - first < rows) cache[(row - first) * quads + c / 4] = make_float4(v.v[0], v.v[1], v.v[2], v.v[3]);
  }
};

// Block k: chunk k. Two blocks an SM (128 registers, as the partial-sum kernel takes anyway).
__global__ void __launch_bounds__(kThreads, 2)
    batchnorm_forward_resident_kernel(int64_t M, int C, ChunkPlan plan, int64_t kept_rows, const float* x,
                                      const float* gamma, const float* beta, float epsilon, float* y,
                                      float* save_mean, float* save_inv_std, float* save_var, double* partials,
                                      double* stats) {
  extern __shared__ float4 cache[];
  const cg::grid_group grid = cg::this_grid();
  const int quads = C / 4, chunk = blockIdx.x;
  const int64_t first = static_cast<int64_t>(chunk) * plan.rows_per_chunk;
  const int64_t rows = plan.rows_per_chunk < M - first ? plan.rows_per_chunk : M - first;

  // 1. The chunk's shifted sums, exactly as channel_partials_kernel<ShiftedSums<4>> adds them.
  bn::ShiftedSums<4> terms{x};
  chunk_partials(M, C, quads, plan, 0, chunk, terms, partials, KeepInShared{cache, first, kept_rows, quads});
  grid.sync();

  // 2. Channel c's statistics by block c, as finalize_moments_kernel computes them.
  const int t = threadIdx.y * 32 + threadIdx.x;
  for (int c = blockIdx.x; c < C; c += gridDim.x)
    bn::finalize_moments(M, C, plan.chunks, x, partials, epsilon, c, t, save_mean, save_inv_std, save_var, stats);
  grid.sync();

  // 3. y for the chunk's rows, float4 i of the chunk by thread i % kThreads: its four channels are
  // the same at every step (quads divides kThreads), so their factors are read once.
  const int c = 4 * (t % quads);
  float mean[4], shift[4];
  double factor[4];
  for (int j = 0; j < 4; ++j) {
    mean[j] = static_cast<float>(stats[c + j]);
    factor[j] = __dmul_rn(gamma[c + j], stats[C + c + j]);
    shift[j] = beta[c + j];
  }
  const int64_t items = rows * quads, kept = (kept_rows < rows ? kept_rows : rows) * quads;
  const float4* x4 = reinterpret_cast<const float4*>(x) + first * quads;
  float4* y4 = reinterpret_cast<float4*>(y) + first * quads;
  for (int64_t i = t; i < items; i += kThreads) {
    const float4 v = i < kept ? cache[i] : x4[i];
    y4[i] = make_float4(bn::normalized(v.x, mean[0], factor[0], shift[0]),
                        bn::normalized(v.y, mean[1], factor[1], shift[1]),
                        bn::normalized(v.z, mean[2], factor[2], shift[2]),
                        bn::normalized(v.w, mean[3], factor[3], shift[3]));
  }
}

// What a device offers the kernel: the shared memory a block may keep rows in with 2 blocks an SM,
// and how many blocks it holds at once with that much. Measured once per device.
struct Fit {
  bool known = false;
  int64_t cache_bytes = 0;
  int blocks = 0;  // 0: no cooperative launch on this device
};

Fit measure_fit() {
  const int device = current_device("batch norm (resident)");
  int cooperative = 0, sms = 0, per_sm = 0, per_block_optin = 0, reserved = 0;
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&cooperative, cudaDevAttrCooperativeLaunch, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&per_block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device));
  cudaFuncAttributes attributes{};
  CXR_CUDA_CHECK(cudaFuncGetAttributes(&attributes, batchnorm_forward_resident_kernel));
  Fit fit;
  fit.known = true;
  const int64_t fixed = static_cast<int64_t>(attributes.sharedSizeBytes);
  fit.cache_bytes = std::min<int64_t>(per_block_optin - fixed, per_sm / 2 - reserved - fixed) / 16 * 16;
  if (!cooperative || fit.cache_bytes <= 0) return fit;
  CXR_CUDA_CHECK(cudaFuncSetAttribute(batchnorm_forward_resident_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(fit.cache_bytes)));
  CXR_CUDA_CHECK(cudaFuncSetAttribute(batchnorm_forward_resident_kernel,
                                      cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
  int per_sm_blocks = 0;
  CXR_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm_blocks, batchnorm_forward_resident_kernel,
                                                               kThreads, static_cast<size_t>(fit.cache_bytes)));
  fit.blocks = per_sm_blocks * sms;
  return fit;
}

std::mutex g_fits_mutex;
Fit g_fits[kMaxDevices];

Fit device_fit() {
  const int device = current_device("batch norm (resident)");
  std::lock_guard lock(g_fits_mutex);
  Fit& fit = g_fits[device % kMaxDevices];
  if (!fit.known) fit = measure_fit();
  return fit;
}

// After a refused launch: this device takes the two passes from now on.
void give_up_on_device() {
  const int device = current_device("batch norm (resident)");
  std::lock_guard lock(g_fits_mutex);
  g_fits[device % kMaxDevices].blocks = 0;
}

}  // namespace

bool batchnorm_forward_train_resident(int64_t M, int C, const float* x, const float* gamma, const float* beta,
                                      float epsilon, float* y, float* save_mean, float* save_inv_std, float* save_var,
                                      double* partials, double* stats) {
  const int quads = C / 4;
  if (M <= 0 || C <= 0 || C % 4 != 0 || quads > 32 || 32 % quads != 0 || !aligned16(x) || !aligned16(y)) return false;
  const ChunkPlan plan = plan_chunks(M);
  const Fit fit = device_fit();
  if (plan.chunks > fit.blocks) return false;
  const int64_t row_bytes = 4 * static_cast<int64_t>(C);
  const int64_t kept_rows = std::min(plan.rows_per_chunk, fit.cache_bytes / row_bytes);

  cudaLaunchAttribute cooperative{};
  cooperative.id = cudaLaunchAttributeCooperative;
  cooperative.val.cooperative = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(plan.chunks));
  config.blockDim = dim3(32, kSumWarps);
  config.dynamicSmemBytes = static_cast<size_t>(kept_rows * row_bytes);
  config.stream = stream();
  config.attrs = &cooperative;
  config.numAttrs = 1;
  const cudaError_t launched = cudaLaunchKernelEx(&config, batchnorm_forward_resident_kernel, M, C, plan, kept_rows, x,
                                                  gamma, beta, epsilon, y, save_mean, save_inv_std, save_var, partials,
                                                  stats);
  // The occupancy query said the blocks fit, but a tool that instruments kernels (compute-sanitizer)
  // may leave room for fewer: the runtime then refuses the launch, and the two passes do the work.
  if (launched == cudaErrorCooperativeLaunchTooLarge) {
    (void)cudaGetLastError();  // clears it
    give_up_on_device();
    return false;
  }
  CXR_CUDA_CHECK(launched);
  return true;
}

}  // namespace cxr::kernels::cuda::detail
