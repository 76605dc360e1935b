// Elementwise and activation kernels on the GPU, in GB/s (bytes read + written per launch over the
// event-timed kernel time). Sizes: experiment 1's tensors at batch 32 (the Dense 64 output, all
// 131,681 parameters, the three conv outputs), which fit in L2, and 16M floats (64 MiB per tensor),
// which does not and so measures device memory. A device-to-device copy gives the ceiling.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/activation.h"
#include "kernels/elementwise.h"

namespace cxr::bench {
namespace {

namespace cuda = kernels::cuda;

void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {2048, 131681, 165888, 451584, 1083392, 16777216}) b->Arg(n);
}

// One elementwise kernel: reads `inputs` tensors of n floats and writes one.
using Kernel = void (*)(int64_t n, const float* a, const float* b, float* y);

void BM_elementwise(benchmark::State& state, Kernel kernel, int inputs) {
  if (!require_gpu(state)) return;
  const int64_t n = state.range(0);
  DeviceBuffer a(n, 1), b(n, 2), y(n, 3);
  time_launches(state, 4.0 * static_cast<double>(n) * (inputs + 1),
                [&] { kernel(n, a.get(), b.get(), y.get()); });
}

void BM_sum(benchmark::State& state) {
  if (!require_gpu(state)) return;
  const int64_t n = state.range(0);
  DeviceBuffer x(n), out(1);
  time_launches(state, 4.0 * static_cast<double>(n), [&] { cuda::sum(n, x.get(), out.get()); });
}

void BM_copy_ceiling(benchmark::State& state) {
  if (!require_gpu(state)) return;
  const int64_t n = state.range(0);
  DeviceBuffer x(n), y(n);
  time_launches(state, 8.0 * static_cast<double>(n),
                [&] { cuda::copy_device_to_device(y.get(), x.get(), static_cast<size_t>(n) * sizeof(float)); });
}

void relu_forward(int64_t n, const float* a, const float*, float* y) { cuda::relu_forward(n, a, y); }
void relu_backward(int64_t n, const float* a, const float* b, float* y) { cuda::relu_backward(n, a, b, y); }
void sigmoid_forward(int64_t n, const float* a, const float*, float* y) { cuda::sigmoid_forward(n, a, y); }
void sigmoid_backward(int64_t n, const float* a, const float* b, float* y) { cuda::sigmoid_backward(n, a, b, y); }
void fill(int64_t n, const float*, const float*, float* y) { cuda::fill(n, 0.5f, y); }
void add(int64_t n, const float* a, const float* b, float* y) { cuda::add(n, a, b, y); }
void accumulate(int64_t n, const float* a, const float*, float* y) { cuda::accumulate(n, a, y); }  // reads y too
void scale(int64_t n, const float* a, const float*, float* y) { cuda::scale(n, 0.9f, a, y); }
void mul(int64_t n, const float* a, const float* b, float* y) { cuda::mul(n, a, b, y); }

#define CXR_GPU_BENCHMARK(...) \
  BENCHMARK_CAPTURE(__VA_ARGS__)->Apply(sizes)->UseManualTime()->Unit(benchmark::kMicrosecond)
CXR_GPU_BENCHMARK(BM_elementwise, relu_forward, relu_forward, 1);
CXR_GPU_BENCHMARK(BM_elementwise, relu_backward, relu_backward, 2);
CXR_GPU_BENCHMARK(BM_elementwise, sigmoid_forward, sigmoid_forward, 1);
CXR_GPU_BENCHMARK(BM_elementwise, sigmoid_backward, sigmoid_backward, 2);
CXR_GPU_BENCHMARK(BM_elementwise, fill, fill, 0);
CXR_GPU_BENCHMARK(BM_elementwise, add, add, 2);
CXR_GPU_BENCHMARK(BM_elementwise, accumulate, accumulate, 2);
CXR_GPU_BENCHMARK(BM_elementwise, scale, scale, 1);
CXR_GPU_BENCHMARK(BM_elementwise, mul, mul, 2);
BENCHMARK(BM_sum)->Apply(sizes)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_copy_ceiling)->Apply(sizes)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cxr::bench
