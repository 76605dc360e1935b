#include "kernels/dense.h"

#include <cblas.h>

#include <cstdint>
#include <vector>

namespace cxr::kernels::cpu {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C) {
  const int lda = trans_a ? M : K;
  const int ldb = trans_b ? K : N;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
              A, lda, B, ldb, beta, C, N);
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
  if (dbias_or_null) {
    std::vector<double> sums(out, 0.0);  // double: the CPU result is the reference the GPU is compared with
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < out; ++j) sums[j] += dy[static_cast<int64_t>(b) * out + j];
    for (int j = 0; j < out; ++j) dbias_or_null[j] = static_cast<float>(sums[j]);
  }
}

}  // namespace cxr::kernels::cpu
