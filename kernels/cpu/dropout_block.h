// The CPU dropout-then-relu, a block of elements at a time, for a kernel that fuses it into a pass
// of its own (kernels/cpu/batchnorm.cpp's batch norm then dropout then relu): the very arithmetic of
// kernels/cpu/dropout.cpp's dropout_relu_forward and dropout_relu_backward, so the fused kernel gives
// their bits.
#pragma once
#include <bit>
#include <cstdint>

#include "kernels/cpu/philox_block.h"

namespace cxr::kernels::cpu {

// What decides an element's fate: kept iff (philox word >> 8) >= threshold, then scaled by scale.
struct DropoutMask {
  float scale = 1.0f;
  int32_t threshold = 0;
  uint64_t seed = 0, stream = 0;
};
// rate in [0, 1) (std::invalid_argument otherwise); rate 0 keeps every element with scale 1.
DropoutMask dropout_mask(float rate, uint64_t seed, uint64_t stream);

// y[k] = relu(x[k] * scale * keep(base + k)) for k < len: elements [base, base + len) of
// dropout_relu_forward, with x and y pointing at element base. base is a multiple of
// kPhiloxBlockWords and len at most kPhiloxBlockWords.
void dropout_relu_block(const DropoutMask& mask, int64_t base, int64_t len, const float* x, float* y);

// One element of dropout_relu_backward: y > 0 ? dy * scale : 0, the zero made by clearing bits (a
// ?: keeps the multiplication behind a branch; a 0/1 factor would turn a dropped infinity into NaN).
[[gnu::always_inline]] inline float dropout_relu_gradient(float y, float dy, float scale) {
  const uint32_t kept = 0u - static_cast<uint32_t>(y > 0.0f);  // all ones where y > 0
  return std::bit_cast<float>(std::bit_cast<uint32_t>(dy * scale) & kept);
}

}  // namespace cxr::kernels::cpu
