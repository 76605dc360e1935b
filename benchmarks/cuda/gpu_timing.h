// Timing GPU work inside Google Benchmark: device buffers filled from host vectors (so the CPU
// reference sees the same inputs), an L2 flush before every timed launch, CUDA events around the
// launch, reported as manual time (benchmarks are registered with ->UseManualTime()), and the
// counters of benchmarks/common/report.h against the GPU's ceilings measured by main.cpp.
// Without a GPU each benchmark is skipped with the message "no GPU" and the program exits 0.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "benchmarks/common/report.h"
#include "benchmarks/common/shapes.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/elementwise.h"

namespace cxr::bench {

// Skips the benchmark (and returns false) when there is no GPU.
inline bool require_gpu(benchmark::State& state) {
  if (kernels::cuda::available()) return true;
  state.SkipWithError("no GPU");
  return false;
}

// A device copy of host values (or n zeros), freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<float>& host) : DeviceBuffer(static_cast<int64_t>(host.size())) {
    kernels::cuda::copy_host_to_device(ptr_, host.data(), bytes_);
  }
  explicit DeviceBuffer(int64_t n)
      : bytes_(static_cast<size_t>(n) * sizeof(float)),
        ptr_(static_cast<float*>(kernels::cuda::device_alloc(bytes_, "benchmark buffer"))) {
    CXR_CUDA_CHECK(cudaMemsetAsync(ptr_, 0, bytes_, kernels::cuda::stream()));
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

// Evicts L2 before a timed launch, so that it finds none of its inputs there (as in a training step,
// where the previous layer's other tensors have been through it). The flush reads a buffer twice the
// L2's size (kernels::cuda::sum), so L2 is left holding clean lines: the timed launch pays for its own
// bytes only. The first flush wrote the buffer instead (a memset, as nvbench and Triton's do_bench
// do), which leaves L2 full of dirty lines that the timed launch then had to write back: on an H100
// (2026-11-26) that added 8 us to relu over 16M floats (51.3 us against Nsight Compute's 43.0) and
// 4 us to experiment 3's Adam step (14.1 against 9.8). CXR_BENCH_FLUSH=write brings the old flush
// back, to compare with earlier runs.
inline void flush_l2() {
  static float* buffer = nullptr;
  static float* total = nullptr;
  static size_t floats = 0;
  static const bool write_flush = [] {
    const char* mode = std::getenv("CXR_BENCH_FLUSH");
    return mode != nullptr && std::string(mode) == "write";
  }();
  if (!buffer) {
    int device = 0, l2 = 0;
    CXR_CUDA_CHECK(cudaGetDevice(&device));
    CXR_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
    floats = std::max<size_t>(2 * static_cast<size_t>(l2), size_t{64} << 20) / sizeof(float);
    buffer = static_cast<float*>(kernels::cuda::device_alloc(floats * sizeof(float), "L2 flush buffer"));  // kept
    total = static_cast<float*>(kernels::cuda::device_alloc(sizeof(float), "L2 flush sum"));
    CXR_CUDA_CHECK(cudaMemsetAsync(buffer, 0, floats * sizeof(float), kernels::cuda::stream()));
  }
  if (write_flush)
    CXR_CUDA_CHECK(cudaMemsetAsync(buffer, 0, floats * sizeof(float), kernels::cuda::stream()));
  else
    kernels::cuda::sum(static_cast<int64_t>(floats), buffer, total);
}

// Times `launch` (work queued on kernels::cuda::stream()): one untimed warm-up (module load, cuDNN
// algorithm search, allocator), then per iteration an L2 flush, a start event, the launch and a
// stop event. The flush queued before the start event also hides the host's launch latency.
template <class Launch>
void time_gpu(benchmark::State& state, const Work& work, Launch&& launch) {
  const cudaStream_t stream = kernels::cuda::stream();
  launch();
  kernels::cuda::synchronize();
  cudaEvent_t start = nullptr, stop = nullptr;
  CXR_CUDA_CHECK(cudaEventCreate(&start));
  CXR_CUDA_CHECK(cudaEventCreate(&stop));
  double total = 0.0;
  for (auto _ : state) {
    flush_l2();
    CXR_CUDA_CHECK(cudaEventRecord(start, stream));
    launch();
    CXR_CUDA_CHECK(cudaEventRecord(stop, stream));
    CXR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CXR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3);
    total += ms / 1e3;
  }
  CXR_CUDA_CHECK(cudaEventDestroy(start));
  CXR_CUDA_CHECK(cudaEventDestroy(stop));
  report(state, work, total);
}

// Registers "cuda/<name>" with manual time in microseconds. A short minimum time: every iteration
// also pays for a flush and a synchronisation that the timing leaves out, ten times a small kernel's
// own time (at 0.1 s, 338 benchmarks took over six minutes on an H200; 0.02 s is still 4,000 event-
// timed launches of a 5 us kernel, or 10 of a 2 ms one). A benchmark whose library
// call throws (cuDNN refusing a shape, say) is reported as an error with the message, and the run goes
// on to the next one.
inline benchmark::internal::Benchmark* add(const std::string& name, std::function<void(benchmark::State&)> fn) {
  auto guarded = [fn = std::move(fn)](benchmark::State& state) {
    try {
      fn(state);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  };
  return benchmark::RegisterBenchmark(("cuda/" + name).c_str(), std::move(guarded))
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.02);
}

// The kernel choices of `kernels: custom|vendor`, as benchmark names spell them.
enum class Impl { Custom, Vendor };
inline const char* impl_name(Impl impl) { return impl == Impl::Custom ? "custom" : "vendor"; }

// Registers name/custom/shape and name/vendor/shape.
template <class Fn>
void add_both(const std::string& op, const std::string& shape, Fn fn) {
  for (Impl impl : {Impl::Custom, Impl::Vendor})
    add(op + "/" + impl_name(impl) + "/" + shape, [fn, impl](benchmark::State& st) {
      if (require_gpu(st)) fn(st, impl);
    });
}

// Measured by main.cpp: cudaMemcpy device to device of 512 MiB, and cuBLAS SGEMM (FP32) at n = 8192.
Ceilings measure_gpu_ceilings();

}  // namespace cxr::bench
