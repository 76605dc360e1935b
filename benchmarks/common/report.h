// What every kernel benchmark reports, on either device: validation against the CPU reference
// before timing, and the counters of the table (GFLOP/s or GB/s, and the fraction of this
// machine's ceiling, measured by the suite's main() in the same run before any benchmark).
#pragma once
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cxr::bench {

// The measured ceilings: a large copy's bandwidth (bytes read + written per second) and a large
// vendor SGEMM's rate. Set once by main(); 0 until then (fractions are then left out).
struct Ceilings {
  double bytes_per_second = 0;
  double flops_per_second = 0;
  int gemm_threads = 1;  // the threads the arithmetic ceiling ran on (CPU: OpenBLAS's)
};
// Whether the command line only lists the benchmarks (--benchmark_list_tests): then no ceiling is
// worth measuring. Read before benchmark::Initialize, which takes the flag out of argv.
inline bool only_listing(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--benchmark_list_tests" || a == "--benchmark_list_tests=true" || a == "--benchmark_list_tests=1")
      return true;
  }
  return false;
}

inline Ceilings& ceilings() {
  static Ceilings c;
  return c;
}

// One launch's work: FLOPs for GEMM-shaped ops, compulsory bytes (each input read once, each output
// written once) for the rest. An op with FLOPs is judged against the arithmetic ceiling, one
// without against the bandwidth ceiling.
struct Work {
  double flops = 0;
  double bytes = 0;
};

// Sets GFLOP/s and/or GB/s and `of_ceiling` from the total (manual or measured) time of the run.
inline void report(benchmark::State& state, const Work& work, double seconds) {
  if (seconds <= 0 || state.iterations() == 0) return;
  const double per_second = static_cast<double>(state.iterations()) / seconds;
  const Ceilings& c = ceilings();
  if (work.flops > 0) {
    state.counters["GFLOP/s"] = work.flops * per_second / 1e9;
    if (c.flops_per_second > 0) state.counters["of_ceiling"] = work.flops * per_second / c.flops_per_second;
  }
  if (work.bytes > 0) {
    state.counters["GB/s"] = work.bytes * per_second / 1e9;
    if (work.flops == 0 && c.bytes_per_second > 0)
      state.counters["of_ceiling"] = work.bytes * per_second / c.bytes_per_second;
  }
}

// Uniform floats in [lo, hi), the same for the same seed (so the GPU suite can rebuild them on the host).
inline std::vector<float> random_vector(size_t n, uint32_t seed = 1, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Benchmark only what is right: |got - ref| <= abs_tol + rel_tol * |ref| at every index, or the
// benchmark is skipped with the first mismatch (reported as an error, never timed). `what` names
// the output. Returns whether it matched.
template <class Ref, class Got>
bool matches(benchmark::State& state, const char* what, const Ref& ref, const Got& got, double abs_tol,
             double rel_tol) {
  if (ref.size() != got.size()) {
    state.SkipWithError((std::string("validation: ") + what + ": sizes differ").c_str());
    return false;
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    const double a = ref[i], b = got[i];
    if (!(std::fabs(a - b) <= abs_tol + rel_tol * std::fabs(a))) {
      const std::string why = std::string("validation failed: ") + what + "[" + std::to_string(i) + "] is " +
                              std::to_string(b) + ", reference " + std::to_string(a);
      state.SkipWithError(why.c_str());
      return false;
    }
  }
  return true;
}

// Indices spread over [0, n): validating a few hundred outputs of a large op against a slow
// reference keeps validation cheap while still catching indexing errors anywhere in the tensor.
inline std::vector<int64_t> sample_indices(int64_t n, int count = 257) {
  std::vector<int64_t> idx;
  if (n <= count) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  std::mt19937_64 gen(12345);
  std::uniform_int_distribution<int64_t> dist(0, n - 1);
  idx.push_back(0);
  idx.push_back(n - 1);
  while (static_cast<int>(idx.size()) < count) idx.push_back(dist(gen));
  return idx;
}

template <class V>
std::vector<double> gather(const V& v, const std::vector<int64_t>& idx) {
  std::vector<double> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(v[static_cast<size_t>(i)]);
  return out;
}

}  // namespace cxr::bench
