// Shared by the CUDA tests: skip cleanly where there is no GPU, move data to and from the device,
// and draw random inputs.
//
// Tests that need a GPU derive from GpuTest (or start with CXR_REQUIRE_GPU()); on a machine without
// one they are reported as skipped, with the reason, and the suite still passes. tools/gpu-check runs
// them on a GPU machine.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/runtime.h"

#define CXR_REQUIRE_GPU()                                                                  \
  do {                                                                                     \
    if (!::cxr::kernels::cuda::available())                                                \
      GTEST_SKIP() << "no CUDA GPU here (" << ::cxr::test::one_line(                      \
                          ::cxr::kernels::cuda::device_report())                           \
                   << "); run tools/gpu-check on a GPU machine";                           \
  } while (0)

namespace cxr::test {

inline std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n') c = ';';
  return text;
}

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override { CXR_REQUIRE_GPU(); }
};

// n floats of device memory, freed on scope exit.
class DeviceFloats {
 public:
  explicit DeviceFloats(int64_t n, const std::string& what = "test buffer")
      : n_(n), ptr_(static_cast<float*>(kernels::cuda::device_alloc(bytes(), what))) {}
  explicit DeviceFloats(const std::vector<float>& host) : DeviceFloats(static_cast<int64_t>(host.size())) {
    kernels::cuda::copy_host_to_device(ptr_, host.data(), bytes());
  }
  ~DeviceFloats() { kernels::cuda::device_free(ptr_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;

  float* get() const { return ptr_; }
  size_t bytes() const { return static_cast<size_t>(n_) * sizeof(float); }
  std::vector<float> to_host() const {  // waits for the stream
    std::vector<float> host(static_cast<size_t>(n_));
    kernels::cuda::copy_device_to_host(host.data(), ptr_, bytes());
    return host;
  }
  // NaN everywhere (all bits set), so an element a kernel forgot to write cannot pass a comparison.
  void poison() {
    std::vector<float> nan(static_cast<size_t>(n_));
    std::memset(nan.data(), 0xFF, bytes());
    kernels::cuda::copy_host_to_device(ptr_, nan.data(), bytes());
  }

 private:
  int64_t n_;
  float* ptr_;
};

// Uniform floats in [lo, hi), never all zeros: zeros hide unwritten outputs and wrong indexing.
inline std::vector<float> random_floats(int64_t n, uint32_t seed, float lo = -4.0f, float hi = 4.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// Distance in units in the last place between two finite floats of any sign.
inline int64_t ulp_distance(float a, float b) {
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof(i));
    return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : static_cast<int64_t>(i);
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

// CXR_TEST_SMALL=1: tools/gpu-check sets it under compute-sanitizer, which slows kernels a hundredfold
// (racecheck more): tests then run their smallest cases only.
inline bool small_test_run() {
  const char* small = std::getenv("CXR_TEST_SMALL");
  return small != nullptr && std::string(small) == "1";
}

// Sizes that catch tail and grid-stride bugs: empty, smaller than a quad, around a block (256 threads
// x 4 floats), not a multiple of anything, and large enough that threads loop. CXR_TEST_SMALL=1 (set
// by tools/gpu-check under compute-sanitizer, which slows kernels a hundredfold) stops at 65543.
inline const std::vector<int64_t>& parity_sizes() {
  static const std::vector<int64_t> sizes = [] {
    std::vector<int64_t> all = {0, 1, 3, 4, 5, 255, 256, 257, 1023, 1024, 1025, 4099, 65543,
                                1083392, (int64_t{1} << 22) + 3};
    if (small_test_run()) all.resize(13);
    return all;
  }();
  return sizes;
}

}  // namespace cxr::test
