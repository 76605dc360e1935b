// Experiment 1's Dense layers at batch 32 (1024 -> 64 and 64 -> 1), and the plain sgemm wrapper at
// square sizes, the baseline a hand-written GEMM will be compared against.
#include "kernels/dense.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

void BM_DenseForward(benchmark::State& state) {
  const int B = bench::kBatch, in = static_cast<int>(state.range(0)), out = static_cast<int>(state.range(1));
  const auto x = bench::random_vector(static_cast<size_t>(B) * in), w = bench::random_vector(in * out, 2);
  const auto b = bench::random_vector(out, 3);
  std::vector<float> y(static_cast<size_t>(B) * out);
  for (auto _ : state) {
    cpu::dense_forward(B, in, out, x.data(), w.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  bench::set_rate(state, "FLOP/s", 2.0 * B * in * out);
}

void BM_DenseBackward(benchmark::State& state) {
  const int B = bench::kBatch, in = static_cast<int>(state.range(0)), out = static_cast<int>(state.range(1));
  const auto x = bench::random_vector(static_cast<size_t>(B) * in), w = bench::random_vector(in * out, 2);
  const auto dy = bench::random_vector(static_cast<size_t>(B) * out, 3);
  std::vector<float> dx(x.size()), dw(w.size()), db(out);
  for (auto _ : state) {
    cpu::dense_backward(B, in, out, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    benchmark::DoNotOptimize(dw.data());
  }
  bench::set_rate(state, "FLOP/s", 4.0 * B * in * out);  // dx and dw, one forward's worth each
}

void BM_Sgemm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const size_t nn = static_cast<size_t>(n) * n;
  const auto a = bench::random_vector(nn), b = bench::random_vector(nn, 2);
  std::vector<float> c(nn);
  for (auto _ : state) {
    cpu::sgemm(false, false, n, n, n, 1.0f, a.data(), b.data(), 0.0f, c.data());
    benchmark::DoNotOptimize(c.data());
  }
  bench::set_rate(state, "FLOP/s", 2.0 * n * n * n);
}

// Real time: OpenBLAS runs its own threads, whose work the benchmark's CPU-time clock would miss.
BENCHMARK(BM_DenseForward)->ArgNames({"in", "out"})->Args({1024, 64})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_DenseBackward)->ArgNames({"in", "out"})->Args({1024, 64})->Args({64, 1})->UseRealTime();
BENCHMARK(BM_Sgemm)->ArgName("n")->Arg(128)->Arg(512)->Arg(1024)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace cxr::kernels
