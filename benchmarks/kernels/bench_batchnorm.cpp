// Experiment 1's four BatchNormalization layers at batch 32 (rows M = N*H*W, channels C):
//   after conv1 46x46x16, conv2 21x21x32, conv3 9x9x64, and after the pool 4x4x64.
#include "kernels/batchnorm.h"

#include "benchmarks/kernels/bench_util.h"

namespace cxr::kernels {
namespace {

struct Layer {
  int HW, C;
};
constexpr Layer kLayers[] = {{46, 16}, {21, 32}, {9, 64}, {4, 64}};

struct Buffers {
  int64_t M;
  int C;
  std::vector<float> x, dy, y, gamma, beta, mean, inv_std, var, moving_mean, moving_var, dgamma, dbeta;
  explicit Buffers(int layer)
      : M(static_cast<int64_t>(bench::kBatch) * kLayers[layer].HW * kLayers[layer].HW),
        C(kLayers[layer].C),
        x(bench::random_vector(M * C)),
        dy(bench::random_vector(M * C, 2)),
        y(M * C),
        gamma(C, 1.0f),
        beta(C, 0.0f),
        mean(C),
        inv_std(C),
        var(C),
        moving_mean(C, 0.0f),
        moving_var(C, 1.0f),
        dgamma(C),
        dbeta(C) {}
};

void BM_BatchNormForwardTrain(benchmark::State& state) {
  Buffers b(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    cpu::batchnorm_forward_train(b.M, b.C, b.x.data(), b.gamma.data(), b.beta.data(), 1e-3f, b.y.data(),
                                 b.mean.data(), b.inv_std.data(), b.var.data());
    benchmark::DoNotOptimize(b.y.data());
  }
  state.SetItemsProcessed(state.iterations() * b.M * b.C);
}

void BM_BatchNormBackwardTrain(benchmark::State& state) {
  Buffers b(static_cast<int>(state.range(0)));
  cpu::batchnorm_forward_train(b.M, b.C, b.x.data(), b.gamma.data(), b.beta.data(), 1e-3f, b.y.data(), b.mean.data(),
                               b.inv_std.data(), b.var.data());
  for (auto _ : state) {
    // y doubles as dx: its contents do not matter here.
    cpu::batchnorm_backward_train(b.M, b.C, b.x.data(), b.gamma.data(), b.mean.data(), b.inv_std.data(),
                                  b.dy.data(), b.y.data(), b.dgamma.data(), b.dbeta.data());
    benchmark::DoNotOptimize(b.y.data());
  }
  state.SetItemsProcessed(state.iterations() * b.M * b.C);
}

void BM_BatchNormForwardInference(benchmark::State& state) {
  Buffers b(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    cpu::batchnorm_forward_inference(b.M, b.C, b.x.data(), b.gamma.data(), b.beta.data(), b.moving_mean.data(),
                                     b.moving_var.data(), 1e-3f, b.y.data());
    benchmark::DoNotOptimize(b.y.data());
  }
  state.SetItemsProcessed(state.iterations() * b.M * b.C);
}

BENCHMARK(BM_BatchNormForwardTrain)->ArgName("layer")->DenseRange(0, 3);
BENCHMARK(BM_BatchNormBackwardTrain)->ArgName("layer")->DenseRange(0, 3);
BENCHMARK(BM_BatchNormForwardInference)->ArgName("layer")->Arg(0);

}  // namespace
}  // namespace cxr::kernels
