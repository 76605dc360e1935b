#include "kernels/cpu/column_sums.h"

#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/target_clones.h"

namespace cxr::kernels::cpu {
namespace {

// sums[c] += x[r][c], rows in order; __restrict so GCC vectorises across the columns (each column's
// additions stay in row order, so every clone gives the same bits).
CXR_TARGET_CLONES("avx2", "default") void add_rows(int64_t rows, int cols, const float* __restrict x,
                                                  double* __restrict sums) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* __restrict row = x + r * cols;
    for (int c = 0; c < cols; ++c) sums[c] += row[c];
  }
}

}  // namespace

void add_column_sums(int64_t rows, int cols, const float* x, double* totals) {
  blocked_sums(
      rows, kSumRowsPerBlock, min_items_per_thread(kSumRowsPerBlock * cols), cols,
      [=](int64_t r0, int64_t r1, double* partial) { add_rows(r1 - r0, cols, x + r0 * cols, partial); }, totals);
}

void column_sums(int64_t rows, int cols, const float* x, float* out) {
  std::vector<double> sums(static_cast<size_t>(cols), 0.0);
  add_column_sums(rows, cols, x, sums.data());
  for (int c = 0; c < cols; ++c) out[c] = static_cast<float>(sums[c]);
}

}  // namespace cxr::kernels::cpu
