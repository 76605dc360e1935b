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

// Each block updates one chunk of one tensor, kAdamPerThread elements per thread. When the tensor's
// four arrays are 16-byte aligned (whole tensors from device_alloc always are) a thread moves two
// float4s of each, 256 threads apart, all eight loads issued before any arithmetic; otherwise eight
// single floats. Blocks are spread over the tensors by size, so a large tensor next to many small
// ones still gets a block per chunk (the first version gave every tensor the same number of blocks,
// about one wave divided by the tensor count: experiment 3's 802,816-weight Dense kernel was updated
// by some 75 blocks). With 4 elements a thread in single floats, experiment 3's 868k parameters took
// 848 blocks, 1.3 waves of the 5 blocks an SM held, and 9.8 us in Nsight Compute on an H100
// (2026-11-26; 83% of the copy bandwidth); 8 a thread in float4s is 424 blocks, one wave, and
// took 9.5 us (86%) in the next run: what is left of the 85% target's miss is launch overhead.
constexpr int kAdamQuads = 2;  // float4s per thread and array
constexpr int kAdamPerThread = 4 * kAdamQuads;
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

__device__ __forceinline__ void adam_element(const AdamConstants& k, float g, float& m, float& v, float& p) {
  m = adam_moment(m, g, k.one_minus_b1);
  v = adam_moment(v, __fmul_rn(g, g), k.one_minus_b2);
  p = adam_param(k, p, m, v);
}

__device__ __forceinline__ void adam_quad(const AdamConstants& k, float4 g, float4& m, float4& v, float4& p) {
  adam_element(k, g.x, m.x, v.x, p.x);
  adam_element(k, g.y, m.y, v.y, p.y);
  adam_element(k, g.z, m.z, v.z, p.z);
  adam_element(k, g.w, m.w, v.w, p.w);
}

// Elements [at, at + 4) of a 16-byte aligned tensor, or those of them below t.n, one at a time.
__device__ void adam_tail(const AdamConstants& k, const AdamTensor& t, int64_t at) {
  for (int64_t i = at; i < t.n && i < at + 4; ++i) adam_element(k, t.grad[i], t.m[i], t.v[i], t.param[i]);
}

__device__ bool adam_aligned(const AdamTensor& t) {
  const uintptr_t bits = reinterpret_cast<uintptr_t>(t.param) | reinterpret_cast<uintptr_t>(t.grad) |
                         reinterpret_cast<uintptr_t>(t.m) | reinterpret_cast<uintptr_t>(t.v);
  return bits % 16 == 0;
}

// At most 64 registers (ptxas gave 90 unbounded, and no spills at 64): 4 blocks an SM, so that
// experiment 3's 424 blocks run in one wave of 528.
__global__ void __launch_bounds__(detail::kBlockThreads, 4) adam_multi_kernel(AdamLaunch launch, AdamConstants k) {
  // The block's tensor: the last one whose first block is at or before this one (a tensor with no
  // elements has no blocks, and shares its first_block with the next tensor).
  int lo = 0, hi = launch.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (launch.first_block[mid] <= static_cast<int>(blockIdx.x)) lo = mid;
    else hi = mid - 1;
  }
  const AdamTensor t = launch.tensors[lo];
  const int64_t chunk = static_cast<int64_t>(blockIdx.x - launch.first_block[lo]) * kAdamChunk;
  if (adam_aligned(t)) {
    float4 g[kAdamQuads], m[kAdamQuads], v[kAdamQuads], p[kAdamQuads];
#pragma unroll
    for (int j = 0; j < kAdamQuads; ++j) {
      const int64_t i = chunk + 4 * (threadIdx.x + static_cast<int64_t>(j) * blockDim.x);
      if (i + 3 < t.n) {
        g[j] = *reinterpret_cast<const float4*>(t.grad + i);
        m[j] = *reinterpret_cast<const float4*>(t.m + i);
        v[j] = *reinterpret_cast<const float4*>(t.v + i);
        p[j] = *reinterpret_cast<const float4*>(t.param + i);
      }
    }
#pragma unroll
    for (int j = 0; j < kAdamQuads; ++j) {
      const int64_t i = chunk + 4 * (threadIdx.x + static_cast<int64_t>(j) * blockDim.x);
      if (i + 3 < t.n) {
        adam_quad(k, g[j], m[j], v[j], p[j]);
        *reinterpret_cast<float4*>(t.m + i) = m[j];
        *reinterpret_cast<float4*>(t.v + i) = v[j];
        *reinterpret_cast<float4*>(t.param + i) = p[j];
      } else if (i < t.n) {
        adam_tail(k, t, i);  // the tensor's last n % 4 elements
      }
    }
    return;
  }
  float g[kAdamPerThread], m[kAdamPerThread], v[kAdamPerThread], p[kAdamPerThread];
#pragma unroll
  for (int j = 0; j < kAdamPerThread; ++j) {
    const int64_t i = chunk + threadIdx.x + static_cast<int64_t>(j) * blockDim.x;
    if (i < t.n) {
      g[j] = t.grad[i];
      m[j] = t.m[i];
      v[j] = t.v[i];
      p[j] = t.param[i];
    }
  }
#pragma unroll
  for (int j = 0; j < kAdamPerThread; ++j) {
    const int64_t i = chunk + threadIdx.x + static_cast<int64_t>(j) * blockDim.x;
    if (i >= t.n) break;
    adam_element(k, g[j], m[j], v[j], p[j]);
    t.m[i] = m[j];
    t.v[i] = v[j];
    t.param[i] = p[j];
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
