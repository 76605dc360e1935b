// The direct forward of a few-channel convolution (kernels/cuda/direct_conv_forward.cuh) against the
// implicit GEMM on a GPU: both add each output's products in tap order from zero with one FMA each,
// then the bias, so every bit must agree (a -0 sum may come out +0 from the GEMM's zero padding: not
// with random inputs). Experiment 3's first layer (4 images) and a 'same' 7 x 7 layer of 7 filters
// over 4 channels with ragged tiles, each with and without a bias. The CPU emulator checks the same
// code against the CPU (tests/emulated/test_emulated_gemm.cpp).
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/cuda/gpu_test.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace gpu = kernels::cuda;

class DirectConvForward : public GpuTest {
 protected:
  void TearDown() override { gpu::set_conv_direct_forward(true); }
};

TEST_F(DirectConvForward, GivesTheGemmsBits) {
  struct Layer {
    const char* name;
    kernels::Conv2dShape shape;
  };
  std::vector<Layer> layers{{"7 filters of 7x7x4, 'same', 2 images of 45 x 37",
                             kernels::make_conv2d_shape(2, 45, 37, 4, 7, 7, 7, 1, 1, true)}};
  if (!small_test_run())  // under compute-sanitizer only the small layer
    layers.push_back({"experiment 3's first layer, 4 images",
                      kernels::make_conv2d_shape(4, 128, 128, 3, 16, 5, 5, 1, 1, false)});
  uint32_t seed = 800;
  for (const Layer& l : layers) {
    const kernels::Conv2dShape& s = l.shape;
    ASSERT_TRUE(gpu::conv_direct_forward());
    const DeviceFloats x(random_floats(static_cast<int64_t>(s.N) * s.H * s.W * s.C, seed++));
    const DeviceFloats w(random_floats(static_cast<int64_t>(s.K) * s.R * s.S * s.C, seed++));
    const DeviceFloats bias(random_floats(s.K, seed++));
    for (bool with_bias : {true, false}) {
      std::vector<float> y[2];
      for (int direct = 0; direct < 2; ++direct) {
        gpu::set_conv_direct_forward(direct == 1);
        DeviceFloats out(static_cast<int64_t>(s.N) * s.OH * s.OW * s.K);
        out.poison();
        gpu::conv2d_forward(s, x.get(), w.get(), with_bias ? bias.get() : nullptr, out.get());
        y[direct] = out.to_host();
      }
      const std::string what = std::string(l.name) + (with_bias ? ", with bias" : ", no bias");
      int64_t differ = 0;
      for (size_t i = 0; i < y[0].size(); ++i)
        if (std::memcmp(&y[0][i], &y[1][i], sizeof(float)) != 0 && ++differ <= 5)
          ADD_FAILURE() << what << " output " << i << ": GEMM " << y[0][i] << ", direct " << y[1][i];
      EXPECT_EQ(differ, 0) << what;
      for (float v : y[1]) ASSERT_FALSE(is_poison(v)) << what << ": an output left unwritten by both kernels";
    }
  }
}

}  // namespace
}  // namespace cxr::test
