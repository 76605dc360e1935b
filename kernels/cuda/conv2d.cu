// Custom CUDA convolution (kernels/conv2d.h), NHWC x OHWI, as implicit GEMMs on the tiled SGEMM of
// kernels/cuda/tiled_gemm.cuh: its loaders (kernels/cuda/gemm_loaders.h) read the input as the CPU's
// im2col matrix would hold it, so no column buffer is ever built.
//   forward: y[pixels][K]   = col(x)[pixels][RSC] . w[K][RSC]^T   (+ bias, in the GEMM's output step)
//   dw:      dw[K][RSC]     = dy[pixels][K]^T . col(x)[pixels][RSC]   (split-K over the pixels)
//   dx:      one GEMM per stride phase (gemm_loaders.h): the input pixels whose row and column leave
//            remainders (ph, pw) by the strides, and the taps that reach them,
//            dx_phase[pixels][C] = sum over (r', s', k) of dy at the output pixel that saw the pixel
//            through tap (ph + stride_h r', pw + stride_w s'), times w[k][r][s][c].
//            Stride 1: one phase, written straight into dx. Larger strides: each phase in turn is
//            computed into a scratch buffer and scattered into dx.
//   The loaders take pixels and taps apart once per row or k-step, not per element.
#include <algorithm>

#include "kernels/conv2d.h"
#include "kernels/cuda/gemm_loaders.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/tiled_gemm.cuh"

namespace cxr::kernels::cuda {
namespace {

// dx[n][ih0 + stride_h i][iw0 + stride_w j][c] = phase_dx[(n, i, j)][c].
__global__ void scatter_phase_kernel(int64_t count, Conv2dShape s, detail::StridePhase phase, const float* phase_dx,
                                     float* dx) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < count; e += stride) {
    const int64_t m = e / s.C;
    const int c = static_cast<int>(e - m * s.C);
    const int j = static_cast<int>(m % phase.cols);
    const int64_t t = m / phase.cols;
    const int i = static_cast<int>(t % phase.rows), n = static_cast<int>(t / phase.rows);
    const int ih = phase.ih0 + s.stride_h * i, iw = phase.iw0 + s.stride_w * j;
    dx[((static_cast<int64_t>(n) * s.H + ih) * s.W + iw) * s.C + c] = phase_dx[e];
  }
}

void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  if (s.stride_h == 1 && s.stride_w == 1) {  // one phase: every pixel in order, every tap
    const detail::StridePhase phase = detail::stride_phase(s, 0, 0);
    detail::launch_tiled_gemm(phase.pixels(s), s.C, s.R * s.S * s.K, detail::PhaseGradOutput{s, phase, dy},
                              detail::PhaseWeight{s, phase, w}, 1.0f, 0.0f, dx);
    return;
  }
  // One phase at a time in stream order: each phase's GEMM reuses the buffer after the last scatter.
  int64_t largest = 0;
  for (int ph = 0; ph < s.stride_h; ++ph)
    for (int pw = 0; pw < s.stride_w; ++pw)
      largest = std::max<int64_t>(largest, detail::stride_phase(s, ph, pw).pixels(s));
  float* phase_dx = static_cast<float*>(
      device_alloc(sizeof(float) * static_cast<size_t>(largest) * s.C, "conv2d input gradient of a stride phase"));
  struct Release {
    void* p;
    ~Release() { device_free(p); }  // stream order makes the reuse safe, also when a check throws
  } release{phase_dx};
  for (int ph = 0; ph < s.stride_h; ++ph)
    for (int pw = 0; pw < s.stride_w; ++pw) {
      const detail::StridePhase phase = detail::stride_phase(s, ph, pw);
      const int pixels = phase.pixels(s);
      if (pixels == 0) continue;
      // No taps (a stride above the filter): K' = 0, and the GEMM writes the phase's zeros.
      detail::launch_tiled_gemm(pixels, s.C, phase.taps_r * phase.taps_s * s.K,
                                detail::PhaseGradOutput{s, phase, dy}, detail::PhaseWeight{s, phase, w}, 1.0f, 0.0f,
                                phase_dx);
      const int64_t count = static_cast<int64_t>(pixels) * s.C;
      scatter_phase_kernel<<<detail::grid_size(count), detail::kBlockThreads, 0, stream()>>>(count, s, phase,
                                                                                              phase_dx, dx);
      CXR_CUDA_CHECK_LAST();
    }
}

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  detail::launch_tiled_gemm(pixels, s.K, rsc, detail::Im2colA{{s}, x}, detail::MatrixB<true>{w, rsc}, 1.0f, 0.0f, y,
                            bias_or_null);  // the bias added as each output is written
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (dbias_or_null) detail::column_sums(pixels, s.K, dy, dbias_or_null);
  if (dw_or_null)
    detail::launch_tiled_gemm(s.K, rsc, pixels, detail::MatrixA<true>{dy, s.K}, detail::Im2colB{{s}, x}, 1.0f,
                              0.0f, dw_or_null);
  if (dx_or_null) input_gradient(s, w, dy, dx_or_null);
}

}  // namespace cxr::kernels::cuda
