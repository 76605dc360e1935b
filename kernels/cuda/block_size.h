// How the caching allocator rounds a request to a block size. Requests of the same tensor shape land
// in the same size class, so a block freed by one training step is found again by the next.
//   - up to 1 MiB: multiples of 512 B (small tensors: biases, BN statistics, loss scalars);
//   - above 1 MiB: four classes per power of two (1.25, 1.5, 1.75, 2 x 2^k), so at most 25% of a
//     large block is slack, against 50% for plain power-of-two buckets.
// Host code only, and free of CUDA, so tests can check it on any machine.
#pragma once

#include <bit>
#include <cstddef>

namespace cxr::kernels::cuda {

inline constexpr size_t kSmallBlockStep = 512;
inline constexpr size_t kLargeBlockThreshold = size_t{1} << 20;

constexpr size_t round_up(size_t value, size_t step) { return (value + step - 1) / step * step; }

// Callers keep `bytes` far below SIZE_MAX (the allocator refuses anything over 2^62 first).
constexpr size_t round_block_size(size_t bytes) {
  if (bytes <= kLargeBlockThreshold) return round_up(bytes == 0 ? 1 : bytes, kSmallBlockStep);
  const size_t octave = std::bit_floor(bytes - 1);  // octave < bytes <= 2 * octave
  return round_up(bytes, octave / 4);
}

}  // namespace cxr::kernels::cuda
