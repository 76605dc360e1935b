#include "kernels/dense.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/column_sums.h"
#include "kernels/cpu/parallel.h"

namespace cxr::kernels::cpu {
namespace {

// OpenBLAS stays on one thread for the whole program; sgemm below splits the work over OpenMP's
// threads instead (kernels/cpu/parallel.h says why). Set during static initialisation, before main.
const bool openblas_single_threaded = [] {
  openblas_set_num_threads(1);
  return true;
}();

// Below about a million multiply-adds per thread (~30 us on one core) forking costs more than it saves.
constexpr int64_t kMinMacsPerThread = int64_t{1} << 20;

void gemm_block(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
              A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

// Each thread computes a block of C's rows (or of its columns, when C is wider than tall) with a
// single-threaded OpenBLAS call. Elements at a block's edge may differ in their last bits from an
// unsplit product (parallel.h); tests/kernels/test_parallel.cpp bounds the difference.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C) {
  (void)openblas_single_threaded;
  const int lda = trans_a ? M : K;
  const int ldb = trans_b ? K : N;
  const int64_t macs_per_row = std::max<int64_t>(int64_t{N} * K, 1), macs_per_col = std::max<int64_t>(int64_t{M} * K, 1);
  if (M >= N) {
    parallel_for(M, std::max<int64_t>(16, kMinMacsPerThread / macs_per_row), [&](int64_t m0, int64_t m1) {
      const float* A0 = trans_a ? A + m0 : A + m0 * lda;  // rows m0.. of op(A)
      gemm_block(trans_a, trans_b, static_cast<int>(m1 - m0), N, K, alpha, A0, lda, B, ldb, beta, C + m0 * N, N);
    });
  } else {
    parallel_for(N, std::max<int64_t>(16, kMinMacsPerThread / macs_per_col), [&](int64_t n0, int64_t n1) {
      const float* B0 = trans_b ? B + n0 * ldb : B + n0;  // columns n0.. of op(B)
      gemm_block(trans_a, trans_b, M, static_cast<int>(n1 - n0), K, alpha, A, lda, B0, ldb, beta, C + n0, N);
    });
  }
}

void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y) {
  // Start from the bias and let the GEMM add onto it: one pass over y instead of two.
  float beta = 0.0f;
  if (bias_or_null) {
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < out; ++j) y[static_cast<int64_t>(b) * out + j] = bias_or_null[j];
    beta = 1.0f;
  }
  sgemm(false, false, B, out, in, 1.0f, x, w, beta, y);
}

void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null) {
  if (dx_or_null) sgemm(false, true, B, in, out, 1.0f, dy, w, 0.0f, dx_or_null);
  if (dw_or_null) sgemm(true, false, in, out, B, 1.0f, x, dy, 0.0f, dw_or_null);
  if (dbias_or_null) column_sums(B, out, dy, dbias_or_null);
}

}  // namespace cxr::kernels::cpu
