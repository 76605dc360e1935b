// End to end: one training step (forward to the logits, binary cross-entropy, backward, Adam,
// zero_grad) of each experiment's model, built from configs/experiment{1..4}.yaml exactly as
// `cxrnet train` builds it, on random images at the config's size and random 0/1 labels, batch 32.
// Reported as images/s. On the CPU, and on the GPU (custom and vendor kernels) when there is one.
// The peers (PyTorch, Keras) run the same models in benchmarks/peers/peers.py; tools/bench --peers
// puts both in one table.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "apps/experiment_config.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "layers/model.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace cxr {
namespace {

constexpr int kBatch = 32;

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void synchronize(Device device) {
#ifdef CXR_WITH_CUDA
  if (device.is_cuda()) kernels::cuda::synchronize();
#else
  (void)device;
#endif
}

// Images uniform over the config's pixel range (0..255 times its rescale), labels half and half.
Tensor random_images(const ExperimentConfig& c, Device device) {
  const int64_t n = int64_t{kBatch} * c.data.image_height * c.data.image_width * 3;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(0.0f, static_cast<float>(255.0 * c.data.rescale));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return Tensor::from_vector({kBatch, c.data.image_height, c.data.image_width, 3}, v, device, "images");
}

Tensor random_labels(Device device) {
  std::vector<float> v(kBatch);
  std::mt19937 gen(8);
  for (float& y : v) y = static_cast<float>(gen() % 2);
  return Tensor::from_vector({kBatch, 1}, v, device, "labels");
}

void train_step(benchmark::State& state, int experiment, Device device, std::optional<KernelChoice> kernels) {
  if (device.is_cuda() && !cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const ExperimentConfig config =
      load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment" + std::to_string(experiment) + ".yaml");
  Model model = build_model(config.model, config.train.seed);
  model.to(device);
  const OptimizerConfig& o = config.train.optimizer;
  Adam adam(model.trainable_tensors(), AdamOptions{static_cast<float>(o.learning_rate), static_cast<float>(o.beta_1),
                                                   static_cast<float>(o.beta_2), static_cast<float>(o.epsilon)});
  const Tensor x = random_images(config, device), y = random_labels(device);
  const KernelChoiceScope scope(kernels);
  auto step = [&] {  // what Trainer::train_epoch does per batch
    const ForwardContext context{true, config.train.seed, static_cast<uint64_t>(adam.iterations())};
    Tensor loss = bce_with_logits(model.forward_logits(x, context), y);
    loss.backward();
    adam.step();
    adam.zero_grad();
    return loss;
  };
  // Warm-up (allocations, OpenBLAS threads, cuDNN's algorithm search), and a sanity check.
  for (int i = 0; i < 2; ++i) {
    const float loss = step().item();
    if (!std::isfinite(loss)) {
      state.SkipWithError(("loss is " + std::to_string(loss)).c_str());
      return;
    }
  }
  double total = 0, issuing = 0;
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    step();
    const auto issued = std::chrono::steady_clock::now();
    synchronize(device);
    const auto end = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(end - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
    issuing += std::chrono::duration<double>(issued - start).count();
  }
  state.counters["images/s"] = total > 0 ? kBatch * static_cast<double>(state.iterations()) / total : 0.0;
  // On the GPU: how long the host took to queue the step's work, before waiting for the device. Close
  // to the whole step, the host is the bottleneck (launch and engine overhead); far below it, the GPU
  // is. (cpu_ms/step cannot tell: the final cudaStreamSynchronize spins, so it counts the wait too.)
  if (device.is_cuda() && state.iterations() > 0)
    state.counters["host_ms/step"] = 1e3 * issuing / static_cast<double>(state.iterations());
  // CPU time of every thread of the process per step: on a loaded machine, where wall time also
  // counts the time other processes held the cores, the steadier measure of the work done (it also
  // counts OpenBLAS threads spinning while they wait for work).
  if (state.iterations() > 0)
    state.counters["cpu_ms/step"] = 1e3 * (process_cpu_seconds() - cpu_start) / static_cast<double>(state.iterations());
  state.counters["batch"] = kBatch;
}

const bool registered = [] {
  for (int e = 1; e <= 4; ++e) {
    const std::string name = "train_step/experiment" + std::to_string(e);
    auto add = [](const std::string& n, auto fn) {
      benchmark::RegisterBenchmark(n.c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(2.0);
    };
    add(name + "/cpu", [e](benchmark::State& st) { train_step(st, e, Device::cpu(), std::nullopt); });
#ifdef CXR_WITH_CUDA
    add(name + "/cuda_custom", [e](benchmark::State& st) { train_step(st, e, Device::cuda(), KernelChoice::Custom); });
    add(name + "/cuda_vendor", [e](benchmark::State& st) { train_step(st, e, Device::cuda(), KernelChoice::Vendor); });
#endif
  }
  benchmark::AddCustomContext("cpu_threads", std::to_string(omp_get_max_threads()));
  return true;
}();

}  // namespace
}  // namespace cxr
