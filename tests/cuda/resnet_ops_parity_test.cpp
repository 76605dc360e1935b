// CPU-vs-CUDA parity of the ResNet50V2 ops through the engine (Tensor on a device -> engine/ops ->
// kernels/cuda): zero padding and global average pooling bit for bit (same arithmetic in the same
// order), the residual add, and the 1x1 stride-2 max-pool and bias-free conv where their CUDA
// kernels exist. Skips without a GPU.
#include <functional>
#include <random>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "gpu_test.h"

namespace cxr {
namespace {

class ResNetOpsParity : public test::GpuTest {};

Tensor random_host(const Shape& shape, uint32_t seed) {
  return Tensor::from_vector(shape, test::random_floats(numel_of(shape), seed, -2.0f, 2.0f));
}

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Forward output and every input's gradient of sum(op(inputs) * weights), on `device`.
std::vector<std::vector<float>> run_on(Device device, const Op& op, const std::vector<Tensor>& host_inputs) {
  std::vector<Tensor> inputs;
  for (const Tensor& t : host_inputs) inputs.push_back(t.to(device).set_requires_grad(true));
  const Tensor out = op(inputs);
  const Tensor weights = random_host(out.shape(), 99).to(device);
  sum(mul(out, weights)).backward();
  std::vector<std::vector<float>> results{out.to_vector()};
  for (const Tensor& t : inputs) results.push_back(t.grad().to_vector());
  return results;
}

void expect_parity(const Op& op, const std::vector<Tensor>& inputs, float tolerance) {
  std::vector<std::vector<float>> gpu;
  try {
    gpu = run_on(Device::cuda(0), op, inputs);
  } catch (const InputError& e) {
    if (std::string(e.what()).find("no CUDA kernel") != std::string::npos) GTEST_SKIP() << e.what();
    throw;
  }
  const auto cpu = run_on(Device::cpu(), op, inputs);
  for (size_t k = 0; k < cpu.size(); ++k) {
    ASSERT_EQ(cpu[k].size(), gpu[k].size());
    for (size_t i = 0; i < cpu[k].size(); ++i)
      ASSERT_NEAR(cpu[k][i], gpu[k][i], tolerance) << "result " << k << " element " << i;
  }
}

TEST_F(ResNetOpsParity, ZeroPadAsymmetricIsExact) {
  expect_parity([](const auto& in) { return zero_pad2d(in[0], 3, 1, 0, 2); }, {random_host({3, 7, 5, 67}, 1)}, 0.0f);
}

TEST_F(ResNetOpsParity, GlobalAveragePoolIsExact) {
  expect_parity([](const auto& in) { return global_avg_pool2d(in[0]); }, {random_host({5, 2, 2, 2048}, 2)}, 0.0f);
  expect_parity([](const auto& in) { return global_avg_pool2d(in[0]); }, {random_host({2, 7, 9, 3}, 3)}, 0.0f);
}

TEST_F(ResNetOpsParity, ResidualAdd) {
  expect_parity([](const auto& in) { return add(in[0], in[1]); },
                {random_host({2, 4, 4, 256}, 4), random_host({2, 4, 4, 256}, 5)}, 0.0f);
}

TEST_F(ResNetOpsParity, MaxPoolOneByOneStrideTwo) {
  expect_parity([](const auto& in) { return max_pool2d(in[0], 1, 1, 2, 2, false); }, {random_host({2, 7, 7, 64}, 6)},
                0.0f);
}

TEST_F(ResNetOpsParity, ConvWithoutBias) {
  expect_parity([](const auto& in) { return conv2d(zero_pad2d(in[0], 1, 1, 1, 1), in[1], Tensor(), 2, 2, false); },
                {random_host({2, 7, 7, 16}, 7), random_host({8, 3, 3, 16}, 8)}, 1e-3f);
}

}  // namespace
}  // namespace cxr
