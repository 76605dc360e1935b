// The custom CUDA batch norm (kernels/cuda/batchnorm.cu), run from its own source on the CPU
// emulator, against kernels/cpu/batchnorm.cpp: every pass, channel counts that divide 32 (several
// rows per warp), that do not (idle lanes, several channel groups), C % 4 == 0 (float4) and not, and
// buffers one float off 16-byte alignment (the scalar path). Statistics are sums in double in
// another order, so training results agree to ~1e-6; inference and the moving averages are
// element-wise and must be bit-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "batchnorm_terms.emulated.h"  // cuda::bn::GradientSums, DropoutReluGradientSums
#include "kernels/batchnorm.h"
#include "kernels/cuda/batchnorm_resident.h"
#include "kernels/dropout.h"

namespace cxr::kernels {
namespace {

void expect_close(const std::vector<float>& cpu, const float* emulated, double tolerance, const std::string& what) {
  int bad = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double d = std::fabs(static_cast<double>(cpu[i]) - emulated[i]);
    if (!(d <= tolerance * (1.0 + std::fabs(cpu[i]))) && ++bad <= 3)
      ADD_FAILURE() << what << " element " << i << ": CPU " << cpu[i] << ", emulated CUDA " << emulated[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

TEST(EmulatedCuda, BatchNormMatchesTheCpu) {
  struct Case {
    int64_t M;
    int C;
  };
  // 70,000 rows: the most chunks (kMaxChunks in kernels/cuda/channel_sums.cuh), the last one shorter;
  // 40,000 x 64: chunks of 157 rows, which a block's 16 row walkers, 8 rows in flight each (4 for the
  // gradient sums), cover in 2 (3) rounds, the last one partial.
  for (const Case k : {Case{1, 8}, {2, 3}, {65, 16}, {1000, 1}, {129, 2}, {4099, 16}, {300, 33}, {200, 70},
                       {70, 256}, {2600, 4}, {70000, 1}, {40000, 64}}) {
    const int64_t M = k.M;
    const int C = k.C;
    const size_t n = static_cast<size_t>(M) * C;
    for (int offset = 0; offset < (C % 4 == 0 ? 2 : 1); ++offset) {
      const std::string what = "M " + std::to_string(M) + " C " + std::to_string(C) + (offset ? " unaligned" : "");
      std::mt19937 rng(static_cast<uint32_t>(M * 131 + C));
      std::uniform_real_distribution<float> value(-3.0f, 5.0f), scale(0.5f, 1.5f), variance(0.5f, 2.0f);
      std::vector<float> xs(n + 4), dys(n + 4), gamma(C), beta(C), moving_mean(C), moving_var(C);
      for (float& f : xs) f = value(rng);
      for (float& f : dys) f = value(rng);
      for (int c = 0; c < C; ++c) {
        gamma[c] = scale(rng);
        beta[c] = value(rng);
        moving_mean[c] = value(rng);
        moving_var[c] = variance(rng);
      }
      const float* x = xs.data() + offset;
      const float* dy = dys.data() + offset;
      const float eps = 1e-3f;
      std::vector<float> y(n), mean(C), inv(C), var(C), ey(n + 4), emean(C), einv(C), evar(C);
      cpu::batchnorm_forward_train(M, C, x, gamma.data(), beta.data(), eps, y.data(), mean.data(), inv.data(), var.data());
      cuda::batchnorm_forward_train(M, C, x, gamma.data(), beta.data(), eps, ey.data() + offset, emean.data(),
                                    einv.data(), evar.data());
      expect_close(y, ey.data() + offset, 1e-6, what + " y");
      expect_close(mean, emean.data(), 1e-7, what + " mean");
      expect_close(inv, einv.data(), 1e-7, what + " inverse std");
      expect_close(var, evar.data(), 1e-7, what + " variance");

      std::vector<float> dx(n), dgamma(C), dbeta(C), edx(n + 4), edgamma(C), edbeta(C);
      cpu::batchnorm_backward_train(M, C, x, gamma.data(), mean.data(), inv.data(), dy, dx.data(), dgamma.data(),
                                    dbeta.data());
      cuda::batchnorm_backward_train(M, C, x, gamma.data(), mean.data(), inv.data(), dy, edx.data() + offset,
                                     edgamma.data(), edbeta.data());
      expect_close(dx, edx.data() + offset, 1e-5, what + " dx");
      expect_close(dgamma, edgamma.data(), 1e-6, what + " dgamma");
      expect_close(dbeta, edbeta.data(), 1e-6, what + " dbeta");

      std::vector<float> yi(n), eyi(n + 4);
      cpu::batchnorm_forward_inference(M, C, x, gamma.data(), beta.data(), moving_mean.data(), moving_var.data(), eps,
                                       yi.data());
      cuda::batchnorm_forward_inference(M, C, x, gamma.data(), beta.data(), moving_mean.data(), moving_var.data(), eps,
                                        eyi.data() + offset);
      expect_close(yi, eyi.data() + offset, 0.0, what + " inference y");
      std::vector<float> dxi(n), dgi(C), dbi(C), edxi(n + 4), edgi(C), edbi(C);
      cpu::batchnorm_backward_inference(M, C, x, gamma.data(), moving_mean.data(), moving_var.data(), eps, dy,
                                        dxi.data(), dgi.data(), dbi.data());
      cuda::batchnorm_backward_inference(M, C, x, gamma.data(), moving_mean.data(), moving_var.data(), eps, dy,
                                         edxi.data() + offset, edgi.data(), edbi.data());
      expect_close(dxi, edxi.data() + offset, 0.0, what + " inference dx");
      expect_close(dgi, edgi.data(), 1e-6, what + " inference dgamma");
      expect_close(dbi, edbi.data(), 1e-6, what + " inference dbeta");

      std::vector<float> m1 = moving_mean, v1 = moving_var, m2 = moving_mean, v2 = moving_var;
      cpu::batchnorm_update_moving(M, C, mean.data(), var.data(), 0.9f, true, m1.data(), v1.data());
      cuda::batchnorm_update_moving(M, C, mean.data(), var.data(), 0.9f, true, m2.data(), v2.data());
      expect_close(m1, m2.data(), 0.0, what + " moving mean");
      expect_close(v1, v2.data(), 0.0, what + " moving variance");
    }
  }
}

void expect_same_bits(const std::vector<float>& want, const float* got, const std::string& what) {
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&want[i], &got[i], sizeof(float)) != 0 && ++bad <= 3)
      ADD_FAILURE() << what << " element " << i << ": apart " << want[i] << ", fused " << got[i];
  EXPECT_EQ(bad, 0) << what;
}

// Batch norm, dropout and relu as one op (kernels/batchnorm.h): the emulated CUDA entry points (the
// resident kernels where they fit the emulated GPU, the kernels apart elsewhere) against the CPU's
// fused kernels, within batch norm's tolerances, and against the CUDA kernels one after another, bit
// for bit. Small tensors: where the two devices' normalised values differ by an ulp, one that
// straddles 0 would flip a relu and move its gradient by O(1).
TEST(EmulatedCuda, BatchNormDropoutReluMatchesTheCpuAndTheKernelsApart) {
  struct Case {
    int64_t M;
    int C;
  };
  const float rate = 0.3f, eps = 1e-3f;
  const uint64_t seed = 42, stream = (uint64_t{3} << 40) ^ 9;
  for (const Case k : {Case{1, 8}, {65, 16}, {300, 33}, {130, 64}, {1001, 4}}) {
    const int64_t M = k.M;
    const int C = k.C;
    const size_t n = static_cast<size_t>(M) * C;
    for (int offset = 0; offset < (C % 4 == 0 ? 2 : 1); ++offset) {
      const std::string what = "M " + std::to_string(M) + " C " + std::to_string(C) + (offset ? " unaligned" : "");
      std::mt19937 rng(static_cast<uint32_t>(M * 7 + C));
      std::uniform_real_distribution<float> value(-3.0f, 5.0f), scale(0.5f, 1.5f);
      std::vector<float> xs(n + 4), dys(n + 4), gamma(C), beta(C);
      for (float& f : xs) f = value(rng);
      for (float& f : dys) f = value(rng);
      for (int c = 0; c < C; ++c) gamma[c] = scale(rng), beta[c] = value(rng) / 4.0f;
      const float* x = xs.data() + offset;
      const float* dy = dys.data() + offset;

      std::vector<float> y(n), mean(C), inv(C), var(C), dx(n), dgamma(C), dbeta(C);
      cpu::batchnorm_dropout_relu_forward_train(M, C, x, gamma.data(), beta.data(), eps, rate, seed, stream, y.data(),
                                                mean.data(), inv.data(), var.data());
      cpu::batchnorm_dropout_relu_backward_train(M, C, x, gamma.data(), mean.data(), inv.data(), rate, y.data(), dy,
                                                 dx.data(), dgamma.data(), dbeta.data());

      std::vector<float> ey(n + 4), emean(C), einv(C), evar(C), edx(n + 4), edgamma(C), edbeta(C);
      float* fy = ey.data() + offset;
      float* fdx = edx.data() + offset;
      cuda::batchnorm_dropout_relu_forward_train(M, C, x, gamma.data(), beta.data(), eps, rate, seed, stream, fy,
                                                 emean.data(), einv.data(), evar.data());
      cuda::batchnorm_dropout_relu_backward_train(M, C, x, gamma.data(), emean.data(), einv.data(), rate, fy, dy, fdx,
                                                  edgamma.data(), edbeta.data());
      expect_close(y, fy, 1e-6, what + " y");
      expect_close(mean, emean.data(), 1e-7, what + " mean");
      expect_close(inv, einv.data(), 1e-7, what + " inverse std");
      expect_close(dx, fdx, 1e-5, what + " dx");
      expect_close(dgamma, edgamma.data(), 1e-5, what + " dgamma");
      expect_close(dbeta, edbeta.data(), 1e-5, what + " dbeta");
      size_t zeros = 0;
      for (size_t i = 0; i < n; ++i) zeros += fy[i] == 0.0f;
      if (n >= 1000) EXPECT_GT(zeros, n / 4) << what << ": dropout at rate 0.3 zeroes about 30%, relu more";

      // The kernels one after another: batch norm's, dropout-relu's, and their gradients.
      std::vector<float> normalized(n + 4), ay(n + 4), amean(C), ainv(C), avar(C), gradient(n + 4), adx(n + 4),
          adgamma(C), adbeta(C);
      cuda::batchnorm_forward_train(M, C, x, gamma.data(), beta.data(), eps, normalized.data() + offset, amean.data(),
                                    ainv.data(), avar.data());
      cuda::dropout_relu_forward(static_cast<int64_t>(n), rate, seed, stream, normalized.data() + offset,
                                 ay.data() + offset);
      cuda::dropout_relu_backward(static_cast<int64_t>(n), rate, ay.data() + offset, dy, gradient.data() + offset);
      cuda::batchnorm_backward_train(M, C, x, gamma.data(), amean.data(), ainv.data(), gradient.data() + offset,
                                     adx.data() + offset, adgamma.data(), adbeta.data());
      expect_same_bits({ay.begin() + offset, ay.begin() + offset + n}, fy, what + " y");
      expect_same_bits(avar, evar.data(), what + " variance");
      expect_same_bits({adx.begin() + offset, adx.begin() + offset + n}, fdx, what + " dx");
      expect_same_bits(adgamma, edgamma.data(), what + " dgamma");
      expect_same_bits(adbeta, edbeta.data(), what + " dbeta");
    }
  }
  // A rate outside [0, 1) is refused before any work, as on the CPU.
  std::vector<float> one(8, 1.0f), out(8), stats(8);
  EXPECT_THROW(cuda::batchnorm_dropout_relu_forward_train(1, 8, one.data(), one.data(), one.data(), eps, 1.0f, seed,
                                                          stream, out.data(), stats.data(), stats.data(), stats.data()),
               std::invalid_argument);
  EXPECT_THROW(cuda::batchnorm_dropout_relu_backward_train(1, 8, one.data(), one.data(), one.data(), one.data(), -0.5f,
                                                           one.data(), one.data(), out.data(), stats.data(),
                                                           stats.data()),
               std::invalid_argument);
}

// The resident kernels' fused backward adds DropoutReluGradientSums (dropout-relu's gradient formed
// from y and dy as each row is loaded): here in the partial-sum kernel it shares, at sizes past the
// emulated GPU's resident kernels, against GradientSums over that gradient written out first. The
// same terms in the same order: the same bits.
TEST(EmulatedCuda, DropoutReluGradientSumsAreTheSumsOfTheWrittenGradient) {
  const float rate = 0.25f, scale = static_cast<float>(1.0 / (1.0 - 0.25));
  for (const auto [M, C] : {std::pair<int64_t, int>{4099, 16}, {300, 128}, {70, 4}}) {
    const std::string what = "M " + std::to_string(M) + " C " + std::to_string(C);
    const size_t n = static_cast<size_t>(M) * C;
    std::mt19937 rng(static_cast<uint32_t>(M + C));
    std::uniform_real_distribution<float> value(-2.0f, 2.0f);
    std::vector<float> x(n), y(n), dy(n), gradient(n), mean(C), inv(C);  // malloc: 16-byte aligned
    for (size_t i = 0; i < n; ++i) {
      x[i] = value(rng), dy[i] = value(rng);
      y[i] = i % 3 == 0 ? 0.0f : value(rng);  // relu's zeros, and a few negatives it would never give
    }
    for (int c = 0; c < C; ++c) mean[c] = value(rng), inv[c] = 1.0f + value(rng) / 4.0f;
    cpu::dropout_relu_backward(static_cast<int64_t>(n), rate, y.data(), dy.data(), gradient.data());

    const cuda::detail::ChunkPlan plan = cuda::detail::plan_chunks(M);
    std::vector<double> fused(static_cast<size_t>(cuda::detail::partial_doubles(plan, C)), -1.0);
    std::vector<double> written(fused.size(), -2.0);
    const cuda::bn::GradientSums<4> plain{x.data(), dy.data(), mean.data(), inv.data(), nullptr, 0.0f};
    cuda::detail::launch_channel_partials(M, C, plan, cuda::bn::DropoutReluGradientSums<4>{plain, y.data(), scale},
                                          fused.data());
    cuda::detail::launch_channel_partials(
        M, C, plan, cuda::bn::GradientSums<4>{x.data(), gradient.data(), mean.data(), inv.data(), nullptr, 0.0f},
        written.data());
    EXPECT_EQ(std::memcmp(fused.data(), written.data(), sizeof(double) * fused.size()), 0) << what;
    EXPECT_NE(written[0], -2.0) << what << ": the partials were written";
  }
}

// Batch norm's resident kernels (kernels/cuda/batchnorm_resident.cu: grid-wide barriers, rows kept in
// shared memory), run by the emulator's cooperative launch on its small GPU (2 SMs of 2 blocks, 16 KB
// of rows a block), against the two-pass kernels: the same bits, plain and fused with dropout-relu,
// forward and backward, the moving statistics updated as the forward finalises (MovingUpdate) giving
// the bits of batchnorm_update_moving's own kernel after it. The shapes keep every chunk whole (C = 4,
// 32), keep half of each chunk (C = 128 forward, 64 and 128 backward), have blocks that only finalise
// (1 chunk, 4 blocks), and decline (5 chunks; C = 12; C = 256).
TEST(EmulatedCuda, ResidentBatchNormGivesTheTwoPassesBits) {
  struct Case {
    int64_t M;
    int C;
    bool fits;
  };
  const bool allowed_before = cuda::batchnorm_resident();
  for (const Case k : {Case{200, 4, true}, {256, 64, true}, {256, 128, true}, {40, 32, true}, {300, 16, false},
                       {100, 12, false}, {64, 256, false}}) {
    const int64_t M = k.M;
    const int C = k.C;
    const size_t n = static_cast<size_t>(M) * C;
    const std::string what = "M " + std::to_string(M) + " C " + std::to_string(C);
    std::mt19937 rng(static_cast<uint32_t>(M * 3 + C));
    std::uniform_real_distribution<float> value(-3.0f, 5.0f), scale(0.5f, 1.5f);
    std::vector<float> x(n), dy(n), gamma(C), beta(C);
    for (float& f : x) f = value(rng);
    for (float& f : dy) f = value(rng);
    for (int c = 0; c < C; ++c) gamma[c] = scale(rng), beta[c] = value(rng) / 4.0f;
    const float eps = 1e-3f, rate = 0.4f;
    const uint64_t seed = 9, stream = 77;

    struct Outputs {
      std::vector<float> y, mean, inv, var, dx, dgamma, dbeta, moving_mean, moving_var;
    };
    // folded: the moving statistics updated by the forward (else by batchnorm_update_moving after it).
    const auto run = [&](bool resident, bool fused, bool folded) {
      cuda::set_batchnorm_resident(resident);
      Outputs o{std::vector<float>(n), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C),
                std::vector<float>(n), std::vector<float>(C), std::vector<float>(C), gamma, beta};
      const MovingUpdate moving{0.9f, true, o.moving_mean.data(), o.moving_var.data()};
      const MovingUpdate* update = folded ? &moving : nullptr;
      if (fused) {
        cuda::batchnorm_dropout_relu_forward_train(M, C, x.data(), gamma.data(), beta.data(), eps, rate, seed, stream,
                                                   o.y.data(), o.mean.data(), o.inv.data(), o.var.data(), update);
        cuda::batchnorm_dropout_relu_backward_train(M, C, x.data(), gamma.data(), o.mean.data(), o.inv.data(), rate,
                                                    o.y.data(), dy.data(), o.dx.data(), o.dgamma.data(),
                                                    o.dbeta.data());
      } else {
        cuda::batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), eps, o.y.data(), o.mean.data(),
                                      o.inv.data(), o.var.data(), update);
        cuda::batchnorm_backward_train(M, C, x.data(), gamma.data(), o.mean.data(), o.inv.data(), dy.data(),
                                       o.dx.data(), o.dgamma.data(), o.dbeta.data());
      }
      if (!folded)
        cuda::batchnorm_update_moving(M, C, o.mean.data(), o.var.data(), moving.momentum, moving.unbiased_variance,
                                      o.moving_mean.data(), o.moving_var.data());
      return o;
    };
    for (const bool fused : {false, true}) {
      const std::string label = what + (fused ? " fused" : "");
      const Outputs want = run(false, fused, false);
      // The moving statistics updated where they are finalised: by the resident kernel where it fits,
      // else by the two passes' finalising kernel.
      const Outputs got = run(true, fused, true);
      const std::string where = label + (k.fits ? " resident" : " two passes") + ", folded update: moving ";
      expect_same_bits(want.moving_mean, got.moving_mean.data(), where + "mean");
      expect_same_bits(want.moving_var, got.moving_var.data(), where + "variance");
      EXPECT_NE(got.moving_mean, gamma) << where << "mean: not updated";
      if (!k.fits) continue;  // the entry points run the two passes either way
      expect_same_bits(want.y, got.y.data(), label + " y");
      expect_same_bits(want.mean, got.mean.data(), label + " mean");
      expect_same_bits(want.inv, got.inv.data(), label + " inverse std");
      expect_same_bits(want.var, got.var.data(), label + " variance");
      expect_same_bits(want.dx, got.dx.data(), label + " dx");
      expect_same_bits(want.dgamma, got.dgamma.data(), label + " dgamma");
      expect_same_bits(want.dbeta, got.dbeta.data(), label + " dbeta");
    }
    // Whether the resident kernels ran (the comparison above was of them), called directly.
    std::vector<double> partials(2 * 256 * static_cast<size_t>(C)), stats(2 * static_cast<size_t>(C));
    std::vector<float> y(n), mean(C), inv(C), var(C), dx(n);
    EXPECT_EQ(cuda::detail::batchnorm_forward_train_resident(M, C, x.data(), gamma.data(), beta.data(), eps, y.data(),
                                                             mean.data(), inv.data(), var.data(), partials.data(),
                                                             stats.data(), nullptr),
              k.fits)
        << what;
    EXPECT_EQ(cuda::detail::batchnorm_dropout_relu_backward_train_resident(
                  M, C, x.data(), gamma.data(), mean.data(), inv.data(), rate, y.data(), dy.data(), dx.data(), nullptr,
                  nullptr, partials.data(), stats.data()),
              k.fits)
        << what;
  }
  cuda::set_batchnorm_resident(allowed_before);
}

}  // namespace
}  // namespace cxr::kernels
