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

}  // namespace cxr::kernels
