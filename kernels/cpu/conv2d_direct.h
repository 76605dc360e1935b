// Direct convolution for a model's first layer: few input channels (RGB) and up to 32 filters,
// unpadded. There im2col + GEMM is at its worst (a 3-channel pixel becomes a 75-float row, and a
// 16-wide GEMM output keeps OpenBLAS near half its speed), while a direct loop keeps a block of
// outputs in vector registers and reads each input once per filter tap. Used by kernels/cpu/conv2d.cpp.
#pragma once
#include "kernels/conv2d.h"

namespace cxr::kernels::cpu::direct {

// Whether the direct kernels handle this shape: C <= 4, K a multiple of 8 up to 32, no padding.
bool handles(const Conv2dShape& s);

// y = conv(x, w) + bias (bias may be null). Same contract as cpu::conv2d_forward.
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y);

// dw = the weight gradient (OVERWRITTEN), as cpu::conv2d_backward computes it.
void weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw);

}  // namespace cxr::kernels::cpu::direct
