// Each parameter is updated alone, so the elements split into ranges over the OpenMP threads
// (kernels/cpu/parallel.h) with the same bits on any thread count.
#include "kernels/optim.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/cpu/parallel.h"

namespace cxr::kernels::cpu {
namespace {

// Adam's square root and division make it dearer per element than a plain map (SGD), hence a lower
// bound than kMinValuesPerThread (parallel.h).
constexpr int64_t kMinAdamPerThread = 16384;

void adam_range(int64_t n, float alpha, float one_minus_b1, float one_minus_b2, float epsilon, float* param,
                const float* grad, float* m, float* v) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i];
    m[i] += (g - m[i]) * one_minus_b1;
    v[i] += (g * g - v[i]) * one_minus_b2;
    // (m * alpha) / (sqrt(v) + eps): TensorFlow's order of operations in ApplyAdamNonCuda.
    param[i] -= (m[i] * alpha) / (std::sqrt(v[i]) + epsilon);
  }
}

void sgd_range(int64_t n, float lr, float* param, const float* grad) {
  for (int64_t i = 0; i < n; ++i) param[i] -= lr * grad[i];
}

}  // namespace

void adam_update(int64_t n, const AdamParams& p, int64_t t, float* param, const float* grad, float* m, float* v) {
  if (t < 1) throw std::invalid_argument("adam: step " + std::to_string(t) + " must start at 1");
  const double bias1 = 1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(t));
  const double bias2 = 1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(t));
  const float alpha = static_cast<float>(p.lr * std::sqrt(bias2) / bias1);
  const float one_minus_b1 = 1.0f - p.beta1, one_minus_b2 = 1.0f - p.beta2, epsilon = p.epsilon;
  parallel_for(n, kMinAdamPerThread, [=](int64_t b, int64_t e) {
    adam_range(e - b, alpha, one_minus_b1, one_minus_b2, epsilon, param + b, grad + b, m + b, v + b);
  });
}

void sgd_update(int64_t n, float lr, float* param, const float* grad) {
  parallel_for(n, kMinValuesPerThread, [=](int64_t b, int64_t e) { sgd_range(e - b, lr, param + b, grad + b); });
}

}  // namespace cxr::kernels::cpu
