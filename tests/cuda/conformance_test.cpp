// Every engine op, forward and backward, on CUDA with each kernel choice (custom, vendor) against the
// CPU reference on fresh random inputs (tests/cuda/conformance.h). Tolerances say what may differ:
// 0 where the CUDA kernel does the CPU's arithmetic in the CPU's order (masks, maxima, elementwise,
// Adam), a few float ulps of the accumulated sum where only the order of a reduction differs, and
// for the vendor (cuDNN) paths what cuDNN's own order and float accumulation allow.
#include <cmath>
#include <cstring>
#include <tuple>

#include "engine/optimizer.h"
#include "kernels/conv2d.h"
#include "kernels/loss.h"
#include "tests/cuda/conformance.h"

namespace cxr::test {
namespace {

constexpr Tolerance kExact{0, 0};
constexpr Tolerance kReduction{1e-4, 1e-4};  // sums of hundreds of products, accumulated in another order
// The same value, compared as numbers rather than bits: cuDNN's relu may give -0 where the CPU gives +0.
constexpr Tolerance kSameValue{0, 1e-7};

class Conformance : public GpuTest {};

TEST_F(Conformance, ElementwiseAndActivations) {
  const Tensor a = random_tensor({3, 7, 5, 4}, 1), b = random_tensor({3, 7, 5, 4}, 2);
  check_op("add", {a, b}, {true, true}, [](std::vector<Tensor>& in) { return add(in[0], in[1]); }, kExact, kExact);
  check_op("mul", {a, b}, {true, true}, [](std::vector<Tensor>& in) { return mul(in[0], in[1]); }, kExact, kExact);
  check_op("scale", {a}, {true}, [](std::vector<Tensor>& in) { return scale(in[0], 0.37f); }, kExact, kExact);
  check_op_choices("relu", {a}, {true}, [](std::vector<Tensor>& in) { return relu(in[0]); },
                   {{KernelChoice::Custom, kExact, kExact}, {KernelChoice::Vendor, kSameValue, kSameValue}});
  // expf differs by an ulp or two between CUDA and glibc; cuDNN's sigmoid may use a faster exp.
  check_op_choices("sigmoid", {a}, {true}, [](std::vector<Tensor>& in) { return sigmoid(in[0]); },
                   {{KernelChoice::Custom, {1e-6, 1e-6}, {1e-6, 1e-6}},
                    {KernelChoice::Vendor, {1e-6, 1e-5}, {1e-6, 1e-5}}});
  check_op("sum", {a}, {true}, [](std::vector<Tensor>& in) { return sum(in[0]); }, {1e-5, 1e-6}, kExact);
  check_op("mean", {a}, {true}, [](std::vector<Tensor>& in) { return mean(in[0]); }, {1e-6, 1e-6}, kExact);
  check_op("flatten", {a}, {true}, [](std::vector<Tensor>& in) { return flatten(in[0]); }, kExact, kExact);
}

struct ConvCase {
  const char* name;
  Shape x, w;
  int stride;
  bool same;
};

// Experiment 1's layers (batch 2), then the shapes the kernels treat specially: 1x1, stride 2,
// TensorFlow's asymmetric 'same' padding (cuDNN cannot express it: vendor falls back to custom).
const ConvCase kConvCases[] = {
    {"experiment1 conv 1", {2, 50, 50, 3}, {16, 5, 5, 3}, 1, false},
    {"experiment1 conv 2", {2, 46, 46, 16}, {32, 5, 5, 16}, 2, false},
    {"experiment1 conv 3", {2, 21, 21, 32}, {64, 5, 5, 32}, 2, false},
    {"1x1", {3, 9, 7, 24}, {40, 1, 1, 24}, 1, false},
    {"3x3 same", {2, 11, 13, 5}, {7, 3, 3, 5}, 1, true},
    {"3x3 stride 2 same (asymmetric)", {2, 12, 12, 6}, {8, 3, 3, 6}, 2, true},
    {"4x4 stride 2 valid", {2, 17, 15, 3}, {5, 4, 4, 3}, 2, false},
    {"7x7 stride 2 same, many filters", {1, 30, 30, 3}, {70, 7, 7, 3}, 2, true},
};

TEST_F(Conformance, Conv2dForwardAndBackward) {
  uint32_t seed = 10;
  for (const ConvCase& c : kConvCases) {
    const Tensor x = random_tensor(c.x, seed++), w = random_tensor(c.w, seed++, -0.5f, 0.5f);
    const Tensor bias = random_tensor({c.w[0]}, seed++);
    check_op(
        std::string("conv2d ") + c.name, {x, w, bias}, {true, true, true},
        [&](std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.stride, c.stride, c.same); },
        kReduction, {1e-3, 1e-4});  // dw sums over every output pixel of the batch
    check_op(
        std::string("conv2d without bias ") + c.name, {x, w}, {false, true},
        [&](std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), c.stride, c.stride, c.same); },
        kReduction, {1e-3, 1e-4});
  }
}

// The vendor convolution counts the directions it leaves to the custom kernels, which a "vendor"
// benchmark checks: none for experiment 1's second layer, all three for TensorFlow's asymmetric
// 'same' padding, which cuDNN cannot express.
TEST_F(Conformance, VendorConvCountsTheDirectionsTheCustomKernelRan) {
  const std::pair<kernels::Conv2dShape, int64_t> cases[] = {
      {kernels::make_conv2d_shape(2, 46, 46, 16, 32, 5, 5, 2, 2, false), 0},
      {kernels::make_conv2d_shape(2, 12, 12, 6, 8, 3, 3, 2, 2, true), 3}};
  for (const auto& [s, expected] : cases) {
    const DeviceFloats x(random_floats(int64_t{s.N} * s.H * s.W * s.C, 40));
    const DeviceFloats w(random_floats(int64_t{s.K} * s.R * s.S * s.C, 41));
    const DeviceFloats dy(random_floats(int64_t{s.N} * s.OH * s.OW * s.K, 42));
    DeviceFloats y(int64_t{s.N} * s.OH * s.OW * s.K), dx(int64_t{s.N} * s.H * s.W * s.C);
    DeviceFloats dw(int64_t{s.K} * s.R * s.S * s.C), db(s.K);
    const int64_t before = kernels::vendor::conv2d_custom_fallbacks();
    kernels::vendor::conv2d_forward(s, x.get(), w.get(), nullptr, y.get());
    kernels::vendor::conv2d_backward(s, x.get(), w.get(), dy.get(), dx.get(), dw.get(), db.get());
    EXPECT_EQ(kernels::vendor::conv2d_custom_fallbacks() - before, expected) << "padding top " << s.pad_top;
  }
}

TEST_F(Conformance, DenseForwardAndBackward) {
  for (auto [batch, in, out] : {std::tuple{5, 37, 3}, {32, 1024, 1}, {7, 130, 70}, {1, 1, 1}}) {
    const Tensor x = random_tensor({batch, in}, 20), w = random_tensor({in, out}, 21, -0.5f, 0.5f);
    const Tensor b = random_tensor({out}, 22);
    check_op(
        "dense " + std::to_string(batch) + "x" + std::to_string(in) + "x" + std::to_string(out), {x, w, b},
        {true, true, true}, [](std::vector<Tensor>& t) { return dense(t[0], t[1], t[2]); }, kReduction, kReduction);
  }
}

// (pool, stride, same): symmetric and TensorFlow's uneven 'same' padding (2/2 same on 11x9 pads one
// pixel at the end only: cuDNN cannot express it, so vendor falls back to custom), overlapping windows.
const std::tuple<int, int, bool> kPoolCases[] = {{2, 2, false}, {3, 2, true}, {3, 1, false}, {2, 3, true},
                                                 {2, 2, true},  {3, 1, true}};

std::string pool_name(int pool, int stride, bool same) {
  return "max_pool2d " + std::to_string(pool) + "/" + std::to_string(stride) + (same ? " same" : " valid");
}

TEST_F(Conformance, MaxPoolIsExact) {
  // Values from a small set, so windows hold ties: the first maximum must win. Custom kernel only:
  // which tied maximum cuDNN's backward picks is not documented (the next test covers vendor).
  std::vector<float> v = random_floats(2 * 11 * 9 * 3, 30, 0.0f, 4.0f);
  for (float& f : v) f = std::floor(f);
  const Tensor x = Tensor::from_vector({2, 11, 9, 3}, v);
  for (auto [pool, stride, same] : kPoolCases)
    check_op_choices(
        pool_name(pool, stride, same), {x}, {true},
        [&](std::vector<Tensor>& in) { return max_pool2d(in[0], pool, pool, stride, stride, same); },
        {{KernelChoice::Custom, kExact, kExact}});
}

TEST_F(Conformance, MaxPoolVendorWithoutTies) {
  // Continuous values (no ties), negative ones included so that padding counted as 0 would show.
  const Tensor x = random_tensor({2, 11, 9, 3}, 31);
  for (auto [pool, stride, same] : kPoolCases)
    check_op(
        pool_name(pool, stride, same) + " without ties", {x}, {true},
        [&](std::vector<Tensor>& in) { return max_pool2d(in[0], pool, pool, stride, stride, same); }, kExact,
        {1e-6, 1e-6});  // overlapping windows add onto one pixel in cuDNN's order
}

// A NaN in a window is its output, and (custom kernel) takes the gradient at its last NaN, as on the
// CPU and in PyTorch. cuDNN (CUDNN_PROPAGATE_NAN) must give the same outputs; where its backward puts
// a NaN window's gradient is not documented, so only its forward is held to the CPU here.
TEST_F(Conformance, MaxPoolPropagatesNaN) {
  std::vector<float> v = random_floats(2 * 11 * 9 * 3, 32, -2.0f, 2.0f);
  for (size_t i = 4; i < v.size(); i += 29) v[i] = std::nanf("");
  const Tensor x = Tensor::from_vector({2, 11, 9, 3}, v);
  for (auto [pool, stride, same] : kPoolCases)
    check_op_choices(
        pool_name(pool, stride, same) + " with NaN", {x}, {true},
        [&](std::vector<Tensor>& in) { return max_pool2d(in[0], pool, pool, stride, stride, same); },
        {{KernelChoice::Custom, kExact, kExact}});
  for (auto [pool, stride, same] : kPoolCases)
    check_op_choices(
        pool_name(pool, stride, same) + " with NaN, forward", {x}, {false},
        [&](std::vector<Tensor>& in) { return max_pool2d(in[0], pool, pool, stride, stride, same); },
        {{KernelChoice::Vendor, kExact, kExact}});
}

TEST_F(Conformance, BatchNormTrainingInferenceAndMovingStatistics) {
  // M = 1: vendor falls back (M/(M-1) undefined). Experiment 1's first batch norm (M = 67,712 rows)
  // and a prime M over 65,535: cuDNN's inference refuses a batch of 65,536 or more, so the vendor
  // path must split the rows (kernels/cuda/cudnn_batchnorm.cpp).
  for (const Shape& shape : {Shape{4, 9, 7, 16}, Shape{6, 33}, Shape{2, 5, 5, 70}, Shape{8, 23, 23, 32},
                             Shape{1, 1, 1, 8}, Shape{32, 46, 46, 16}, Shape{1, 65537, 1, 3}}) {
    const int C = static_cast<int>(shape.back());
    const Tensor x = random_tensor(shape, 40, -3.0f, 5.0f), gamma = random_tensor({C}, 41, 0.5f, 1.5f);
    const Tensor beta = random_tensor({C}, 42);
    const Tensor mean0 = random_tensor({C}, 43), var0 = random_tensor({C}, 44, 0.5f, 2.0f);
    for (bool training : {true, false}) {
      const std::string name = "batch_norm " + shape_str(shape) + (training ? " training" : " inference");
      // The moving statistics are updated in place: compare them too, by returning them from a
      // second run of the op's forward.
      auto op = [&](std::vector<Tensor>& in) {
        Tensor mean = in[3].clone(), var = in[4].clone();
        Tensor y = batch_norm(in[0], in[1], in[2], mean, var, BatchNormOptions{training, 0.9f, 1e-3f});
        in[3] = mean;
        in[4] = var;
        return y;
      };
      // Vendor (cuDNN, 4-D inputs only; 2-D ones stay custom) accumulates in float, not double.
      check_op_choices(name, {x, gamma, beta, mean0, var0}, {true, true, true, false, false}, op,
                       {{KernelChoice::Custom, {1e-5, 1e-5}, {1e-4, 1e-4}},
                        {KernelChoice::Vendor, {1e-4, 1e-4}, {1e-3, 1e-3}}});
      for (KernelChoice choice : {KernelChoice::Custom, KernelChoice::Vendor}) {
        std::vector<std::vector<float>> stats[2];
        for (int d = 0; d < 2; ++d) {
          const Device device = d == 0 ? Device::cpu() : Device::cuda(0);
          const KernelChoiceScope scope(choice);
          std::vector<Tensor> in{x.to(device), gamma.to(device), beta.to(device), mean0.to(device), var0.to(device)};
          op(in);
          stats[d] = {in[3].to_vector(), in[4].to_vector()};
        }
        // cuDNN's update (factor = 1 - momentum, unbiased variance) must match Keras's to float rounding.
        const Tolerance tol = choice == KernelChoice::Vendor ? Tolerance{1e-5, 1e-5} : Tolerance{1e-6, 1e-6};
        const std::string label = name + " (" + kernel_choice_name(choice) + ")";
        expect_close(stats[0][0], stats[1][0], tol, label + " moving mean");
        expect_close(stats[0][1], stats[1][1], tol, label + " moving variance");
      }
    }
  }
}

// The custom CUDA kernel draws the CPU's Philox mask: bit-identical. (The vendor path draws cuDNN's
// own masks, checked statistically by the next test.)
TEST_F(Conformance, DropoutMasksAreBitIdentical) {
  for (int64_t n : {1, 3, 4, 5, 1023, 4099, 70001}) {
    const Tensor x = random_tensor({n}, 50);
    for (float rate : {0.2f, 0.5f, 0.9f})
      check_op_choices(
          "dropout n=" + std::to_string(n) + " rate " + std::to_string(rate), {x}, {true},
          [rate](std::vector<Tensor>& in) { return dropout(in[0], rate, 42, 7); },
          {{KernelChoice::Custom, kExact, kExact}});
  }
}

// Batch norm, dropout and relu as one op: the CPU's fused kernels against CUDA's (the resident
// kernels with dropout-relu fused in, where they fit). The same masks; batch norm's tolerances for
// the rest. Small
// shapes: where the two devices' normalised values differ by an ulp, one that straddles 0 would
// flip a relu and move its gradient by O(1); over a million elements that might happen.
TEST_F(Conformance, BatchNormDropoutReluMatchesTheCpu) {
  for (const Shape& shape : {Shape{4, 9, 7, 16}, Shape{3, 7, 7, 100}, Shape{6, 33}, Shape{3, 1500}}) {
    const int C = static_cast<int>(shape.back());
    const Tensor x = random_tensor(shape, 40, -3.0f, 5.0f), gamma = random_tensor({C}, 41, 0.5f, 1.5f);
    const Tensor beta = random_tensor({C}, 42);
    const Tensor mean0 = random_tensor({C}, 43), var0 = random_tensor({C}, 44, 0.5f, 2.0f);
    check_op_choices(
        "batch_norm_dropout_relu " + shape_str(shape), {x, gamma, beta, mean0, var0}, {true, true, true, false, false},
        [](std::vector<Tensor>& in) {
          Tensor mean = in[3].clone(), var = in[4].clone();
          return batch_norm_dropout_relu(in[0], in[1], in[2], mean, var, {true, 0.9f, 1e-3f}, {0.3f, 42, 7});
        },
        {{KernelChoice::Custom, {1e-5, 1e-5}, {1e-4, 1e-4}}});
  }
}

// Dropout fused with relu (the model's Dropout -> Activation relu): the CPU's two kernels' bits, forward
// and backward, at sizes that leave a ragged quad.
TEST_F(Conformance, DropoutThenReluIsBitIdentical) {
  for (int64_t n : {1, 5, 4099, 70001}) {
    const Tensor x = random_tensor({n}, 51);
    for (float rate : {0.2f, 0.9f})
      check_op_choices(
          "dropout_relu n=" + std::to_string(n) + " rate " + std::to_string(rate), {x}, {true},
          [rate](std::vector<Tensor>& in) { return dropout_relu(in[0], rate, 42, 7); },
          {{KernelChoice::Custom, kExact, kExact}});
  }
}

// cuDNN dropout (`kernels: vendor`): its masks come from cuDNN's RNG, so only their properties are
// checked: the kept fraction is within 5 sigma of 1 - rate, kept values are x / (1 - rate), the rest
// 0, and backward applies exactly the forward's mask. Two dropouts in one graph check that each
// backward reads its own forward's reserve space (their masks differ: cuDNN's RNG advances per call).
TEST_F(Conformance, VendorDropoutMasks) {
  constexpr int64_t n = 100003;
  for (float rate : {0.2f, 0.5f, 0.9f}) {
    const std::string label = "vendor dropout rate " + std::to_string(rate);
    const double scale = 1.0 / (1.0 - static_cast<double>(rate));
    const KernelChoiceScope scope(KernelChoice::Vendor);
    std::vector<Tensor> xs, ys, gs;
    Tensor total;
    for (uint32_t k = 0; k < 2; ++k) {
      // Magnitudes in [0.5, 2]: a kept element is never 0.
      Tensor x = random_tensor({n}, 60 + k, 0.5f, 2.0f).to(Device::cuda(0));
      x.set_requires_grad(true);
      const Tensor y = dropout(x, rate, 42, 7);
      const Tensor g = random_tensor({n}, 70 + k).to(Device::cuda(0));
      const Tensor term = sum(mul(y, g));
      total = k == 0 ? term : add(total, term);
      xs.push_back(x);
      ys.push_back(y);
      gs.push_back(g);
    }
    total.backward();
    std::vector<std::vector<float>> masks;
    for (size_t k = 0; k < xs.size(); ++k) {
      const std::vector<float> x = xs[k].to_vector(), y = ys[k].to_vector(), g = gs[k].to_vector();
      const std::vector<float> dx = xs[k].grad().to_vector();
      ASSERT_EQ(y.size(), static_cast<size_t>(n));
      ASSERT_EQ(dx.size(), static_cast<size_t>(n));
      int64_t kept = 0, bad_values = 0, bad_grads = 0;
      std::vector<float> mask(static_cast<size_t>(n));
      for (size_t i = 0; i < y.size(); ++i) {
        const bool keep = y[i] != 0.0f;
        mask[i] = keep ? 1.0f : 0.0f;
        kept += keep ? 1 : 0;
        const double want_y = keep ? x[i] * scale : 0.0;
        const double want_dx = keep ? g[i] * scale : 0.0;
        if (!(std::fabs(y[i] - want_y) <= 1e-6 * std::fabs(want_y)) && ++bad_values <= 5)  // NaN fails
          ADD_FAILURE() << label << " output " << i << ": " << y[i] << ", want " << want_y;
        if (!(std::fabs(dx[i] - want_dx) <= 1e-6 * std::fabs(want_dx)) && ++bad_grads <= 5)
          ADD_FAILURE() << label << " gradient " << i << ": " << dx[i] << ", want " << want_dx << " (kept " << keep
                        << ")";
      }
      EXPECT_EQ(bad_values, 0) << label << ": outputs that are neither 0 nor x / (1 - rate)";
      EXPECT_EQ(bad_grads, 0) << label << ": gradients that do not follow the forward's mask";
      const double expected = static_cast<double>(n) * (1.0 - rate);
      const double sigma = std::sqrt(static_cast<double>(n) * rate * (1.0 - rate));
      EXPECT_LE(std::fabs(static_cast<double>(kept) - expected), 5 * sigma)
          << label << ": kept " << kept << " of " << n << ", expected about " << expected;
      masks.push_back(std::move(mask));
    }
    EXPECT_NE(masks[0], masks[1]) << label << ": two calls drew the same mask";
  }
}

TEST_F(Conformance, BinaryCrossEntropyOnLogits) {
  for (int n : {1, 7, 32, 1000}) {
    const Tensor z = random_tensor({n, 1}, 60, -30.0f, 30.0f);
    std::vector<float> labels = random_floats(n, 61, 0.0f, 1.0f);
    for (float& l : labels) l = l > 0.5f ? 1.0f : 0.0f;
    const Tensor y = Tensor::from_vector({n, 1}, labels);
    // Forward and backward are in double on both devices; only exp/log1p rounding differs.
    check_op(
        "bce_with_logits n=" + std::to_string(n), {z, y}, {true, false},
        [](std::vector<Tensor>& in) { return bce_with_logits(in[0], in[1]); }, {1e-6, 1e-6}, {1e-7, 1e-6});
  }
}

TEST_F(Conformance, BinaryAccuracyCountOnTheDevice) {
  const int n = 1000;
  std::vector<float> z = random_floats(n, 70, -3.0f, 3.0f), y = random_floats(n, 71, 0.0f, 1.0f);
  z[0] = 0.0f;  // p = 0.5 predicts class 0
  for (float& l : y) l = l > 0.5f ? 1.0f : 0.0f;
  const int64_t expected = kernels::cpu::binary_accuracy_count(n, z.data(), y.data());
  DeviceFloats dz(z), dy(y);
  auto* counter = static_cast<unsigned long long*>(kernels::cuda::device_alloc(sizeof(unsigned long long), "counter"));
  const unsigned long long start = 5;  // the kernel adds onto the counter
  kernels::cuda::copy_host_to_device(counter, &start, sizeof(start));
  kernels::cuda::binary_accuracy_count(n, dz.get(), dy.get(), counter);
  unsigned long long got = 0;
  kernels::cuda::copy_device_to_host(&got, counter, sizeof(got));
  kernels::cuda::device_free(counter);
  EXPECT_EQ(static_cast<int64_t>(got), expected + 5);
}

// Adam (fused, every tensor in one launch) and SGD: the CUDA update is bit-identical to the CPU's.
TEST_F(Conformance, OptimizerStepsAreBitIdentical) {
  const std::vector<Shape> shapes{{16, 5, 5, 3}, {16}, {1024, 1}, {1}, {7, 3}, {3000}};
  for (bool use_adam : {true, false}) {
    std::vector<std::vector<float>> result[2];
    for (int d = 0; d < 2; ++d) {
      const Device device = d == 0 ? Device::cpu() : Device::cuda(0);
      std::vector<Tensor> params;
      for (size_t i = 0; i < shapes.size(); ++i)
        params.push_back(random_tensor(shapes[i], 80 + static_cast<uint32_t>(i)).to(device).set_requires_grad(true));
      std::unique_ptr<Optimizer> opt;
      if (use_adam)
        opt = std::make_unique<Adam>(params, AdamOptions{1e-2f, 0.9f, 0.999f, 1e-7f});
      else
        opt = std::make_unique<SGD>(params, 0.05f);
      for (int step = 0; step < 3; ++step) {
        for (size_t i = 0; i < params.size(); ++i) {
          Tensor loss = sum(mul(params[i], random_tensor(shapes[i], 200 + step * 10 + i).to(device)));
          loss.backward();
        }
        opt->step();
        opt->zero_grad();
      }
      for (Tensor& p : params) result[d].push_back(p.to_vector());
    }
    for (size_t i = 0; i < shapes.size(); ++i)
      expect_close(result[0][i], result[1][i], kExact,
                   std::string(use_adam ? "adam" : "sgd") + " parameter " + std::to_string(i));
  }
}

}  // namespace
}  // namespace cxr::test
