// CUDA twin of kernels/cpu/global_pool.cpp. Forward: one thread per (image, channel) sums the H*W
// positions in the CPU's order (neighbouring threads read neighbouring channels, so loads are
// coalesced), then divides: bit-identical to the CPU. The backward is elementwise.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/global_pool.h"

namespace cxr::kernels::cuda {
namespace {

__global__ void gap_forward_kernel(int N, int HW, int C, const float* x, float* y) {
  const int64_t total = int64_t{N} * C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t n = i / C, c = i % C;
    const float* img = x + n * HW * C + c;
    float acc = 0.0f;
    for (int64_t p = 0; p < HW; ++p) acc += img[p * C];
    y[i] = acc / static_cast<float>(HW);
  }
}

__global__ void gap_backward_kernel(int N, int HW, int C, const float* dy, float* dx) {
  const int64_t total = int64_t{N} * HW * C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t c = i % C, n = i / (int64_t{HW} * C);
    dx[i] = dy[n * C + c] / static_cast<float>(HW);
  }
}

}  // namespace

void global_avg_pool2d_forward(int N, int HW, int C, const float* x, float* y) {
  const int64_t total = int64_t{N} * C;
  if (total <= 0) return;
  gap_forward_kernel<<<detail::grid_size(total), detail::kBlockThreads, 0, stream()>>>(N, HW, C, x, y);
  CXR_CUDA_CHECK_LAST();
}

void global_avg_pool2d_backward(int N, int HW, int C, const float* dy, float* dx) {
  const int64_t total = int64_t{N} * HW * C;
  if (total <= 0) return;
  gap_backward_kernel<<<detail::grid_size(total), detail::kBlockThreads, 0, stream()>>>(N, HW, C, dy, dx);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
