// The small-output weight gradient (kernels/cuda/small_weight_gradient.cuh) on a GPU, with it and with
// the tiled GEMM it replaces (cuda::set_conv_small_weight_gradient), against the sums taken in double
// on the CPU: experiment 3's first layer (8 images, 123,008 pixels: 481 blocks of 8 chunks) and a
// 'same' layer of 7 filters of 3 x 3 x 5 whose last chunk is ragged. The two kernels add in different
// orders, so each is held to the float error a sum of that length allows: |dw - exact| <= 1e-5 x the
// sum of the products' magnitudes. Twice on the same input, the new kernel gives the same bits.
// The CPU emulator checks the same code exactly (tests/emulated/test_emulated_gemm.cpp).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {
namespace {

namespace gpu = kernels::cuda;

class SmallWeightGradient : public GpuTest {
 protected:
  void TearDown() override { gpu::set_conv_small_weight_gradient(true); }
};

// dw[k][r][s][c] = sum over output pixels of dy * x under tap (r, s), and the sum of their magnitudes.
void exact_weight_gradient(const kernels::Conv2dShape& s, const std::vector<float>& x, const std::vector<float>& dy,
                           std::vector<double>& dw, std::vector<double>& magnitude) {
  const int taps = s.R * s.S * s.C;
  dw.assign(static_cast<size_t>(s.K) * taps, 0.0);
  magnitude.assign(dw.size(), 0.0);
  for (int n = 0; n < s.N; ++n)
    for (int oh = 0; oh < s.OH; ++oh)
      for (int ow = 0; ow < s.OW; ++ow) {
        const float* g = &dy[((static_cast<size_t>(n) * s.OH + oh) * s.OW + ow) * s.K];
        for (int r = 0; r < s.R; ++r)
          for (int t = 0; t < s.S; ++t) {
            const int ih = oh * s.stride_h - s.pad_top + r, iw = ow * s.stride_w - s.pad_left + t;
            if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
            const float* in = &x[((static_cast<size_t>(n) * s.H + ih) * s.W + iw) * s.C];
            for (int k = 0; k < s.K; ++k)
              for (int c = 0; c < s.C; ++c) {
                const size_t o = static_cast<size_t>(k) * taps + (r * s.S + t) * s.C + c;
                const double p = static_cast<double>(g[k]) * in[c];
                dw[o] += p;
                magnitude[o] += std::fabs(p);
              }
          }
      }
}

std::vector<float> device_weight_gradient(const kernels::Conv2dShape& s, const DeviceFloats& x,
                                          const DeviceFloats& dy) {
  DeviceFloats dw(static_cast<int64_t>(s.K) * s.R * s.S * s.C);
  dw.poison();
  gpu::conv2d_backward(s, x.get(), nullptr, dy.get(), nullptr, dw.get(), nullptr);
  return dw.to_host();
}

TEST_F(SmallWeightGradient, MatchesTheExactSumsAsTheTiledGemmDoes) {
  struct Layer {
    const char* name;
    kernels::Conv2dShape shape;
  };
  std::vector<Layer> layers{{"7 filters of 3x3x5, 'same', 3 images of 37 x 29",
                             kernels::make_conv2d_shape(3, 37, 29, 5, 7, 3, 3, 1, 1, true)}};
  if (!small_test_run())  // under compute-sanitizer only the small layer
    layers.push_back({"experiment 3's first layer, 8 images",
                      kernels::make_conv2d_shape(8, 128, 128, 3, 16, 5, 5, 1, 1, false)});
  uint32_t seed = 700;
  for (const Layer& l : layers) {
    const kernels::Conv2dShape& s = l.shape;
    const std::vector<float> x = random_floats(static_cast<int64_t>(s.N) * s.H * s.W * s.C, seed++);
    const std::vector<float> dy = random_floats(static_cast<int64_t>(s.N) * s.OH * s.OW * s.K, seed++);
    std::vector<double> exact, magnitude;
    exact_weight_gradient(s, x, dy, exact, magnitude);
    const DeviceFloats dx_in(x), dy_in(dy);
    for (bool small : {true, false}) {
      gpu::set_conv_small_weight_gradient(small);
      const std::string what = std::string(l.name) + (small ? ", small-output kernel" : ", tiled GEMM");
      const std::vector<float> dw = device_weight_gradient(s, dx_in, dy_in);
      int bad = 0;
      for (size_t i = 0; i < dw.size(); ++i)
        if (!(std::fabs(dw[i] - exact[i]) <= 1e-5 * magnitude[i]) && ++bad <= 5)
          ADD_FAILURE() << what << " weight " << i << ": " << dw[i] << ", exact " << exact[i];
      EXPECT_EQ(bad, 0) << what;
      if (small) {
        const std::vector<float> again = device_weight_gradient(s, dx_in, dy_in);
        EXPECT_EQ(std::memcmp(dw.data(), again.data(), dw.size() * sizeof(float)), 0) << what << ": not deterministic";
      }
    }
  }
}

}  // namespace
}  // namespace cxr::test
