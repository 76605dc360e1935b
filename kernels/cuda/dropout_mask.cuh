// Dropout's mask and arithmetic on the GPU, shared by the dropout kernels (kernels/cuda/dropout.cu)
// and batch norm's resident forward (kernels/cuda/batchnorm_resident.cu), which applies dropout and
// relu to its output before writing it: both draw the same words and multiply the same way, so the
// fused op gives the two ops' bits. Counter q's four Philox words are the keeps of elements
// 4q..4q+3, as the CPU numbers them (kernels/philox.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/philox.h"

namespace cxr::kernels::cuda::detail {

struct DropoutMask {
  float scale;        // float(1 / (1 - double(rate))), as tf.nn.dropout forms it
  int32_t threshold;  // ceil(rate * 2^24): a word is kept iff (word >> 8) >= threshold
  uint64_t seed, stream;

  // The CPU's constants, computed the CPU's way (kernels/cpu/dropout.cpp explains them). rate must
  // lie in [0, 1): std::invalid_argument otherwise, as on the CPU.
  static DropoutMask of(float rate, uint64_t seed, uint64_t stream) {
    if (!(rate >= 0.0f && rate < 1.0f))
      throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
    return {static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))),
            static_cast<int32_t>(std::ceil(rate * 16777216.0f)), seed, stream};
  }

  // keep[k] = 1 or 0 for element 4q + k.
  __device__ __forceinline__ void keeps(uint64_t q, float (&keep)[4]) const {
    const Philox4x32 ctr{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32), static_cast<uint32_t>(stream),
                          static_cast<uint32_t>(stream >> 32)}};
    const Philox4x32 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
#pragma unroll
    for (int k = 0; k < 4; ++k) keep[k] = static_cast<int32_t>(r.v[k] >> 8) >= threshold ? 1.0f : 0.0f;
  }
};

// x * scale * keep (__fmul_rn: never fused into anything else), so a dropped NaN or infinity stays
// NaN, as on the CPU.
__device__ __forceinline__ float dropped(float x, float scale, float keep) { return __fmul_rn(__fmul_rn(x, scale), keep); }

// relu, as kernels/cuda/activation.cu computes it.
__device__ __forceinline__ float relu(float v) { return v <= 0.0f ? 0.0f : v; }  // NaN stays NaN, as on the CPU

// relu(dropout(v)) for the four elements of counter q.
__device__ __forceinline__ float4 dropout_relu4(const DropoutMask& mask, uint64_t q, float4 v) {
  float keep[4];
  mask.keeps(q, keep);
  return make_float4(relu(dropped(v.x, mask.scale, keep[0])), relu(dropped(v.y, mask.scale, keep[1])),
                     relu(dropped(v.z, mask.scale, keep[2])), relu(dropped(v.w, mask.scale, keep[3])));
}

// Dropout-then-relu's gradient from relu's output y: dy * scale where y > 0 (only kept elements are),
// else 0. The same bits as dropout's backward of relu's: y > 0 means keep is 1, and x * 1 is x.
__device__ __forceinline__ float dropout_relu_gradient(float y, float dy, float scale) {
  return y > 0.0f ? __fmul_rn(dy, scale) : 0.0f;
}

}  // namespace cxr::kernels::cuda::detail
