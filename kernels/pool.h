// 2-D max pooling, NHWC. Same conventions as kernels/activation.h.
#pragma once

#include "kernels/conv2d.h"  // tf_window_padding: pooling pads by the same TensorFlow rule

namespace cxr::kernels {

struct Pool2dShape {
  int N, H, W, C;  // input [N][H][W][C]
  int ph, pw;      // pool window
  int sh, sw;      // strides
  int pad_top, pad_left, pad_bottom, pad_right;
  int OH, OW;  // output [N][OH][OW][C]
};

// Keras's MaxPooling2D: pass the pool size as the strides for its default (strides=None).
// Throws std::invalid_argument when a size is not positive or the output would be empty.
Pool2dShape make_pool2d_shape(int N, int H, int W, int C, int ph, int pw, int sh, int sw, bool same_padding);

namespace cpu {
// Padded positions never win (they act as -inf); with TensorFlow's padding every window holds at
// least one real pixel.
void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y);
// dx is OVERWRITTEN. Each window's gradient goes to its FIRST maximum in row-major scan order (ties
// and all); overlapping windows add onto the same pixel.
void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx);
}  // namespace cpu

namespace cuda {  // kernels/cuda/pool.cu; same tie rule, and backward gathers so sums match the CPU's order
void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y);
void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* dy, float* dx);
}  // namespace cuda

namespace vendor {  // cuDNN (kernels/cuda/cudnn_pool.cpp); asymmetric 'same' padding falls back to cuda::
void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y);
// y is the forward's output, which cuDNN's backward reads to find each window's maximum.
void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* y, const float* dy, float* dx);
}  // namespace vendor

}  // namespace cxr::kernels
