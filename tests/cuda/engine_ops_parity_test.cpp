// Engine ops on CUDA tensors against the same ops on CPU tensors: the dispatch path (Tensor on a
// device -> engine/ops -> kernels/cuda), forward and backward. Skips without a GPU.
#include <random>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "gpu_test.h"
#include "tests/engine/empty_batch.h"

namespace cxr {
namespace {

class EngineOpsParity : public test::GpuTest {};

Tensor random_host(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector(shape, v);
}

void expect_near_vectors(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "element " << i;
}

TEST_F(EngineOpsParity, ReluSigmoidAddMulForwardAndBackward) {
  const Tensor x_host = random_host({4, 7, 5, 3}, 1), y_host = random_host({4, 7, 5, 3}, 2);
  auto run = [&](Device device) {
    Tensor x = x_host.to(device).set_requires_grad(true), y = y_host.to(device).set_requires_grad(true);
    Tensor out = add(mul(relu(x), sigmoid(y)), scale(x, 0.5f));
    sum(out).backward();
    return std::vector<std::vector<float>>{out.to_vector(), x.grad().to_vector(), y.grad().to_vector()};
  };
  const auto cpu = run(Device::cpu()), gpu = run(Device::cuda(0));
  for (size_t k = 0; k < cpu.size(); ++k) expect_near_vectors(cpu[k], gpu[k], 1e-5f);
}

// A batch of no rows: zero parameter gradients on both kernel choices, as on the CPU (the custom bias
// sums once divided by zero; batch norm's backward left dgamma and dbeta unwritten; cuBLAS's k = 0
// product must write its zeros too).
TEST_F(EngineOpsParity, AnEmptyBatchGivesZeroParameterGradients) {
  for (const KernelChoice choice : {KernelChoice::Custom, KernelChoice::Vendor}) {
    const KernelChoiceScope scope(choice);
    testing::expect_zero_parameter_gradients_of_an_empty_batch(Device::cuda(0), choice == KernelChoice::Custom
                                                                                    ? "custom"
                                                                                    : "vendor");
  }
}

// The custom convolution's 32767-pixel limit is bad input naming the device and what to change, not
// an internal error (kernels/shape_limit.h); the CPU has no such limit.
TEST_F(EngineOpsParity, TheCustomConvolutionsSizeLimitIsBadInput) {
  const KernelChoiceScope custom(KernelChoice::Custom);
  const Tensor x = Tensor::zeros({1, 32768, 1, 1}, Device::cuda(0)), w = Tensor::zeros({1, 3, 1, 1}, Device::cuda(0));
  try {
    conv2d(x, w, Tensor(), 1, 1, false);
    FAIL() << "a 32768-pixel side must be refused";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find("on cuda:0: conv2d: the custom CUDA convolution takes inputs"), 0u) << message;
    EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
  }
  EXPECT_EQ(conv2d(x.to(Device::cpu()), w.to(Device::cpu()), Tensor(), 1, 1, false).shape(), (Shape{1, 32766, 1, 1}));
}

TEST_F(EngineOpsParity, MixedDevicesAreRefusedNamingBothTensors) {
  Tensor a = Tensor::zeros({3}, Device::cpu(), "on_cpu");
  Tensor b = Tensor::zeros({3}, Device::cuda(0), "on_gpu");
  try {
    add(a, b);
    FAIL() << "mixing devices must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("on_cpu"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("on_gpu"), std::string::npos);
  }
}

}  // namespace
}  // namespace cxr
