// The three convolutions of experiment 1 at batch 32 (all 5x5 'valid'):
//   conv1 50x50x3 -> 46x46x16 s1, conv2 46x46x16 -> 21x21x32 s2, conv3 21x21x32 -> 9x9x64 s2.
// Backward of conv1 skips dx, as training does (the image needs no gradient).
#include "kernels/conv2d.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

struct Layer {
  int H, C, K, stride;
};
constexpr Layer kLayers[] = {{50, 3, 16, 1}, {46, 16, 32, 2}, {21, 32, 64, 2}};

Conv2dShape shape_of(int layer) {
  const Layer& l = kLayers[layer];
  return make_conv2d_shape(bench::kBatch, l.H, l.H, l.C, l.K, 5, 5, l.stride, l.stride, false);
}

double forward_flops(const Conv2dShape& s) {
  return 2.0 * s.N * s.OH * s.OW * s.K * s.R * s.S * s.C;
}

void BM_Conv2dForward(benchmark::State& state) {
  const Conv2dShape s = shape_of(static_cast<int>(state.range(0)));
  const auto x = bench::random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C);
  const auto w = bench::random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, 2);
  const auto b = bench::random_vector(s.K, 3);
  std::vector<float> y(static_cast<size_t>(s.N) * s.OH * s.OW * s.K);
  for (auto _ : state) {
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  bench::set_rate(state, "FLOP/s", forward_flops(s));
  state.SetItemsProcessed(state.iterations() * s.N);  // images/s
}

void BM_Conv2dBackward(benchmark::State& state) {
  const int layer = static_cast<int>(state.range(0));
  const Conv2dShape s = shape_of(layer);
  const auto x = bench::random_vector(static_cast<size_t>(s.N) * s.H * s.W * s.C);
  const auto w = bench::random_vector(static_cast<size_t>(s.K) * s.R * s.S * s.C, 2);
  const auto dy = bench::random_vector(static_cast<size_t>(s.N) * s.OH * s.OW * s.K, 3);
  const bool want_dx = layer > 0;
  std::vector<float> dx(x.size()), dw(w.size()), db(s.K);
  for (auto _ : state) {
    cpu::conv2d_backward(s, x.data(), w.data(), dy.data(), want_dx ? dx.data() : nullptr, dw.data(), db.data());
    benchmark::DoNotOptimize(dw.data());
  }
  bench::set_rate(state, "FLOP/s", forward_flops(s) * (want_dx ? 2 : 1));  // each of dx, dw costs one forward
  state.SetItemsProcessed(state.iterations() * s.N);
}

// Real time: OpenBLAS runs its own threads, whose work the benchmark's CPU-time clock would miss.
BENCHMARK(BM_Conv2dForward)->ArgName("layer")->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Conv2dBackward)->ArgName("layer")->DenseRange(0, 2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace cxr::kernels
