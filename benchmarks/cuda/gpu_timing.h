// Timing GPU work inside Google Benchmark: CUDA events around the launches on our stream, reported
// as manual time (register benchmarks with ->UseManualTime()), plus a GB/s counter. Without a GPU
// each benchmark is skipped with the message "no GPU" and the program still exits 0.
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::bench {

// Skips the benchmark (and returns false) when there is no GPU.
inline bool require_gpu(benchmark::State& state) {
  if (kernels::cuda::available()) return true;
  state.SkipWithError("no GPU");
  return false;
}

// The n random floats a DeviceBuffer of this seed holds, for the CPU reference.
inline std::vector<float> host_values(int64_t n, uint32_t seed) {
  std::vector<float> host(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
  for (float& x : host) x = dist(rng);
  return host;
}

// n random floats on the device (random, not zeros: zeros can run faster than real data).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(int64_t n, uint32_t seed = 1)
      : bytes_(static_cast<size_t>(n) * sizeof(float)),
        ptr_(static_cast<float*>(kernels::cuda::device_alloc(bytes_, "benchmark buffer"))) {
    const std::vector<float> host = host_values(n, seed);
    kernels::cuda::copy_host_to_device(ptr_, host.data(), bytes_);
  }
  ~DeviceBuffer() { kernels::cuda::device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* get() const { return ptr_; }
  std::vector<float> to_host() const {  // waits for the stream
    std::vector<float> host(bytes_ / sizeof(float));
    kernels::cuda::copy_device_to_host(host.data(), ptr_, bytes_);
    return host;
  }

 private:
  size_t bytes_;
  float* ptr_;
};

// Times `launch` (which queues work on kernels::cuda::stream()) and reports the time of one launch
// and GB/s for `bytes_per_launch` (bytes read plus bytes written). Each timed iteration queues
// kLaunchesPerTiming launches between two events, so that for small sizes the number is the
// kernel's time rather than the host's launch latency.
template <class Launch>
void time_launches(benchmark::State& state, double bytes_per_launch, Launch launch) {
  constexpr int kLaunchesPerTiming = 10;
  const cudaStream_t stream = kernels::cuda::stream();
  launch();  // warm-up: module load and first-touch stay out of the numbers
  kernels::cuda::synchronize();
  cudaEvent_t start = nullptr, stop = nullptr;
  CXR_CUDA_CHECK(cudaEventCreate(&start));
  CXR_CUDA_CHECK(cudaEventCreate(&stop));
  double total_seconds = 0.0;
  for (auto _ : state) {
    CXR_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < kLaunchesPerTiming; ++i) launch();
    CXR_CUDA_CHECK(cudaEventRecord(stop, stream));
    CXR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CXR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    const double seconds = ms / 1e3 / kLaunchesPerTiming;
    state.SetIterationTime(seconds);
    total_seconds += seconds;
  }
  CXR_CUDA_CHECK(cudaEventDestroy(start));
  CXR_CUDA_CHECK(cudaEventDestroy(stop));
  if (total_seconds > 0.0)
    state.counters["GB/s"] = bytes_per_launch * static_cast<double>(state.iterations()) / total_seconds / 1e9;
}

// Benchmark only what is right: compares a GPU result with the CPU reference (|a - b| <= abs +
// rel * |a|) and skips the benchmark with the first mismatch otherwise. Returns whether it matched.
inline bool matches_cpu(benchmark::State& state, const std::vector<float>& cpu, const std::vector<float>& gpu,
                        double abs_tol, double rel_tol) {
  if (cpu.size() != gpu.size()) {
    state.SkipWithError("validation: sizes differ");
    return false;
  }
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double a = cpu[i], b = gpu[i];
    if (!(std::fabs(a - b) <= abs_tol + rel_tol * std::fabs(a))) {
      const std::string why = "validation failed at element " + std::to_string(i) + ": CPU " + std::to_string(a) +
                              ", GPU " + std::to_string(b);
      state.SkipWithError(why.c_str());
      return false;
    }
  }
  return true;
}

// Adds a TFLOP/s counter for `flops` per launch, from the manual time the launches took.
inline void report_flops(benchmark::State& state, double flops) {
  state.counters["TFLOP/s"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace cxr::bench
