#include "kernels/activation.h"

#include <cmath>

namespace cxr::kernels::cpu {

void relu_forward(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

// dy is loaded unconditionally: with the load inside the ?: GCC keeps a branch per element (which
// mispredicts on half of them, ~25x slower on a conv output) instead of vectorising a select.
void relu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i];
    dx[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

// Stable for large |x|: never evaluates exp of a large positive number.
void sigmoid_forward(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    float e = std::exp(-std::fabs(x[i]));
    y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

}  // namespace cxr::kernels::cpu
