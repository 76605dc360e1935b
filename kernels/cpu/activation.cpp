// Each op maps element i to element i, so the elements split into ranges over the OpenMP threads
// (kernels/cpu/parallel.h) with the same bits on any thread count. The loops stay in plain functions
// of raw pointers, called once per range, so GCC vectorises them as before.
#include "kernels/activation.h"

#include <cmath>

#include "kernels/cpu/parallel.h"

namespace cxr::kernels::cpu {
namespace {

// Sigmoid's exp makes it ~10x dearer per element than a memory-bound map, hence a lower bound than
// kMinValuesPerThread (parallel.h).
constexpr int64_t kMinSigmoidPerThread = 4096;

// NaN stays NaN, as in TensorFlow's and PyTorch's relu and cuDNN's (CUDNN_PROPAGATE_NAN): a run
// that diverges shows it, where `x > 0 ? x : 0` would hide the NaN as a zero. -0 becomes +0.
void relu_forward_range(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] <= 0.0f ? 0.0f : x[i];
}

// dy is loaded unconditionally: with the load inside the ?: GCC keeps a branch per element (which
// mispredicts on half of them, ~25x slower on a conv output) instead of vectorising a select.
void relu_backward_range(int64_t n, const float* x, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = dy[i];
    dx[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

// Stable for large |x|: never evaluates exp of a large positive number.
void sigmoid_forward_range(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    float e = std::exp(-std::fabs(x[i]));
    y[i] = x[i] >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
}

void sigmoid_backward_range(int64_t n, const float* y, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

}  // namespace

void relu_forward(int64_t n, const float* x, float* y) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { relu_forward_range(e - b, x + b, y + b); });
}

void relu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { relu_backward_range(e - b, x + b, dy + b, dx + b); });
}

void sigmoid_forward(int64_t n, const float* x, float* y) {
  parallel_for(n, kMinSigmoidPerThread, [=](int64_t b, int64_t e) { sigmoid_forward_range(e - b, x + b, y + b); });
}

void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { sigmoid_backward_range(e - b, y + b, dy + b, dx + b); });
}

}  // namespace cxr::kernels::cpu
