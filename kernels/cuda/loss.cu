// CUDA binary cross-entropy on logits and binary accuracy (kernels/loss.h). Batches are small (the
// model's output is [batch, 1]), so each reduction is one block adding in a fixed order: the results
// are deterministic, and nothing is read back to the host.
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/loss.h"

namespace cxr::kernels::cuda {
namespace {

constexpr int kThreads = 256;

// Grid-stride kernels: one thread per element, at most 1024 blocks.
unsigned elementwise_blocks(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1024 ? blocks : 1024);
}

__device__ double block_total(double value) {  // valid in thread 0
  __shared__ double partial[kThreads];
  partial[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  return partial[0];
}

// w may be null (every weight 1.0, which multiplies exactly): the unweighted loss bit for bit.
__global__ void bce_forward_kernel(int64_t n, const float* z, const float* y, const float* w, float* mean_out) {
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const double zi = z[i], yi = y[i], wi = w ? w[i] : 1.0;
    acc += wi * (fmax(zi, 0.0) - zi * yi + log1p(exp(-fabs(zi))));
  }
  const double total = block_total(acc);
  if (threadIdx.x == 0) *mean_out = static_cast<float>(total / static_cast<double>(n));
}

__device__ double sigmoid(double z) {  // never evaluates exp of a large positive number
  const double e = exp(-fabs(z));
  return z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

__global__ void bce_backward_kernel(int64_t n, const float* z, const float* y, const float* w, const float* grad_scale,
                                    float* dz) {
  const double k = static_cast<double>(*grad_scale) / static_cast<double>(n);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double wi = w ? w[i] : 1.0;
    dz[i] = static_cast<float>(k * wi * (sigmoid(z[i]) - y[i]));
  }
}

__global__ void label_weights_kernel(int64_t n, const float* y, float weight0, float weight1, float* w) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    w[i] = y[i] > 0.5f ? weight1 : weight0;
}

__global__ void accuracy_kernel(int64_t n, const float* z, const float* y, unsigned long long* counter) {
  double correct = 0.0;  // counts below 2^53 are exact in double, and block_total is shared
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float e = expf(-fabsf(z[i]));
    const float p = z[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);  // the model's float sigmoid
    correct += (p > 0.5f) == (y[i] > 0.5f) ? 1.0 : 0.0;
  }
  const double total = block_total(correct);
  if (threadIdx.x == 0) *counter += static_cast<unsigned long long>(total);
}

__global__ void accumulate_weighted_kernel(const float* value, double weight, double* sum) {
  *sum += static_cast<double>(*value) * weight;
}

}  // namespace

void bce_logits_forward(int64_t n, const float* z, const float* y, float* mean_out, const float* w) {
  if (n <= 0) return;
  bce_forward_kernel<<<1, kThreads, 0, stream()>>>(n, z, y, w, mean_out);
  CXR_CUDA_CHECK_LAST();
}

void bce_logits_backward(int64_t n, const float* z, const float* y, const float* grad_scale, float* dz,
                         const float* w) {
  if (n <= 0) return;
  bce_backward_kernel<<<elementwise_blocks(n), kThreads, 0, stream()>>>(n, z, y, w, grad_scale, dz);
  CXR_CUDA_CHECK_LAST();
}

void label_weights(int64_t n, const float* y, float weight0, float weight1, float* w) {
  if (n <= 0) return;
  label_weights_kernel<<<elementwise_blocks(n), kThreads, 0, stream()>>>(n, y, weight0, weight1, w);
  CXR_CUDA_CHECK_LAST();
}

void binary_accuracy_count(int64_t n, const float* z, const float* y, unsigned long long* counter) {
  if (n <= 0) return;
  accuracy_kernel<<<1, kThreads, 0, stream()>>>(n, z, y, counter);
  CXR_CUDA_CHECK_LAST();
}

void accumulate_weighted(const float* value, double weight, double* sum) {
  accumulate_weighted_kernel<<<1, 1, 0, stream()>>>(value, weight, sum);
  CXR_CUDA_CHECK_LAST();
}

}  // namespace cxr::kernels::cuda
