// 2-D convolution (cross-correlation, as Keras computes it). Activations NHWC, weights OHWI
// ([K][R][S][C], cuDNN's NHWC filter layout), bias [K]. Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {

// Output size and padding along one axis under TensorFlow's rule, shared by convolution and pooling:
//   valid: out = floor((in - window) / stride) + 1, no padding;
//   same:  out = ceil(in / stride), total pad = max((out-1)*stride + window - in, 0), the odd pixel
//          going to the end (pad_end = total - total/2).
// Throws std::invalid_argument when a size or stride is not positive or the output would be empty.
struct WindowPadding {
  int out, pad_begin, pad_end;
};
WindowPadding tf_window_padding(int in, int window, int stride, bool same_padding);

struct Conv2dShape {
  int N, H, W, C;  // input  [N][H][W][C]
  int K, R, S;     // weight [K][R][S][C]
  int stride_h, stride_w;
  int pad_top, pad_left, pad_bottom, pad_right;
  int OH, OW;  // output [N][OH][OW][K]
};

Conv2dShape make_conv2d_shape(int N, int H, int W, int C, int K, int R, int S, int stride_h, int stride_w,
                              bool same_padding);

namespace cpu {
// y = conv(x, w) + bias. bias_or_null may be null (use_bias=False).
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y);
// Gradients of conv2d_forward. Each non-null output is OVERWRITTEN (the engine accumulates).
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null);

// Weights packed once for many forwards while they stay unchanged (the engine keeps them for frozen
// layers and for evaluation): conv2d_forward packs a layer's weights on every call, 13% of
// experiment 4's frozen ResNet50V2 step. layout names the packing (0: this shape's forward packs
// nothing: padded shapes take im2col); a packing is good only while the layout it was made under
// is the current one (it follows the vector width in use).
struct Conv2dPacking {
  int64_t floats = 0;
  int layout = 0;
};
Conv2dPacking conv2d_forward_packing(const Conv2dShape& s);
void conv2d_pack_forward_weights(const Conv2dShape& s, const float* w, float* packed);
// conv2d_forward with packed = conv2d_pack_forward_weights(s, w) made under the same layout: the same bits.
void conv2d_forward_packed(const Conv2dShape& s, const float* x, const float* packed, const float* bias_or_null,
                           float* y);
}  // namespace cpu

namespace cuda {
// Custom kernels (kernels/cuda/conv2d.cu): implicit GEMM on the tiled SGEMM of
// kernels/cuda/tiled_gemm.cuh; dw uses a deterministic split-K. Queued on stream(), never synchronised.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y);
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null);
// Whether the weight gradient of a small output (at most 32 filters of at most 128 taps x channels: a
// model's first layer) may take its own kernel (kernels/cuda/small_weight_gradient.cuh) rather than
// the tiled GEMM. On unless the environment sets CXR_CONV_SMALL_DW=0; tests and benchmarks set it to
// compare the two.
void set_conv_small_weight_gradient(bool allowed);
bool conv_small_weight_gradient();
// Whether the forward of an input with few channels (stride 1, at most 4 channels, 16 filters, 7 x 7
// taps: a model's first layer) may be computed directly from input tiles in shared memory
// (kernels/cuda/direct_conv_forward.cuh, the same bits) rather than by the implicit GEMM. On unless
// the environment sets CXR_CONV_DIRECT=0.
void set_conv_direct_forward(bool allowed);
bool conv_direct_forward();
}  // namespace cuda

namespace vendor {
// cuDNN (kernels/cuda/cudnn_conv2d.cpp): the algorithm of each direction is found once per shape
// and cached (kernels/cuda/vendor.h has the workspace cap, the deterministic switch and TF32).
// Shapes cuDNN cannot express (TensorFlow's asymmetric 'same' padding) fall back to cuda::.
void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y);
void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null);
// How many directions (forward, input gradient, weight gradient) these two have run on the custom
// kernels since the process started: a shape cuDNN cannot express, or one for which it offered no
// algorithm within the settings. A benchmark labelled "vendor" checks it, so that it never times the
// custom kernel under cuDNN's name.
int64_t conv2d_custom_fallbacks();
}  // namespace vendor

}  // namespace cxr::kernels
