// batchnorm: hand-computed forward and moving statistics, backward against the closed-form gradient
// and against central differences of a forward pass written here in double.
#include "kernels/batchnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::expect_all_near;
using test::random_vector;

// Two channels, four rows. Channel 0 = {1, 2, 3, 6}: mean 3, biased variance (4+1+0+9)/4 = 3.5,
// and with epsilon 0.5, inv_std = 1/sqrt(4) = 0.5. Channel 1 is constant 10: variance 0.
const std::vector<float> kX{1, 10, 2, 10, 3, 10, 6, 10};
constexpr int64_t kM = 4;
constexpr int kC = 2;

TEST(BatchNorm, ForwardTrainHandComputed) {
  const std::vector<float> gamma{2, 3}, beta{1, -1};
  std::vector<float> y(8), mean(2), inv_std(2), var(2);
  cpu::batchnorm_forward_train(kM, kC, kX.data(), gamma.data(), beta.data(), 0.5f, y.data(), mean.data(),
                               inv_std.data(), var.data());
  // Channel 0: 2 * (x - 3) * 0.5 + 1 = x - 2. Channel 1: (10 - 10) * ... + beta = -1.
  EXPECT_EQ(y, (std::vector<float>{-1, -1, 0, -1, 1, -1, 4, -1}));
  EXPECT_FLOAT_EQ(mean[0], 3.0f);
  EXPECT_FLOAT_EQ(mean[1], 10.0f);
  EXPECT_FLOAT_EQ(var[0], 3.5f);
  EXPECT_FLOAT_EQ(var[1], 0.0f);
  EXPECT_FLOAT_EQ(inv_std[0], 0.5f);
  EXPECT_FLOAT_EQ(inv_std[1], 1.41421356f);  // 1/sqrt(0 + 0.5)
}

// A mean ten million times the spread: the statistics' one pass sums deviations from a shift (the
// channel's first value), so E[d^2] - E[d]^2 does not cancel. Unshifted sums of x and x^2 in double
// would get this variance wrong by ~1e-4 of itself; the reference is two passes in double.
TEST(BatchNorm, ForwardTrainVarianceSurvivesALargeMean) {
  constexpr int64_t M = 4096;
  const std::vector<float> noise = random_vector(M, 11);  // in [-1, 1]
  std::vector<float> x(M);
  for (int64_t m = 0; m < M; ++m) x[m] = 10000.0f + 0.01f * noise[m];
  double mean = 0.0, var = 0.0;
  for (float v : x) mean += v;
  mean /= M;
  for (float v : x) var += (v - mean) * (v - mean);
  var /= M;
  const std::vector<float> gamma{1}, beta{0};
  std::vector<float> y(M), save_mean(1), save_inv_std(1), save_var(1);
  cpu::batchnorm_forward_train(M, 1, x.data(), gamma.data(), beta.data(), 1e-3f, y.data(), save_mean.data(),
                               save_inv_std.data(), save_var.data());
  EXPECT_NEAR(save_var[0], var, 1e-6 * var);
  EXPECT_FLOAT_EQ(save_mean[0], static_cast<float>(mean));
}

TEST(BatchNorm, MovingStatisticsAfterOneUpdate) {
  // Batch statistics of kX: mean {3, 10}, biased variance {3.5, 0}; momentum 0.99.
  const std::vector<float> batch_mean{3, 10}, batch_var{3.5f, 0};
  std::vector<float> moving_mean{0, 5}, moving_var{1, 2};
  cpu::batchnorm_update_moving(kM, kC, batch_mean.data(), batch_var.data(), 0.99f, false, moving_mean.data(),
                               moving_var.data());
  EXPECT_NEAR(moving_mean[0], 0.03, 1e-6);                // 0.99*0 + 0.01*3
  EXPECT_NEAR(moving_mean[1], 5.05, 1e-6);                // 0.99*5 + 0.01*10
  EXPECT_NEAR(moving_var[0], 1.025, 1e-6);                // 0.99*1 + 0.01*3.5 (biased, Keras's 2-D path)
  EXPECT_NEAR(moving_var[1], 1.98, 1e-6);                 // 0.99*2 + 0.01*0

  moving_mean = {0, 5};
  moving_var = {1, 2};
  cpu::batchnorm_update_moving(kM, kC, batch_mean.data(), batch_var.data(), 0.99f, true, moving_mean.data(),
                               moving_var.data());
  EXPECT_NEAR(moving_mean[0], 0.03, 1e-6);                // the mean has no correction
  EXPECT_NEAR(moving_var[0], 0.99 + 0.01 * 14.0 / 3.0, 1e-6);  // unbiased: 3.5 * 4/3 = 14/3 (fused 4-D path)
  EXPECT_NEAR(moving_var[1], 1.98, 1e-6);
}

TEST(BatchNorm, UnbiasedCorrectionIsOneForASingleRow) {
  // TensorFlow's fused kernel uses n/(n-1) only when n > 1.
  const float batch_mean = 4, batch_var = 2;
  float moving_mean = 0, moving_var = 1;
  cpu::batchnorm_update_moving(1, 1, &batch_mean, &batch_var, 0.9f, true, &moving_mean, &moving_var);
  EXPECT_NEAR(moving_mean, 0.4, 1e-6);
  EXPECT_NEAR(moving_var, 0.9 + 0.1 * 2, 1e-6);
}

TEST(BatchNorm, ForwardInferenceHandComputed) {
  // moving mean 1, variance 3, epsilon 1 -> inv_std 0.5; gamma 2, beta 0.5 -> y = x - 1 + 0.5.
  const std::vector<float> x{3, 5, -1}, gamma{2}, beta{0.5f}, mm{1}, mv{3};
  std::vector<float> y(3);
  cpu::batchnorm_forward_inference(3, 1, x.data(), gamma.data(), beta.data(), mm.data(), mv.data(), 1.0f, y.data());
  EXPECT_EQ(y, (std::vector<float>{2.5f, 4.5f, -1.5f}));
}

// ---- backward ----------------------------------------------------------------------------------

constexpr int64_t M = 10;
constexpr int C = 3;
constexpr double kEps = 1e-3;

// Channel 2 sits at 50 with a spread of 1: a float single-pass variance would lose digits there.
std::vector<float> test_input() {
  std::vector<float> x = random_vector(M * C, 11);
  for (int64_t m = 0; m < M; ++m) x[m * C + 2] += 50.0f;
  return x;
}

// Training-mode forward in double, straight from the definition.
std::vector<double> forward_double(const std::vector<double>& x, const std::vector<double>& gamma,
                                   const std::vector<double>& beta) {
  std::vector<double> y(x.size());
  for (int c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (int64_t m = 0; m < M; ++m) mean += x[m * C + c] / M;
    for (int64_t m = 0; m < M; ++m) var += (x[m * C + c] - mean) * (x[m * C + c] - mean) / M;
    for (int64_t m = 0; m < M; ++m) y[m * C + c] = gamma[c] * (x[m * C + c] - mean) / std::sqrt(var + kEps) + beta[c];
  }
  return y;
}

double weighted_sum(const std::vector<double>& y, const std::vector<float>& dy) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += y[i] * dy[i];
  return s;
}

// d/dv[i] of sum(dy * forward(x, gamma, beta)) by central differences, v being x, gamma or beta.
enum class Wrt { x, gamma, beta };
std::vector<double> numeric_gradient(std::vector<double> x, std::vector<double> gamma, std::vector<double> beta,
                                     const std::vector<float>& dy, Wrt wrt) {
  std::vector<double>& v = wrt == Wrt::x ? x : wrt == Wrt::gamma ? gamma : beta;
  const double h = 1e-5;
  std::vector<double> grad(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double saved = v[i];
    v[i] = saved + h;
    const double up = weighted_sum(forward_double(x, gamma, beta), dy);
    v[i] = saved - h;
    const double down = weighted_sum(forward_double(x, gamma, beta), dy);
    v[i] = saved;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

TEST(BatchNorm, BackwardTrainMatchesFormulaAndCentralDifferences) {
  const std::vector<float> x = test_input(), gamma{1.5f, -0.7f, 0.9f}, beta{0.1f, 0.2f, -0.3f};
  const std::vector<float> dy = random_vector(M * C, 12);
  std::vector<float> y(M * C), mean(C), inv_std(C), var(C);
  cpu::batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), static_cast<float>(kEps), y.data(),
                               mean.data(), inv_std.data(), var.data());
  std::vector<float> dx(M * C, 7.0f), dgamma(C, 7.0f), dbeta(C, 7.0f);
  cpu::batchnorm_backward_train(M, C, x.data(), gamma.data(), mean.data(), inv_std.data(), dy.data(), dx.data(),
                                dgamma.data(), dbeta.data());

  // The closed form, every statistic recomputed here in double.
  std::vector<double> ref_dx(M * C), ref_dgamma(C, 0.0), ref_dbeta(C, 0.0);
  for (int c = 0; c < C; ++c) {
    double mu = 0, var_c = 0;
    for (int64_t m = 0; m < M; ++m) mu += static_cast<double>(x[m * C + c]) / M;
    for (int64_t m = 0; m < M; ++m) var_c += (x[m * C + c] - mu) * (x[m * C + c] - mu) / M;
    const double inv = 1.0 / std::sqrt(var_c + kEps);
    for (int64_t m = 0; m < M; ++m) {
      ref_dbeta[c] += dy[m * C + c];
      ref_dgamma[c] += dy[m * C + c] * (x[m * C + c] - mu) * inv;
    }
    for (int64_t m = 0; m < M; ++m) {
      const double xhat = (x[m * C + c] - mu) * inv;
      ref_dx[m * C + c] = gamma[c] * inv / M * (M * dy[m * C + c] - ref_dbeta[c] - xhat * ref_dgamma[c]);
    }
  }
  expect_all_near(dx, ref_dx, 1e-4, "dx (formula)");
  expect_all_near(dgamma, ref_dgamma, 1e-5, "dgamma (formula)");
  expect_all_near(dbeta, ref_dbeta, 1e-6, "dbeta (formula)");

  std::vector<double> xd(x.begin(), x.end()), gd(gamma.begin(), gamma.end()), bd(beta.begin(), beta.end());
  expect_all_near(dx, numeric_gradient(xd, gd, bd, dy, Wrt::x), 1e-4, "dx (numeric)");
  expect_all_near(dgamma, numeric_gradient(xd, gd, bd, dy, Wrt::gamma), 1e-4, "dgamma (numeric)");
  expect_all_near(dbeta, numeric_gradient(xd, gd, bd, dy, Wrt::beta), 1e-4, "dbeta (numeric)");
}

TEST(BatchNorm, BackwardInferenceMatchesFormula) {
  const std::vector<float> x = test_input(), gamma{1.5f, -0.7f, 0.9f};
  const std::vector<float> mm{0.1f, -0.2f, 50.3f}, mv{0.8f, 1.7f, 0.05f};
  const std::vector<float> dy = random_vector(M * C, 13);
  std::vector<double> ref_dx(M * C), ref_dgamma(C, 0.0), ref_dbeta(C, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int c = 0; c < C; ++c) {
      const double inv = 1.0 / std::sqrt(static_cast<double>(mv[c]) + kEps);
      ref_dx[m * C + c] = dy[m * C + c] * gamma[c] * inv;
      ref_dgamma[c] += dy[m * C + c] * (x[m * C + c] - static_cast<double>(mm[c])) * inv;
      ref_dbeta[c] += dy[m * C + c];
    }
  std::vector<float> dx(M * C, 7.0f), dgamma(C, 7.0f), dbeta(C, 7.0f);
  cpu::batchnorm_backward_inference(M, C, x.data(), gamma.data(), mm.data(), mv.data(), static_cast<float>(kEps),
                                    dy.data(), dx.data(), dgamma.data(), dbeta.data());
  expect_all_near(dx, ref_dx, 1e-6, "dx");
  expect_all_near(dgamma, ref_dgamma, 1e-5, "dgamma");
  expect_all_near(dbeta, ref_dbeta, 1e-6, "dbeta");

  // A frozen layer asks for dx only.
  std::vector<float> dx_only(M * C, 7.0f);
  cpu::batchnorm_backward_inference(M, C, x.data(), gamma.data(), mm.data(), mv.data(), static_cast<float>(kEps),
                                    dy.data(), dx_only.data(), nullptr, nullptr);
  EXPECT_EQ(dx_only, dx);
}

}  // namespace
}  // namespace cxr::kernels
