// Host entry points of small kernels (kernels/cuda/gemm.cu) shared by the custom and the vendor
// paths: bias rows before a GEMM with beta = 1, and deterministic bias gradients.
#pragma once

#include <cstdint>

namespace cxr::kernels::cuda::detail {

// out[c] = sum over rows of x[r][c], accumulated in double in a fixed order.
void column_sums(int64_t rows, int cols, const float* x, float* out);
// y[r][c] = bias[c] for every row.
void fill_rows(int64_t rows, int cols, const float* bias, float* y);

}  // namespace cxr::kernels::cuda::detail
