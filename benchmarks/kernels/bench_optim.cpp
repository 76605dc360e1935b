// One optimizer step over experiment 1's 131,329 trainable parameters (keras-facts §9), as one flat
// buffer; the engine calls the kernel once per parameter tensor, which adds only call overhead.
#include "kernels/optim.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

constexpr int64_t kParams = 131329;

void BM_AdamUpdate(benchmark::State& state) {
  auto param = bench::random_vector(kParams);
  const auto grad = bench::random_vector(kParams, 2);
  std::vector<float> m(kParams, 0.0f), v(kParams, 0.0f);
  const AdamParams p{.lr = 3e-6f};  // the notebook's learning rate
  int64_t t = 0;
  for (auto _ : state) {
    cpu::adam_update(kParams, p, ++t, param.data(), grad.data(), m.data(), v.data());
    benchmark::DoNotOptimize(param.data());
  }
  state.SetItemsProcessed(state.iterations() * kParams);
}

void BM_SgdUpdate(benchmark::State& state) {
  auto param = bench::random_vector(kParams);
  const auto grad = bench::random_vector(kParams, 2);
  for (auto _ : state) {
    cpu::sgd_update(kParams, 1e-3f, param.data(), grad.data());
    benchmark::DoNotOptimize(param.data());
  }
  state.SetItemsProcessed(state.iterations() * kParams);
}

BENCHMARK(BM_AdamUpdate);
BENCHMARK(BM_SgdUpdate);

}  // namespace
}  // namespace cxr::kernels
