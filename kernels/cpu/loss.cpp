#include "kernels/loss.h"

#include <algorithm>
#include <cmath>

namespace cxr::kernels::cpu {
namespace {

// Never evaluates exp of a large positive number: finite for any finite z.
double sigmoid(double z) {
  const double e = std::exp(-std::fabs(z));
  return z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

// The same formula in float, as the model's sigmoid output that Keras thresholds is a float.
float sigmoid_float(float z) {
  const float e = std::exp(-std::fabs(z));
  return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

}  // namespace

// A weight of 1.0 multiplies exactly, so w == nullptr gives the unweighted results bit for bit.
float bce_logits_forward(int64_t n, const float* z, const float* y, const float* w) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double zi = z[i], yi = y[i], wi = w ? w[i] : 1.0;
    total += wi * (std::max(zi, 0.0) - zi * yi + std::log1p(std::exp(-std::fabs(zi))));
  }
  return static_cast<float>(total / static_cast<double>(n));
}

void bce_logits_backward(int64_t n, const float* z, const float* y, float grad_scale, float* dz, const float* w) {
  const double k = static_cast<double>(grad_scale) / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0;
    dz[i] = static_cast<float>(k * wi * (sigmoid(z[i]) - y[i]));
  }
}

int64_t binary_accuracy_count(int64_t n, const float* z, const float* y) {
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) correct += (sigmoid_float(z[i]) > 0.5f) == (y[i] > 0.5f);
  return correct;
}

void label_weights(int64_t n, const float* y, float weight0, float weight1, float* w) {
  for (int64_t i = 0; i < n; ++i) w[i] = y[i] > 0.5f ? weight1 : weight0;
}

}  // namespace cxr::kernels::cpu
