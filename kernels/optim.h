// Optimizer updates, in place on flat parameter buffers. Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {

struct AdamParams {
  float lr = 0.001f;  // Keras's defaults (keras-facts §4)
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
};

namespace cpu {
// One Adam step exactly as Keras/TensorFlow apply it (ApplyAdam), t = 1 on the first step:
//   m += (g - m)(1 - beta1);  v += (g^2 - v)(1 - beta2);
//   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)   (computed in double);
//   param -= alpha * m / (sqrt(v) + epsilon).
// epsilon is added to sqrt(v) without bias correction ("epsilon hat"), unlike the paper's form.
void adam_update(int64_t n, const AdamParams& p, int64_t t, float* param, const float* grad, float* m, float* v);
// param -= lr * grad.
void sgd_update(int64_t n, float lr, float* param, const float* grad);
}  // namespace cpu

// One parameter tensor for the fused multi-tensor Adam.
struct AdamTensor {
  float* param;
  const float* grad;
  float* m;
  float* v;
  int64_t n;
};

namespace cuda {  // kernels/cuda/optim.cu: bit-identical to the CPU (no FMA contraction, IEEE sqrt/div)
void adam_update(int64_t n, const AdamParams& p, int64_t t, float* param, const float* grad, float* m, float* v);
// Every tensor in one launch (per kMaxAdamTensorsPerLaunch): the descriptors travel by value as a
// kernel argument, so no upload, no staging buffer, and the launch can be captured in a CUDA graph.
inline constexpr int kMaxAdamTensorsPerLaunch = 80;  // 80 x 44 B stays under the 4 KB argument limit
void adam_update_multi(const AdamTensor* tensors, int count, const AdamParams& p, int64_t t);  // host array
void sgd_update(int64_t n, float lr, float* param, const float* grad);
}  // namespace cuda

}  // namespace cxr::kernels
