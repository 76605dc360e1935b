// ZeroPadding2D, NHWC: zeros added around each image, possibly unequal on each side (ResNet's
// stem pads 3/3 and 1/1; Keras also allows ((top, bottom), (left, right))). Same conventions as
// kernels/activation.h: CPU pointers are host memory, CUDA ones device memory on stream().
#pragma once
#include <cstdint>

namespace cxr::kernels {

struct Pad2dShape {
  int N, H, W, C;                // input [N][H][W][C]
  int top, bottom, left, right;  // zeros added on each side, all >= 0
  // constexpr: CUDA kernels call these too (built with --expt-relaxed-constexpr).
  constexpr int OH() const { return H + top + bottom; }
  constexpr int OW() const { return W + left + right; }
};

namespace cpu {
void zero_pad2d_forward(const Pad2dShape& s, const float* x, float* y);     // y [N][OH][OW][C]
void zero_pad2d_backward(const Pad2dShape& s, const float* dy, float* dx);  // dx OVERWRITTEN: dy's interior
}  // namespace cpu
namespace cuda {
void zero_pad2d_forward(const Pad2dShape& s, const float* x, float* y);
void zero_pad2d_backward(const Pad2dShape& s, const float* dy, float* dx);
}  // namespace cuda

}  // namespace cxr::kernels
