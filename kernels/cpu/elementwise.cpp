#include "kernels/elementwise.h"

namespace cxr::kernels::cpu {

void fill(int64_t n, float value, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}
void add(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void accumulate(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}
void scale(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}
void mul(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
void sum(int64_t n, const float* x, float* out) {
  double s = 0.0;  // double accumulation: the CPU result is the reference the GPU is compared with
  for (int64_t i = 0; i < n; ++i) s += x[i];
  *out = static_cast<float>(s);
}

}  // namespace cxr::kernels::cpu
