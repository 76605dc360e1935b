// CUDA dropout (kernels/dropout.h): thread q draws Philox counter q, i.e. the words of elements
// 4q..4q+3, exactly as the CPU numbers them, and applies the same integer keep test and the same two
// multiplies (__fmul_rn: never fused), so masks and outputs are bit-identical to the CPU's. Those four
// elements move as one float4 when x and y are 16-byte aligned (whole tensors always are): four
// 4-byte accesses at a 16-byte stride issued four times the memory instructions for the same bytes.
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/dropout.h"
#include "kernels/philox.h"

namespace cxr::kernels::cuda {
namespace {

// vectorized: x and y 16-byte aligned, so element 4q starts a float4 of each.
__global__ void dropout_kernel(int64_t n, float scale, int32_t threshold, uint64_t seed, uint64_t stream_id,
                               const float* x, float* y, bool vectorized) {
  const int64_t quads = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    const uint64_t counter = static_cast<uint64_t>(q);
    const Philox4x32 ctr{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                          static_cast<uint32_t>(stream_id), static_cast<uint32_t>(stream_id >> 32)}};
    const Philox4x32 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    float keep[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) keep[k] = static_cast<int32_t>(r.v[k] >> 8) >= threshold ? 1.0f : 0.0f;
    // A dropped NaN stays NaN, as on the CPU.
    if (vectorized && q * 4 + 3 < n) {  // one 16-byte load and store instead of four of 4 bytes
      const float4 v = reinterpret_cast<const float4*>(x)[q];
      reinterpret_cast<float4*>(y)[q] =
          make_float4(__fmul_rn(__fmul_rn(v.x, scale), keep[0]), __fmul_rn(__fmul_rn(v.y, scale), keep[1]),
                      __fmul_rn(__fmul_rn(v.z, scale), keep[2]), __fmul_rn(__fmul_rn(v.w, scale), keep[3]));
      continue;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t i = q * 4 + k;
      if (i >= n) break;
      y[i] = __fmul_rn(__fmul_rn(x[i], scale), keep[k]);
    }
  }
}

void apply_mask(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  if (!(rate >= 0.0f && rate < 1.0f))
    throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
  if (n <= 0) return;
  if (rate == 0.0f) {
    if (x != y) copy_device_to_device(y, x, sizeof(float) * static_cast<size_t>(n));
    return;
  }
  // The CPU's constants, computed the CPU's way (kernels/cpu/dropout.cpp explains them).
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  const auto threshold = static_cast<int32_t>(std::ceil(rate * 16777216.0f));
  const int64_t quads = (n + 3) / 4;
  const bool vectorized = detail::aligned16(x) && detail::aligned16(y);
  dropout_kernel<<<detail::grid_size(quads), detail::kBlockThreads, 0, stream()>>>(n, scale, threshold, seed,
                                                                                   stream_id, x, y, vectorized);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  apply_mask(n, rate, seed, stream_id, x, y);
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* dy, float* dx) {
  apply_mask(n, rate, seed, stream_id, dy, dx);
}

}  // namespace cxr::kernels::cuda
