// fill, add, accumulate, scale and mul: CUDA against the CPU reference. Each is a single IEEE add or
// multiply, so the results must be bit-identical.
#include "kernels/elementwise.h"
#include "tests/cuda/parity.h"

namespace cxr::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using Ptrs = std::vector<const float*>;

class ElementwiseParity : public GpuTest {};

TEST_F(ElementwiseParity, Fill) {
  check_parity(
      0, [](int64_t n, const Ptrs&, float* y) { cpu::fill(n, -2.75f, y); },
      [](int64_t n, const Ptrs&, float* y) { gpu::fill(n, -2.75f, y); }, 0);
}

TEST_F(ElementwiseParity, Add) {
  check_parity(
      2, [](int64_t n, const Ptrs& in, float* y) { cpu::add(n, in[0], in[1], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::add(n, in[0], in[1], y); }, 0);
}

TEST_F(ElementwiseParity, AccumulateAddsIntoTheOutput) {
  check_parity(
      1, [](int64_t n, const Ptrs& in, float* y) { cpu::accumulate(n, in[0], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::accumulate(n, in[0], y); }, 0, /*output_is_input=*/true);
}

TEST_F(ElementwiseParity, Scale) {
  check_parity(
      1, [](int64_t n, const Ptrs& in, float* y) { cpu::scale(n, 0.3f, in[0], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::scale(n, 0.3f, in[0], y); }, 0);
}

TEST_F(ElementwiseParity, Mul) {
  check_parity(
      2, [](int64_t n, const Ptrs& in, float* y) { cpu::mul(n, in[0], in[1], y); },
      [](int64_t n, const Ptrs& in, float* y) { gpu::mul(n, in[0], in[1], y); }, 0);
}

// In place (y = alpha * y, y = y * y) is how the engine scales gradients: it must work too.
TEST_F(ElementwiseParity, InPlaceScaleAndMul) {
  const int64_t n = 100003;
  std::vector<float> host = random_floats(n, 7);
  std::vector<float> expected(host.size());
  cpu::scale(n, -1.5f, host.data(), expected.data());
  cpu::mul(n, expected.data(), expected.data(), expected.data());
  DeviceFloats y(host);
  gpu::scale(n, -1.5f, y.get(), y.get());
  gpu::mul(n, y.get(), y.get(), y.get());
  EXPECT_EQ(y.to_host(), expected);
}

}  // namespace
}  // namespace cxr::test
