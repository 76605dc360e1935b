// CPU-vs-CUDA parity for elementwise kernels: every size of parity_sizes() with aligned and
// misaligned pointers (the kernels take a float4 path and a scalar path), outputs poisoned before the
// run and guarded on both sides, compared element by element with the CPU reference.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include "tests/cuda/gpu_test.h"

namespace cxr::test {

// Offsets in floats from a 16-byte aligned block: 1 makes the pointer misaligned for float4.
struct ParityCase {
  int64_t n;
  int64_t input_offset;
  int64_t output_offset;
};

inline std::vector<ParityCase> parity_cases() {
  std::vector<ParityCase> cases;
  for (int64_t n : parity_sizes())
    for (auto [in, out] : {std::pair<int64_t, int64_t>{0, 0}, {1, 1}, {0, 1}, {1, 0}}) cases.push_back({n, in, out});
  return cases;
}

inline constexpr int64_t kGuard = 5;  // poisoned floats after the output that must stay poisoned

inline bool is_poison(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits == 0xFFFFFFFFu;
}

// `device` holds [offset poisoned][n results][kGuard poisoned]; `expected` the n CPU results.
// max_ulps 0 means bit-identical.
inline void expect_matches(const std::vector<float>& expected, const std::vector<float>& device, int64_t offset,
                           int64_t max_ulps) {
  const int64_t n = static_cast<int64_t>(expected.size());
  ASSERT_EQ(static_cast<int64_t>(device.size()), offset + n + kGuard);
  int64_t failures = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(device.size()); ++i) {
    const bool inside = i >= offset && i < offset + n;
    bool ok;
    std::ostringstream why;
    if (!inside) {
      ok = is_poison(device[i]);
      why << "element " << i << " outside the output was written: " << device[i];
    } else {
      const float want = expected[i - offset], got = device[i];
      ok = max_ulps == 0 ? std::memcmp(&want, &got, sizeof(float)) == 0 : ulp_distance(want, got) <= max_ulps;
      why << "element " << i - offset << " of " << n << ": CPU " << want << ", CUDA " << got << " ("
          << ulp_distance(want, got) << " ulp apart, at most " << max_ulps << " allowed)";
    }
    if (!ok && ++failures <= 5) ADD_FAILURE() << why.str();
  }
  EXPECT_EQ(failures, 0) << "mismatching elements";
}

// Runs cpu(n, inputs..., out) and cuda(n, device inputs..., device out) on `inputs` random vectors
// and compares. `initial_output`, when given, seeds the output (ops that read it, like accumulate);
// otherwise the device output starts poisoned.
using KernelCall = std::function<void(int64_t n, const std::vector<const float*>& inputs, float* out)>;

inline void check_parity(int inputs, const KernelCall& cpu, const KernelCall& cuda, int64_t max_ulps,
                         bool output_is_input = false, float lo = -4.0f, float hi = 4.0f) {
  uint32_t seed = 1;
  for (const ParityCase& c : parity_cases()) {
    SCOPED_TRACE(::testing::Message() << "n = " << c.n << ", input offset " << c.input_offset
                                      << ", output offset " << c.output_offset);
    std::vector<std::vector<float>> host;
    for (int k = 0; k < inputs; ++k) host.push_back(random_floats(c.input_offset + c.n, seed++, lo, hi));
    std::vector<float> initial = random_floats(c.n, seed++, lo, hi);

    std::vector<const float*> host_ptrs;
    for (auto& h : host) host_ptrs.push_back(h.data() + c.input_offset);
    std::vector<float> expected = output_is_input ? initial : std::vector<float>(static_cast<size_t>(c.n));
    cpu(c.n, host_ptrs, expected.data());

    std::vector<std::unique_ptr<DeviceFloats>> device_inputs;
    std::vector<const float*> device_ptrs;
    for (auto& h : host) {
      device_inputs.push_back(std::make_unique<DeviceFloats>(h));
      device_ptrs.push_back(device_inputs.back()->get() + c.input_offset);
    }
    DeviceFloats out(c.output_offset + c.n + kGuard);
    out.poison();
    if (output_is_input)
      kernels::cuda::copy_host_to_device(out.get() + c.output_offset, initial.data(), initial.size() * sizeof(float));
    cuda(c.n, device_ptrs, out.get() + c.output_offset);
    expect_matches(expected, out.to_host(), c.output_offset, max_ulps);
    if (::testing::Test::HasFailure()) return;  // one failing case says enough
  }
}

}  // namespace cxr::test
