// The maps split their elements into ranges over the OpenMP threads (kernels/cpu/parallel.h): each
// element is computed alone, so the bits do not depend on the thread count. The loops stay in plain
// functions of raw pointers, called once per range, so GCC vectorises them as before.
#include "kernels/elementwise.h"

#include "kernels/cpu/parallel.h"

namespace cxr::kernels::cpu {
namespace {

void fill_range(int64_t n, float value, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}
void add_range(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
void accumulate_range(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}
void scale_range(int64_t n, float alpha, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}
void mul_range(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

}  // namespace

void fill(int64_t n, float value, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { fill_range(e - b, value, y + b); });
}
void add(int64_t n, const float* a, const float* b, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t i0, int64_t i1) { add_range(i1 - i0, a + i0, b + i0, y + i0); });
}
void accumulate(int64_t n, const float* x, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { accumulate_range(e - b, x + b, y + b); });
}
void scale(int64_t n, float alpha, const float* x, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { scale_range(e - b, alpha, x + b, y + b); });
}
void mul(int64_t n, const float* a, const float* b, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t i0, int64_t i1) { mul_range(i1 - i0, a + i0, b + i0, y + i0); });
}

// One sequential pass: no training step sums a large tensor with it, and a split would need a fixed
// blocking (so new bits) to stay independent of the thread count.
void sum(int64_t n, const float* x, float* out) {
  double s = 0.0;  // double accumulation: the CPU result is the reference the GPU is compared with
  for (int64_t i = 0; i < n; ++i) s += x[i];
  *out = static_cast<float>(s);
}

}  // namespace cxr::kernels::cpu
