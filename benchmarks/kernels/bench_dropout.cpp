// Dropout over experiment 1's largest activation, 32x46x46x16 (1.08M floats), at rate 0.2.
#include "kernels/dropout.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

constexpr int64_t kN = int64_t{bench::kBatch} * 46 * 46 * 16;

void BM_DropoutForward(benchmark::State& state) {
  const auto x = bench::random_vector(kN);
  std::vector<float> y(kN);
  uint64_t step = 0;
  for (auto _ : state) {
    cpu::dropout_forward(kN, 0.2f, 42, step++, x.data(), y.data());  // a fresh mask every step, as in training
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * kN);
}

void BM_DropoutBackward(benchmark::State& state) {
  const auto dy = bench::random_vector(kN);
  std::vector<float> dx(kN);
  uint64_t step = 0;
  for (auto _ : state) {
    cpu::dropout_backward(kN, 0.2f, 42, step++, dy.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * kN);
}

BENCHMARK(BM_DropoutForward);
BENCHMARK(BM_DropoutBackward);

}  // namespace
}  // namespace cxr::kernels
