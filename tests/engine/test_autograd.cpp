// Autograd semantics: accumulation, NoGrad, graph freeing, shared inputs, views.
#include <gtest/gtest.h>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cxr {
namespace {

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = Tensor::from_vector({3}, {1, 2, 3}).set_requires_grad(true);
  sum(scale(x, 2.0f)).backward();
  sum(scale(x, 2.0f)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 4, 4}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, ATensorUsedTwiceGetsBothContributions) {
  Tensor x = Tensor::from_vector({2}, {3, -1}).set_requires_grad(true);
  sum(mul(x, x)).backward();  // d(x^2)/dx = 2x
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{6, -2}));
}

TEST(Autograd, DiamondGraphThroughAView) {
  Tensor x = Tensor::from_vector({2, 2}, {1, 2, 3, 4}).set_requires_grad(true);
  Tensor flat = reshape(x, {4});
  sum(add(flat, scale(flat, 3.0f))).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{4, 4, 4, 4}));
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor y;
  {
    NoGrad no_grad;
    y = scale(x, 2.0f);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.impl()->grad_fn, nullptr);
  EXPECT_TRUE(grad_enabled());
}

TEST(Autograd, GraphIsFreedAfterBackward) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor hidden = relu(scale(x, 2.0f));
  Tensor loss = sum(hidden);
  std::weak_ptr<Node> node = hidden.impl()->grad_fn;
  ASSERT_FALSE(node.expired());
  loss.backward();
  EXPECT_EQ(hidden.impl()->grad_fn, nullptr);
  EXPECT_EQ(loss.impl()->grad_fn, nullptr);
  EXPECT_TRUE(node.expired());
  EXPECT_FALSE(hidden.grad().defined()) << "intermediate gradients are not kept";
}

TEST(Autograd, InputsWithoutRequiresGradGetNoGradient) {
  Tensor x = Tensor::from_vector({2}, {1, 2});
  Tensor w = Tensor::from_vector({2}, {3, 4}).set_requires_grad(true);
  sum(mul(x, w)).backward();
  EXPECT_FALSE(x.grad().defined());
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{1, 2}));
}

TEST(Autograd, SecondBackwardThroughAFreedGraphIsAnError) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor loss = sum(scale(x, 3.0f));
  loss.backward();
  EXPECT_THROW(loss.backward(), InputError) << "the graph was freed: a silent no-op would hide a bug";
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{3, 3}));
  Tensor leaf = Tensor::from_vector({1}, {5}).set_requires_grad(true);
  leaf.backward();  // a leaf has no graph: d(leaf)/d(leaf) = 1, as often as asked
  leaf.backward();
  EXPECT_EQ(leaf.grad().to_vector(), (std::vector<float>{1}));
}

// Two losses sharing an intermediate: the first backward frees the graph below it, so the second
// would stop at h and leave w.grad at the first loss's gradient (3, 3), not (3, 3) + d(sum h*h)/dw.
TEST(Autograd, BackwardThroughAnIntermediateFreedByAnEarlierBackwardIsAnError) {
  Tensor w = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  Tensor h = scale(w, 3.0f);
  Tensor first = sum(h), second = sum(mul(h, h));
  first.backward();
  EXPECT_THROW(second.backward(), InputError);
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{3, 3})) << "a refused backward changes no gradient";
}

TEST(Autograd, BackwardNeedsAScalar) {
  Tensor x = Tensor::from_vector({2}, {1, 2}).set_requires_grad(true);
  EXPECT_THROW(scale(x, 2.0f).backward(), InputError);
}

// Sizes below -1 once multiplied into a count that matched; -1 beside a 0 was left in the shape.
TEST(Tensor, ReshapeRefusesNegativeSizesAndAnAmbiguousMinusOne) {
  const Tensor x = Tensor::zeros({6});
  EXPECT_THROW(reshape(x, {-2, -3}), InputError);
  EXPECT_THROW(reshape(Tensor::zeros({0, 4}), {0, -1}), InputError);
  EXPECT_EQ(reshape(x, {-1, 2}).shape(), (Shape{3, 2}));
  EXPECT_EQ(flatten(Tensor::zeros({0, 2, 3})).shape(), (Shape{0, 6}));  // an empty batch keeps its features
}

TEST(Tensor, ReshapeIsAViewOfTheSameStorage) {
  Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = reshape(x, {3, -1});
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  y.data()[0] = 42;
  EXPECT_EQ(x.to_vector()[0], 42);
  EXPECT_THROW(reshape(x, {4, 2}), InputError);
}

TEST(Tensor, ShapeErrorsNameTheTensors) {
  Tensor a = Tensor::zeros({2, 3}, Device::cpu(), "left");
  Tensor b = Tensor::zeros({3, 2}, Device::cpu(), "right");
  try {
    add(a, b);
    FAIL() << "add of mismatched shapes must throw";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'left' [2, 3]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'right' [3, 2]"), std::string::npos) << e.what();
  }
}

TEST(Tensor, CudaDeviceWithoutAGpuIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a GPU is present";
  EXPECT_THROW(Tensor::zeros({4}, Device::cuda(0), "weights"), std::exception);
}

TEST(Device, Parse) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:2"), Device::cuda(2));
  EXPECT_THROW(Device::parse("gpu"), InputError);
  EXPECT_THROW(Device::parse("cuda:x"), InputError);
  EXPECT_THROW(Device::parse("cuda:-1"), InputError);
}

// An index too large for an int is bad input naming the device string, not std::stoi's out_of_range.
TEST(Device, ParseRefusesAnIndexTooLargeNamingIt) {
  try {
    Device::parse("cuda:99999999999999");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'cuda:99999999999999'"), std::string::npos) << e.what();
  }
}

// The RAM for the CPU (this machine's, between 1 GiB and 64 TiB); the GPU's own memory for a CUDA
// device, and a clear error for one that is not there (tests/cuda checks a real one).
TEST(Device, MemoryBytes) {
  const uint64_t ram = memory_bytes(Device::cpu());
  EXPECT_GE(ram, uint64_t{1} << 30);
  EXPECT_LE(ram, uint64_t{1} << 46);
  if (!cuda_available()) {
    try {
      memory_bytes(Device::cuda(0));
      ADD_FAILURE() << "memory_bytes(cuda:0) without a GPU did not throw";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("device cuda:0 requested but no CUDA GPU is available"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace cxr
