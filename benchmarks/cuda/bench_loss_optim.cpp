// The per-step scalars and the optimizer on the GPU: binary cross-entropy forward and backward, the
// accuracy count and class_weight's per-sample weights on one batch of 32, and the epoch's loss sum,
// one scalar (launch-bound: the time is what matters); and Adam over each experiment's trainable
// tensors (common/shapes.h's adam_cases), fused into one launch (custom) or one launch per tensor
// (the single-tensor kernel, for comparison), in GB/s. Adam must match the CPU bit for bit. Adam also
// runs on one tensor of 16M parameters (n16M, the element-wise kernels' size): experiment 3's 869K
// parameters take ~10 us, short enough that the event timing's own ~1.5 us and the wave's tail weigh
// on the result; n16M says what the kernel reaches when its size is not the limit.
#include <memory>
#include <tuple>

#include "benchmarks/cuda/gpu_timing.h"
#include "kernels/loss.h"
#include "kernels/optim.h"

namespace cxr::bench {
namespace {

namespace cuda = kernels::cuda;

void bce(benchmark::State& state, bool backward) {
  const int64_t n = kBatch;
  const auto hz = random_vector(n, 1, -4.0f, 4.0f);
  std::vector<float> hy(n);
  for (int64_t i = 0; i < n; ++i) hy[i] = static_cast<float>(i % 2);
  DeviceBuffer z(hz), y(hy), loss(1), scale(std::vector<float>{1.0f}), dz(n);
  auto run = [&] {
    if (backward) cuda::bce_logits_backward(n, z.get(), y.get(), scale.get(), dz.get());
    else cuda::bce_logits_forward(n, z.get(), y.get(), loss.get());
  };
  run();
  if (backward) {
    std::vector<float> ref(n);
    kernels::cpu::bce_logits_backward(n, hz.data(), hy.data(), 1.0f, ref.data());
    if (!matches(state, "dz", ref, dz.to_host(), 1e-7, 1e-5)) return;
  } else {
    const float ref = kernels::cpu::bce_logits_forward(n, hz.data(), hy.data());
    if (!matches(state, "loss", std::vector<float>{ref}, loss.to_host(), 1e-6, 1e-5)) return;
  }
  time_gpu(state, {0, 4.0 * static_cast<double>(n) * (backward ? 3 : 2)}, run);
}

void accuracy(benchmark::State& state) {
  const int64_t n = kBatch;
  const auto hz = random_vector(n, 1, -4.0f, 4.0f);
  std::vector<float> hy(n);
  for (int64_t i = 0; i < n; ++i) hy[i] = static_cast<float>(i % 2);
  DeviceBuffer z(hz), y(hy);
  auto* counter = static_cast<unsigned long long*>(cuda::device_alloc(sizeof(unsigned long long), "counter"));
  CXR_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned long long), cuda::stream()));
  cuda::binary_accuracy_count(n, z.get(), y.get(), counter);
  unsigned long long got = 0;
  cuda::copy_device_to_host(&got, counter, sizeof(got));
  const int64_t ref = kernels::cpu::binary_accuracy_count(n, hz.data(), hy.data());
  if (matches(state, "count", std::vector<double>{static_cast<double>(ref)}, std::vector<double>{static_cast<double>(got)}, 0, 0))
    time_gpu(state, {0, 8.0 * static_cast<double>(n)}, [&] { cuda::binary_accuracy_count(n, z.get(), y.get(), counter); });
  cuda::device_free(counter);
}

// class_weight's per-sample weights on one batch of labels: reads y, writes w (launch-bound).
void weights(benchmark::State& state) {
  const int64_t n = kBatch;
  std::vector<float> hy(n), ref(n);
  for (int64_t i = 0; i < n; ++i) hy[i] = static_cast<float>(i % 3 == 0);
  DeviceBuffer y(hy), w(n);
  const float weight0 = 1.9f, weight1 = 0.67f;
  cuda::label_weights(n, y.get(), weight0, weight1, w.get());
  kernels::cpu::label_weights(n, hy.data(), weight0, weight1, ref.data());
  if (matches(state, "w", ref, w.to_host(), 0, 0))
    time_gpu(state, {0, 8.0 * static_cast<double>(n)},
             [&] { cuda::label_weights(n, y.get(), weight0, weight1, w.get()); });
}

// The epoch's loss sum: one thread adds a batch's mean loss, weighted by its size, onto a device
// double (engine/epoch_sums.cpp), once a step. A launch and nothing else: the time is what matters.
void loss_sum(benchmark::State& state) {
  DeviceBuffer value(std::vector<float>{0.6931f});
  auto* sum = static_cast<double*>(cuda::device_alloc(sizeof(double), "loss sum"));
  const double start = 12.25, weight = 32.0;
  cuda::copy_host_to_device(sum, &start, sizeof(start));
  cuda::accumulate_weighted(value.get(), weight, sum);
  double got = 0;
  cuda::copy_device_to_host(&got, sum, sizeof(got));
  const double ref = start + static_cast<double>(0.6931f) * weight;
  if (matches(state, "sum", std::vector<double>{ref}, std::vector<double>{got}, 0, 0))
    time_gpu(state, {0, 20.0}, [&] { cuda::accumulate_weighted(value.get(), weight, sum); });  // reads 4 + 8, writes 8
  cuda::device_free(sum);
}

void adam(benchmark::State& state, const std::vector<int64_t>& sizes, bool fused) {
  const kernels::AdamParams p{1e-3f, 0.9f, 0.999f, 1e-7f};
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  std::vector<kernels::AdamTensor> tensors;
  std::vector<std::vector<float>> expected, expected_m, expected_v;
  int64_t total = 0;
  uint32_t seed = 1;
  for (int64_t n : sizes) {
    auto param = random_vector(static_cast<size_t>(n), seed++), grad = random_vector(static_cast<size_t>(n), seed++);
    auto m = random_vector(static_cast<size_t>(n), seed++), v = random_vector(static_cast<size_t>(n), seed++, 0.0f, 1.0f);
    for (const auto* h : {&param, &grad, &m, &v}) buffers.push_back(std::make_unique<DeviceBuffer>(*h));
    const size_t b = buffers.size();
    tensors.push_back({buffers[b - 4]->get(), buffers[b - 3]->get(), buffers[b - 2]->get(), buffers[b - 1]->get(), n});
    kernels::cpu::adam_update(n, p, 1, param.data(), grad.data(), m.data(), v.data());
    expected.push_back(param);
    expected_m.push_back(m);
    expected_v.push_back(v);
    total += n;
  }
  auto step = [&](int64_t t) {
    if (fused) return cuda::adam_update_multi(tensors.data(), static_cast<int>(tensors.size()), p, t);
    for (const kernels::AdamTensor& a : tensors) cuda::adam_update(a.n, p, t, a.param, a.grad, a.m, a.v);
  };
  step(1);
  for (size_t i = 0; i < tensors.size(); ++i) {  // every array the step writes, bit for bit the CPU's
    std::vector<float> got(expected[i].size());
    for (const auto& [what, device, want] : {std::tuple{"param", tensors[i].param, &expected[i]},
                                             std::tuple{"m", tensors[i].m, &expected_m[i]},
                                             std::tuple{"v", tensors[i].v, &expected_v[i]}}) {
      cuda::copy_device_to_host(got.data(), device, got.size() * sizeof(float));
      if (!matches(state, what, *want, got, 0, 0)) return;
    }
  }
  int64_t t = 2;
  time_gpu(state, {0, 28.0 * static_cast<double>(total)}, [&] { step(t++); });  // reads p, g, m, v; writes p, m, v
}

// Plain SGD (optimizer: SGD) over one flat buffer of an experiment's parameter count.
void sgd(benchmark::State& state, int64_t n) {
  const float lr = 0.01f;
  auto param = random_vector(static_cast<size_t>(n), 1);
  const auto grad = random_vector(static_cast<size_t>(n), 2);
  DeviceBuffer p(param), g(grad);
  kernels::cpu::sgd_update(n, lr, param.data(), grad.data());
  cuda::sgd_update(n, lr, p.get(), g.get());
  if (!matches(state, "param", param, p.to_host(), 1e-7, 1e-6)) return;
  time_gpu(state, {0, 12.0 * static_cast<double>(n)}, [&] { cuda::sgd_update(n, lr, p.get(), g.get()); });
}

const bool registered = [] {
  add("bce_forward/custom/n32", [](benchmark::State& st) { if (require_gpu(st)) bce(st, false); });
  add("bce_backward/custom/n32", [](benchmark::State& st) { if (require_gpu(st)) bce(st, true); });
  add("binary_accuracy/custom/n32", [](benchmark::State& st) { if (require_gpu(st)) accuracy(st); });
  add("label_weights/custom/n32", [](benchmark::State& st) { if (require_gpu(st)) weights(st); });
  add("accumulate_weighted/custom/n1", [](benchmark::State& st) { if (require_gpu(st)) loss_sum(st); });
  for (const ParamsCase& c : adam_cases()) {
    const std::string params = std::string("/") + c.name;
    add("adam/custom" + params, [&c](benchmark::State& st) { if (require_gpu(st)) adam(st, c.tensors, true); });
    add("adam_per_tensor/custom" + params,
        [&c](benchmark::State& st) { if (require_gpu(st)) adam(st, c.tensors, false); });
    add("sgd/custom" + params, [n = c.n](benchmark::State& st) { if (require_gpu(st)) sgd(st, n); });
  }
  add("adam/custom/n16M", [](benchmark::State& st) { if (require_gpu(st)) adam(st, {int64_t{1} << 24}, true); });
  return true;
}();

}  // namespace
}  // namespace cxr::bench
