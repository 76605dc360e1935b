// cuda::sum: *out = sum(x), accumulated in double like the CPU reference, written to device memory
// without a host sync (loss and metric sums stay on the GPU until someone reads them).
//
// Deterministic: two passes with no atomics. Pass 1 has each block reduce a fixed share of x into
// one double; pass 2 adds those partials in a fixed order. The number of blocks depends on n alone,
// never on the GPU, and each thread adds its elements in the same order whether it loads them as
// float4 or one by one, so the same input gives the same bits on any GPU. Small inputs (one block)
// skip pass 2.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/elementwise.h"

namespace cxr::kernels::cuda {
namespace {

constexpr int kSumThreads = 256;
constexpr int kWarps = kSumThreads / 32;
constexpr int kMaxSumBlocks = 1024;  // about one full wave on an H100 (132 SMs x 8 blocks)
constexpr int64_t kElementsPerThread = 16;

// The block's total, valid in thread 0.
__device__ double block_sum(double value) {
  __shared__ double warp_sums[kWarps];
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  value = 0.0;
  if (warp == 0) {
    if (lane < kWarps) value = warp_sums[lane];
    for (int offset = 16; offset > 0; offset /= 2) value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  return value;
}

// Thread t adds the quads (4 consecutive elements) t, t + stride, ...; one block writes one partial,
// or the final float when the grid is a single block.
__global__ void sum_pass1(int64_t n, const float* x, bool vectorized, double* partials, float* out) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t quads = (n + 3) / 4;
  double acc = 0.0;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const int64_t i = q * 4;
    if (vectorized && i + 4 <= n) {
      const float4 v = reinterpret_cast<const float4*>(x)[q];
      acc += v.x;
      acc += v.y;
      acc += v.z;
      acc += v.w;
    } else {
      for (int64_t k = i; k < i + 4 && k < n; ++k) acc += x[k];
    }
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) {
    if (gridDim.x == 1)
      *out = static_cast<float>(acc);
    else
      partials[blockIdx.x] = acc;
  }
}

__global__ void sum_pass2(int count, const double* partials, float* out) {
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = static_cast<float>(acc);
}

// The partials' scratch block goes back to the cache once both passes are queued (stream order makes
// that safe), also when a launch check throws.
struct ScratchBlock {
  void* ptr;
  ~ScratchBlock() { device_free(ptr); }
};

}  // namespace

void sum(int64_t n, const float* x, float* out) {
  if (n < 0) n = 0;  // an empty sum, like the CPU loop
  const int64_t wanted = (n + kSumThreads * kElementsPerThread - 1) / (kSumThreads * kElementsPerThread);
  const int blocks = static_cast<int>(wanted < 1 ? 1 : (wanted > kMaxSumBlocks ? kMaxSumBlocks : wanted));
  const bool vectorized = detail::aligned16(x);
  const cudaStream_t s = stream();
  if (blocks == 1) {
    sum_pass1<<<1, kSumThreads, 0, s>>>(n, x, vectorized, nullptr, out);
    CXR_CUDA_CHECK_LAST();
    return;
  }
  ScratchBlock partials{device_alloc(sizeof(double) * static_cast<size_t>(blocks), "sum partials")};
  sum_pass1<<<blocks, kSumThreads, 0, s>>>(n, x, vectorized, static_cast<double*>(partials.ptr), out);
  CXR_CUDA_CHECK_LAST();
  sum_pass2<<<1, kSumThreads, 0, s>>>(blocks, static_cast<const double*>(partials.ptr), out);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
