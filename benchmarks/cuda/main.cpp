// bench_cuda: measures the GPU's ceilings first (a large device copy, a large cuBLAS SGEMM; they go
// into the JSON's context and every benchmark's `of_ceiling`), then runs the benchmarks. Without a
// GPU every benchmark reports "no GPU" and the program exits 0. Flags are Google Benchmark's.
#include <algorithm>
#include <cstdio>
#include <string>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/dense.h"

namespace cxr::bench {

namespace {

// Best time in seconds of `reps` event-timed runs of `launch`, after one warm-up.
template <class Launch>
double best_seconds(int reps, Launch launch) {
  const cudaStream_t stream = kernels::cuda::stream();
  launch();
  cudaEvent_t start = nullptr, stop = nullptr;
  CXR_CUDA_CHECK(cudaEventCreate(&start));
  CXR_CUDA_CHECK(cudaEventCreate(&stop));
  float best = 1e30f;
  for (int i = 0; i < reps; ++i) {
    CXR_CUDA_CHECK(cudaEventRecord(start, stream));
    launch();
    CXR_CUDA_CHECK(cudaEventRecord(stop, stream));
    CXR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CXR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    best = std::min(best, ms);
  }
  CXR_CUDA_CHECK(cudaEventDestroy(start));
  CXR_CUDA_CHECK(cudaEventDestroy(stop));
  return best / 1e3;
}

}  // namespace

Ceilings measure_gpu_ceilings() {
  Ceilings c;
  {
    const int64_t n = int64_t{128} << 20;  // 512 MiB of floats each way
    DeviceBuffer src(n), dst(n);
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    const double s = best_seconds(10, [&] { kernels::cuda::copy_device_to_device(dst.get(), src.get(), bytes); });
    c.bytes_per_second = 2.0 * static_cast<double>(bytes) / s;  // read + written
  }
  {
    const int n = 8192;
    const int64_t nn = int64_t{n} * n;
    DeviceBuffer a(random_vector(static_cast<size_t>(nn), 1)), b(random_vector(static_cast<size_t>(nn), 2)), out(nn);
    const double s = best_seconds(5, [&] {
      kernels::vendor::sgemm(false, false, n, n, n, 1.0f, a.get(), b.get(), 0.0f, out.get());
    });
    c.flops_per_second = 2.0 * static_cast<double>(nn) * n / s;
  }
  return c;
}

}  // namespace cxr::bench

int main(int argc, char** argv) {
  const bool listing = cxr::bench::only_listing(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("device", "cuda");
  if (!listing && cxr::kernels::cuda::available()) {
    cxr::bench::Ceilings& c = cxr::bench::ceilings();
    c = cxr::bench::measure_gpu_ceilings();
    std::fprintf(stderr, "ceilings: device copy %.0f GB/s (read + written), cuBLAS SGEMM n=8192 %.1f TFLOP/s\n",
                 c.bytes_per_second / 1e9, c.flops_per_second / 1e12);
    benchmark::AddCustomContext("ceiling_bandwidth_GBps", std::to_string(c.bytes_per_second / 1e9));
    benchmark::AddCustomContext("ceiling_bandwidth_what", "cudaMemcpy device to device, 512 MiB, bytes read + written");
    benchmark::AddCustomContext("ceiling_GFLOPs", std::to_string(c.flops_per_second / 1e9));
    benchmark::AddCustomContext("ceiling_GFLOPs_what", "cuBLAS SGEMM (FP32, no TF32) n=8192");
    benchmark::AddCustomContext("gpu", cxr::kernels::cuda::device_report());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
