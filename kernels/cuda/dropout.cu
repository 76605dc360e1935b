// CUDA dropout (kernels/dropout.h), alone or fused with the relu after it: thread q draws Philox
// counter q, i.e. the words of elements 4q..4q+3, exactly as the CPU numbers them, and applies the
// same integer keep test and the same two multiplies (__fmul_rn: never fused), so masks and outputs
// are bit-identical to the CPU's. Those four elements move as one float4 when the tensors are 16-byte
// aligned (whole tensors always are): four 4-byte accesses at a 16-byte stride issued four times the
// memory instructions for the same bytes. Fusing the relu saves a launch and a pass over the tensor
// each way: experiments 1-3 put a relu after each convolution's dropout.
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

// What a thread does with an element once its keep is drawn: plain dropout, dropout then relu
// (forward), or relu's gradient then dropout's (backward, reading relu's output y). The relu parts are
// activation.cu's ReluForward and ReluBackward (by the output: y > 0 exactly where relu's input was).
enum class Fused { kNone, kReluForward, kReluBackward };

template <Fused kFused>
__device__ __forceinline__ float masked(float v, float y, float scale, float keep) {
  if constexpr (kFused == Fused::kReluBackward) v = y > 0.0f ? v : 0.0f;
  const float out = __fmul_rn(__fmul_rn(v, scale), keep);  // a dropped NaN stays NaN, as on the CPU
  if constexpr (kFused == Fused::kReluForward) return out > 0.0f ? out : 0.0f;
  return out;
}

// vectorized: x, y_relu (when read) and out 16-byte aligned, so element 4q starts a float4 of each.
template <Fused kFused>
__global__ void dropout_kernel(int64_t n, float scale, int32_t threshold, uint64_t seed, uint64_t stream_id,
                               const float* x, const float* y_relu, float* out, bool vectorized) {
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
    if (vectorized && q * 4 + 3 < n) {  // one 16-byte load and store instead of four of 4 bytes
      const float4 v = reinterpret_cast<const float4*>(x)[q];
      const float4 y = kFused == Fused::kReluBackward ? reinterpret_cast<const float4*>(y_relu)[q] : float4{};
      reinterpret_cast<float4*>(out)[q] =
          make_float4(masked<kFused>(v.x, y.x, scale, keep[0]), masked<kFused>(v.y, y.y, scale, keep[1]),
                      masked<kFused>(v.z, y.z, scale, keep[2]), masked<kFused>(v.w, y.w, scale, keep[3]));
      continue;
    }
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t i = q * 4 + k;
      if (i >= n) break;
      out[i] = masked<kFused>(x[i], kFused == Fused::kReluBackward ? y_relu[i] : 0.0f, scale, keep[k]);
    }
  }
}

// x -> out through dropout_kernel<kFused>; y_relu: relu's output, read by kReluBackward only.
template <Fused kFused>
void apply_mask(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, const float* y_relu,
                float* out) {
  if (!(rate >= 0.0f && rate < 1.0f))
    throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
  if (n <= 0) return;
  // The CPU's constants, computed the CPU's way (kernels/cpu/dropout.cpp explains them). Rate 0
  // keeps every element with scale 1: plain dropout copies instead, the fused passes still run.
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  const auto threshold = static_cast<int32_t>(std::ceil(rate * 16777216.0f));
  if constexpr (kFused == Fused::kNone) {
    if (rate == 0.0f) {
      if (x != out) copy_device_to_device(out, x, sizeof(float) * static_cast<size_t>(n));
      return;
    }
  }
  const int64_t quads = (n + 3) / 4;
  const bool vectorized = detail::aligned16(x) && detail::aligned16(y_relu) && detail::aligned16(out);
  dropout_kernel<kFused><<<detail::grid_size(quads), detail::kBlockThreads, 0, stream()>>>(
      n, scale, threshold, seed, stream_id, x, y_relu, out, vectorized);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  apply_mask<Fused::kNone>(n, rate, seed, stream_id, x, nullptr, y);
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* dy, float* dx) {
  apply_mask<Fused::kNone>(n, rate, seed, stream_id, dy, nullptr, dx);
}

void dropout_relu_forward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* x, float* y) {
  apply_mask<Fused::kReluForward>(n, rate, seed, stream_id, x, nullptr, y);
}

void dropout_relu_backward(int64_t n, float rate, uint64_t seed, uint64_t stream_id, const float* y, const float* dy,
                           float* dx) {
  apply_mask<Fused::kReluBackward>(n, rate, seed, stream_id, dy, y, dx);
}

}  // namespace cxr::kernels::cuda
