// Seeded random integers and permutations from the counter-based Philox generator, so that a shuffle
// depends only on (seed, stream) and never on the standard library (std::shuffle and
// std::uniform_int_distribution differ between libstdc++ and libc++).
#pragma once
#include <cstdint>
#include <vector>

namespace cxr::data {

// Keys that keep the data pipeline's random streams apart when they share one user seed.
inline constexpr uint64_t kShuffleStreamKey = 0x5348'5546'464C'4531ull;  // epoch order
inline constexpr uint64_t kSplitStreamKey = 0x5350'4C49'5453'5452ull;    // validation split
inline constexpr uint64_t kAugmentStreamKey = 0x4155'474D'454E'5431ull;  // augmentation draws

// The i-th 32-bit word of the Philox stream (key, stream); the same layout as kernels::philox_uniform.
uint32_t philox_word(uint64_t key, uint64_t stream, uint64_t i);

// A permutation of 0..n-1 by Fisher-Yates driven by the stream (key, stream).
std::vector<int> seeded_permutation(int n, uint64_t key, uint64_t stream);

}  // namespace cxr::data
