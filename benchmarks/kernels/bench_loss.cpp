// Binary cross-entropy and accuracy on one batch of 32 logits, and on 1M to see the per-element cost.
#include "kernels/loss.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

std::vector<float> labels(int64_t n) {
  std::vector<float> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(i % 2);
  return y;
}

void BM_BceForward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto z = bench::random_vector(n), y = labels(n);
  for (auto _ : state) benchmark::DoNotOptimize(cpu::bce_logits_forward(n, z.data(), y.data()));
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_BceBackward(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto z = bench::random_vector(n), y = labels(n);
  std::vector<float> dz(n);
  for (auto _ : state) {
    cpu::bce_logits_backward(n, z.data(), y.data(), 1.0f, dz.data());
    benchmark::DoNotOptimize(dz.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_BinaryAccuracy(benchmark::State& state) {
  const int64_t n = state.range(0);
  const auto z = bench::random_vector(n), y = labels(n);
  for (auto _ : state) benchmark::DoNotOptimize(cpu::binary_accuracy_count(n, z.data(), y.data()));
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_BceForward)->Arg(bench::kBatch)->Arg(1 << 20);
BENCHMARK(BM_BceBackward)->Arg(bench::kBatch)->Arg(1 << 20);
BENCHMARK(BM_BinaryAccuracy)->Arg(bench::kBatch)->Arg(1 << 20);

}  // namespace
}  // namespace cxr::kernels
