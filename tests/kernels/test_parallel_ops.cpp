// The CPU kernels split over OpenMP threads (kernels/cpu/parallel.h) other than GEMM and convolution
// (those are in test_parallel.cpp) give the same bits on 1 thread as on 2, 3 and 4, and still the
// right values. Sizes are chosen so that every kernel really splits on 4 threads (above its
// minimum work per thread); the batch norm input spans many binades so that its double sums are
// inexact and a thread-dependent summation order would change their bits.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/activation.h"
#include "kernels/batchnorm.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/global_pool.h"
#include "kernels/optim.h"
#include "kernels/philox.h"
#include "kernels/pool.h"
#include "kernels/zero_pad2d.h"
#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::expect_all_near;
using test::random_integers;
using test::random_vector;

using Outputs = std::vector<std::vector<float>>;

// Runs fn on 1 thread and on 2, 3 and 4, expects every output bitwise equal to the 1-thread run's,
// and returns that run's outputs (OpenMP's setting is restored afterwards).
Outputs same_bits_on_any_thread_count(const std::string& what, const std::function<Outputs()>& fn) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const Outputs one = fn();
  for (const int threads : {2, 3, 4}) {
    omp_set_num_threads(threads);
    const Outputs many = fn();
    EXPECT_EQ(many.size(), one.size()) << what;
    for (size_t k = 0; k < one.size() && k < many.size(); ++k) {
      EXPECT_EQ(many[k].size(), one[k].size()) << what << " output " << k;
      if (many[k].size() != one[k].size()) continue;
      size_t first = one[k].size();
      for (size_t i = 0; i < one[k].size() && first == one[k].size(); ++i)
        if (std::memcmp(&one[k][i], &many[k][i], sizeof(float)) != 0) first = i;
      EXPECT_EQ(first, one[k].size()) << what << " output " << k << ": 1 and " << threads
                                      << " threads differ first at [" << first << "]: " << one[k][first] << " vs "
                                      << many[k][first];
    }
  }
  omp_set_num_threads(saved);
  return one;
}

constexpr int64_t kN = 300001;  // elements of the maps: over 4 x 32768, and not a multiple of a block

TEST(ParallelOps, ElementwiseMapsAndActivations) {
  const auto a = random_vector(kN, 1), b = random_vector(kN, 2), y0 = random_vector(kN, 3);
  const Outputs out = same_bits_on_any_thread_count("maps", [&] {
    Outputs o(10, std::vector<float>(kN));
    cpu::relu_forward(kN, a.data(), o[0].data());
    cpu::relu_backward(kN, a.data(), b.data(), o[1].data());
    cpu::sigmoid_forward(kN, a.data(), o[2].data());
    cpu::sigmoid_backward(kN, a.data(), b.data(), o[3].data());
    cpu::add(kN, a.data(), b.data(), o[4].data());
    o[5] = y0;
    cpu::accumulate(kN, a.data(), o[5].data());
    cpu::scale(kN, 0.9f, a.data(), o[6].data());
    cpu::mul(kN, a.data(), b.data(), o[7].data());
    cpu::fill(kN, 0.25f, o[8].data());
    o[9] = y0;
    cpu::sgd_update(kN, 0.01f, o[9].data(), a.data());
    return o;
  });
  std::vector<std::vector<double>> ref(10, std::vector<double>(kN));
  for (int64_t i = 0; i < kN; ++i) {
    const double x = a[i], g = b[i];
    ref[0][i] = x > 0 ? x : 0.0;
    ref[1][i] = x > 0 ? g : 0.0;
    ref[2][i] = 1.0 / (1.0 + std::exp(-x));
    ref[3][i] = g * x * (1.0 - x);
    ref[4][i] = x + g;
    ref[5][i] = y0[i] + x;
    ref[6][i] = 0.9f * x;
    ref[7][i] = x * g;
    ref[8][i] = 0.25;
    ref[9][i] = y0[i] - 0.01f * x;
  }
  const char* names[] = {"relu_forward", "relu_backward", "sigmoid_forward", "sigmoid_backward", "add",
                         "accumulate",   "scale",         "mul",             "fill",             "sgd_update"};
  for (int k = 0; k < 10; ++k) expect_all_near(out[k], ref[k], 1e-6, names[k]);
}

TEST(ParallelOps, DropoutDrawsTheSameMaskPerElement) {
  constexpr float kRate = 0.3f;
  constexpr uint64_t kSeed = 42, kStream = 9;
  const auto x = random_vector(kN, 4), dy = random_vector(kN, 5);
  const Outputs out = same_bits_on_any_thread_count("dropout", [&] {
    Outputs o(5, std::vector<float>(kN));
    std::vector<uint8_t> keep(kN);
    cpu::dropout_forward(kN, kRate, kSeed, kStream, x.data(), o[0].data());
    cpu::dropout_backward(kN, kRate, kSeed, kStream, dy.data(), o[1].data());
    cpu::dropout_forward_keep(kN, kRate, kSeed, kStream, x.data(), o[2].data(), keep.data());
    cpu::dropout_backward_keep(kN, kRate, keep.data(), dy.data(), o[3].data());
    o[4].assign(keep.begin(), keep.end());
    return o;
  });
  const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(kRate)));
  int64_t kept = 0;
  for (int64_t i = 0; i < kN; ++i) {
    const bool keep = philox_uniform(kSeed, kStream, static_cast<uint64_t>(i)) >= kRate;
    kept += keep;
    const float want_y = keep ? x[i] * scale : 0.0f, want_dx = keep ? dy[i] * scale : 0.0f;
    ASSERT_EQ(out[0][i], want_y) << "y[" << i << "]";
    ASSERT_EQ(out[1][i], want_dx) << "dx[" << i << "]";
    ASSERT_EQ(out[2][i], want_y) << "y (keep)[" << i << "]";
    ASSERT_EQ(out[3][i], want_dx) << "dx (keep)[" << i << "]";
    ASSERT_EQ(out[4][i], keep ? 1.0f : 0.0f) << "keep[" << i << "]";
  }
  EXPECT_NEAR(static_cast<double>(kept) / kN, 1.0 - kRate, 0.01);
}

TEST(ParallelOps, AdamUpdate) {
  const int64_t n = 200003;
  const auto param0 = random_vector(n, 6), grad = random_vector(n, 7), m0 = random_vector(n, 8);
  const auto v0 = random_vector(n, 9, 0.0f, 1.0f);
  const AdamParams p{.lr = 1e-3f};
  const Outputs out = same_bits_on_any_thread_count("adam", [&] {
    Outputs o{param0, m0, v0};
    cpu::adam_update(n, p, 3, o[0].data(), grad.data(), o[1].data(), o[2].data());
    return o;
  });
  std::vector<double> param(n), m(n), v(n);
  const double alpha = p.lr * std::sqrt(1.0 - std::pow(double{p.beta2}, 3)) / (1.0 - std::pow(double{p.beta1}, 3));
  for (int64_t i = 0; i < n; ++i) {
    m[i] = m0[i] + (grad[i] - m0[i]) * (1.0 - p.beta1);
    v[i] = v0[i] + (double{grad[i]} * grad[i] - v0[i]) * (1.0 - p.beta2);
    param[i] = param0[i] - m[i] * alpha / (std::sqrt(v[i]) + p.epsilon);
  }
  expect_all_near(out[0], param, 1e-6, "adam param");
  expect_all_near(out[1], m, 1e-6, "adam m");
  expect_all_near(out[2], v, 1e-6, "adam v");
}

// The batch norm kernels on 1 to 4 threads; outputs: y, mean, inv_std, var, dx, dgamma, dbeta of the
// training pair, then y, dx, dgamma, dbeta of the inference pair.
Outputs batchnorm_on_any_thread_count(const std::string& what, int64_t M, int C, const std::vector<float>& x,
                                      const std::vector<float>& dy, const std::vector<float>& gamma,
                                      const std::vector<float>& beta, const std::vector<float>& moving_mean,
                                      const std::vector<float>& moving_var, float eps) {
  return same_bits_on_any_thread_count(what, [&] {
    Outputs o{std::vector<float>(M * C), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C),
              std::vector<float>(M * C), std::vector<float>(C), std::vector<float>(C), std::vector<float>(M * C),
              std::vector<float>(M * C), std::vector<float>(C), std::vector<float>(C)};
    cpu::batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), eps, o[0].data(), o[1].data(),
                                 o[2].data(), o[3].data());
    cpu::batchnorm_backward_train(M, C, x.data(), gamma.data(), o[1].data(), o[2].data(), dy.data(), o[4].data(),
                                  o[5].data(), o[6].data());
    cpu::batchnorm_forward_inference(M, C, x.data(), gamma.data(), beta.data(), moving_mean.data(),
                                     moving_var.data(), eps, o[7].data());
    cpu::batchnorm_backward_inference(M, C, x.data(), gamma.data(), moving_mean.data(), moving_var.data(), eps,
                                      dy.data(), o[8].data(), o[9].data(), o[10].data());
    return o;
  });
}

// M is not a multiple of the kernel's 512-row blocks. Rounded to float, a double sum of ordinary
// values hardly ever shows its summation order, so a second input makes it show: each channel's
// first row is +2^40 and its last -2^40, and everything summed in between loses the bits below 2^-12
// wherever a running sum holds the 2^40. A summation order that followed the thread count would
// change the float mean (and dbeta) by far more than an ulp.
TEST(ParallelOps, BatchNormTrainAndInference) {
  const int64_t M = 20000 + 77;
  const int C = 16;
  const auto x = random_vector(M * C, 10), dy = random_vector(M * C, 11);
  const auto gamma = random_vector(C, 12, 0.5f, 1.5f), beta = random_vector(C, 13);
  const auto moving_mean = random_vector(C, 14), moving_var = random_vector(C, 15, 0.5f, 2.0f);
  constexpr float kEps = 1e-3f;
  auto cancelling = [&](std::vector<float> v) {
    for (int c = 0; c < C; ++c) {
      v[c] = 0x1p40f;
      v[(M - 1) * C + c] = -0x1p40f;
    }
    return v;
  };
  batchnorm_on_any_thread_count("batchnorm (cancelling sums)", M, C, cancelling(x), cancelling(dy), gamma, beta,
                                moving_mean, moving_var, kEps);
  const Outputs out =
      batchnorm_on_any_thread_count("batchnorm", M, C, x, dy, gamma, beta, moving_mean, moving_var, kEps);
  // The training statistics and gradients against the formulas of kernels/batchnorm.h in double.
  std::vector<double> mean(C, 0.0), var(C, 0.0), inv(C), sum_dy(C, 0.0), sum_dy_xhat(C, 0.0);
  for (int64_t i = 0; i < M * C; ++i) mean[i % C] += x[i];
  for (double& v : mean) v /= static_cast<double>(M);
  for (int64_t i = 0; i < M * C; ++i) var[i % C] += (x[i] - mean[i % C]) * (x[i] - mean[i % C]);
  for (int c = 0; c < C; ++c) {
    var[c] /= static_cast<double>(M);
    inv[c] = 1.0 / std::sqrt(var[c] + kEps);
  }
  std::vector<double> y(M * C), dx(M * C), y_inf(M * C), dx_inf(M * C), dg_inf(C, 0.0), db_inf(C, 0.0);
  for (int64_t i = 0; i < M * C; ++i) {
    const int c = static_cast<int>(i % C);
    y[i] = gamma[c] * (x[i] - mean[c]) * inv[c] + beta[c];
    sum_dy[c] += dy[i];
    sum_dy_xhat[c] += dy[i] * (x[i] - mean[c]) * inv[c];
    const double inv_m = 1.0 / std::sqrt(double{moving_var[c]} + kEps);
    y_inf[i] = gamma[c] * (x[i] - moving_mean[c]) * inv_m + beta[c];
    dx_inf[i] = dy[i] * gamma[c] * inv_m;
    db_inf[c] += dy[i];
    dg_inf[c] += dy[i] * (x[i] - moving_mean[c]) * inv_m;
  }
  for (int64_t i = 0; i < M * C; ++i) {
    const int c = static_cast<int>(i % C);
    const double xhat = (x[i] - mean[c]) * inv[c];
    dx[i] = gamma[c] * inv[c] * (dy[i] - sum_dy[c] / M - xhat * sum_dy_xhat[c] / M);
  }
  expect_all_near(out[0], y, 1e-5, "forward_train y");
  expect_all_near(out[1], mean, 1e-5, "forward_train mean");
  expect_all_near(out[3], var, 1e-5, "forward_train var");
  expect_all_near(out[4], dx, 1e-4, "backward_train dx");
  expect_all_near(out[5], sum_dy_xhat, 1e-4, "backward_train dgamma");
  expect_all_near(out[6], sum_dy, 1e-4, "backward_train dbeta");
  expect_all_near(out[7], y_inf, 1e-5, "forward_inference y");
  expect_all_near(out[8], dx_inf, 1e-5, "backward_inference dx");
  expect_all_near(out[9], dg_inf, 1e-4, "backward_inference dgamma");
  expect_all_near(out[10], db_inf, 1e-4, "backward_inference dbeta");
}

// Batch norm, dropout and relu in one kernel each way on 1 to 4 threads, against the three kernels
// run one after the other: the same bits, at rate 0.3 and at rate 0 (every element kept). C = 48
// puts a row across most of dropout's 1,024-element blocks; M x C is not a whole number of blocks.
TEST(ParallelOps, BatchNormDropoutReluIsTheThreeKernels) {
  const int64_t M = 20000 + 77;
  const int C = 48;
  const auto x = random_vector(M * C, 20, -2.0f, 3.0f), dy = random_vector(M * C, 21);
  const auto gamma = random_vector(C, 22, 0.5f, 1.5f), beta = random_vector(C, 23);
  constexpr float kEps = 1e-3f;
  constexpr uint64_t kSeed = 9, kStream = 4;
  const auto outputs = [&] {
    return Outputs{std::vector<float>(M * C), std::vector<float>(C), std::vector<float>(C), std::vector<float>(C),
                   std::vector<float>(M * C), std::vector<float>(C), std::vector<float>(C)};
  };
  for (const float rate : {0.3f, 0.0f}) {
    const std::string what = "batchnorm_dropout_relu rate " + std::to_string(rate);
    const Outputs fused = same_bits_on_any_thread_count(what, [&] {
      Outputs o = outputs();
      cpu::batchnorm_dropout_relu_forward_train(M, C, x.data(), gamma.data(), beta.data(), kEps, rate, kSeed, kStream,
                                                o[0].data(), o[1].data(), o[2].data(), o[3].data());
      cpu::batchnorm_dropout_relu_backward_train(M, C, x.data(), gamma.data(), o[1].data(), o[2].data(), rate,
                                                 o[0].data(), dy.data(), o[4].data(), o[5].data(), o[6].data());
      return o;
    });
    Outputs three = outputs();
    std::vector<float> z(M * C), dz(M * C);
    cpu::batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), kEps, z.data(), three[1].data(),
                                 three[2].data(), three[3].data());
    cpu::dropout_relu_forward(M * C, rate, kSeed, kStream, z.data(), three[0].data());
    cpu::dropout_relu_backward(M * C, rate, three[0].data(), dy.data(), dz.data());
    cpu::batchnorm_backward_train(M, C, x.data(), gamma.data(), three[1].data(), three[2].data(), dz.data(),
                                  three[4].data(), three[5].data(), three[6].data());
    const char* names[] = {"y", "mean", "inv_std", "var", "dx", "dgamma", "dbeta"};
    for (size_t k = 0; k < three.size(); ++k)
      EXPECT_EQ(std::memcmp(fused[k].data(), three[k].data(), three[k].size() * sizeof(float)), 0)
          << what << ": " << names[k];
  }
}

// Max pooling against a plain scan (first maximum wins; small integers, so many ties), with
// non-overlapping windows and with overlapping 'same' windows whose gradients add up on shared pixels.
TEST(ParallelOps, MaxPool) {
  for (const bool overlapping : {false, true}) {
    const Pool2dShape s = overlapping ? make_pool2d_shape(64, 9, 9, 64, 3, 3, 2, 2, true)
                                      : make_pool2d_shape(64, 9, 9, 64, 2, 2, 2, 2, false);
    const auto x = random_integers(size_t(s.N) * s.H * s.W * s.C, 16, -3, 3);
    const auto dy = random_vector(size_t(s.N) * s.OH * s.OW * s.C, 17);
    const std::string what = overlapping ? "maxpool 3x3/2 same" : "maxpool 2x2/2";
    const Outputs out = same_bits_on_any_thread_count(what, [&] {
      Outputs o{std::vector<float>(dy.size()), std::vector<float>(x.size())};
      cpu::maxpool2d_forward(s, x.data(), o[0].data());
      cpu::maxpool2d_backward(s, x.data(), dy.data(), o[1].data());
      return o;
    });
    std::vector<double> y(dy.size()), dx(x.size(), 0.0);
    for (int n = 0; n < s.N; ++n)
      for (int oh = 0; oh < s.OH; ++oh)
        for (int ow = 0; ow < s.OW; ++ow)
          for (int c = 0; c < s.C; ++c) {
            int64_t best = -1;
            for (int r = oh * s.sh - s.pad_top; r < oh * s.sh - s.pad_top + s.ph; ++r)
              for (int q = ow * s.sw - s.pad_left; q < ow * s.sw - s.pad_left + s.pw; ++q) {
                if (r < 0 || r >= s.H || q < 0 || q >= s.W) continue;
                const int64_t at = ((int64_t{n} * s.H + r) * s.W + q) * s.C + c;
                if (best < 0 || x[at] > x[best]) best = at;
              }
            const int64_t o = ((int64_t{n} * s.OH + oh) * s.OW + ow) * s.C + c;
            y[o] = x[best];
            dx[best] += dy[o];
          }
    expect_all_near(out[0], y, 0.0, what + " y");
    expect_all_near(out[1], dx, 1e-6, what + " dx");
  }
}

TEST(ParallelOps, GlobalAvgPool) {
  const int N = 64, HW = 49, C = 256;
  const auto x = random_vector(size_t(N) * HW * C, 18), dy = random_vector(size_t(N) * C, 19);
  const Outputs out = same_bits_on_any_thread_count("global_avg_pool2d", [&] {
    Outputs o{std::vector<float>(dy.size()), std::vector<float>(x.size())};
    cpu::global_avg_pool2d_forward(N, HW, C, x.data(), o[0].data());
    cpu::global_avg_pool2d_backward(N, HW, C, dy.data(), o[1].data());
    return o;
  });
  std::vector<double> y(dy.size(), 0.0), dx(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) {
        y[n * C + c] += x[(n * HW + p) * C + c] / static_cast<double>(HW);
        dx[(n * HW + p) * C + c] = dy[n * C + c] / static_cast<double>(HW);
      }
  expect_all_near(out[0], y, 1e-5, "global_avg_pool2d y");
  expect_all_near(out[1], dx, 1e-6, "global_avg_pool2d dx");
}

TEST(ParallelOps, ZeroPad2d) {
  const Pad2dShape s{32, 50, 50, 3, 3, 2, 1, 4};
  const int64_t in = int64_t{s.N} * s.H * s.W * s.C, padded = int64_t{s.N} * s.OH() * s.OW() * s.C;
  const auto x = random_vector(in, 20), dy = random_vector(padded, 21);
  const Outputs out = same_bits_on_any_thread_count("zero_pad2d", [&] {
    Outputs o{std::vector<float>(padded, 7.0f), std::vector<float>(in, 7.0f)};  // 7: every value must be written
    cpu::zero_pad2d_forward(s, x.data(), o[0].data());
    cpu::zero_pad2d_backward(s, dy.data(), o[1].data());
    return o;
  });
  std::vector<double> y(padded, 0.0), dx(in);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t h = 0; h < s.H; ++h)
      for (int64_t w = 0; w < s.W; ++w)
        for (int64_t c = 0; c < s.C; ++c) {
          const int64_t i = ((n * s.H + h) * s.W + w) * s.C + c;
          const int64_t o = ((n * s.OH() + h + s.top) * s.OW() + w + s.left) * s.C + c;
          y[o] = x[i];
          dx[i] = dy[o];
        }
  expect_all_near(out[0], y, 0.0, "zero_pad2d y");
  expect_all_near(out[1], dx, 0.0, "zero_pad2d dx");
}

}  // namespace
}  // namespace cxr::kernels
