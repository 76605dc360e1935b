// One grid-stride kernel for every elementwise op: y[i] = op(a[i], b[i]) with 0, 1 or 2 inputs.
// An op is a small struct with `__device__ float operator()(float a, float b) const`; inputs it
// does not have arrive as 0. Outputs may alias inputs at the same index (accumulate: y = y + x).
//
// These kernels are memory-bound: when every pointer is 16-byte aligned (always true for whole
// tensors from device_alloc) each thread moves float4s, so a warp issues 512-byte loads, two rounds
// of the grid-stride loop at a time; otherwise, and for the last n % 4 elements, one float per thread.
#pragma once

#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda::detail {

// An op's missing inputs read as 0 without touching memory (their pointers are null).
template <bool kPresent>
__device__ __forceinline__ float load_input(const float* p, int64_t i) {
  if constexpr (kPresent) return p[i];
  return 0.0f;
}

template <bool kPresent>
__device__ __forceinline__ float4 load_input4(const float* p, int64_t i) {
  if constexpr (kPresent) return reinterpret_cast<const float4*>(p)[i];
  return make_float4(0.0f, 0.0f, 0.0f, 0.0f);
}

template <int kInputs, class Op>
__global__ void map_kernel(int64_t n, const float* a, const float* b, float* y, Op op, bool vectorized) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  int64_t scalar_start = 0;
  if (vectorized) {
    const int64_t quads = n / 4;
    const auto apply = [&](float4 av, float4 bv) {
      return make_float4(op(av.x, bv.x), op(av.y, bv.y), op(av.z, bv.z), op(av.w, bv.w));
    };
    // Two quads per round, both loaded before either is stored, so that each thread keeps twice the
    // bytes in flight (the compiler may not move a load above a store to y by itself: y may be a).
    int64_t q = first;
    for (; q + stride < quads; q += 2 * stride) {
      const float4 a0 = load_input4<(kInputs >= 1)>(a, q), a1 = load_input4<(kInputs >= 1)>(a, q + stride);
      const float4 b0 = load_input4<(kInputs >= 2)>(b, q), b1 = load_input4<(kInputs >= 2)>(b, q + stride);
      reinterpret_cast<float4*>(y)[q] = apply(a0, b0);
      reinterpret_cast<float4*>(y)[q + stride] = apply(a1, b1);
    }
    if (q < quads)
      reinterpret_cast<float4*>(y)[q] = apply(load_input4<(kInputs >= 1)>(a, q), load_input4<(kInputs >= 2)>(b, q));
    scalar_start = quads * 4;
  }
  for (int64_t i = scalar_start + first; i < n; i += stride)
    y[i] = op(load_input<(kInputs >= 1)>(a, i), load_input<(kInputs >= 2)>(b, i));
}

// Queues y = op(a, b) on stream(); does nothing for n <= 0.
template <int kInputs, class Op>
void launch_map(int64_t n, const float* a, const float* b, float* y, Op op) {
  static_assert(kInputs >= 0 && kInputs <= 2, "an elementwise op reads 0, 1 or 2 tensors");
  if (n <= 0) return;
  const bool vectorized = aligned16(a) && aligned16(b) && aligned16(y);
  const int blocks = grid_size(vectorized ? (n + 3) / 4 : n);
  map_kernel<kInputs><<<blocks, kBlockThreads, 0, stream()>>>(n, a, b, y, op, vectorized);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda::detail
