// Batch norm's resident kernels (kernels/cuda/batchnorm_resident.cu) against the two-pass kernels
// they stand in for, forward and backward: the same bits in every output, on chunks kept in shared
// memory whole, in part, and across several rounds a lane; and the shapes they must decline. The
// CPU emulator runs them too, at small sizes on its small GPU (tests/emulated); these take the
// experiments' sizes and a real GPU's occupancy.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/cuda/batchnorm_resident.h"
#include "kernels/dropout.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {
namespace {

namespace gpu = kernels::cuda;

class BatchNormResident : public GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    allowed_before_ = gpu::batchnorm_resident();
  }
  void TearDown() override { gpu::set_batchnorm_resident(allowed_before_); }

 private:
  bool allowed_before_ = true;
};

struct Outputs {
  std::vector<float> y, mean, inv_std, var;
};

struct Inputs {
  int64_t M;
  int C;
  DeviceFloats x, gamma, beta;
  Inputs(int64_t m, int c, uint32_t seed)
      : M(m), C(c), x(random_floats(m * c, seed, -3.0f, 5.0f)), gamma(random_floats(c, seed + 1, 0.5f, 2.0f)),
        beta(random_floats(c, seed + 2)) {}
};

// The public entry point, with the resident kernel allowed or not.
Outputs forward(const Inputs& in, bool resident) {
  gpu::set_batchnorm_resident(resident);
  DeviceFloats y(in.M * in.C), mean(in.C), inv_std(in.C), var(in.C);
  for (DeviceFloats* out : {&y, &mean, &inv_std, &var}) out->poison();
  gpu::batchnorm_forward_train(in.M, in.C, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f, y.get(), mean.get(),
                               inv_std.get(), var.get());
  return {y.to_host(), mean.to_host(), inv_std.to_host(), var.to_host()};
}

struct Gradients {
  std::vector<float> dx, dgamma, dbeta;
};

// The backward pass through the public entry point, from the forward's saved statistics.
Gradients backward(const Inputs& in, const DeviceFloats& mean, const DeviceFloats& inv_std, const DeviceFloats& dy,
                   bool resident) {
  gpu::set_batchnorm_resident(resident);
  DeviceFloats dx(in.M * in.C), dgamma(in.C), dbeta(in.C);
  for (DeviceFloats* out : {&dx, &dgamma, &dbeta}) out->poison();
  gpu::batchnorm_backward_train(in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(), dy.get(), dx.get(),
                                dgamma.get(), dbeta.get());
  return {dx.to_host(), dgamma.to_host(), dbeta.to_host()};
}

// The resident backward kernel called directly: whether it ran, and its outputs.
bool resident_backward(const Inputs& in, const DeviceFloats& mean, const DeviceFloats& inv_std,
                       const DeviceFloats& dy, Gradients& out) {
  DeviceFloats dx(in.M * in.C), dgamma(in.C), dbeta(in.C);
  DeviceFloats partials(2 * 2 * 256 * static_cast<int64_t>(in.C)), sums(2 * 2 * in.C);  // doubles
  for (DeviceFloats* o : {&dx, &dgamma, &dbeta}) o->poison();
  const bool ran = gpu::detail::batchnorm_backward_train_resident(
      in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(), dy.get(), dx.get(), dgamma.get(),
      dbeta.get(), reinterpret_cast<double*>(partials.get()), reinterpret_cast<double*>(sums.get()));
  out = {dx.to_host(), dgamma.to_host(), dbeta.to_host()};
  return ran;
}

// The resident kernel called directly: whether it ran, and its outputs.
bool resident_forward(const Inputs& in, Outputs& out) {
  DeviceFloats y(in.M * in.C), mean(in.C), inv_std(in.C), var(in.C);
  DeviceFloats partials(2 * 2 * 256 * static_cast<int64_t>(in.C)), stats(2 * 2 * in.C);  // doubles: at most 256 chunks
  for (DeviceFloats* o : {&y, &mean, &inv_std, &var}) o->poison();
  const bool ran = gpu::detail::batchnorm_forward_train_resident(
      in.M, in.C, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f, y.get(), mean.get(), inv_std.get(), var.get(),
      reinterpret_cast<double*>(partials.get()), reinterpret_cast<double*>(stats.get()), nullptr);
  out = {y.to_host(), mean.to_host(), inv_std.to_host(), var.to_host()};
  return ran;
}

// channel_sums.cuh's plan_chunks: the blocks the resident kernel needs at once.
int64_t chunks_of(int64_t M) {
  const int64_t wanted = std::min<int64_t>(256, std::max<int64_t>(1, (M + 63) / 64));
  const int64_t rows = (M + wanted - 1) / wanted;
  return (M + rows - 1) / rows;
}

int sm_count() {
  int device = 0, sms = 0;
  EXPECT_EQ(cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), cudaSuccess);
  return sms;
}

void expect_same_bits(const std::vector<float>& want, const std::vector<float>& got, const char* what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  int64_t differ = 0, first = -1;
  for (size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&want[i], &got[i], sizeof(float)) != 0 && differ++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(differ, 0) << what << ": " << differ << " of " << want.size() << " differ, the first at " << first
                       << " (two passes " << want[first < 0 ? 0 : first] << ", resident "
                       << got[first < 0 ? 0 : first] << ")";
}

TEST_F(BatchNormResident, SameBitsAsTheTwoPasses) {
  struct Case {
    int64_t M;
    int C;
  };
  std::vector<Case> cases = {
      {67712, 16},   // experiment 1's first batch norm: 256 chunks of 265 rows, kept whole
      {100000, 128}, // 512-byte rows: about half of each 391-row chunk kept (H100)
      {5000, 64},    // 79 chunks of 64 rows
      {40000, 4},    {30001, 8}, {20000, 32},
      {1, 4},        // one row: variance 0
      {32, 64},      // experiment 2's dense batch norm: one chunk, 63 blocks that only finalise
      {288, 128},    // 5 chunks, 128 blocks
  };
  if (!small_test_run()) cases.push_back({492032, 16});  // experiment 3's: 1,922-row chunks, 3/4 kept (H100)
  const int sms = sm_count();
  uint32_t seed = 7;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "M = " << c.M << ", C = " << c.C);
    const Inputs in(c.M, c.C, seed += 3);
    const Outputs two_passes = forward(in, false);
    Outputs resident;
    const bool ran = resident_forward(in, resident);
    // The kernel is built for 2 blocks an SM (128 registers, ~93 KB of shared memory on an H100).
    // Under compute-sanitizer (which injects itself through CUDA_INJECTION64_PATH) the instrumented
    // kernel may fit fewer, and the runtime refuse the launch: then it declines, as it should.
    const bool instrumented = std::getenv("CUDA_INJECTION64_PATH") != nullptr;
    if (!instrumented || ran) {
      EXPECT_EQ(ran, 2 * sms >= chunks_of(c.M)) << sms << " SMs, " << chunks_of(c.M) << " chunks";
    }
    if (!ran) {  // said, so that a sanitizer's log shows whether it checked the resident kernel
      std::fprintf(stderr, "[   NOTE   ] M = %lld, C = %d: the resident kernel declined%s\n",
                   static_cast<long long>(c.M), c.C, instrumented ? " (under an instrumenting tool)" : "");
      continue;
    }
    expect_same_bits(two_passes.y, resident.y, "y");
    expect_same_bits(two_passes.mean, resident.mean, "mean");
    expect_same_bits(two_passes.inv_std, resident.inv_std, "inverse std");
    expect_same_bits(two_passes.var, resident.var, "variance");
    // And through the public entry point, which takes the resident kernel when allowed.
    expect_same_bits(two_passes.y, forward(in, true).y, "y (batchnorm_forward_train)");

    // The backward pass, from these statistics and a random dy.
    const DeviceFloats mean(two_passes.mean), inv_std(two_passes.inv_std);
    const DeviceFloats dy(random_floats(c.M * c.C, seed + 100, -2.0f, 2.0f));
    const Gradients want = backward(in, mean, inv_std, dy, false);
    Gradients got;
    const bool ran_backward = resident_backward(in, mean, inv_std, dy, got);
    if (!instrumented) {
      EXPECT_TRUE(ran_backward) << "the forward ran resident, the backward did not";
    }
    if (ran_backward) {
      expect_same_bits(want.dx, got.dx, "dx");
      expect_same_bits(want.dgamma, got.dgamma, "dgamma");
      expect_same_bits(want.dbeta, got.dbeta, "dbeta");
    }
    const Gradients through_entry = backward(in, mean, inv_std, dy, true);
    expect_same_bits(want.dx, through_entry.dx, "dx (batchnorm_backward_train)");
    expect_same_bits(want.dgamma, through_entry.dgamma, "dgamma (batchnorm_backward_train)");
    expect_same_bits(want.dbeta, through_entry.dbeta, "dbeta (batchnorm_backward_train)");
    // dgamma and dbeta are optional (a frozen layer's): dx alone, the same bits.
    if (ran_backward) {
      DeviceFloats dx(c.M * c.C), partials(2 * 2 * 256 * static_cast<int64_t>(c.C)), sums(2 * 2 * c.C);
      dx.poison();
      ASSERT_TRUE(gpu::detail::batchnorm_backward_train_resident(
          in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(), dy.get(), dx.get(), nullptr, nullptr,
          reinterpret_cast<double*>(partials.get()), reinterpret_cast<double*>(sums.get())));
      expect_same_bits(want.dx, dx.to_host(), "dx (no dgamma, dbeta)");
    }
  }
}

// Batch norm, dropout and relu as one op (kernels/batchnorm.h's batchnorm_dropout_relu_*): the resident
// kernels with dropout-relu applied to their outputs, and their gradient formed as dy is loaded,
// against the kernels one after another (batch norm's, then dropout_relu's), bit for bit; with the
// resident kernels turned off, the fused entry points run those kernels themselves.
struct Fused {
  std::vector<float> y, mean, inv_std, var, dx, dgamma, dbeta;
};

Fused batchnorm_dropout_relu(const Inputs& in, const DeviceFloats& dy, bool fused, bool resident) {
  constexpr float kRate = 0.3f, kEpsilon = 1e-3f;
  constexpr uint64_t kSeed = 42, kStream = (uint64_t{5} << 40) ^ 17;
  gpu::set_batchnorm_resident(resident);
  const int64_t n = in.M * in.C;
  DeviceFloats y(n), mean(in.C), inv_std(in.C), var(in.C), dx(n), dgamma(in.C), dbeta(in.C);
  for (DeviceFloats* out : {&y, &mean, &inv_std, &var, &dx, &dgamma, &dbeta}) out->poison();
  if (fused) {
    gpu::batchnorm_dropout_relu_forward_train(in.M, in.C, in.x.get(), in.gamma.get(), in.beta.get(), kEpsilon, kRate,
                                              kSeed, kStream, y.get(), mean.get(), inv_std.get(), var.get());
    gpu::batchnorm_dropout_relu_backward_train(in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(),
                                               kRate, y.get(), dy.get(), dx.get(), dgamma.get(), dbeta.get());
  } else {
    DeviceFloats normalized(n), gradient(n);
    gpu::batchnorm_forward_train(in.M, in.C, in.x.get(), in.gamma.get(), in.beta.get(), kEpsilon, normalized.get(),
                                 mean.get(), inv_std.get(), var.get());
    gpu::dropout_relu_forward(n, kRate, kSeed, kStream, normalized.get(), y.get());
    gpu::dropout_relu_backward(n, kRate, y.get(), dy.get(), gradient.get());
    gpu::batchnorm_backward_train(in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(), gradient.get(),
                                  dx.get(), dgamma.get(), dbeta.get());
  }
  return {y.to_host(),  mean.to_host(), inv_std.to_host(), var.to_host(),
          dx.to_host(), dgamma.to_host(), dbeta.to_host()};
}

TEST_F(BatchNormResident, FusedDropoutReluSameBitsAsTheKernelsApart) {
  struct Case {
    int64_t M;
    int C;
  };
  std::vector<Case> cases = {{67712, 16}, {100000, 128}, {5000, 64}, {30001, 8}, {1, 4}, {32, 64}, {5000, 12}};
  if (!small_test_run()) cases.push_back({492032, 16});
  const int sms = sm_count();
  const bool instrumented = std::getenv("CUDA_INJECTION64_PATH") != nullptr;
  uint32_t seed = 70;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "M = " << c.M << ", C = " << c.C);
    const Inputs in(c.M, c.C, seed += 3);
    const DeviceFloats dy(random_floats(c.M * c.C, seed + 100, -2.0f, 2.0f));
    const Fused want = batchnorm_dropout_relu(in, dy, false, true);
    int64_t zeros = 0;
    for (float v : want.y) zeros += v == 0.0f;
    if (c.M * c.C >= 1000) {  // the mask drops 30%; relu zeroes some of the rest, not all
      EXPECT_GT(zeros, c.M * c.C / 4);
      EXPECT_LT(zeros, c.M * c.C * 99 / 100);
    }
    for (const bool resident : {true, false}) {
      SCOPED_TRACE(resident ? "resident kernels allowed" : "resident kernels off");
      const Fused got = batchnorm_dropout_relu(in, dy, true, resident);
      expect_same_bits(want.y, got.y, "y");
      expect_same_bits(want.mean, got.mean, "mean");
      expect_same_bits(want.inv_std, got.inv_std, "inverse std");
      expect_same_bits(want.var, got.var, "variance");
      expect_same_bits(want.dx, got.dx, "dx");
      expect_same_bits(want.dgamma, got.dgamma, "dgamma");
      expect_same_bits(want.dbeta, got.dbeta, "dbeta");
    }
    // Where the plain resident kernel runs, so does the fused one (the comparison above was of it).
    DeviceFloats y(c.M * c.C), mean(c.C), inv_std(c.C), var(c.C);
    DeviceFloats partials(2 * 2 * 256 * static_cast<int64_t>(c.C)), stats(2 * 2 * c.C);
    const bool ran = gpu::detail::batchnorm_dropout_relu_forward_train_resident(
        in.M, in.C, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f, 0.3f, 42, 1, y.get(), mean.get(),
        inv_std.get(), var.get(), reinterpret_cast<double*>(partials.get()), reinterpret_cast<double*>(stats.get()),
        nullptr);
    const bool fits = c.C % 4 == 0 && 128 % c.C == 0 && 2 * sms >= chunks_of(c.M);
    if (!instrumented) {
      EXPECT_EQ(ran, fits);
    }
    DeviceFloats dx(c.M * c.C);
    const bool ran_backward = gpu::detail::batchnorm_dropout_relu_backward_train_resident(
        in.M, in.C, in.x.get(), in.gamma.get(), mean.get(), inv_std.get(), 0.3f, y.get(), dy.get(), dx.get(), nullptr,
        nullptr, reinterpret_cast<double*>(partials.get()), reinterpret_cast<double*>(stats.get()));
    if (!instrumented) {
      EXPECT_EQ(ran_backward, fits);
    }
  }
}

// The moving statistics updated as the forward finalises (kernels::MovingUpdate), by the resident
// kernel and by the two passes, plain and fused with dropout-relu: the bits of batchnorm_update_moving's
// own kernel after the forward, at experiment 3's first batch norm (4-D, unbiased) and experiment 2's
// dense one (32 rows of 64 channels, biased).
TEST_F(BatchNormResident, FoldedMovingUpdateGivesTheUpdateKernelsBits) {
  struct Case {
    int64_t M;
    int C;
    bool unbiased;
  };
  for (const Case c : {Case{32 * 124 * 124, 16, true}, Case{32, 64, false}}) {
    const Inputs in(c.M, c.C, 90);
    const std::vector<float> start_mean = random_floats(c.C, 93), start_var = random_floats(c.C, 94, 0.5f, 2.0f);
    for (const bool resident : {false, true})
      for (const bool fused : {false, true}) {
        gpu::set_batchnorm_resident(resident);
        std::vector<float> means[2], vars[2];
        for (int folded = 0; folded < 2; ++folded) {
          DeviceFloats y(c.M * c.C), mean(c.C), inv_std(c.C), var(c.C);
          const DeviceFloats moving_mean(start_mean), moving_var(start_var);
          const kernels::MovingUpdate update{0.99f, c.unbiased, moving_mean.get(), moving_var.get()};
          const kernels::MovingUpdate* moving = folded ? &update : nullptr;
          if (fused)
            gpu::batchnorm_dropout_relu_forward_train(c.M, c.C, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f, 0.3f,
                                                      42, 1, y.get(), mean.get(), inv_std.get(), var.get(), moving);
          else
            gpu::batchnorm_forward_train(c.M, c.C, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f, y.get(),
                                         mean.get(), inv_std.get(), var.get(), moving);
          if (!folded)
            gpu::batchnorm_update_moving(c.M, c.C, mean.get(), var.get(), update.momentum, c.unbiased,
                                         moving_mean.get(), moving_var.get());
          means[folded] = moving_mean.to_host();
          vars[folded] = moving_var.to_host();
        }
        SCOPED_TRACE("M " + std::to_string(c.M) + (resident ? ", resident" : ", two passes") +
                     (fused ? ", fused" : ""));
        expect_same_bits(means[0], means[1], "moving mean");
        expect_same_bits(vars[0], vars[1], "moving variance");
        EXPECT_NE(means[1], start_mean) << "the moving mean was not updated";
      }
  }
}

TEST_F(BatchNormResident, DeclinesWhatItCannotHold) {
  Outputs unused;
  EXPECT_FALSE(resident_forward(Inputs(5000, 12, 1), unused)) << "C = 12 does not divide 128";
  EXPECT_FALSE(resident_forward(Inputs(5000, 256, 2), unused)) << "C = 256: more than one channel group";
  const Inputs in(5000, 16, 4);
  EXPECT_FALSE(gpu::detail::batchnorm_forward_train_resident(0, 16, in.x.get(), in.gamma.get(), in.beta.get(), 1e-3f,
                                                             nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
                                                             nullptr))
      << "no rows";
  EXPECT_FALSE(gpu::detail::batchnorm_forward_train_resident(5000 - 1, 16, in.x.get() + 1, in.gamma.get(),
                                                             in.beta.get(), 1e-3f, nullptr, nullptr, nullptr,
                                                             nullptr, nullptr, nullptr, nullptr))
      << "x not 16-byte aligned";
  EXPECT_FALSE(gpu::detail::batchnorm_backward_train_resident(5000, 12, in.x.get(), in.gamma.get(), nullptr, nullptr,
                                                              in.x.get(), nullptr, nullptr, nullptr, nullptr,
                                                              nullptr))
      << "backward, C = 12";
  EXPECT_FALSE(gpu::detail::batchnorm_backward_train_resident(5000 - 1, 16, in.x.get(), in.gamma.get(), nullptr,
                                                              nullptr, in.x.get() + 1, nullptr, nullptr, nullptr,
                                                              nullptr, nullptr))
      << "backward, dy not 16-byte aligned";
}

}  // namespace
}  // namespace cxr::test
