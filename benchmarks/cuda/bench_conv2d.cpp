// Convolution on the GPU: the custom implicit-GEMM kernels against cuDNN, at experiment 1's three
// layer shapes with batch 32, forward and backward (dx + dw + dbias). Each result is checked against
// the CPU reference before anything is timed.
#include <benchmark/benchmark.h>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/conv2d.h"

namespace cxr::bench {
namespace {

struct Layer {
  int H, W, C, K, R, stride;
};
constexpr Layer kLayers[] = {{50, 50, 3, 16, 5, 1}, {46, 46, 16, 32, 5, 2}, {21, 21, 32, 64, 5, 2}};

enum class Impl { Custom, Cudnn };

void BM_conv2d(benchmark::State& state, Impl impl, bool backward) {
  if (!require_gpu(state)) return;
  const Layer& l = kLayers[state.range(0)];
  const auto s = kernels::make_conv2d_shape(32, l.H, l.W, l.C, l.K, l.R, l.R, l.stride, l.stride, false);
  const int64_t nx = int64_t{s.N} * s.H * s.W * s.C, nw = int64_t{s.K} * s.R * s.S * s.C;
  const int64_t ny = int64_t{s.N} * s.OH * s.OW * s.K;
  DeviceBuffer x(nx, 1), w(nw, 2), b(s.K, 3), dy(ny, 4), y(ny, 5), dx(nx, 6), dw(nw, 7), db(s.K, 8);
  auto run = [&] {
    if (!backward) {
      if (impl == Impl::Custom) kernels::cuda::conv2d_forward(s, x.get(), w.get(), b.get(), y.get());
      else kernels::vendor::conv2d_forward(s, x.get(), w.get(), b.get(), y.get());
    } else {
      if (impl == Impl::Custom) kernels::cuda::conv2d_backward(s, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get());
      else kernels::vendor::conv2d_backward(s, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get());
    }
  };
  run();
  const auto hx = host_values(nx, 1), hw = host_values(nw, 2), hb = host_values(s.K, 3), hdy = host_values(ny, 4);
  if (!backward) {
    std::vector<float> ref(static_cast<size_t>(ny));
    kernels::cpu::conv2d_forward(s, hx.data(), hw.data(), hb.data(), ref.data());
    if (!matches_cpu(state, ref, y.to_host(), 1e-3, 1e-4)) return;
  } else {
    std::vector<float> rdx(static_cast<size_t>(nx)), rdw(static_cast<size_t>(nw)), rdb(static_cast<size_t>(s.K));
    kernels::cpu::conv2d_backward(s, hx.data(), hw.data(), hdy.data(), rdx.data(), rdw.data(), rdb.data());
    if (!matches_cpu(state, rdx, dx.to_host(), 1e-3, 1e-4) || !matches_cpu(state, rdw, dw.to_host(), 1e-1, 1e-4) ||
        !matches_cpu(state, rdb, db.to_host(), 1e-1, 1e-4))
      return;
  }
  time_launches(state, 4.0 * static_cast<double>(nx + nw + ny) * (backward ? 2 : 1), run);
  report_flops(state, 2.0 * ny * s.R * s.S * s.C * (backward ? 2 : 1));
}

void layers(benchmark::internal::Benchmark* b) {
  for (int i = 0; i < 3; ++i) b->Arg(i);
}

BENCHMARK_CAPTURE(BM_conv2d, custom_forward, Impl::Custom, false)->Apply(layers)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_conv2d, cudnn_forward, Impl::Cudnn, false)->Apply(layers)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_conv2d, custom_backward, Impl::Custom, true)->Apply(layers)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_conv2d, cudnn_backward, Impl::Cudnn, true)->Apply(layers)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cxr::bench
