// The tiled GEMM's tall tiles (kernels/cuda/tiled_gemm.cuh: 128-row tiles, 32 x 8 threads) against
// its 16 x 16 layout on a GPU: both add each output's products in the same order (k-steps of 16, one
// FMA each), so every bit must agree, for plain products of at most 32 columns in every layout and
// for a convolution's forward and input gradient (16 and 32 channels, stride 2, as experiment 3's;
// 16 images, so that their GEMMs are not split over K, which the tall tiles never are).
// The CPU emulator checks the same code against the CPU (tests/emulated/test_emulated_gemm.cpp).
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/dense.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace gpu = kernels::cuda;

class TallTiles : public GpuTest {
 protected:
  void TearDown() override { gpu::set_gemm_tall_tiles(gpu::TallTiles::kAuto); }
};

// Bit-for-bit equality, the first differences named.
void expect_same_bits(const std::vector<float>& usual, const std::vector<float>& tall, const std::string& what) {
  ASSERT_EQ(usual.size(), tall.size()) << what;
  int64_t differ = 0;
  for (size_t i = 0; i < usual.size(); ++i)
    if (std::memcmp(&usual[i], &tall[i], sizeof(float)) != 0 && ++differ <= 5)
      ADD_FAILURE() << what << " element " << i << ": 16 x 16 layout " << usual[i] << ", tall tiles " << tall[i];
  EXPECT_EQ(differ, 0) << what;
}

TEST_F(TallTiles, PlainProductsGiveTheSameBitsAsTheUsualLayout) {
  struct Product {
    int M, N, K;
  };
  uint32_t seed = 900;
  for (const Product p : {Product{20000, 16, 300}, {17001, 32, 77}, {5003, 9, 45}})
    for (bool trans_a : {false, true})
      for (bool trans_b : {false, true}) {
        const std::string what = std::to_string(p.M) + "x" + std::to_string(p.N) + "x" + std::to_string(p.K) +
                                 (trans_a ? " A^T" : "") + (trans_b ? " B^T" : "");
        const DeviceFloats a(random_floats(static_cast<int64_t>(p.M) * p.K, seed++));
        const DeviceFloats b(random_floats(static_cast<int64_t>(p.K) * p.N, seed++));
        const std::vector<float> c = random_floats(static_cast<int64_t>(p.M) * p.N, seed++);
        std::vector<float> out[2];
        for (int tall = 0; tall < 2; ++tall) {
          gpu::set_gemm_tall_tiles(tall ? gpu::TallTiles::kAlways : gpu::TallTiles::kNever);
          const DeviceFloats dc(c);
          gpu::sgemm(trans_a, trans_b, p.M, p.N, p.K, 0.5f, a.get(), b.get(), 0.25f, dc.get());
          out[tall] = dc.to_host();
        }
        expect_same_bits(out[0], out[1], what);
      }
}

TEST_F(TallTiles, ConvolutionGivesTheSameBitsAsTheUsualLayout) {
  struct Layer {
    int C, K;
  };
  uint32_t seed = 950;
  for (const Layer l : {Layer{16, 32}, {32, 16}, {3, 16}}) {
    const kernels::Conv2dShape s = kernels::make_conv2d_shape(16, 62, 62, l.C, l.K, 5, 5, 2, 2, false);
    const std::string what = std::to_string(l.C) + " -> " + std::to_string(l.K) + " channels, 5x5 stride 2";
    const DeviceFloats x(random_floats(static_cast<int64_t>(s.N) * s.H * s.W * s.C, seed++));
    const DeviceFloats w(random_floats(static_cast<int64_t>(s.K) * s.R * s.S * s.C, seed++));
    const DeviceFloats dy(random_floats(static_cast<int64_t>(s.N) * s.OH * s.OW * s.K, seed++));
    std::vector<float> y[2], dx[2];
    for (int tall = 0; tall < 2; ++tall) {
      gpu::set_gemm_tall_tiles(tall ? gpu::TallTiles::kAlways : gpu::TallTiles::kNever);
      DeviceFloats y_out(static_cast<int64_t>(s.N) * s.OH * s.OW * s.K);
      DeviceFloats dx_out(static_cast<int64_t>(s.N) * s.H * s.W * s.C);
      y_out.poison();
      dx_out.poison();
      gpu::conv2d_forward(s, x.get(), w.get(), nullptr, y_out.get());
      gpu::conv2d_backward(s, x.get(), w.get(), dy.get(), dx_out.get(), nullptr, nullptr);
      y[tall] = y_out.to_host();
      dx[tall] = dx_out.to_host();
    }
    expect_same_bits(y[0], y[1], what + " forward");
    expect_same_bits(dx[0], dx[1], what + " input gradient");
    for (float v : y[1]) ASSERT_FALSE(is_poison(v)) << what << ": an output left unwritten by both layouts";
    for (float v : dx[1]) ASSERT_FALSE(is_poison(v)) << what << ": an input gradient left unwritten";
  }
}

}  // namespace
}  // namespace cxr::test
