// One Adam step over experiment 1's and experiment 3's trainable parameters (keras-facts §9) as
// one flat buffer (the engine calls the kernel once per tensor, which adds only call overhead).
// Validated first against the update rule of kernels/optim.h in double.
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
  std::vector<double> ref(n);
  const double alpha = p.lr * std::sqrt(1.0 - p.beta2) / (1.0 - p.beta1);  // t = 1
  for (int64_t i = 0; i < n; ++i) {
    const double mi = m[i] + (grad[i] - m[i]) * (1.0 - p.beta1);
    const double vi = v[i] + (static_cast<double>(grad[i]) * grad[i] - v[i]) * (1.0 - p.beta2);
    ref[i] = param[i] - mi * alpha / (std::sqrt(vi) + p.epsilon);
  }
  kernels::cpu::adam_update(n, p, 1, param.data(), grad.data(), m.data(), v.data());
  if (!matches(state, "param", ref, param, 1e-6, 1e-5)) return;
  int64_t t = 1;
  // Reads param, grad, m, v; writes param, m, v.
  time_cpu(state, {0, 28.0 * static_cast<double>(n)},
           [&] { kernels::cpu::adam_update(n, p, ++t, param.data(), grad.data(), m.data(), v.data()); });
}

const bool registered = [] {
  for (const SizeCase& c : adam_cases())
    add(std::string("adam/") + c.name, [n = c.n](benchmark::State& st) { adam(st, n); });
  return true;
}();

}  // namespace
}  // namespace cxr::bench
