// Written for speed as well as clarity: a naive loop (one branch per element, one Philox call per
// element) ran at ~145 M elements/s; drawing the words of a block first and then masking in a
// branch-free loop that GCC vectorises runs at ~430 M/s on the same machine. Drawing the block's
// Philox words lane-parallel (kernels/cpu/philox_block.h: the same round on many counters at
// once) is another ~3x, and writing those rounds in AVX2 another ~2.5x. The blocks then split over
// the OpenMP threads (kernels/cpu/parallel.h): the mask is counter-based, so a block's words do
// not depend on which thread draws them or in what order.
#include "kernels/dropout.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/dropout_block.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/target_clones.h"
#include "kernels/cpu/philox_block.h"

// The masking loops in AVX2 (8 floats an instruction, 4 in the baseline's SSE2), picked at load time
// where the CPU has it; no FMA, so the same products and the same bits. On experiment 1's first layer
// (4.3 MB, in cache; 2-core Zen 4 VM, 2026-11-26) the backward with a kept mask went from 122-143 to
// 81-83 us, the forward fused with relu from 595-645 to 470-517 us.
#define CXR_MASK_CLONES CXR_TARGET_CLONES("avx2", "default")

namespace cxr::kernels::cpu {
namespace {

constexpr int64_t kBlock = kPhiloxBlockWords;  // Philox words drawn per block: 4 KB, stays in L1
// Blocks per thread at the least, below which the fork/join (a few microseconds) costs more than it
// saves: drawing a block's words takes ~2.5 us, applying a kept mask ~0.25 us.
constexpr int64_t kMinDrawnBlocksPerThread = 4;
constexpr int64_t kMinKeptBlocksPerThread = 32;

int64_t blocks_of(int64_t n) { return (n + kBlock - 1) / kBlock; }

void check_rate(float rate) {
  if (!(rate >= 0.0f && rate < 1.0f))
    throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
}

// Keras passes a Python float to tf.nn.dropout, which forms 1/(1-rate) in double and rounds once.
float scale_of(float rate) { return static_cast<float>(1.0 / (1.0 - static_cast<double>(rate))); }

// uniform01(w) = (w >> 8) * 2^-24 exactly, so uniform01(w) >= rate  <=>  (w >> 8) >= ceil(rate * 2^24)
// (rate * 2^24 is exact too). The integer test keeps the masking loop free of int-to-float work.
int32_t threshold_of(float rate) { return static_cast<int32_t>(std::ceil(rate * 16777216.0f)); }

// y[k] = x[k] * scale * keep, keep being 1.0f or 0.0f built from bits: a float conversion or a ?:
// here would stop GCC from vectorising (with -ftrapping-math it will not if-convert). Multiplying by
// the mask, as tf.nn.dropout does, keeps NaN and infinity visible even where they are dropped.
void scale_by_mask(int64_t len, float scale, const uint32_t* all_ones_if_kept, const float* x, float* y) {
  for (int64_t k = 0; k < len; ++k)
    y[k] = x[k] * scale * std::bit_cast<float>(all_ones_if_kept[k] & 0x3f800000u);  // 0x3f800000 = 1.0f
}

// relu (kernels/cpu/activation.cpp's arithmetic) on a block just written, while it is in L1: the
// fused dropout then relu makes one pass over memory where the two kernels made two.
void relu_in_place(int64_t len, float* y) {
  for (int64_t k = 0; k < len; ++k) y[k] = y[k] <= 0.0f ? 0.0f : y[k];  // NaN stays NaN
}

// One block of apply_mask: elements [base, base + len), len <= kBlock, with x, y and keep_out (when
// not null) pointing at element base. Inlined into each caller, so it runs in the caller's AVX2 clone.
[[gnu::always_inline]] inline void mask_block(int64_t base, int64_t len, float scale, int32_t threshold,
                                              uint64_t seed, uint64_t stream, const float* x, float* y,
                                              uint8_t* keep_out, bool relu) {
  uint32_t words[kBlock];
  // Element i takes word i%4 of counter i/4, exactly as philox_uniform numbers them; base is a
  // multiple of kBlock, so the block's counters start at base/4.
  philox_block(static_cast<uint64_t>(base) >> 2, stream, seed, words);
  for (int64_t k = 0; k < len; ++k)  // each word becomes all ones (kept) or zero (dropped)
    words[k] = 0u - static_cast<uint32_t>(static_cast<int32_t>(words[k] >> 8) >= threshold);
  scale_by_mask(len, scale, words, x, y);
  if (relu) relu_in_place(len, y);
  if (keep_out)
    for (int64_t k = 0; k < len; ++k) keep_out[k] = static_cast<uint8_t>(words[k] & 1u);
}

// Elements [begin, end) of apply_mask, begin a multiple of kBlock. A function of its own, taking
// its pointers as parameters: written inside the parallel_for lambda, GCC left the keep_out loop
// scalar (a uint8_t store may alias anything, the lambda's captures included).
CXR_MASK_CLONES void mask_elements(int64_t begin, int64_t end, float scale, int32_t threshold, uint64_t seed,
                                   uint64_t stream, const float* x, float* y, uint8_t* keep_out, bool relu) {
  for (int64_t base = begin; base < end; base += kBlock)
    mask_block(base, std::min(kBlock, end - base), scale, threshold, seed, stream, x + base, y + base,
               keep_out ? keep_out + base : nullptr, relu);
}

// y[i] = x[i] * scale * keep[i] (then relu when asked). Forward and backward are the same map;
// keep_out, when not null, receives the mask.
void apply_mask(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y, uint8_t* keep_out,
                bool relu = false) {
  check_rate(rate);
  if (rate == 0.0f) {
    std::copy(x, x + n, y);
    if (relu) relu_in_place(n, y);
    if (keep_out) std::fill(keep_out, keep_out + n, uint8_t{1});
    return;
  }
  const float scale = scale_of(rate);
  const int32_t threshold = threshold_of(rate);
  parallel_for(blocks_of(n), kMinDrawnBlocksPerThread, [=](int64_t first_block, int64_t end_block) {
    const int64_t begin = first_block * kBlock, end = std::min(n, end_block * kBlock);
    mask_elements(begin, end, scale, threshold, seed, stream, x, y, keep_out, relu);
  });
}

// Elements [begin, end) of dropout_backward_keep, begin a multiple of kBlock.
CXR_MASK_CLONES void kept_mask_elements(int64_t begin, int64_t end, float rate, float scale, const uint8_t* keep,
                                        const float* dy, float* dx) {
  uint32_t words[kBlock];
  for (int64_t base = begin; base < end; base += kBlock) {
    const int64_t len = std::min(kBlock, end - base);
    for (int64_t k = 0; k < len; ++k) words[k] = 0u - static_cast<uint32_t>(keep[base + k]);
    if (rate == 0.0f) std::copy(dy + base, dy + base + len, dx + base);
    else scale_by_mask(len, scale, words, dy + base, dx + base);
  }
}

// dx = y > 0 ? dy * scale : 0, dropout_relu_backward's elements [0, n): see kernels/dropout.h for
// why y alone tells the kept elements. dy * scale is the two kernels' dy * scale * 1.0f; the zeros
// come from clearing its bits (dropout_block.h): written with a ?:, GCC kept the multiplication
// behind a branch per element (-ftrapping-math), 20x slower. Against the kept-mask backward it
// replaced (same Zen 4 VM): experiment 1's first layer 110-128 -> 71-84 us, experiment 3's
// (31.5 MB) 3.6-5.1 -> 2.0-2.3 ms.
CXR_MASK_CLONES void relu_kept_elements(int64_t n, float scale, const float* y, const float* dy, float* dx) {
  for (int64_t k = 0; k < n; ++k) dx[k] = dropout_relu_gradient(y[k], dy[k], scale);
}

}  // namespace

DropoutMask dropout_mask(float rate, uint64_t seed, uint64_t stream) {
  check_rate(rate);
  return {scale_of(rate), threshold_of(rate), seed, stream};  // rate 0: scale 1, threshold 0 (all kept)
}

CXR_MASK_CLONES void dropout_relu_block(const DropoutMask& mask, int64_t base, int64_t len, const float* x,
                                        float* y) {
  mask_block(base, len, mask.scale, mask.threshold, mask.seed, mask.stream, x, y, nullptr, true);
}

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y) {
  apply_mask(n, rate, seed, stream, x, y, nullptr);
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx) {
  apply_mask(n, rate, seed, stream, dy, dx, nullptr);
}

void dropout_forward_keep(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y,
                          uint8_t* keep) {
  apply_mask(n, rate, seed, stream, x, y, keep);
}

void dropout_backward_keep(int64_t n, float rate, const uint8_t* keep, const float* dy, float* dx) {
  check_rate(rate);
  const float scale = rate == 0.0f ? 1.0f : scale_of(rate);
  parallel_for(blocks_of(n), kMinKeptBlocksPerThread, [=](int64_t first_block, int64_t end_block) {
    kept_mask_elements(first_block * kBlock, std::min(n, end_block * kBlock), rate, scale, keep, dy, dx);
  });
}

void dropout_relu_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y) {
  apply_mask(n, rate, seed, stream, x, y, nullptr, true);
}

void dropout_relu_backward(int64_t n, float rate, const float* y, const float* dy, float* dx) {
  check_rate(rate);
  const float scale = scale_of(rate);  // 1 at rate 0
  parallel_for(n, kMinKeptBlocksPerThread * kBlock, [=](int64_t begin, int64_t end) {
    relu_kept_elements(end - begin, scale, y + begin, dy + begin, dx + begin);
  });
}

}  // namespace cxr::kernels::cpu
