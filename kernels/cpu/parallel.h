// How the CPU kernels use several cores: OpenMP, one pool for the whole program.
//
// Every CPU kernel splits its OUTPUT into disjoint ranges and gives each thread some of them, so no
// two threads write the same value and no sum's order depends on how the work was split: results
// are bit-identical on 1, 2 or 16 threads (tests/kernels/test_parallel*.cpp check it). Reductions
// whose order would depend on the split (a sum over the batch) are split over their outputs instead
// (the im2col weight gradient over its taps) or into fixed-size blocks (the direct convolution's
// weight gradient into 8 blocks of images, whatever the threads), whose partial sums are then added
// in block order. The one exception is a GEMM that
// sgemm (dense.cpp) splits over the threads (Dense layers, 1x1 convolutions, the weight gradient of
// a layer with few pixels): OpenBLAS computes the ragged edge of a matrix with other micro-kernels,
// in another summation order, so an element near a block boundary can differ in its last bits
// between thread counts (aligning the blocks to 64 rows did not avoid it). A run is still bit-for-bit repeatable at a
// given thread count, which is what resuming a checkpoint needs.
//
// OpenBLAS runs single-threaded (set once, at start-up, in dense.cpp): cxrnet's GEMM wrapper splits
// the output matrix over the OpenMP threads itself. Two thread pools on two cores (OpenBLAS's and
// OpenMP's) would spin against each other; small GEMMs (a 21x21 layer is 441 rows) also scale
// better split into row blocks by us than inside OpenBLAS.
//
// The thread count is OpenMP's: OMP_NUM_THREADS, else one per core.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace cxr::kernels::cpu {

// Below this many values per thread a memory-bound pass costs less than the fork/join saves (a few
// microseconds): the threshold every kernel's split uses, in values or in items of values.
constexpr int64_t kMinValuesPerThread = 32768;
inline int64_t min_items_per_thread(int64_t values_per_item) {
  return std::max<int64_t>(1, kMinValuesPerThread / std::max<int64_t>(values_per_item, 1));
}

// The threads a parallel_for may use here: 1 inside another parallel region (no nesting).
inline int cpu_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

// Calls body(begin, end) on disjoint, contiguous, in-order ranges covering [0, n), at most one per
// thread and none shorter than min_per_thread (below that the fork/join costs more than it saves:
// a few microseconds). With one range it runs on the calling thread.
template <typename Body>
void parallel_for(int64_t n, int64_t min_per_thread, Body&& body) {
  if (n <= 0) return;
  const int64_t ranges = std::clamp<int64_t>(n / std::max<int64_t>(min_per_thread, 1), 1, cpu_threads());
  if (ranges == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(static_cast<int>(ranges)) schedule(static, 1)
  for (int64_t r = 0; r < ranges; ++r) body(n * r / ranges, n * (r + 1) / ranges);
}

// Calls body(begin, end) on chunks of `grain` items covering [0, n), handed to the threads as they
// come free (OpenMP's dynamic schedule) rather than split once into equal shares. For long loops of
// equal items: on a shared VM one core often runs ~10% slower than the other for milliseconds at a
// time, and a static split waits for it. Only for bodies whose results do not depend on where the
// chunks fall (each output computed whole within one chunk, in the same order whatever its chunk).
template <typename Body>
void parallel_for_dynamic(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<int64_t>(chunks, cpu_threads()));
  if (threads == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

// A sum over rows that does not depend on the thread count: totals[j] += what add_block(m0, m1,
// partial) adds into its zeroed `width` partial sums for rows [m0, m1), called once per block of
// rows_per_block rows (a constant, never derived from the thread count), the blocks spread over the
// threads, the partials then added in block order on one thread. With a single block this is
// exactly one sequential pass.
template <typename AddBlock>
void blocked_sums(int64_t rows, int64_t rows_per_block, int64_t min_blocks_per_thread, int width,
                  AddBlock&& add_block, double* totals) {
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  std::vector<double> partial(static_cast<size_t>(blocks * width), 0.0);
  parallel_for(blocks, min_blocks_per_thread, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      add_block(b * rows_per_block, std::min(rows, (b + 1) * rows_per_block), partial.data() + b * width);
  });
  for (int64_t b = 0; b < blocks; ++b)
    for (int j = 0; j < width; ++j) totals[j] += partial[static_cast<size_t>(b * width + j)];
}

}  // namespace cxr::kernels::cpu
