// cuda::sum against the CPU's double-accumulated sum, and its determinism.
#include <cmath>

#include "kernels/elementwise.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;

class SumParity : public GpuTest {};

float device_sum(const float* x, int64_t n) {  // x in device memory
  DeviceFloats out(1 + kGuard);
  out.poison();
  gpu::sum(n, x, out.get());
  std::vector<float> host = out.to_host();
  for (int64_t i = 1; i < 1 + kGuard; ++i) EXPECT_TRUE(is_poison(host[i])) << "sum wrote past *out";
  return host[0];
}

// Both sides accumulate in double and round once, so they agree to the last bit or one ulp (the
// order of additions differs).
TEST_F(SumParity, MatchesCpuWithin1Ulp) {
  uint32_t seed = 100;
  for (int64_t n : parity_sizes()) {
    for (int64_t offset : {0, 1}) {
      SCOPED_TRACE(::testing::Message() << "n = " << n << ", offset " << offset);
      std::vector<float> x = random_floats(n + offset, seed++);
      float expected = 0.0f;
      cpu::sum(n, x.data() + offset, &expected);
      DeviceFloats dx(x);
      const float got = device_sum(dx.get() + offset, n);
      EXPECT_LE(ulp_distance(expected, got), 1) << "CPU " << expected << ", CUDA " << got;
    }
  }
}

TEST_F(SumParity, EmptySumIsZero) {
  EXPECT_EQ(device_sum(nullptr, 0), 0.0f);
}

// Same input, same bits: on repeated runs, and whether the kernel reads float4s (aligned) or single
// floats (misaligned copy of the same data).
TEST_F(SumParity, DeterministicAcrossRunsAndAlignment) {
  const int64_t n = (int64_t{1} << 22) + 5;
  std::vector<float> x = random_floats(n, 42, -1.0f, 3.0f);
  DeviceFloats aligned(x);
  std::vector<float> shifted(x.size() + 1, 0.0f);
  std::copy(x.begin(), x.end(), shifted.begin() + 1);
  DeviceFloats misaligned(shifted);
  const float first = device_sum(aligned.get(), n);
  for (int run = 0; run < 3; ++run) EXPECT_EQ(device_sum(aligned.get(), n), first);
  EXPECT_EQ(device_sum(misaligned.get() + 1, n), first);
}

// A sum whose terms cancel: float accumulation would lose the small terms, double keeps them.
TEST_F(SumParity, KeepsSmallTermsNextToLargeOnes) {
  std::vector<float> x(1 << 20, 1e-3f);
  x[0] = 1e8f;
  x[1] = -1e8f;
  float expected = 0.0f;
  cpu::sum(static_cast<int64_t>(x.size()), x.data(), &expected);
  DeviceFloats dx(x);
  EXPECT_LE(ulp_distance(expected, device_sum(dx.get(), static_cast<int64_t>(x.size()))), 1);
  EXPECT_NEAR(expected, (x.size() - 2) * 1e-3, 1e-2);
}

}  // namespace
}  // namespace cxr::test
