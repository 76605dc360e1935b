// CUDA optimizer updates (kernels/optim.h). Every operation is an explicitly rounded intrinsic
// (__fadd_rn, __fmul_rn, ...), which nvcc never contracts into an FMA, and sqrt and division are
// IEEE-exact, so each element follows the CPU's float arithmetic step for step: bit-identical.
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/runtime.h"
#include "kernels/optim.h"

namespace cxr::kernels::cuda {
namespace {

struct AdamConstants {
  float alpha, one_minus_b1, one_minus_b2, epsilon;
};

struct AdamLaunch {  // by value: the kernel argument itself carries every tensor's pointers
  AdamTensor tensors[kMaxAdamTensorsPerLaunch];
};

__device__ __forceinline__ void adam_element(const AdamConstants& k, float* param, const float* grad, float* m,
                                             float* v, int64_t i) {
  const float g = grad[i];
  const float mi = __fadd_rn(m[i], __fmul_rn(__fsub_rn(g, m[i]), k.one_minus_b1));
  const float vi = __fadd_rn(v[i], __fmul_rn(__fsub_rn(__fmul_rn(g, g), v[i]), k.one_minus_b2));
  m[i] = mi;
  v[i] = vi;
  // (m * alpha) / (sqrt(v) + eps): TensorFlow's order of operations, as on the CPU.
  param[i] = __fsub_rn(param[i], __fdiv_rn(__fmul_rn(mi, k.alpha), __fadd_rn(__fsqrt_rn(vi), k.epsilon)));
}

// blockIdx.y picks the tensor; the x blocks stride over its elements.
__global__ void adam_multi_kernel(AdamLaunch launch, AdamConstants k) {
  const AdamTensor t = launch.tensors[blockIdx.y];
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < t.n; i += stride)
    adam_element(k, t.param, t.grad, t.m, t.v, i);
}

__global__ void sgd_kernel(int64_t n, float lr, float* param, const float* grad) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    param[i] = __fsub_rn(param[i], __fmul_rn(lr, grad[i]));
}

AdamConstants adam_constants(const AdamParams& p, int64_t t) {  // kernels/cpu/optim.cpp's arithmetic
  if (t < 1) throw std::invalid_argument("adam: step " + std::to_string(t) + " must start at 1");
  const double bias1 = 1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(t));
  const double bias2 = 1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(t));
  return {static_cast<float>(p.lr * std::sqrt(bias2) / bias1), 1.0f - p.beta1, 1.0f - p.beta2, p.epsilon};
}

}  // namespace

void adam_update_multi(const AdamTensor* tensors, int count, const AdamParams& p, int64_t t) {
  const AdamConstants k = adam_constants(p, t);
  for (int first = 0; first < count; first += kMaxAdamTensorsPerLaunch) {
    const int chunk = count - first < kMaxAdamTensorsPerLaunch ? count - first : kMaxAdamTensorsPerLaunch;
    AdamLaunch launch{};
    int64_t largest = 0;
    for (int i = 0; i < chunk; ++i) {
      launch.tensors[i] = tensors[first + i];
      if (launch.tensors[i].n > largest) largest = launch.tensors[i].n;
    }
    if (largest == 0) continue;
    // Enough x blocks for the largest tensor, but about one wave in total across all tensors.
    int blocks_x = detail::grid_size(largest);
    const int per_tensor_cap = (detail::grid_size(int64_t{1} << 40) + chunk - 1) / chunk;
    if (blocks_x > per_tensor_cap) blocks_x = per_tensor_cap < 1 ? 1 : per_tensor_cap;
    adam_multi_kernel<<<dim3(blocks_x, chunk), detail::kBlockThreads, 0, stream()>>>(launch, k);
    CXR_CUDA_CHECK_LAST();
  }
}

void adam_update(int64_t n, const AdamParams& p, int64_t t, float* param, const float* grad, float* m, float* v) {
  const AdamTensor one{param, grad, m, v, n};
  adam_update_multi(&one, 1, p, t);
}

void sgd_update(int64_t n, float lr, float* param, const float* grad) {
  if (n <= 0) return;
  sgd_kernel<<<detail::grid_size(n), detail::kBlockThreads, 0, stream()>>>(n, lr, param, grad);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
