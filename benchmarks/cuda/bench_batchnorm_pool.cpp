// BatchNormalization (training forward and backward, inference forward and backward) and MaxPooling2D
// (forward, backward) on the GPU, custom kernels against cuDNN, at the experiments' layers
// (common/shapes.h). Validated against the CPU reference before timing. cuDNN's training forward
// also updates the moving statistics (one call), so the custom side is timed with its update too (made
// as the forward finalises the statistics, as in training).
#include <set>
#include <string>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/batchnorm.h"
#include "kernels/dropout.h"
#include "kernels/pool.h"

namespace cxr::bench {
namespace {

constexpr float kEps = 1e-3f, kMomentum = 0.99f;

struct Bn {
  int64_t M;
  int C;
  std::vector<float> hx, hdy, hgamma, hbeta, hmm, hmv;
  DeviceBuffer x, dy, gamma, beta, moving_mean, moving_var, y, dx, mean, inv_std, var, dgamma, dbeta;
  // Updated as the custom forward finalises the batch's statistics, as training does.
  kernels::MovingUpdate moving{kMomentum, true, moving_mean.get(), moving_var.get()};
  explicit Bn(const RowsCase& c)
      : M(c.M), C(c.C), hx(random_vector(M * C, 1)), hdy(random_vector(M * C, 2)),
        hgamma(random_vector(C, 3, 0.5f, 1.5f)), hbeta(random_vector(C, 4)), hmm(random_vector(C, 5)),
        hmv(random_vector(C, 6, 0.5f, 2.0f)), x(hx), dy(hdy), gamma(hgamma), beta(hbeta), moving_mean(hmm),
        moving_var(hmv), y(M * C), dx(M * C), mean(C), inv_std(C), var(C), dgamma(C), dbeta(C) {}
  void forward_train(Impl impl) {
    if (impl == Impl::Vendor) {
      kernels::vendor::batchnorm_forward_train_and_update(M, C, x.get(), gamma.get(), beta.get(), kEps, kMomentum,
                                                          y.get(), mean.get(), inv_std.get(), moving_mean.get(),
                                                          moving_var.get());
    } else {
      kernels::cuda::batchnorm_forward_train(M, C, x.get(), gamma.get(), beta.get(), kEps, y.get(), mean.get(),
                                             inv_std.get(), var.get(), &moving);
    }
  }
};

// The CPU's training forward on the same inputs: y, mean, inv_std, var, and the moving statistics
// after one update from the Bn's starting ones.
struct CpuForward {
  std::vector<float> y, mean, inv_std, var, moving_mean, moving_var;
  explicit CpuForward(const Bn& b)
      : y(b.hx.size()), mean(b.C), inv_std(b.C), var(b.C), moving_mean(b.hmm), moving_var(b.hmv) {
    kernels::cpu::batchnorm_forward_train(b.M, b.C, b.hx.data(), b.hgamma.data(), b.hbeta.data(), kEps, y.data(),
                                          mean.data(), inv_std.data(), var.data());
    kernels::cpu::batchnorm_update_moving(b.M, b.C, mean.data(), var.data(), kMomentum, true, moving_mean.data(),
                                          moving_var.data());
  }
};

// Everything a training forward writes, timed update included (cuDNN writes no variance of its own).
void bn_forward_train(benchmark::State& state, const RowsCase& c, Impl impl) {
  Bn b(c);
  b.forward_train(impl);
  const CpuForward ref(b);
  if (!matches(state, "y", ref.y, b.y.to_host(), 1e-4, 1e-4) ||
      !matches(state, "mean", ref.mean, b.mean.to_host(), 1e-5, 1e-4) ||
      !matches(state, "inv_std", ref.inv_std, b.inv_std.to_host(), 1e-5, 1e-4) ||
      (impl == Impl::Custom && !matches(state, "var", ref.var, b.var.to_host(), 1e-5, 1e-4)) ||
      !matches(state, "moving_mean", ref.moving_mean, b.moving_mean.to_host(), 1e-6, 1e-5) ||
      !matches(state, "moving_var", ref.moving_var, b.moving_var.to_host(), 1e-6, 1e-5))
    return;
  time_gpu(state, {0, 8.0 * static_cast<double>(b.M) * b.C}, [&] { b.forward_train(impl); });
}

void bn_backward_train(benchmark::State& state, const RowsCase& c, Impl impl) {
  Bn b(c);
  b.forward_train(impl);
  auto run = [&] {
    if (impl == Impl::Vendor)
      kernels::vendor::batchnorm_backward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.mean.get(), b.inv_std.get(), kEps,
                                                b.dy.get(), b.dx.get(), b.dgamma.get(), b.dbeta.get());
    else
      kernels::cuda::batchnorm_backward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.mean.get(), b.inv_std.get(),
                                              b.dy.get(), b.dx.get(), b.dgamma.get(), b.dbeta.get());
  };
  run();
  const CpuForward f(b);
  std::vector<float> rdx(b.hx.size()), rdg(b.C), rdb(b.C);
  kernels::cpu::batchnorm_backward_train(b.M, b.C, b.hx.data(), b.hgamma.data(), f.mean.data(), f.inv_std.data(),
                                         b.hdy.data(), rdx.data(), rdg.data(), rdb.data());
  const double sum_tol = 1e-5 * static_cast<double>(b.M) + 1e-3;
  if (!matches(state, "dx", rdx, b.dx.to_host(), 1e-4, 1e-3) || !matches(state, "dgamma", rdg, b.dgamma.to_host(), sum_tol, 1e-4) ||
      !matches(state, "dbeta", rdb, b.dbeta.to_host(), sum_tol, 1e-4))
    return;
  time_gpu(state, {0, 12.0 * static_cast<double>(b.M) * b.C}, run);
}

// The gradient through an inference-mode (frozen) batch norm, for a config that trains layers before
// one (no shipped config does: experiment 4's fine-tuning trains conv5, whose batch norms train too).
// Custom only: cuDNN has no inference backward.
void bn_backward_inference(benchmark::State& state, const RowsCase& c) {
  Bn b(c);
  auto run = [&] {
    kernels::cuda::batchnorm_backward_inference(b.M, b.C, b.x.get(), b.gamma.get(), b.moving_mean.get(),
                                                b.moving_var.get(), kEps, b.dy.get(), b.dx.get(), b.dgamma.get(),
                                                b.dbeta.get());
  };
  run();
  std::vector<float> rdx(b.hx.size()), rdg(b.C), rdb(b.C);
  kernels::cpu::batchnorm_backward_inference(b.M, b.C, b.hx.data(), b.hgamma.data(), b.hmm.data(), b.hmv.data(), kEps,
                                             b.hdy.data(), rdx.data(), rdg.data(), rdb.data());
  // Both sum in double: 3e-7 a row still passes float rounding 10x over, and fails a kernel that
  // drops a few rows' terms (1e-5 a row, 4.9 at e3_bn1, let 16 missing rows through).
  const double sum_tol = 3e-7 * static_cast<double>(b.M) + 1e-3;
  if (!matches(state, "dx", rdx, b.dx.to_host(), 1e-5, 1e-5) ||
      !matches(state, "dgamma", rdg, b.dgamma.to_host(), sum_tol, 1e-4) ||
      !matches(state, "dbeta", rdb, b.dbeta.to_host(), sum_tol, 1e-4))
    return;
  time_gpu(state, {0, 12.0 * static_cast<double>(b.M) * b.C}, run);  // x and dy read, dx written
}

void bn_forward_inference(benchmark::State& state, const RowsCase& c, Impl impl) {
  Bn b(c);
  auto run = [&] {
    if (impl == Impl::Vendor)
      kernels::vendor::batchnorm_forward_inference(b.M, b.C, b.x.get(), b.gamma.get(), b.beta.get(), b.moving_mean.get(),
                                                   b.moving_var.get(), kEps, b.y.get());
    else
      kernels::cuda::batchnorm_forward_inference(b.M, b.C, b.x.get(), b.gamma.get(), b.beta.get(), b.moving_mean.get(),
                                                 b.moving_var.get(), kEps, b.y.get());
  };
  run();
  std::vector<float> ref(b.hx.size());
  kernels::cpu::batchnorm_forward_inference(b.M, b.C, b.hx.data(), b.hgamma.data(), b.hbeta.data(), b.hmm.data(),
                                            b.hmv.data(), kEps, ref.data());
  if (!matches(state, "y", ref, b.y.to_host(), 1e-5, 1e-5)) return;
  time_gpu(state, {0, 8.0 * static_cast<double>(b.M) * b.C}, run);
}

// Batch norm, dropout and relu (experiments 1-3, after each convolution) as the fused op, and as
// batch norm's kernels then dropout_relu's (`apart`, what CUDA training ran before the fused op, and
// runs with CXR_BATCHNORM_DROPOUT_RELU=0). Validated against the CPU's fused kernels; bytes counted
// as the fused op moves them: forward x read, y written; backward x, y and dy read, dx written.
void bn_dropout_relu(benchmark::State& state, const RowsCase& c, bool fused, bool backward) {
  constexpr float kRate = 0.25f;
  constexpr uint64_t kSeed = 42, kStream = 5;
  Bn b(c);
  DeviceBuffer normalized(b.M * b.C), gradient(b.M * b.C);
  const int64_t n = b.M * b.C;
  auto forward = [&] {
    if (fused) {
      kernels::cuda::batchnorm_dropout_relu_forward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.beta.get(), kEps, kRate,
                                                          kSeed, kStream, b.y.get(), b.mean.get(), b.inv_std.get(),
                                                          b.var.get(), &b.moving);
    } else {
      kernels::cuda::batchnorm_forward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.beta.get(), kEps, normalized.get(),
                                             b.mean.get(), b.inv_std.get(), b.var.get(), &b.moving);
      kernels::cuda::dropout_relu_forward(n, kRate, kSeed, kStream, normalized.get(), b.y.get());
    }
  };
  auto run_backward = [&] {
    if (fused) {
      kernels::cuda::batchnorm_dropout_relu_backward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.mean.get(),
                                                           b.inv_std.get(), kRate, b.y.get(), b.dy.get(), b.dx.get(),
                                                           b.dgamma.get(), b.dbeta.get());
    } else {
      kernels::cuda::dropout_relu_backward(n, kRate, b.y.get(), b.dy.get(), gradient.get());
      kernels::cuda::batchnorm_backward_train(b.M, b.C, b.x.get(), b.gamma.get(), b.mean.get(), b.inv_std.get(),
                                              gradient.get(), b.dx.get(), b.dgamma.get(), b.dbeta.get());
    }
  };
  forward();
  run_backward();
  std::vector<float> ry(b.hx.size()), rmean(b.C), rinv(b.C), rvar(b.C), rdx(b.hx.size()), rdg(b.C), rdb(b.C);
  kernels::cpu::batchnorm_dropout_relu_forward_train(b.M, b.C, b.hx.data(), b.hgamma.data(), b.hbeta.data(), kEps, kRate,
                                                     kSeed, kStream, ry.data(), rmean.data(), rinv.data(), rvar.data());
  // The backward from the GPU's y, so that a relu the two devices' last bits flipped cannot differ.
  const std::vector<float> gy = b.y.to_host();
  kernels::cpu::batchnorm_dropout_relu_backward_train(b.M, b.C, b.hx.data(), b.hgamma.data(), rmean.data(),
                                                      rinv.data(), kRate, gy.data(), b.hdy.data(), rdx.data(),
                                                      rdg.data(), rdb.data());
  const double sum_tol = 1e-5 * static_cast<double>(b.M) + 1e-3;
  if (!matches(state, "y", ry, gy, 1e-4, 1e-4) || !matches(state, "dx", rdx, b.dx.to_host(), 1e-4, 1e-3) ||
      !matches(state, "dgamma", rdg, b.dgamma.to_host(), sum_tol, 1e-4) ||
      !matches(state, "dbeta", rdb, b.dbeta.to_host(), sum_tol, 1e-4))
    return;
  if (backward) time_gpu(state, {0, 16.0 * static_cast<double>(n)}, run_backward);
  else time_gpu(state, {0, 8.0 * static_cast<double>(n)}, forward);
}

void pool(benchmark::State& state, const PoolCase& c, Impl impl, bool backward) {
  const auto s = pool_shape(c);
  const int64_t nx = int64_t{s.N} * s.H * s.W * s.C, ny = int64_t{s.N} * s.OH * s.OW * s.C;
  const auto hx = random_vector(static_cast<size_t>(nx), 1), hdy = random_vector(static_cast<size_t>(ny), 2);
  DeviceBuffer x(hx), dy(hdy), y(ny), dx(nx);
  auto run_forward = [&] {
    if (impl == Impl::Vendor) kernels::vendor::maxpool2d_forward(s, x.get(), y.get());
    else kernels::cuda::maxpool2d_forward(s, x.get(), y.get());
  };
  auto run_backward = [&] {
    if (impl == Impl::Vendor) kernels::vendor::maxpool2d_backward(s, x.get(), y.get(), dy.get(), dx.get());
    else kernels::cuda::maxpool2d_backward(s, x.get(), dy.get(), dx.get());
  };
  run_forward();
  std::vector<float> ry(static_cast<size_t>(ny)), rdx(static_cast<size_t>(nx));
  kernels::cpu::maxpool2d_forward(s, hx.data(), ry.data());
  if (!matches(state, "y", ry, y.to_host(), 0, 0)) return;
  // Compulsory bytes (common/shapes.h's pooled_inputs): the x the windows cover, y; backward also dy,
  // and all of dx written (cuDNN's backward reads y as well, which is its own choice).
  if (!backward) return time_gpu(state, {0, 4.0 * static_cast<double>(pooled_inputs(s) + ny)}, run_forward);
  run_backward();
  kernels::cpu::maxpool2d_backward(s, hx.data(), hdy.data(), rdx.data());
  if (!matches(state, "dx", rdx, dx.to_host(), 1e-6, 1e-6)) return;
  time_gpu(state, {0, 4.0 * static_cast<double>(pooled_inputs(s) + ny + nx)}, run_backward);
}

const bool registered = [] {
  for (const RowsCase& c : batchnorm_cases()) {
    add_both("batchnorm_forward_inference", c.name,
             [&c](benchmark::State& st, Impl i) { bn_forward_inference(st, c, i); });
    if (c.inference_only) continue;
    add_both("batchnorm_forward_train", c.name, [&c](benchmark::State& st, Impl i) { bn_forward_train(st, c, i); });
    add_both("batchnorm_backward_train", c.name, [&c](benchmark::State& st, Impl i) { bn_backward_train(st, c, i); });
    add(std::string("batchnorm_backward_inference/custom/") + c.name, [&c](benchmark::State& st) {
      if (require_gpu(st)) bn_backward_inference(st, c);
    });
  }
  for (const RowsCase& c : batchnorm_cases()) {
    const std::string shape = c.name;
    const std::set<std::string> before_dropout_relu{"e1_bn1", "e1_bn2", "e1_bn3", "e2_bn4",
                                                    "e3_bn1", "e3_bn2", "e3_bn3"};
    if (!before_dropout_relu.count(shape)) continue;
    for (const bool backward : {false, true})
      for (const bool fused : {true, false}) {
        const std::string op = std::string("batchnorm_dropout_relu_") + (backward ? "backward" : "forward") + "_train" +
                               (fused ? "" : "_apart");
        add(op + "/custom/" + shape, [&c, fused, backward](benchmark::State& st) {
          if (require_gpu(st)) bn_dropout_relu(st, c, fused, backward);
        });
      }
  }
  for (const PoolCase& c : pool_cases()) {
    add_both("maxpool2d_forward", c.name, [&c](benchmark::State& st, Impl i) { pool(st, c, i, false); });
    add_both("maxpool2d_backward", c.name, [&c](benchmark::State& st, Impl i) { pool(st, c, i, true); });
  }
  return true;
}();

}  // namespace
}  // namespace cxr::bench
