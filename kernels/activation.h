// Activation kernels: one declaration per op, a CPU reference and a CUDA twin with the same signature.
// CPU pointers are host memory; CUDA pointers are device memory and the work is queued on
// cxr::kernels::cuda::stream() (kernels/cuda/runtime.h), never synchronised here.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
void relu_forward(int64_t n, const float* x, float* y);  // y = x <= 0 ? 0 : x: NaN stays NaN, as in TF and cuDNN
void relu_backward(int64_t n, const float* x, const float* dy, float* dx);  // dx = x > 0 ? dy : 0
void sigmoid_forward(int64_t n, const float* x, float* y);
void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx);  // dx = dy * y * (1 - y)
}  // namespace cpu
namespace cuda {
void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* x, const float* dy, float* dx);
void sigmoid_forward(int64_t n, const float* x, float* y);
void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx);
}  // namespace cuda
namespace vendor {  // cuDNN (kernels/cuda/cudnn_activation.cpp); backward takes the forward's x AND y
void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* x, const float* y, const float* dy, float* dx);
void sigmoid_forward(int64_t n, const float* x, float* y);
void sigmoid_backward(int64_t n, const float* x, const float* y, const float* dy, float* dx);
}  // namespace vendor
}  // namespace cxr::kernels
