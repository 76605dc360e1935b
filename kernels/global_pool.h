// GlobalAveragePooling2D, NHWC: y[n][c] = mean over h, w of x[n][h][w][c] (Keras: reduce_mean over
// axes 1 and 2). The sum runs over positions in row-major order in float, then divides by H*W, on
// both devices, so CPU and CUDA agree bit for bit. Conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
void global_avg_pool2d_forward(int N, int HW, int C, const float* x, float* y);     // y [N][C]
void global_avg_pool2d_backward(int N, int HW, int C, const float* dy, float* dx);  // dx OVERWRITTEN: dy/HW
}  // namespace cpu
namespace cuda {
void global_avg_pool2d_forward(int N, int HW, int C, const float* x, float* y);
void global_avg_pool2d_backward(int N, int HW, int C, const float* dy, float* dx);
}  // namespace cuda
}  // namespace cxr::kernels
