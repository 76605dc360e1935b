// Fully connected layer and the row-major GEMM it (and the CPU convolution) is built on.
// Weights [in][out] as Keras stores them, bias [out]. Same conventions as kernels/activation.h.
#pragma once

namespace cxr::kernels {
namespace cpu {
// Row-major C[M][N] = alpha * op(A) * op(B) + beta * C, op(A) being M x K and op(B) K x N.
// A is stored [M][K], or [K][M] when trans_a; B is stored [K][N], or [N][K] when trans_b.
// When beta == 0, C is not read (BLAS semantics), so it may hold garbage.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C);

// y[B][out] = x[B][in] . w[in][out] + bias. bias_or_null may be null.
void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y);
// dx = dy . w^T, dw = x^T . dy, dbias = column sums of dy. Each non-null output is OVERWRITTEN.
void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null);
}  // namespace cpu

namespace cuda {  // custom tiled SGEMM (kernels/cuda/gemm.cu); queued on stream(), never synchronised
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C);
void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y);
void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null);
// The tiled kernel's layout for a product of at most 32 columns (the custom convolution's too:
// kernels/cuda/tiled_gemm.cuh, tall_tiles): 128-row tiles with 32 x 8 threads when there are enough
// rows (kAuto), always where it applies (kAlways: tests), or never (kNever: the 16 x 16 layout's
// 64-row tiles, to compare). The same sums in the same order either way. kAuto unless the
// environment has CXR_GEMM_TALL_TILES=0.
enum class TallTiles { kAuto, kNever, kAlways };
void set_gemm_tall_tiles(TallTiles mode);
TallTiles gemm_tall_tiles();
}  // namespace cuda

namespace vendor {  // cuBLAS (kernels/cuda/cublas_gemm.cpp), row-major through swapped operands
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
           float* C);
void dense_forward(int B, int in, int out, const float* x, const float* w, const float* bias_or_null, float* y);
void dense_backward(int B, int in, int out, const float* x, const float* w, const float* dy, float* dx_or_null,
                    float* dw_or_null, float* dbias_or_null);
}  // namespace vendor
}  // namespace cxr::kernels
