// Inverted dropout with a counter-based mask (kernels/philox.h): element i is kept iff
// philox_uniform(seed, stream, i) >= rate, and y = x * scale * keep with keep in {0, 1} and
// scale = float(1 / (1 - double(rate))), as tf.nn.dropout computes it from Keras's Python-float rate
// (so a dropped NaN or infinity gives NaN, not 0). The mask is a pure function of (seed, stream, i),
// so backward recomputes it instead of storing it, and the CUDA twin draws the very same mask.
// Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
// rate must lie in [0, 1) (std::invalid_argument otherwise); rate 0 copies x.
void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
// dx = dy * mask / (1 - rate) with the mask of the same (seed, stream). dx is OVERWRITTEN.
void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx);
}  // namespace cpu

namespace cuda {  // kernels/cuda/dropout.cu: the same Philox words and the same mask, bit for bit
void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y);
void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx);
}  // namespace cuda
}  // namespace cxr::kernels
