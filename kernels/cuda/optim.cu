// CUDA optimizer updates (kernels/optim.h). Every operation is an explicitly rounded intrinsic
// (__fadd_rn, __fmul_rn, ...), which nvcc never contracts into an FMA, and sqrt and division are
// IEEE-exact, so each element follows the CPU's float arithmetic step for step: bit-identical.
#include <cmath>
#include <cstdint>
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

// Each block updates one chunk of one tensor: kAdamChunk elements, 4 per thread, their loads issued
// together (16 floats in flight per thread) before any arithmetic. Blocks are spread over the
// tensors by size, so a large tensor next to many small ones still gets a block per chunk (the
// first version gave every tensor the same number of blocks, about one wave divided by the tensor
// count: experiment 3's 802,816-weight Dense kernel was updated by some 75 blocks).
constexpr int kAdamPerThread = 4;
constexpr int kAdamChunk = kAdamPerThread * detail::kBlockThreads;

struct AdamLaunch {  // by value: the kernel argument itself carries every tensor's pointers
  AdamTensor tensors[kMaxAdamTensorsPerLaunch];
  int first_block[kMaxAdamTensorsPerLaunch];  // tensor i's chunks are blocks first_block[i] onwards
  int count;
};
static_assert(sizeof(AdamLaunch) + sizeof(AdamConstants) <= 4096, "kernel arguments are limited to 4 KB");

__device__ __forceinline__ float adam_moment(float moment, float target, float one_minus_beta) {
  return __fadd_rn(moment, __fmul_rn(__fsub_rn(target, moment), one_minus_beta));
}

// (m * alpha) / (sqrt(v) + eps): TensorFlow's order of operations, as on the CPU.
__device__ __forceinline__ float adam_param(const AdamConstants& k, float param, float m, float v) {
  return __fsub_rn(param, __fdiv_rn(__fmul_rn(m, k.alpha), __fadd_rn(__fsqrt_rn(v), k.epsilon)));
}

__global__ void adam_multi_kernel(AdamLaunch launch, AdamConstants k) {
  // The block's tensor: the last one whose first block is at or before this one (a tensor with no
  // elements has no blocks, and shares its first_block with the next tensor).
  int lo = 0, hi = launch.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (launch.first_block[mid] <= static_cast<int>(blockIdx.x)) lo = mid;
    else hi = mid - 1;
  }
  const AdamTensor t = launch.tensors[lo];
  const int64_t begin = static_cast<int64_t>(blockIdx.x - launch.first_block[lo]) * kAdamChunk + threadIdx.x;
  float g[kAdamPerThread], m[kAdamPerThread], v[kAdamPerThread], p[kAdamPerThread];
#pragma unroll
  for (int j = 0; j < kAdamPerThread; ++j) {
    const int64_t i = begin + static_cast<int64_t>(j) * blockDim.x;
    if (i < t.n) {
      g[j] = t.grad[i];
      m[j] = t.m[i];
      v[j] = t.v[i];
      p[j] = t.param[i];
    }
  }
#pragma unroll
  for (int j = 0; j < kAdamPerThread; ++j) {
    const int64_t i = begin + static_cast<int64_t>(j) * blockDim.x;
    if (i >= t.n) break;
    const float mi = adam_moment(m[j], g[j], k.one_minus_b1);
    const float vi = adam_moment(v[j], __fmul_rn(g[j], g[j]), k.one_minus_b2);
    t.m[i] = mi;
    t.v[i] = vi;
    t.param[i] = adam_param(k, p[j], mi, vi);
  }
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
    launch.count = chunk;
    int64_t blocks = 0;
    for (int i = 0; i < chunk; ++i) {
      launch.tensors[i] = tensors[first + i];
      launch.first_block[i] = static_cast<int>(blocks);
      blocks += (launch.tensors[i].n + kAdamChunk - 1) / kAdamChunk;
      if (blocks > INT32_MAX)
        throw std::invalid_argument("adam: more than 2^31 - 1 blocks of parameters in one launch");
    }
    if (blocks == 0) continue;
    adam_multi_kernel<<<static_cast<unsigned>(blocks), detail::kBlockThreads, 0, stream()>>>(launch, k);
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
