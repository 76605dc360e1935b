// CUDA dropout (kernels/dropout.h), alone or fused with the relu after it: thread q draws Philox
// counter q, i.e. the words of elements 4q..4q+3, exactly as the CPU numbers them, and applies the
// same integer keep test and the same two multiplies (kernels/cuda/dropout_mask.cuh, shared with
// batch norm's fused forward), so masks and outputs are bit-identical to the CPU's. Those four
// elements move as one float4 when the tensors are 16-byte aligned (whole tensors always are): four
// 4-byte accesses at a 16-byte stride issued four times the memory instructions for the same bytes.
// Fusing the relu saves a launch and a pass over the tensor each way: experiments 1-3 put a relu
// after each convolution's dropout. The fused backward reads relu's output and draws no words.
#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/dropout_mask.cuh"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/map.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/dropout.h"

namespace cxr::kernels::cuda {
namespace {

using detail::DropoutMask;

// relu_after: dropout then relu (the forward of the fused op), else plain dropout.
template <bool kReluAfter>
__device__ __forceinline__ float masked(float v, float scale, float keep) {
  const float out = detail::dropped(v, scale, keep);
  return kReluAfter ? detail::relu(out) : out;
}

// vectorized: x and out 16-byte aligned, so element 4q starts a float4 of each.
template <bool kReluAfter>
__global__ void dropout_kernel(int64_t n, DropoutMask mask, const float* x, float* out, bool vectorized) {
  const int64_t quads = (n + 3) / 4;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; q < quads; q += stride) {
    float keep[4];
    mask.keeps(static_cast<uint64_t>(q), keep);
    if (vectorized && q * 4 + 3 < n) {  // one 16-byte load and store instead of four of 4 bytes
      const float4 v = reinterpret_cast<const float4*>(x)[q];
      reinterpret_cast<float4*>(out)[q] =
          make_float4(masked<kReluAfter>(v.x, mask.scale, keep[0]), masked<kReluAfter>(v.y, mask.scale, keep[1]),
                      masked<kReluAfter>(v.z, mask.scale, keep[2]), masked<kReluAfter>(v.w, mask.scale, keep[3]));
      continue;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t i = q * 4 + k;
      if (i >= n) break;
      out[i] = masked<kReluAfter>(x[i], mask.scale, keep[k]);
    }
  }
}

// x -> out through dropout_kernel<kReluAfter>.
template <bool kReluAfter>
void apply_mask(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* out) {
  const DropoutMask mask = DropoutMask::of(rate, seed, stream_id);  // checks the rate, even for n = 0
  if (n <= 0) return;
  // Rate 0 keeps every element with scale 1: plain dropout copies instead, the fused pass still runs.
  if (!kReluAfter && rate == 0.0f) {
    if (x != out) copy_device_to_device(out, x, sizeof(float) * static_cast<size_t>(n));
    return;
  }
  const int64_t quads = (n + 3) / 4;
  const bool vectorized = detail::aligned16(x) && detail::aligned16(out);
  dropout_kernel<kReluAfter><<<detail::grid_size(quads), detail::kBlockThreads, 0, stream()>>>(n, mask, x, out,
                                                                                             vectorized);
  CXR_CUDA_CHECK_LAST();
}

struct DropoutReluGradient {  // dx = y > 0 ? dy * scale : 0, from relu's output y
  float scale;
  __device__ float operator()(float y, float dy) const { return detail::dropout_relu_gradient(y, dy, scale); }
};

}  // namespace

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  apply_mask<false>(n, rate, seed, stream_id, x, y);
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* dy, float* dx) {
  apply_mask<false>(n, rate, seed, stream_id, dy, dx);
}

void dropout_relu_forward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  apply_mask<true>(n, rate, seed, stream_id, x, y);
}

void dropout_relu_backward(int64_t n, float rate, const float* y, const float* dy, float* dx) {
  const float scale = DropoutMask::of(rate, 0, 0).scale;  // checks the rate
  if (n <= 0) return;
  detail::launch_map<2>(n, y, dy, dx, DropoutReluGradient{scale});
}

}  // namespace cxr::kernels::cuda
