// Direct convolution on the CPU: unpadded convolutions (every layer of experiments 1-3, and
// ResNet's, whose padding is an explicit ZeroPadding2D). Each pass is an implicit GEMM whose output
// tile stays in vector registers over the whole reduction, reading the input windows in place: no
// im2col copy, no zeroed col buffer, no col2im. The forward pass takes any such shape with K a
// multiple of 8 (over 1 MB of weights it blocks like a GEMM instead: the tiles go through y every
// 256 taps, off copied windows and packed weights); the gradients only weights up to 1 MB, not 1x1.
// kernels/cpu/conv2d.cpp, which calls these, runs the rest through im2col + OpenBLAS.
#pragma once
#include "kernels/conv2d.h"

namespace cxr::kernels::cpu::direct {

// Whether the direct kernels handle this shape's weight gradient: unpadded, not 1x1, K a multiple of
// 8, at most 262,144 weights.
bool handles(const Conv2dShape& s);
// Its forward pass takes any unpadded shape with K a multiple of 8: 1x1 and large weights too.
bool handles_forward(const Conv2dShape& s);
// ... and its input gradient, which moves S*C-float filter rows in whole vectors: S*C % 8 == 0 too.
bool handles_input_gradient(const Conv2dShape& s);

// y = conv(x, w) + bias (bias may be null). Same contract as cpu::conv2d_forward.
void forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y);

// The forward's weights packed ahead, for many forwards with the same weights (cpu::conv2d_forward_packed).
// The layout follows the vector width in use (set_avx512): a packing is good only while width agrees.
struct ForwardPacking {
  int64_t floats = 0;  // what pack_forward_weights writes
  int width = 0;       // filters a panel
};
ForwardPacking forward_packing(const Conv2dShape& s);
void pack_forward_weights(const Conv2dShape& s, const float* w, float* packed);
// forward() with weights packed by pack_forward_weights under the same forward_packing(s). The same bits.
void forward_packed(const Conv2dShape& s, const float* x, const float* packed, const float* bias_or_null, float* y);

// dx = the input gradient (OVERWRITTEN), as cpu::conv2d_backward computes it.
void input_gradient(const Conv2dShape& s, const float* w, const float* dy, float* dx);

// dw = the weight gradient (OVERWRITTEN), as cpu::conv2d_backward computes it.
void weight_gradient(const Conv2dShape& s, const float* x, const float* dy, float* dw);

// The kernels of 16-float vectors (AVX-512), where the CPU runs x86-64-v4 and unless turned off
// (set_avx512(false), or CXR_CPU_AVX512=0 in the environment); the 8-float ones otherwise. The same
// bits either way: the choice only changes the time.
void set_avx512(bool allowed);
bool avx512();  // whether the 16-float kernels run

}  // namespace cxr::kernels::cpu::direct
