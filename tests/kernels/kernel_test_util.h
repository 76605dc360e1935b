// Helpers shared by the kernel tests: reproducible random inputs and float-vs-double comparisons.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cxr::kernels::test {

// Uniform values in [lo, hi), the same sequence for the same seed on every platform's libstdc++.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Small integers in [lo, hi]: many exact ties, for the pooling tests.
inline std::vector<float> random_integers(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(dist(gen));
  return v;
}

// Every element of a float result within rel * max(1, |expected|) of a double reference (a NaN
// never is: the comparison is written so that it fails).
inline void expect_all_near(const std::vector<float>& got, const std::vector<double>& expected, double rel,
                            const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = rel * std::max(1.0, std::fabs(expected[i]));
    if (!(std::fabs(got[i] - expected[i]) <= tol) && reported++ < 5)
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", expected " << expected[i] << " (tol " << tol << ")";
  }
}

}  // namespace cxr::kernels::test
