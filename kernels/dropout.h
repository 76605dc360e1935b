// Inverted dropout with a counter-based mask (kernels/philox.h): element i is kept iff
// philox_uniform(seed, stream, i) >= rate, and y = x * scale * keep with keep in {0, 1} and
// scale = float(1 / (1 - double(rate))), as tf.nn.dropout computes it from Keras's Python-float rate
// (so a dropped NaN or infinity gives NaN, not 0). The mask is a pure function of (seed, stream, i),
// so backward recomputes it instead of storing it, and the CUDA twin draws the very same mask.
// Same conventions as kernels/activation.h.
#pragma once
#include <cstddef>
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
// rate must lie in [0, 1) (std::invalid_argument otherwise); rate 0 copies x.
void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
// dx = dy * mask / (1 - rate) with the mask of the same (seed, stream). dx is OVERWRITTEN.
void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx);
// The same pair with the mask kept (keep[i] = 1 kept, 0 dropped) instead of drawn again: drawing
// Philox words is most of dropout's cost on the CPU, so the engine's CPU path saves n bytes per
// dropout for its backward. Same results bit for bit.
void dropout_forward_keep(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y,
                          uint8_t* keep);
void dropout_backward_keep(int64_t n, float rate, const uint8_t* keep, const float* dy, float* dx);
// Dropout then relu (engine/ops.h's dropout_relu), one pass over memory each way where the two
// kernels made two: y = relu(dropout_forward(x)), a block of elements at a time, and
// dx = y > 0 ? dy * scale : 0. No mask is kept: y > 0 only where the element was kept (a dropped one
// is 0, or NaN for a dropped infinity or NaN, which relu keeps, and NaN > 0 is false), so dx is
// dropout_backward(relu_backward(y, dy)) bit for bit.
void dropout_relu_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
void dropout_relu_backward(int64_t n, float rate, const float* y, const float* dy, float* dx);
}  // namespace cpu

namespace cuda {  // kernels/cuda/dropout.cu: the same Philox words and the same mask, bit for bit
void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx);
// Dropout then relu in one pass (engine/ops/dropout.cpp's dropout_relu): y = relu(dropout(x)), and
// dx = y > 0 ? dy * scale : 0 from y alone, as on the CPU: the two kernels' bits.
void dropout_relu_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
void dropout_relu_backward(int64_t n, float rate, const float* y, const float* dy, float* dx);
}  // namespace cuda

// cuDNN dropout (kernels/cuda/cudnn_dropout.cpp), for `kernels: vendor`. NOT the mask above: cuDNN
// draws it from its own RNG, whose states live in a dropout descriptor cached per (device, rate, seed)
// and seeded from `seed`; the states advance with every forward call, so masks differ from the CPU's
// and the custom kernel's, and from run to run of the same seed once the call sequence differs (a
// resumed run does not replay them: vendor dropout is neither bit-identical nor reproducible across a
// resume). The forward writes its mask into `reserve` (reserve_bytes = dropout_reserve_bytes(n), device
// memory), which the backward reads: keep it from one to the other. Sizes cuDNN's int dimensions cannot
// hold (reserve_bytes 0) run the custom kernel with (seed, stream). A dropped NaN or infinity may come
// out as 0 here (as cuDNN writes it) rather than the custom kernel's NaN.
namespace vendor {
size_t dropout_reserve_bytes(int64_t n);  // 0: n does not fit cuDNN (the custom kernel runs, no reserve)
void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y, void* reserve,
                     size_t reserve_bytes);
void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx,
                      void* reserve, size_t reserve_bytes);  // reserve: read only (cuDNN takes void*)
}  // namespace vendor
}  // namespace cxr::kernels
