// bench_kernels: measures the CPU's ceilings first (they go into the JSON's context and every
// benchmark's `of_ceiling`), then runs the benchmarks. Flags are Google Benchmark's.
// CXR_BENCH_CEILINGS=0 skips the ceilings (a few seconds; minutes under valgrind when profiling), as
// --benchmark_list_tests does.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/cpu/parallel.h"

namespace cxr::bench {

Ceilings measure_cpu_ceilings() {
  using Clock = std::chrono::steady_clock;
  Ceilings c;
  {
    const size_t bytes = size_t{256} << 20;  // 256 MiB each way: no cache holds it
    std::vector<char> src(bytes, 1), dst(bytes, 0);
    double best = 1e30;
    for (int i = 0; i < 4; ++i) {
      const auto start = Clock::now();
      // On every thread, as the kernels run (kernels/cpu/parallel.h): one core alone cannot use the
      // whole memory bandwidth.
      kernels::cpu::parallel_for(static_cast<int64_t>(bytes), 1 << 20, [&](int64_t b, int64_t e) {
        std::memcpy(dst.data() + b, src.data() + b, static_cast<size_t>(e - b));
      });
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
      benchmark::DoNotOptimize(dst.data());
    }
    c.bytes_per_second = 2.0 * static_cast<double>(bytes) / best;  // read + written
  }
  {
    const OpenBlasOnAllThreads raw_threads;
    c.gemm_threads = openblas_get_num_threads();
    const int n = 2048;
    const auto a = random_vector(size_t{n} * n, 1), b = random_vector(size_t{n} * n, 2);
    std::vector<float> out(size_t{n} * n);
    // The best of calls over at least a second (3 at the least, 20 at the most): this VM slows for a
    // while now and then, and a ceiling caught in such a moment (107 GFLOP/s against 184-205 around
    // it, 2026-11-27) put every GEMM-shaped row of that run near 200% of it.
    double best = 1e30;
    const auto first = Clock::now();
    for (int i = 0; i < 20 && (i < 3 || std::chrono::duration<double>(Clock::now() - first).count() < 1.0); ++i) {
      const auto start = Clock::now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                  out.data(), n);
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    }
    c.flops_per_second = 2.0 * n * n * static_cast<double>(n) / best;
  }
  return c;
}

}  // namespace cxr::bench

int main(int argc, char** argv) {
  const bool listing = cxr::bench::only_listing(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const char* want = std::getenv("CXR_BENCH_CEILINGS");
  if (listing || (want && std::string(want) == "0")) {
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  }
  cxr::bench::Ceilings& c = cxr::bench::ceilings();
  c = cxr::bench::measure_cpu_ceilings();
  std::fprintf(stderr, "ceilings: memcpy %.1f GB/s (read + written, %d threads), OpenBLAS SGEMM n=2048 %.1f GFLOP/s (%d threads)\n",
               c.bytes_per_second / 1e9, omp_get_max_threads(), c.flops_per_second / 1e9, c.gemm_threads);
  benchmark::AddCustomContext("ceiling_bandwidth_GBps", std::to_string(c.bytes_per_second / 1e9));
  benchmark::AddCustomContext("ceiling_bandwidth_what", "memcpy of 256 MiB on " + std::to_string(omp_get_max_threads()) +
                                                           " threads, bytes read + written");
  benchmark::AddCustomContext("ceiling_GFLOPs", std::to_string(c.flops_per_second / 1e9));
  // OpenBLAS picks its kernels for the CPU as it loads, unless OPENBLAS_CORETYPE names them: which ran
  // bounds every GEMM (the Zen 5 development VM's environment names Haswell's AVX2 kernels, half as
  // fast there as the AVX-512 ones OpenBLAS picks by itself: docs/benchmarks.md, session 23).
  std::string gemm_kernels = std::string(", its ") + openblas_get_corename() + " kernels";
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"))
    gemm_kernels += std::string(" (OPENBLAS_CORETYPE=") + forced + " in the environment)";
  benchmark::AddCustomContext("ceiling_GFLOPs_what", "OpenBLAS cblas_sgemm n=2048, " +
                                                         std::to_string(c.gemm_threads) + " threads" + gemm_kernels);
  benchmark::AddCustomContext("cpu_threads", std::to_string(omp_get_max_threads()));
  benchmark::AddCustomContext("device", "cpu");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
