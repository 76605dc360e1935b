// Custom CUDA convolution (kernels/conv2d.h), NHWC x OHWI, as implicit GEMMs on the tiled SGEMM of
// kernels/cuda/tiled_gemm.cuh: its loaders (kernels/cuda/gemm_loaders.h) read the input as the CPU's
// im2col matrix would hold it, so no column buffer is ever built.
//   forward: y[pixels][K]   = col(x)[pixels][RSC] . w[K][RSC]^T   (+ bias rows)
//   dw:      dw[K][RSC]     = dy[pixels][K]^T . col(x)[pixels][RSC]   (split-K over the pixels)
//   dx:      dx[in_px][C]   = sum over (r, s, k) of dy at the output pixel that saw in_px through
//                             filter tap (r, s), times w[k][r][s][c]: a GEMM with K' = R*S*K.
//   The loaders take pixels and taps apart once per row or k-step, not per element.
#include "kernels/conv2d.h"
#include "kernels/cuda/gemm_loaders.h"
#include "kernels/cuda/tiled_gemm.cuh"

namespace cxr::kernels::cuda {

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (bias_or_null) detail::fill_rows(pixels, s.K, bias_or_null, y);
  detail::launch_tiled_gemm(pixels, s.K, rsc, detail::Im2colA{{s}, x}, detail::MatrixB<true>{w, rsc}, 1.0f,
                            bias_or_null ? 1.0f : 0.0f, y);
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (dbias_or_null) detail::column_sums(pixels, s.K, dy, dbias_or_null);
  if (dw_or_null)
    detail::launch_tiled_gemm(s.K, rsc, pixels, detail::MatrixA<true>{dy, s.K}, detail::Im2colB{{s}, x}, 1.0f,
                              0.0f, dw_or_null);
  if (dx_or_null)
    detail::launch_tiled_gemm(s.N * s.H * s.W, s.C, s.R * s.S * s.K, detail::GradOutputGather{s, dy},
                              detail::WeightTap{s, w}, 1.0f, 0.0f, dx_or_null);
}

}  // namespace cxr::kernels::cuda
