// cuBLAS twins of the custom GEMM and Dense (kernels/dense.h, namespace vendor). cuBLAS is
// column-major; a row-major C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the
// operands are passed swapped, each with its row-major leading dimension. Plain FP32 unless
// TF32 is allowed (kernels/cuda/vendor.h).
#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_helpers.h"
#include "kernels/cuda/vendor.h"
#include "kernels/cuda/vendor_handles.h"
#include "kernels/dense.h"

namespace cxr::kernels::vendor {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C) {
  if (M <= 0 || N <= 0) return;
  cublasHandle_t handle = cuda::detail::cublas_handle();
  CXR_CUBLAS_CHECK(cublasSetMathMode(handle, settings().allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  const int lda = trans_a ? M : K, ldb = trans_b ? K : N;
  CXR_CUBLAS_CHECK(cublasSgemm(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, N, M,
                               K, &alpha, B, ldb, A, lda, &beta, C, N));
}

void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y) {
  if (bias_or_null) cuda::detail::fill_rows(B, out, bias_or_null, y);
  sgemm(false, false, B, out, in, 1.0f, x, w, bias_or_null ? 1.0f : 0.0f, y);
}

void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null) {
  if (dx_or_null) sgemm(false, true, B, in, out, 1.0f, dy, w, 0.0f, dx_or_null);
  if (dw_or_null) sgemm(true, false, in, out, B, 1.0f, x, dy, 0.0f, dw_or_null);
  if (dbias_or_null) cuda::detail::column_sums(B, out, dy, dbias_or_null);  // deterministic, double sums
}

}  // namespace cxr::kernels::vendor
