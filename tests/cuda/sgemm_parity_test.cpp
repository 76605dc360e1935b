// cuda::sgemm against the CPU's OpenBLAS on products large enough for kernels/cuda/big_sgemm.cuh
// (128 x 128 tiles, float4 loads), in every layout, with ragged edges, and against the general tiled
// kernel, which must give the same bits (both sum each output's products in k order with FMAs).
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "kernels/dense.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;

class SgemmParity : public GpuTest {};

struct Product {
  int M, N, K;
};

// C = alpha op(A) op(B) + beta C on the device, from the host's matrices; the output sits at `c_offset`
// floats into a poisoned buffer with kGuard poisoned floats after it. Offsets of 1 misalign a matrix,
// which sends the product to the general kernel.
std::vector<float> device_sgemm(bool trans_a, bool trans_b, const Product& p, const std::vector<float>& a,
                                const std::vector<float>& b, const std::vector<float>& c, float alpha, float beta,
                                int a_offset, int c_offset) {
  std::vector<float> a_shifted(a_offset, 0.0f);
  a_shifted.insert(a_shifted.end(), a.begin(), a.end());
  DeviceFloats da(a_shifted), db(b), dc(c_offset + static_cast<int64_t>(c.size()) + kGuard);
  dc.poison();
  kernels::cuda::copy_host_to_device(dc.get() + c_offset, c.data(), c.size() * sizeof(float));
  gpu::sgemm(trans_a, trans_b, p.M, p.N, p.K, alpha, da.get() + a_offset, db.get(), beta, dc.get() + c_offset);
  return dc.to_host();
}

TEST_F(SgemmParity, LargeProductsMatchTheCpuInEveryLayout) {
  uint32_t seed = 300;
  std::vector<Product> products = {{1540, 1284, 36}, {1412, 1536, 4}, {2048, 2048, 260}};
  if (small_test_run()) products.resize(2);  // under compute-sanitizer
  for (const Product p : products)
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          SCOPED_TRACE(::testing::Message() << p.M << "x" << p.N << "x" << p.K << (trans_a ? " A^T" : "")
                                            << (trans_b ? " B^T" : "") << " beta " << beta);
          const auto a = random_floats(static_cast<int64_t>(p.M) * p.K, seed++, -1.0f, 1.0f);
          const auto b = random_floats(static_cast<int64_t>(p.K) * p.N, seed++, -1.0f, 1.0f);
          const auto c = random_floats(static_cast<int64_t>(p.M) * p.N, seed++, -1.0f, 1.0f);
          std::vector<float> want = c;
          cpu::sgemm(trans_a, trans_b, p.M, p.N, p.K, 2.0f, a.data(), b.data(), beta, want.data());
          const std::vector<float> got = device_sgemm(trans_a, trans_b, p, a, b, c, 2.0f, beta, 0, 0);
          ASSERT_EQ(got.size(), want.size() + kGuard);
          // Products of values in [-1, 1): an output's error is a few ulps of sum |a||b| <= 2 K (+ |C|).
          const double tolerance = 1e-6 * (2.0 * p.K + 1.0);
          int64_t bad = 0;
          for (size_t i = 0; i < want.size(); ++i)
            if (!(std::fabs(static_cast<double>(got[i]) - want[i]) <= tolerance) && ++bad <= 5)
              ADD_FAILURE() << "element " << i << " (row " << i / p.N << ", column " << i % p.N << "): CPU "
                            << want[i] << ", CUDA " << got[i];
          EXPECT_EQ(bad, 0);
          for (size_t i = want.size(); i < got.size(); ++i) EXPECT_TRUE(is_poison(got[i])) << "wrote past C";
        }
}

// Also with alpha and beta that make every rounding of alpha acc + beta c count (kernels/cuda/gemm_output.cuh).
TEST_F(SgemmParity, BigKernelAndGeneralKernelGiveTheSameBits) {
  const Product p{1540, 1284, 36};
  const auto a = random_floats(static_cast<int64_t>(p.M) * p.K, 400);
  const auto b = random_floats(static_cast<int64_t>(p.K) * p.N, 401);
  const auto c = random_floats(static_cast<int64_t>(p.M) * p.N, 402);
  // Under compute-sanitizer (racecheck instruments every shared-memory access): one layout.
  const bool small = small_test_run();
  for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, {0.3f, 0.7f}})
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true}) {
        if (small && (trans_a || trans_b || beta == 0.0f)) continue;
        SCOPED_TRACE(::testing::Message() << (trans_a ? "A^T " : "A ") << (trans_b ? "B^T" : "B") << " alpha " << alpha
                                          << " beta " << beta);
        const std::vector<float> big = device_sgemm(trans_a, trans_b, p, a, b, c, alpha, beta, 0, 0);
        const std::vector<float> general = device_sgemm(trans_a, trans_b, p, a, b, c, alpha, beta, 1, 1);  // misaligned
        ASSERT_EQ(general.size(), big.size() + 1);
        int64_t differ = 0;
        for (size_t i = 0; i + kGuard < big.size(); ++i)
          if (std::memcmp(&big[i], &general[i + 1], sizeof(float)) != 0 && ++differ <= 5)
            ADD_FAILURE() << "element " << i << ": big kernel " << big[i] << ", general kernel " << general[i + 1];
        EXPECT_EQ(differ, 0);
      }
}

}  // namespace
}  // namespace cxr::test
