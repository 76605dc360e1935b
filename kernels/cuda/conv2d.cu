// Custom CUDA convolution (kernels/conv2d.h), NHWC x OHWI, as implicit GEMMs on the tiled SGEMM of
// kernels/cuda/tiled_gemm.cuh: its loaders (kernels/cuda/gemm_loaders.h) read the input as the CPU's
// im2col matrix would hold it, so no column buffer is ever built.
//   forward: y[pixels][K]   = col(x)[pixels][RSC] . w[K][RSC]^T   (+ bias, in the GEMM's output step;
//            an input of few channels, such as a first layer's, directly: direct_conv_forward.cuh)
//   dw:      dw[K][RSC]     = dy[pixels][K]^T . col(x)[pixels][RSC]   (split-K over the pixels; a
//            small output, such as a first layer's, has its own kernel: small_weight_gradient.cuh)
//   dx:      one GEMM per stride phase (gemm_loaders.h): the input pixels whose row and column leave
//            remainders (ph, pw) by the strides, and the taps that reach them,
//            dx_phase[pixels][C] = sum over (r', s', k) of dy at the output pixel that saw the pixel
//            through tap (ph + stride_h r', pw + stride_w s'), times w[k][r][s][c].
//            Each phase's GEMM writes its rows straight to their pixels of dx. (Tried on an H100,
//            2026-11-27: each phase as a direct convolution of dy with flipped weights, 8 filters a
//            block, all phases in one launch. 278 against the GEMMs' 297 us for experiment 3's second
//            layer, slower for its third, 2-4x slower on experiments 1 and 2's small layers
//            (mostly empty 32 x 32 tiles); training steps 1.0x, 0.83x and 0.63x. docs/gpu-runs.md.)
//   The loaders take pixels and taps apart once per row or k-step, not per element.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/cuda/direct_conv_forward.cuh"
#include "kernels/env_setting.h"
#include "kernels/cuda/gemm_loaders.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/small_weight_gradient.cuh"
#include "kernels/cuda/tiled_gemm.cuh"
#include "kernels/shape_limit.h"

namespace cxr::kernels::cuda {
namespace {

// One GEMM per stride phase, each writing its rows straight to their pixels of dx
// (detail::OutputRows). Stride 1 is one phase of plain rows. A phase holds input pixels only when
// its first row ih0 = (ph - pad_top) mod stride_h is inside the image (and so its column), so the
// phases are visited by their first row and column: min(H, stride_h) x min(W, stride_w) of them,
// where a stride as large as Keras allows (2^31 - 1) would have looped for ever over empty ones.
void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx) {
  const bool strided = s.stride_h > 1 || s.stride_w > 1;
  for (int ih0 = 0; ih0 < std::min(s.H, s.stride_h); ++ih0)
    for (int iw0 = 0; iw0 < std::min(s.W, s.stride_w); ++iw0) {
      const int ph = (ih0 + s.pad_top) % s.stride_h, pw = (iw0 + s.pad_left) % s.stride_w;
      const detail::StridePhase phase = detail::stride_phase(s, ph, pw);
      const int pixels = phase.pixels(s);
      if (pixels == 0) continue;
      detail::OutputRows rows;  // plain
      if (strided) {
        rows.cols = phase.cols;
        rows.rows = phase.rows;
        rows.first = (static_cast<int64_t>(phase.ih0) * s.W + phase.iw0) * s.C;
        rows.image_stride = static_cast<int64_t>(s.H) * s.W * s.C;
        rows.row_stride = static_cast<int64_t>(s.stride_h) * s.W * s.C;
        rows.col_stride = static_cast<int64_t>(s.stride_w) * s.C;
      }
      // No taps (a stride above the filter): K' = 0, and the GEMM writes the phase's zeros.
      detail::launch_tiled_gemm(pixels, s.C, phase.taps_r * phase.taps_s * s.K,
                                detail::PhaseGradOutput{s, phase, dy}, detail::PhaseWeight{s, phase, w}, 1.0f, 0.0f,
                                dx, nullptr, rows);
    }
}

// The im2col loaders keep a window's corner in 16 bits a coordinate (gemm_loaders.h's PixelOrigin).
void check_im2col_side(const Conv2dShape& s) {
  if (s.H > detail::kMaxIm2colSide || s.W > detail::kMaxIm2colSide || s.pad_top > detail::kMaxIm2colSide ||
      s.pad_left > detail::kMaxIm2colSide)
    throw ShapeLimitError("conv2d: the custom CUDA convolution takes inputs (and 'same' padding) up to " +
                          std::to_string(detail::kMaxIm2colSide) + " pixels a side; this one is " +
                          std::to_string(s.H) + " x " + std::to_string(s.W) +
                          " (cuDNN has no such limit except for TensorFlow's uneven 'same' padding, which it "
                          "leaves to this kernel: --kernels vendor, or --device cpu)");
}

EnvSetting g_small_weight_gradient("CXR_CONV_SMALL_DW", 1, 0);
EnvSetting g_direct_forward("CXR_CONV_DIRECT", 1, 0);

}  // namespace

void set_conv_small_weight_gradient(bool allowed) { g_small_weight_gradient.set(allowed ? 1 : 0); }

bool conv_small_weight_gradient() { return g_small_weight_gradient.get() != 0; }

void set_conv_direct_forward(bool allowed) { g_direct_forward.set(allowed ? 1 : 0); }

bool conv_direct_forward() { return g_direct_forward.get() != 0; }

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  check_im2col_side(s);
  if (conv_direct_forward() && detail::direct_conv_forward_fits(s)) {
    detail::direct_conv_forward(s, x, w, bias_or_null, y);
    return;
  }
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  detail::launch_tiled_gemm(pixels, s.K, rsc, detail::Im2colA{{s}, x}, detail::MatrixB<true>{w, rsc}, 1.0f, 0.0f, y,
                            bias_or_null);  // the bias added as each output is written
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  check_im2col_side(s);
  const int pixels = s.N * s.OH * s.OW, rsc = s.R * s.S * s.C;
  if (dbias_or_null) detail::column_sums(pixels, s.K, dy, dbias_or_null);
  if (dw_or_null && conv_small_weight_gradient() && detail::small_weight_gradient_fits(s))
    detail::small_weight_gradient(s, x, dy, dw_or_null);
  else if (dw_or_null)
    detail::launch_tiled_gemm(s.K, rsc, pixels, detail::MatrixA<true>{dy, s.K}, detail::Im2colB{{s}, x}, 1.0f,
                              0.0f, dw_or_null);
  if (dx_or_null) input_gradient(s, w, dy, dx_or_null);
}

}  // namespace cxr::kernels::cuda
