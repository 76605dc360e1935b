// Per-column sums of a row-major float matrix x[rows][cols], in double: the bias gradients of Conv2D
// and Dense, and batch norm's means. The CPU result is the reference the GPU is compared with, hence
// double. Rows go in blocks of kSumRowsPerBlock, each summed in row order on the OpenMP threads
// (kernels/cpu/parallel.h's blocked_sums), then the blocks' partials in block order: the same bits on
// any thread count.
#pragma once

#include <cstdint>

namespace cxr::kernels::cpu {

inline constexpr int64_t kSumRowsPerBlock = 512;  // 32 KiB of x per partial sum at 16 columns

// totals[c] += sum over rows of x[r][c] (the caller zeroes totals).
void add_column_sums(int64_t rows, int cols, const float* x, double* totals);

// out[c] = sum over rows of x[r][c], rounded once to float.
void column_sums(int64_t rows, int cols, const float* x, float* out);

}  // namespace cxr::kernels::cpu
