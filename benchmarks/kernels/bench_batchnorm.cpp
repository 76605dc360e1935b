// BatchNormalization: training forward (statistics, normalise, the moving statistics' update),
// training backward, inference forward and inference backward (a frozen layer's gradient) at every
// BN layer of the experiments (inference forward only for experiment 4's frozen ones). Validated
// first against the formulas of kernels/batchnorm.h evaluated in double.
#include <cmath>
#include <set>
#include <string>

#include "benchmarks/kernels/bench_util.h"
#include "kernels/batchnorm.h"
#include "kernels/dropout.h"

namespace cxr::bench {
namespace {

constexpr float kEps = 1e-3f;
constexpr float kMomentum = 0.99f;  // Keras's default

struct Buffers {
  int64_t M;
  int C;
  std::vector<float> x, dy, y, dx, gamma, beta, mean, inv_std, var, moving_mean, moving_var, dgamma, dbeta;
  explicit Buffers(const RowsCase& c)
      : M(c.M), C(c.C), x(random_vector(M * C, 1)), dy(random_vector(M * C, 2)), y(M * C), dx(M * C),
        gamma(random_vector(C, 3, 0.5f, 1.5f)), beta(random_vector(C, 4)), mean(C), inv_std(C), var(C),
        moving_mean(random_vector(C, 5)), moving_var(random_vector(C, 6, 0.5f, 2.0f)), dgamma(C), dbeta(C) {}
  // What the layer runs: the moving statistics' update included, as the GPU suite times it.
  void forward_train() {
    const kernels::MovingUpdate moving{kMomentum, true, moving_mean.data(), moving_var.data()};
    kernels::cpu::batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), kEps, y.data(), mean.data(),
                                          inv_std.data(), var.data(), &moving);
  }
};

// Per-channel mean, 1/sqrt(biased var + eps) and the biased var, in double.
void statistics(const Buffers& b, std::vector<double>& mean, std::vector<double>& inv,
                std::vector<double>* var_out = nullptr) {
  mean.assign(b.C, 0.0);
  std::vector<double> var(b.C, 0.0);
  for (int64_t m = 0; m < b.M; ++m)
    for (int c = 0; c < b.C; ++c) mean[c] += b.x[m * b.C + c];
  for (double& v : mean) v /= static_cast<double>(b.M);
  for (int64_t m = 0; m < b.M; ++m)
    for (int c = 0; c < b.C; ++c) var[c] += (b.x[m * b.C + c] - mean[c]) * (b.x[m * b.C + c] - mean[c]);
  inv.resize(b.C);
  for (double& v : var) v /= static_cast<double>(b.M);
  for (int c = 0; c < b.C; ++c) inv[c] = 1.0 / std::sqrt(var[c] + kEps);
  if (var_out) *var_out = var;
}

// x, y, dy and dx stream once each per pass; forward: read x, write y; backward: read x and dy, write dx.
void forward_train(benchmark::State& state, const RowsCase& c) {
  Buffers b(c);
  const std::vector<float> moving_mean0 = b.moving_mean, moving_var0 = b.moving_var;
  b.forward_train();
  std::vector<double> mean, inv, var, ref(b.y.size()), ref_moving_mean(b.C), ref_moving_var(b.C);
  statistics(b, mean, inv, &var);
  for (int64_t i = 0; i < b.M * b.C; ++i) {
    const int ch = static_cast<int>(i % b.C);
    ref[i] = b.gamma[ch] * (b.x[i] - mean[ch]) * inv[ch] + b.beta[ch];
  }
  const double bessel = b.M > 1 ? static_cast<double>(b.M) / static_cast<double>(b.M - 1) : 1.0;
  for (int ch = 0; ch < b.C; ++ch) {
    ref_moving_mean[ch] = kMomentum * static_cast<double>(moving_mean0[ch]) + (1.0 - kMomentum) * mean[ch];
    ref_moving_var[ch] = kMomentum * static_cast<double>(moving_var0[ch]) + (1.0 - kMomentum) * var[ch] * bessel;
  }
  // Every output: what the backward reads, and the moving statistics.
  if (!matches(state, "y", ref, b.y, 1e-4, 1e-4) || !matches(state, "mean", mean, b.mean, 1e-6, 1e-5) ||
      !matches(state, "inv_std", inv, b.inv_std, 1e-6, 1e-5) || !matches(state, "var", var, b.var, 1e-6, 1e-5) ||
      !matches(state, "moving_mean", ref_moving_mean, b.moving_mean, 1e-6, 1e-5) ||
      !matches(state, "moving_var", ref_moving_var, b.moving_var, 1e-6, 1e-5))
    return;
  time_cpu(state, {0, 8.0 * b.M * b.C}, [&] { b.forward_train(); });
}

void backward_train(benchmark::State& state, const RowsCase& c) {
  Buffers b(c);
  b.forward_train();
  auto run = [&] {
    kernels::cpu::batchnorm_backward_train(b.M, b.C, b.x.data(), b.gamma.data(), b.mean.data(), b.inv_std.data(),
                                           b.dy.data(), b.dx.data(), b.dgamma.data(), b.dbeta.data());
  };
  run();
  std::vector<double> mean, inv, sum_dy(b.C, 0.0), sum_dy_xhat(b.C, 0.0), ref(b.dx.size());
  statistics(b, mean, inv);
  for (int64_t i = 0; i < b.M * b.C; ++i) {
    const int ch = static_cast<int>(i % b.C);
    sum_dy[ch] += b.dy[i];
    sum_dy_xhat[ch] += b.dy[i] * (b.x[i] - mean[ch]) * inv[ch];
  }
  for (int64_t i = 0; i < b.M * b.C; ++i) {
    const int ch = static_cast<int>(i % b.C);
    const double xhat = (b.x[i] - mean[ch]) * inv[ch], M = static_cast<double>(b.M);
    ref[i] = b.gamma[ch] * inv[ch] * (b.dy[i] - sum_dy[ch] / M - xhat * sum_dy_xhat[ch] / M);
  }
  if (!matches(state, "dx", ref, b.dx, 1e-4, 1e-4) || !matches(state, "dbeta", sum_dy, b.dbeta, 1e-3, 1e-5) ||
      !matches(state, "dgamma", sum_dy_xhat, b.dgamma, 1e-3, 1e-5))
    return;
  time_cpu(state, {0, 12.0 * b.M * b.C}, run);
}

// The gradient through an inference-mode (frozen) batch norm, for a config that trains layers before
// one (no shipped config does): dx = dy * gamma / sqrt(moving_var + eps), dgamma = sum dy * xhat,
// dbeta = sum dy.
void backward_inference(benchmark::State& state, const RowsCase& c) {
  Buffers b(c);
  auto run = [&] {
    kernels::cpu::batchnorm_backward_inference(b.M, b.C, b.x.data(), b.gamma.data(), b.moving_mean.data(),
                                               b.moving_var.data(), kEps, b.dy.data(), b.dx.data(), b.dgamma.data(),
                                               b.dbeta.data());
  };
  run();
  std::vector<double> dx(b.dx.size()), dgamma(b.C, 0.0), dbeta(b.C, 0.0);
  for (int64_t i = 0; i < b.M * b.C; ++i) {
    const int ch = static_cast<int>(i % b.C);
    const double inv = 1.0 / std::sqrt(static_cast<double>(b.moving_var[ch]) + kEps);
    dx[i] = b.dy[i] * b.gamma[ch] * inv;
    dgamma[ch] += b.dy[i] * (b.x[i] - static_cast<double>(b.moving_mean[ch])) * inv;
    dbeta[ch] += b.dy[i];
  }
  if (!matches(state, "dx", dx, b.dx, 1e-5, 1e-5) || !matches(state, "dgamma", dgamma, b.dgamma, 1e-3, 1e-5) ||
      !matches(state, "dbeta", dbeta, b.dbeta, 1e-3, 1e-5))
    return;
  time_cpu(state, {0, 12.0 * b.M * b.C}, run);  // x and dy read, dx written
}

void forward_inference(benchmark::State& state, const RowsCase& c) {
  Buffers b(c);
  auto run = [&] {
    kernels::cpu::batchnorm_forward_inference(b.M, b.C, b.x.data(), b.gamma.data(), b.beta.data(),
                                              b.moving_mean.data(), b.moving_var.data(), kEps, b.y.data());
  };
  run();
  std::vector<double> ref(b.y.size());
  for (int64_t i = 0; i < b.M * b.C; ++i) {
    const int ch = static_cast<int>(i % b.C);
    ref[i] = b.gamma[ch] * (b.x[i] - static_cast<double>(b.moving_mean[ch])) /
                 std::sqrt(static_cast<double>(b.moving_var[ch]) + kEps) + b.beta[ch];
  }
  if (!matches(state, "y", ref, b.y, 1e-4, 1e-4)) return;
  time_cpu(state, {0, 8.0 * b.M * b.C}, run);
}

// Batch norm, dropout and relu, the conv blocks of experiments 1-3: the fused kernels (one pass over
// x after the statistics forward, two backward) or the three kernels one after the other (apart),
// the moving statistics updated in both, validated against each other bit for bit. Bytes: the op's
// compulsory traffic, the same for both (forward: x read, y written; backward: x, y and dy read, dx
// written; the per-channel arrays are not counted, here or in any batch norm row: 36 bytes a channel
// forward, under 4% of a layer of 128 rows or more), as every other row of the report and the GPU
// suite count it, so that GB/s compares the two as their times do. (Counting each variant's actual
// passes made the slower apart forward show 1.7x the fused one's GB/s.)
void batchnorm_dropout_relu(benchmark::State& state, const RowsCase& c, bool fused, bool backward) {
  constexpr float kRate = 0.2f;
  constexpr uint64_t kSeed = 42;
  Buffers b(c);
  Buffers ref(c);
  const int64_t n = b.M * b.C;
  std::vector<float> z(n), dz(n);
  auto forward = [&](Buffers& o, bool fuse) {
    const kernels::MovingUpdate moving{kMomentum, true, o.moving_mean.data(), o.moving_var.data()};
    if (fuse) {
      kernels::cpu::batchnorm_dropout_relu_forward_train(o.M, o.C, o.x.data(), o.gamma.data(), o.beta.data(), kEps,
                                                         kRate, kSeed, 7, o.y.data(), o.mean.data(),
                                                         o.inv_std.data(), o.var.data(), &moving);
      return;
    }
    kernels::cpu::batchnorm_forward_train(o.M, o.C, o.x.data(), o.gamma.data(), o.beta.data(), kEps, z.data(),
                                          o.mean.data(), o.inv_std.data(), o.var.data(), &moving);
    kernels::cpu::dropout_relu_forward(n, kRate, kSeed, 7, z.data(), o.y.data());
  };
  auto backward_pass = [&](Buffers& o, bool fuse) {
    if (fuse) {
      kernels::cpu::batchnorm_dropout_relu_backward_train(o.M, o.C, o.x.data(), o.gamma.data(), o.mean.data(),
                                                          o.inv_std.data(), kRate, o.y.data(), o.dy.data(),
                                                          o.dx.data(), o.dgamma.data(), o.dbeta.data());
      return;
    }
    kernels::cpu::dropout_relu_backward(n, kRate, o.y.data(), o.dy.data(), dz.data());
    kernels::cpu::batchnorm_backward_train(o.M, o.C, o.x.data(), o.gamma.data(), o.mean.data(), o.inv_std.data(),
                                           dz.data(), o.dx.data(), o.dgamma.data(), o.dbeta.data());
  };
  forward(b, fused);
  backward_pass(b, fused);
  forward(ref, !fused);
  backward_pass(ref, !fused);
  if (!matches(state, "y", ref.y, b.y, 0, 0) || !matches(state, "dx", ref.dx, b.dx, 0, 0) ||
      !matches(state, "dgamma", ref.dgamma, b.dgamma, 0, 0) || !matches(state, "dbeta", ref.dbeta, b.dbeta, 0, 0) ||
      !matches(state, "moving_mean", ref.moving_mean, b.moving_mean, 0, 0) ||
      !matches(state, "moving_var", ref.moving_var, b.moving_var, 0, 0))
    return;
  const double bytes = (backward ? 16.0 : 8.0) * static_cast<double>(n);
  if (backward) time_cpu(state, {0, bytes}, [&] { backward_pass(b, fused); });
  else time_cpu(state, {0, bytes}, [&] { forward(b, fused); });
}

const bool registered = [] {
  for (const RowsCase& c : batchnorm_cases()) {
    add(std::string("batchnorm_forward_inference/") + c.name, [&c](benchmark::State& st) { forward_inference(st, c); });
    if (c.inference_only) continue;
    add(std::string("batchnorm_forward_train/") + c.name, [&c](benchmark::State& st) { forward_train(st, c); });
    add(std::string("batchnorm_backward_train/") + c.name, [&c](benchmark::State& st) { backward_train(st, c); });
    add(std::string("batchnorm_backward_inference/") + c.name,
        [&c](benchmark::State& st) { backward_inference(st, c); });
    static const std::set<std::string> before_dropout_relu{"e1_bn1", "e1_bn2", "e1_bn3", "e2_bn4",
                                                           "e3_bn1", "e3_bn2", "e3_bn3"};
    if (!before_dropout_relu.count(c.name)) continue;
    for (const bool backward : {false, true})
      for (const bool fused : {true, false})
        add(std::string("batchnorm_dropout_relu_") + (backward ? "backward" : "forward") + (fused ? "" : "_apart") +
                "/" + c.name,
            [&c, fused, backward](benchmark::State& st) { batchnorm_dropout_relu(st, c, fused, backward); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
