// Binary cross-entropy on logits (forward, backward) and binary accuracy on one batch of 32
// logits, what every training step computes, and on 1M to see the per-element cost; the per-sample
// weights a class_weight gathers by label (label_weights). Validated first against the formulas of
// kernels/loss.h.
#include <algorithm>
#include <cmath>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/loss.h"

namespace cxr::bench {
namespace {

std::vector<float> labels(int64_t n) {
  std::vector<float> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(i % 2);
  return y;
}

double loss_of(double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z))); }

void forward(benchmark::State& state, int64_t n) {
  const auto z = random_vector(n, 1, -4.0f, 4.0f), y = labels(n);
  double ref = 0;
  for (int64_t i = 0; i < n; ++i) ref += loss_of(z[i], y[i]);
  const float got = kernels::cpu::bce_logits_forward(n, z.data(), y.data());
  if (!matches(state, "loss", std::vector<double>{ref / static_cast<double>(n)}, std::vector<float>{got}, 1e-6, 1e-6))
    return;
  time_cpu(state, {0, 8.0 * static_cast<double>(n)},
           [&] { benchmark::DoNotOptimize(kernels::cpu::bce_logits_forward(n, z.data(), y.data())); });
}

void backward(benchmark::State& state, int64_t n) {
  const auto z = random_vector(n, 1, -4.0f, 4.0f), y = labels(n);
  std::vector<float> dz(n);
  kernels::cpu::bce_logits_backward(n, z.data(), y.data(), 1.0f, dz.data());
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = (1.0 / (1.0 + std::exp(-static_cast<double>(z[i]))) - y[i]) / static_cast<double>(n);
  // Relative: every dz is (p - y) / n, at least sigmoid(-4) / n (1.8e-8 at n = 1M), where an absolute
  // 1e-7 let each be 20% off.
  if (!matches(state, "dz", ref, dz, 1e-13, 1e-5)) return;
  time_cpu(state, {0, 12.0 * static_cast<double>(n)},
           [&] { kernels::cpu::bce_logits_backward(n, z.data(), y.data(), 1.0f, dz.data()); });
}

void accuracy(benchmark::State& state, int64_t n) {
  const auto z = random_vector(n, 1, -4.0f, 4.0f), y = labels(n);
  int64_t ref = 0;
  for (int64_t i = 0; i < n; ++i) ref += (z[i] > 0.0f) == (y[i] > 0.5f);
  const int64_t got = kernels::cpu::binary_accuracy_count(n, z.data(), y.data());
  if (!matches(state, "count", std::vector<double>{static_cast<double>(ref)}, std::vector<double>{static_cast<double>(got)},
               0, 0))
    return;
  time_cpu(state, {0, 8.0 * static_cast<double>(n)},
           [&] { benchmark::DoNotOptimize(kernels::cpu::binary_accuracy_count(n, z.data(), y.data())); });
}

// w[i] = weight1 where y[i] > 0.5, else weight0: reads y, writes w.
void weights(benchmark::State& state, int64_t n) {
  const auto y = labels(n);
  const float weight0 = 1.9f, weight1 = 0.67f;  // about balanced weights for this dataset's 1:3 split
  std::vector<float> w(n), ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = y[i] > 0.5f ? weight1 : weight0;
  kernels::cpu::label_weights(n, y.data(), weight0, weight1, w.data());
  if (!matches(state, "w", ref, w, 0, 0)) return;
  time_cpu(state, {0, 8.0 * static_cast<double>(n)},
           [&] { kernels::cpu::label_weights(n, y.data(), weight0, weight1, w.data()); });
}

const bool registered = [] {
  for (int64_t n : {int64_t{kBatch}, int64_t{1} << 20}) {
    const std::string size = "/n" + std::to_string(n);
    add("bce_forward" + size, [n](benchmark::State& st) { forward(st, n); });
    add("bce_backward" + size, [n](benchmark::State& st) { backward(st, n); });
    add("binary_accuracy" + size, [n](benchmark::State& st) { accuracy(st, n); });
    add("label_weights" + size, [n](benchmark::State& st) { weights(st, n); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
