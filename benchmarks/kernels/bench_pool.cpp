// Experiment 1's MaxPooling2D: 32x9x9x64 -> 32x4x4x64 (2x2, stride 2, 'valid').
#include "kernels/pool.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

const Pool2dShape kShape = make_pool2d_shape(bench::kBatch, 9, 9, 64, 2, 2, 2, 2, false);
const size_t kInput = static_cast<size_t>(kShape.N) * kShape.H * kShape.W * kShape.C;
const size_t kOutput = static_cast<size_t>(kShape.N) * kShape.OH * kShape.OW * kShape.C;

void BM_MaxPool2dForward(benchmark::State& state) {
  const auto x = bench::random_vector(kInput);
  std::vector<float> y(kOutput);
  for (auto _ : state) {
    cpu::maxpool2d_forward(kShape, x.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kInput));
}

void BM_MaxPool2dBackward(benchmark::State& state) {
  const auto x = bench::random_vector(kInput);
  const auto dy = bench::random_vector(kOutput, 2);
  std::vector<float> dx(kInput);
  for (auto _ : state) {
    cpu::maxpool2d_backward(kShape, x.data(), dy.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kInput));
}

BENCHMARK(BM_MaxPool2dForward);
BENCHMARK(BM_MaxPool2dBackward);

}  // namespace
}  // namespace cxr::kernels
