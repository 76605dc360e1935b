// SGEMM on the GPU: the custom tiled kernel against cuBLAS (plain FP32), square 1024 and 4096, in
// TFLOP/s. The 1024 result is checked against OpenBLAS before timing; 4096 (a 137 GFLOP CPU
// reference) is checked on a 64-row slice.
#include <benchmark/benchmark.h>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/dense.h"

namespace cxr::bench {
namespace {

void BM_sgemm(benchmark::State& state, bool vendor) {
  if (!require_gpu(state)) return;
  const int n = static_cast<int>(state.range(0));
  const int64_t nn = int64_t{n} * n;
  DeviceBuffer a(nn, 1), b(nn, 2), c(nn, 3);
  auto run = [&] {
    if (vendor) kernels::vendor::sgemm(false, false, n, n, n, 1.0f, a.get(), b.get(), 0.0f, c.get());
    else kernels::cuda::sgemm(false, false, n, n, n, 1.0f, a.get(), b.get(), 0.0f, c.get());
  };
  run();
  const int rows = n > 1024 ? 64 : n;  // rows of C checked
  const auto ha = host_values(nn, 1), hb = host_values(nn, 2);
  std::vector<float> ref(static_cast<size_t>(rows) * n);
  kernels::cpu::sgemm(false, false, rows, n, n, 1.0f, ha.data(), hb.data(), 0.0f, ref.data());
  std::vector<float> got = c.to_host();
  got.resize(ref.size());
  if (!matches_cpu(state, ref, got, 1e-2, 1e-4)) return;
  time_launches(state, 12.0 * static_cast<double>(nn), run);
  report_flops(state, 2.0 * n * nn);
}

BENCHMARK_CAPTURE(BM_sgemm, custom, false)->Arg(1024)->Arg(4096)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_sgemm, cublas, true)->Arg(1024)->Arg(4096)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cxr::bench
