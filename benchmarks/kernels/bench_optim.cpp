// One Adam step (and one SGD step) over each experiment's trainable parameters (common/shapes.h's
// adam_cases: experiments 1-4 and experiment 4's fine-tuning) as one flat buffer (the engine calls
// the kernel once per tensor, which adds only call overhead). Validated first against the update
// rules of kernels/optim.h in double: every array the step writes (Adam: param, m and v).
#include <cmath>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/optim.h"

namespace cxr::bench {
namespace {

void adam(benchmark::State& state, int64_t n) {
  auto param = random_vector(n, 1);
  const auto grad = random_vector(n, 2);
  auto m = random_vector(n, 3);
  auto v = random_vector(n, 4, 0.0f, 1.0f);
  const kernels::AdamParams p{.lr = 1e-3f};
  std::vector<double> ref(n), ref_m(n), ref_v(n);
  const double alpha = p.lr * std::sqrt(1.0 - p.beta2) / (1.0 - p.beta1);  // t = 1
  for (int64_t i = 0; i < n; ++i) {
    ref_m[i] = m[i] + (grad[i] - m[i]) * (1.0 - p.beta1);
    ref_v[i] = v[i] + (static_cast<double>(grad[i]) * grad[i] - v[i]) * (1.0 - p.beta2);
    ref[i] = param[i] - ref_m[i] * alpha / (std::sqrt(ref_v[i]) + p.epsilon);
  }
  kernels::cpu::adam_update(n, p, 1, param.data(), grad.data(), m.data(), v.data());
  if (!matches(state, "param", ref, param, 1e-6, 1e-5) || !matches(state, "m", ref_m, m, 1e-7, 1e-6) ||
      !matches(state, "v", ref_v, v, 1e-7, 1e-6))
    return;
  int64_t t = 1;
  // Reads param, grad, m, v; writes param, m, v.
  time_cpu(state, {0, 28.0 * static_cast<double>(n)},
           [&] { kernels::cpu::adam_update(n, p, ++t, param.data(), grad.data(), m.data(), v.data()); });
}

void sgd(benchmark::State& state, int64_t n) {
  auto param = random_vector(n, 1);
  const auto grad = random_vector(n, 2);
  const float lr = 0.01f;
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = param[i] - static_cast<double>(lr) * grad[i];
  kernels::cpu::sgd_update(n, lr, param.data(), grad.data());
  if (!matches(state, "param", ref, param, 1e-6, 1e-6)) return;
  // Reads param and grad; writes param.
  time_cpu(state, {0, 12.0 * static_cast<double>(n)},
           [&] { kernels::cpu::sgd_update(n, lr, param.data(), grad.data()); });
}

const bool registered = [] {
  for (const ParamsCase& c : adam_cases()) {
    add(std::string("adam/") + c.name, [n = c.n](benchmark::State& st) { adam(st, n); });
    add(std::string("sgd/") + c.name, [n = c.n](benchmark::State& st) { sgd(st, n); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
