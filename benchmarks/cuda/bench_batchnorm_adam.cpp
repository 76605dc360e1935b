// Batch norm (training forward and backward) at experiment 1's first BN layer, batch 32, and the
// fused multi-tensor Adam over all of experiment 1's trainable tensors, in GB/s. Validated against
// the CPU before timing (Adam must be bit-identical).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/batchnorm.h"
#include "kernels/optim.h"

namespace cxr::bench {
namespace {

void BM_batchnorm(benchmark::State& state, bool backward) {
  if (!require_gpu(state)) return;
  const int64_t M = 32 * 46 * 46;
  const int C = 16;
  DeviceBuffer x(M * C, 1), gamma(C, 2), beta(C, 3), dy(M * C, 4), y(M * C, 5), mean(C, 6), inv(C, 7), var(C, 8),
      dx(M * C, 9), dgamma(C, 10), dbeta(C, 11);
  auto forward = [&] {
    kernels::cuda::batchnorm_forward_train(M, C, x.get(), gamma.get(), beta.get(), 1e-3f, y.get(), mean.get(),
                                           inv.get(), var.get());
  };
  auto run = [&] {
    if (!backward) return forward();
    kernels::cuda::batchnorm_backward_train(M, C, x.get(), gamma.get(), mean.get(), inv.get(), dy.get(), dx.get(),
                                            dgamma.get(), dbeta.get());
  };
  forward();
  run();
  const auto hx = host_values(M * C, 1), hg = host_values(C, 2), hb = host_values(C, 3), hdy = host_values(M * C, 4);
  std::vector<float> ry(M * C), rmean(C), rinv(C), rvar(C), rdx(M * C), rdg(C), rdb(C);
  kernels::cpu::batchnorm_forward_train(M, C, hx.data(), hg.data(), hb.data(), 1e-3f, ry.data(), rmean.data(),
                                        rinv.data(), rvar.data());
  if (!matches_cpu(state, ry, y.to_host(), 1e-5, 1e-5)) return;
  if (backward) {
    kernels::cpu::batchnorm_backward_train(M, C, hx.data(), hg.data(), rmean.data(), rinv.data(), hdy.data(),
                                           rdx.data(), rdg.data(), rdb.data());
    if (!matches_cpu(state, rdx, dx.to_host(), 1e-4, 1e-4) || !matches_cpu(state, rdg, dgamma.to_host(), 1e-2, 1e-5))
      return;
  }
  time_launches(state, 4.0 * static_cast<double>(M * C) * (backward ? 6 : 3), run);
}

void BM_adam_fused(benchmark::State& state) {
  if (!require_gpu(state)) return;
  // Experiment 1's trainable tensors: kernels and biases of 3 convs and 2 denses, gamma/beta of 4 BNs.
  const std::vector<int64_t> sizes{1200, 16, 16, 16, 12800, 32, 32, 32, 51200, 64, 64, 64, 64, 64, 65536, 64, 64, 1};
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  std::vector<kernels::AdamTensor> tensors;
  int64_t total = 0;
  uint32_t seed = 1;
  for (int64_t n : sizes) {
    for (int k = 0; k < 4; ++k) buffers.push_back(std::make_unique<DeviceBuffer>(n, seed++));
    const size_t b = buffers.size();
    tensors.push_back({buffers[b - 4]->get(), buffers[b - 3]->get(), buffers[b - 2]->get(), buffers[b - 1]->get(), n});
    total += n;
  }
  // v must be non-negative: square the random values on the host copy and upload them.
  std::vector<std::vector<float>> v_host;
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto v = host_values(sizes[i], static_cast<uint32_t>(4 * i + 4));
    for (float& f : v) f *= f;
    kernels::cuda::copy_host_to_device(tensors[i].v, v.data(), v.size() * sizeof(float));
    v_host.push_back(v);
  }
  const kernels::AdamParams p{1e-3f, 0.9f, 0.999f, 1e-7f};
  kernels::cuda::adam_update_multi(tensors.data(), static_cast<int>(tensors.size()), p, 1);
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto param = host_values(sizes[i], static_cast<uint32_t>(4 * i + 1));
    auto grad = host_values(sizes[i], static_cast<uint32_t>(4 * i + 2));
    auto m = host_values(sizes[i], static_cast<uint32_t>(4 * i + 3));
    kernels::cpu::adam_update(sizes[i], p, 1, param.data(), grad.data(), m.data(), v_host[i].data());
    std::vector<float> got(param.size());
    kernels::cuda::copy_device_to_host(got.data(), tensors[i].param, got.size() * sizeof(float));
    if (!matches_cpu(state, param, got, 0, 0)) return;
  }
  int64_t t = 2;
  time_launches(state, 4.0 * 7 * static_cast<double>(total),
                [&] { kernels::cuda::adam_update_multi(tensors.data(), static_cast<int>(tensors.size()), p, t++); });
}

BENCHMARK_CAPTURE(BM_batchnorm, forward_train, false)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_batchnorm, backward_train, true)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_adam_fused)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace cxr::bench
