// CUDA twin of kernels/cpu/zero_pad2d.cpp: one thread per output (forward) or input (backward)
// element in a grid-stride loop. Pure copies, so results are bit-identical to the CPU's.
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/zero_pad2d.h"

namespace cxr::kernels::cuda {
namespace {

__global__ void pad_forward_kernel(Pad2dShape s, const float* x, float* y) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t total = int64_t{s.N} * OH * OW * C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t c = i % C, ow = (i / C) % OW, oh = (i / (C * OW)) % OH, n = i / (C * OW * OH);
    const int64_t h = oh - s.top, w = ow - s.left;
    y[i] = (h >= 0 && h < s.H && w >= 0 && w < s.W) ? x[((n * s.H + h) * s.W + w) * C + c] : 0.0f;
  }
}

__global__ void pad_backward_kernel(Pad2dShape s, const float* dy, float* dx) {
  const int64_t OH = s.OH(), OW = s.OW(), C = s.C;
  const int64_t total = int64_t{s.N} * s.H * s.W * C;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t c = i % C, w = (i / C) % s.W, h = (i / (C * s.W)) % s.H, n = i / (C * s.W * s.H);
    dx[i] = dy[((n * OH + h + s.top) * OW + w + s.left) * C + c];
  }
}

}  // namespace

void zero_pad2d_forward(const Pad2dShape& s, const float* x, float* y) {
  const int64_t total = int64_t{s.N} * s.OH() * s.OW() * s.C;
  if (total <= 0) return;
  pad_forward_kernel<<<detail::grid_size(total), detail::kBlockThreads, 0, stream()>>>(s, x, y);
  CXR_CUDA_CHECK_LAST();
}

void zero_pad2d_backward(const Pad2dShape& s, const float* dy, float* dx) {
  const int64_t total = int64_t{s.N} * s.H * s.W * s.C;
  if (total <= 0) return;
  pad_backward_kernel<<<detail::grid_size(total), detail::kBlockThreads, 0, stream()>>>(s, dy, dx);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
