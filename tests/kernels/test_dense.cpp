// dense and sgemm against direct loops in double.
#include "kernels/dense.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/kernels/kernel_test_util.h"

namespace cxr::kernels {
namespace {

using test::expect_all_near;
using test::random_vector;

TEST(Sgemm, AllTransposeCombinationsWithAlphaAndBeta) {
  const int M = 5, N = 7, K = 4;
  const float alpha = 1.5f, beta = -0.5f;
  const auto A = random_vector(M * K, 1), B = random_vector(K * N, 2), C0 = random_vector(M * N, 3);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::string(ta ? "A^T " : "A ") + (tb ? "B^T" : "B"));
      // Stored [M][K] or [K][M]; [K][N] or [N][K].
      auto a_at = [&](int i, int k) { return static_cast<double>(ta ? A[k * M + i] : A[i * K + k]); };
      auto b_at = [&](int k, int j) { return static_cast<double>(tb ? B[j * K + k] : B[k * N + j]); };
      std::vector<double> ref(M * N);
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
          double acc = 0;
          for (int k = 0; k < K; ++k) acc += a_at(i, k) * b_at(k, j);
          ref[i * N + j] = alpha * acc + beta * C0[i * N + j];
        }
      std::vector<float> C = C0;
      cpu::sgemm(ta, tb, M, N, K, alpha, A.data(), B.data(), beta, C.data());
      expect_all_near(C, ref, 1e-6, "C");
    }
}

TEST(Dense, ForwardAndBackwardMatchDirectLoops) {
  const int B = 6, in = 9, out = 4;
  const auto x = random_vector(B * in, 4), w = random_vector(in * out, 5), b = random_vector(out, 6);
  const auto dy = random_vector(B * out, 7);
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "bias" : "no bias");
    std::vector<double> ref(B * out);
    for (int i = 0; i < B; ++i)
      for (int j = 0; j < out; ++j) {
        double acc = bias ? b[j] : 0.0;
        for (int k = 0; k < in; ++k) acc += static_cast<double>(x[i * in + k]) * w[k * out + j];
        ref[i * out + j] = acc;
      }
    std::vector<float> y(B * out, 123.0f);
    cpu::dense_forward(B, in, out, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
    expect_all_near(y, ref, 1e-6, "y");
  }

  std::vector<double> ref_dx(B * in, 0.0), ref_dw(in * out, 0.0), ref_db(out, 0.0);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < out; ++j) {
      const double d = dy[i * out + j];
      ref_db[j] += d;
      for (int k = 0; k < in; ++k) {
        ref_dx[i * in + k] += d * w[k * out + j];
        ref_dw[k * out + j] += d * x[i * in + k];
      }
    }
  std::vector<float> dx(B * in, 7.0f), dw(in * out, 7.0f), db(out, 7.0f);
  cpu::dense_backward(B, in, out, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
  expect_all_near(dx, ref_dx, 1e-6, "dx");
  expect_all_near(dw, ref_dw, 1e-6, "dw");
  expect_all_near(db, ref_db, 1e-6, "db");

  // Frozen input or frozen weights: only some gradients are asked for.
  std::vector<float> dw_only(in * out, 7.0f);
  cpu::dense_backward(B, in, out, x.data(), w.data(), dy.data(), nullptr, dw_only.data(), nullptr);
  expect_all_near(dw_only, ref_dw, 1e-6, "dw alone");
  std::vector<float> dx_only(B * in, 7.0f);
  cpu::dense_backward(B, in, out, x.data(), w.data(), dy.data(), dx_only.data(), nullptr, nullptr);
  expect_all_near(dx_only, ref_dx, 1e-6, "dx alone");
}

TEST(Dense, HandComputed) {
  // x = [1 2], W = [[1 0 2], [3 -1 1]], b = [0.5 0 -1]: y = [1+6, -2, 2+2] + b = [7.5, -2, 3].
  const std::vector<float> x{1, 2}, w{1, 0, 2, 3, -1, 1}, b{0.5f, 0, -1};
  std::vector<float> y(3);
  cpu::dense_forward(1, 2, 3, x.data(), w.data(), b.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{7.5f, -2, 3}));
}

}  // namespace
}  // namespace cxr::kernels
