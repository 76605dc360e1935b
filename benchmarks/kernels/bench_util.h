// Shared by the kernel benchmarks: the notebook's experiment-1 shapes (batch 32) and input filling.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace cxr::kernels::bench {

constexpr int kBatch = 32;

inline std::vector<float> random_vector(size_t n, uint32_t seed = 1) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Reports a per-iteration amount as a rate (Google Benchmark prints e.g. "FLOP/s=12.3G").
inline void set_rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] = benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                                            benchmark::Counter::kIs1000);
}

}  // namespace cxr::kernels::bench
