// Read-bandwidth probes (benchmarks/cuda/read_probes.h says what each measures and why).
#include "benchmarks/cuda/read_probes.h"

#include <cuda/ptx>

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::bench::probes {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxStages = 8;
[[maybe_unused]] constexpr long long kWaitCycles = 1LL << 31;  // about a second: a tile that takes longer never comes

__device__ int g_timed_out = 0;

// The block's total in double, by thread 0 into partials[blockIdx.x].
__device__ void write_block_total(double value, double* partials) {
  __shared__ double warp_totals[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  if (threadIdx.x % 32 == 0) warp_totals[threadIdx.x / 32] = value;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < kThreads / 32; ++w) total += warp_totals[w];
    partials[blockIdx.x] = total;
  }
}

// The cheapest additions that keep every loaded byte alive: one float accumulator.
struct FloatSum {
  float s = 0.0f;
  __device__ void add(float4 v) { s += (v.x + v.y) + (v.z + v.w); }
  __device__ double total() const { return s; }
};

// Batch norm's statistics arithmetic (kernels/cuda/batchnorm_terms.cuh's ShiftedSums): per element a
// float-to-double conversion and four double operations. sum(x) = sum(d) + 0.5 * count; the sum of
// squares is kept alive by a test the compiler cannot decide.
struct ShiftedDouble {
  double d_sum = 0.0, d2_sum = 0.0;
  int64_t count = 0;
  __device__ void add1(float x) {
    const double d = __dsub_rn(x, 0.5);
    d_sum = __dadd_rn(d_sum, d);
    d2_sum = __dadd_rn(d2_sum, __dmul_rn(d, d));
  }
  __device__ void add(float4 v) {
    add1(v.x), add1(v.y), add1(v.z), add1(v.w);
    count += 4;
  }
  __device__ double total() const { return d_sum + 0.5 * static_cast<double>(count) + (d2_sum < 0.0 ? 1.0 : 0.0); }
};

// kUnroll float4 loads in flight a thread before the first is added. Grid-stride over the array, or
// (kChunked) strided by the block over the block's own chunk of `chunk` float4s.
template <int kUnroll, bool kChunked, class Sum>
__global__ void __launch_bounds__(kThreads) read_registers(const float4* x, int64_t quads, int64_t chunk,
                                                           double* partials) {
  int64_t i = 0, end = quads, step = 0;
  if constexpr (kChunked) {
    const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk;
    end = begin + chunk < quads ? begin + chunk : quads;
    i = begin + threadIdx.x;
    step = kThreads;
  } else {
    i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
    step = static_cast<int64_t>(gridDim.x) * kThreads;
  }
  Sum sum;
  // Unmasked loads while all kUnroll are in range. (However many, ptxas (CUDA 13.0) issues 4 or 5
  // before the first addition and keeps the kernel at 32 registers: see read_probes.h.)
  for (; i + (kUnroll - 1) * step < end; i += kUnroll * step) {
    float4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = x[i + u * step];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) sum.add(v[u]);
  }
  for (; i < end; i += step) sum.add(x[i]);
  write_block_total(sum.total(), partials);
}

// Waits for the phase of the given parity of a shared-memory barrier, giving up (and saying so in
// g_timed_out) after kWaitCycles.
[[maybe_unused]] __device__ void wait_parity(uint64_t* barrier, uint32_t parity) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const long long start = clock64();
  while (!cuda::ptx::mbarrier_try_wait_parity(barrier, parity))
    if (clock64() - start > kWaitCycles) {
      atomicExch(&g_timed_out, 1);
      return;
    }
#endif
}

// The block's chunk of `chunk` float4s in tiles of tile_quads, `stages` of them in flight: thread 0
// asks the copy engine for tile k (cp.async.bulk into stage k % stages, completing on that stage's
// barrier), every thread waits for the tile, adds its share, and once all are done (__syncthreads)
// thread 0 refills the stage with tile k + stages.
template <class Sum>
__global__ void __launch_bounds__(kThreads) read_bulk(const float4* x, int64_t quads, int64_t chunk, int stages,
                                                      int tile_quads, double* partials) {
  Sum sum;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  extern __shared__ float4 tiles[];  // stages * tile_quads
  __shared__ uint64_t full[kMaxStages];
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * chunk;
  const int64_t end = begin + chunk < quads ? begin + chunk : quads;
  const int64_t count = end > begin ? end - begin : 0;
  const int64_t tile_count = (count + tile_quads - 1) / tile_quads;
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) cuda::ptx::mbarrier_init(&full[s], 1);
    cuda::ptx::fence_mbarrier_init(cuda::ptx::sem_release, cuda::ptx::scope_cluster);  // seen by the copy engine
  }
  __syncthreads();
  const auto issue = [&](int64_t k) {
    const int s = static_cast<int>(k % stages);
    const int64_t first = begin + k * tile_quads;
    const int64_t left = end - first;
    const uint32_t bytes = static_cast<uint32_t>((left < tile_quads ? left : tile_quads) * sizeof(float4));
    (void)cuda::ptx::mbarrier_arrive_expect_tx(cuda::ptx::sem_release, cuda::ptx::scope_cta, cuda::ptx::space_shared,
                                               &full[s], bytes);
    cuda::ptx::cp_async_bulk(cuda::ptx::space_cluster, cuda::ptx::space_global, tiles + s * tile_quads, x + first,
                             bytes, &full[s]);
  };
  if (threadIdx.x == 0)
    for (int64_t k = 0; k < stages && k < tile_count; ++k) issue(k);
  for (int64_t k = 0; k < tile_count; ++k) {
    const int s = static_cast<int>(k % stages);
    wait_parity(&full[s], static_cast<uint32_t>((k / stages) & 1));
    const int64_t left = end - (begin + k * tile_quads), in_tile = left < tile_quads ? left : tile_quads;
    for (int64_t q = threadIdx.x; q < in_tile; q += kThreads) sum.add(tiles[s * tile_quads + q]);
    __syncthreads();  // stage s is free again
    if (threadIdx.x == 0 && k + stages < tile_count) issue(k + stages);
  }
#else
  (void)x, (void)quads, (void)chunk, (void)stages, (void)tile_quads;
#endif
  write_block_total(sum.total(), partials);
}

using Kernel = void (*)(const float4*, int64_t, int64_t, double*);
using BulkKernel = void (*)(const float4*, int64_t, int64_t, int, int, double*);

Kernel register_kernel(const ReadProbe& p) {
  if (p.shifted_double) {
    if (p.unroll == 8 && !p.chunked) return read_registers<8, false, ShiftedDouble>;
  } else if (!p.chunked) {
    if (p.unroll == 1) return read_registers<1, false, FloatSum>;
    if (p.unroll == 4) return read_registers<4, false, FloatSum>;
    if (p.unroll == 8) return read_registers<8, false, FloatSum>;
    if (p.unroll == 16) return read_registers<16, false, FloatSum>;
  } else {
    if (p.unroll == 8) return read_registers<8, true, FloatSum>;
    if (p.unroll == 16) return read_registers<16, true, FloatSum>;
  }
  throw std::invalid_argument("read probe " + p.name + ": no kernel instantiated for it (read_probes.cu)");
}

BulkKernel bulk_kernel(const ReadProbe& p) {
  return p.shifted_double ? read_bulk<ShiftedDouble> : read_bulk<FloatSum>;
}

int device_attribute(cudaDeviceAttr attribute) {
  int device = 0, value = 0;
  CXR_CUDA_CHECK(cudaGetDevice(&device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&value, attribute, device));
  return value;
}

struct Grid {
  int blocks;
  int64_t chunk;  // float4s a block (chunked and bulk probes)
};

Grid grid_of(const ReadProbe& p, int64_t n) {
  const int64_t quads = n / 4;
  const int sms = device_attribute(cudaDevAttrMultiProcessorCount);
  int per_sm = p.blocks_per_sm;
  if (per_sm == 0) {
    if (p.bulk || p.chunked) throw std::invalid_argument("read probe " + p.name + ": needs blocks_per_sm");
    CXR_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, register_kernel(p), kThreads, 0));
  }
  const int blocks = std::max(1, sms * per_sm);
  return {blocks, (quads + blocks - 1) / blocks};
}

}  // namespace

const std::vector<ReadProbe>& read_probes() {
  static const std::vector<ReadProbe> probes{
      {.name = "regs_u1", .unroll = 1},
      {.name = "regs_u4", .unroll = 4},
      {.name = "regs_u8", .unroll = 8},
      {.name = "regs_u16", .unroll = 16},
      {.name = "regs_u8_double", .unroll = 8, .shifted_double = true},
      // Batch norm's resident kernel: 2 blocks of 256 threads an SM, each block a contiguous chunk.
      {.name = "regs_u8_chunked_2bps", .unroll = 8, .chunked = true, .blocks_per_sm = 2},
      {.name = "regs_u16_chunked_2bps", .unroll = 16, .chunked = true, .blocks_per_sm = 2},
      {.name = "bulk_4x16k_2bps", .bulk = true, .blocks_per_sm = 2, .stages = 4, .tile_bytes = 16384},
      {.name = "bulk_8x16k_1bps", .bulk = true, .blocks_per_sm = 1, .stages = 8, .tile_bytes = 16384},
      {.name = "bulk_4x16k_2bps_double", .bulk = true, .shifted_double = true, .blocks_per_sm = 2, .stages = 4,
       .tile_bytes = 16384},
  };
  return probes;
}

PreparedProbe prepare_read_probe(const ReadProbe& probe, int64_t n) {
  if (n % 4 != 0) throw std::invalid_argument("read probe " + probe.name + ": n must be a multiple of 4");
  const Grid grid = grid_of(probe, n);
  PreparedProbe prepared{probe, n, grid.blocks, grid.chunk, 0};
  if (!probe.bulk) return prepared;
  if (device_attribute(cudaDevAttrComputeCapabilityMajor) < 9)
    throw std::runtime_error("read probe " + probe.name + ": bulk copies need sm_90");
  if (probe.stages > kMaxStages || probe.tile_bytes % 16 != 0)
    throw std::invalid_argument("read probe " + probe.name + ": at most 8 stages of a multiple of 16 bytes");
  const BulkKernel kernel = bulk_kernel(probe);
  prepared.shared_bytes = static_cast<size_t>(probe.stages) * probe.tile_bytes;
  const int shared = static_cast<int>(prepared.shared_bytes);
  CXR_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));
  CXR_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared));
  return prepared;
}

void run_read_probe(const PreparedProbe& p, const float* x, double* partials) {
  if (reinterpret_cast<uintptr_t>(x) % 16 != 0)
    throw std::invalid_argument("read probe " + p.probe.name + ": x must be 16-byte aligned");
  const auto* quads = reinterpret_cast<const float4*>(x);
  const cudaStream_t stream = kernels::cuda::stream();
  if (p.probe.bulk)
    bulk_kernel(p.probe)<<<p.blocks, kThreads, p.shared_bytes, stream>>>(
        quads, p.n / 4, p.chunk, p.probe.stages, p.probe.tile_bytes / static_cast<int>(sizeof(float4)), partials);
  else
    register_kernel(p.probe)<<<p.blocks, kThreads, 0, stream>>>(quads, p.n / 4, p.chunk, partials);
  CXR_CUDA_CHECK_LAST();
}

bool read_probe_timed_out() {
  int flag = 0;
  const int zero = 0;
  CXR_CUDA_CHECK(cudaMemcpyFromSymbol(&flag, g_timed_out, sizeof(int)));
  CXR_CUDA_CHECK(cudaMemcpyToSymbol(g_timed_out, &zero, sizeof(int)));
  return flag != 0;
}

}  // namespace cxr::bench::probes
