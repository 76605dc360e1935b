// Shared by the CPU kernel benchmarks: timing, registration under readable names, and the CPU's
// ceilings (measured by main.cpp before any benchmark runs).
//
// Times are wall-clock (manual time from a steady clock around each call): the kernels run on
// OpenMP's threads, whose work a CPU-time clock on the calling thread would miss.
#pragma once
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <chrono>
#include <functional>
#include <string>

#include "benchmarks/common/report.h"
#include "benchmarks/common/shapes.h"

namespace cxr::bench {

// cxrnet keeps OpenBLAS on one thread and splits GEMMs over OpenMP itself (kernels/cpu/parallel.h).
// Raw OpenBLAS, the yardstick, gets as many threads of its own, as any program using it would.
class OpenBlasOnAllThreads {
 public:
  OpenBlasOnAllThreads() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(omp_get_max_threads()); }
  ~OpenBlasOnAllThreads() { openblas_set_num_threads(saved_); }
  OpenBlasOnAllThreads(const OpenBlasOnAllThreads&) = delete;
  OpenBlasOnAllThreads& operator=(const OpenBlasOnAllThreads&) = delete;

 private:
  int saved_;
};

// Runs `op` once untimed (first touch of outputs, OpenBLAS thread start-up), then once per
// iteration, and reports `work` as rates and fractions of the ceilings.
template <class Op>
void time_cpu(benchmark::State& state, const Work& work, Op&& op) {
  op();
  double total = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    op();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
  }
  report(state, work, total);
}

// Registers a benchmark as "cpu/<name>" with manual time in microseconds.
inline benchmark::internal::Benchmark* add(const std::string& name, std::function<void(benchmark::State&)> fn) {
  return benchmark::RegisterBenchmark(("cpu/" + name).c_str(), std::move(fn))
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

// Measures the ceilings (main.cpp): memcpy bandwidth on every thread over buffers far larger than
// the caches, and OpenBLAS SGEMM at n = 2048 on every core OpenBLAS uses (the best of calls over a
// second).
Ceilings measure_cpu_ceilings();

}  // namespace cxr::bench
