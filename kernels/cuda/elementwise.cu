// CUDA twins of the elementwise ops of kernels/cpu/elementwise.cpp (sum is in sum.cu). Each is
// one add or multiply, so results are bit-identical to the CPU's.
#include "kernels/cuda/map.cuh"
#include "kernels/elementwise.h"

namespace cxr::kernels::cuda {
namespace {

struct Fill {
  float value;
  __device__ float operator()(float, float) const { return value; }
};
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct Scale {
  float alpha;
  __device__ float operator()(float x, float) const { return alpha * x; }
};
struct Mul {
  __device__ float operator()(float a, float b) const { return a * b; }
};

}  // namespace

void fill(int64_t n, float value, float* y) { detail::launch_map<0>(n, nullptr, nullptr, y, Fill{value}); }

void add(int64_t n, const float* a, const float* b, float* y) { detail::launch_map<2>(n, a, b, y, Add{}); }

// y += x is y = x + y with y read and written at the same index by the same thread.
void accumulate(int64_t n, const float* x, float* y) { detail::launch_map<2>(n, x, y, y, Add{}); }

void scale(int64_t n, float alpha, const float* x, float* y) {
  detail::launch_map<1>(n, x, nullptr, y, Scale{alpha});
}

void mul(int64_t n, const float* a, const float* b, float* y) { detail::launch_map<2>(n, a, b, y, Mul{}); }

}  // namespace cxr::kernels::cuda

namespace cxr::kernels::cuda {
namespace {

__global__ void broadcast_fill_kernel(int64_t n, const float* value, float* y) {
  const float v = *value;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = v;
}

}  // namespace

void broadcast_fill(int64_t n, const float* value, float* y) {
  if (n <= 0) return;
  broadcast_fill_kernel<<<detail::grid_size(n), detail::kBlockThreads, 0, stream()>>>(n, value, y);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
