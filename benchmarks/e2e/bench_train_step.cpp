// End to end: one training step (forward to the logits, binary cross-entropy, backward, Adam,
// zero_grad) of each experiment's model, built from configs/experiment{1..4}.yaml exactly as
// `cxrnet train` builds it, on random images at the config's size and alternating 0/1 labels
// (apps/random_batch.h), batch 32.
// Reported as images/s, and the tensor memory a step holds at its peak. On the CPU, and on the GPU
// (custom and vendor kernels) when there is one.
// The peers (PyTorch, Keras) run the same models in benchmarks/peers/peers.py; tools/bench --peers
// puts both in one table.
#include <benchmark/benchmark.h>
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "apps/experiment_config.h"
#include "apps/random_batch.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/storage.h"
#include "layers/arithmetic.h"
#include "layers/model.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/graph.h"
#include "kernels/cuda/runtime.h"
#include "kernels/dense.h"
#include "kernels/elementwise.h"
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

// The tensor memory of a row's step, counted from a baseline taken when the row starts (what earlier
// rows left behind is not its own). CPU: every CPU tensor's storage (engine/storage.h). GPU: the bytes
// the caching allocator was asked for, tensors and workspaces (PyTorch's requested_bytes, which
// peers.py reads: not the allocator's whole blocks, which round up to 25% more). peak_MiB: the most
// held at once during the timed steps; held_MiB: what stays between steps (weights, Adam's moments,
// the batch). State the vendor libraries keep for the process is made before any baseline, so no row
// counts it: cuBLAS's 32 MiB workspace (cuDNN's dropout states, per rate and seed, count in the first
// vendor row that makes them).
class StepMemory {
 public:
  explicit StepMemory(Device device) : device_(device) {
#ifdef CXR_WITH_CUDA
    if (device.is_cuda()) {
      static const bool cublas_workspace_made = [] {
        Tensor abc = Tensor::full({3}, 1.0f, Device::cuda(), "1x1 product");
        float* p = abc.data();
        kernels::vendor::sgemm(false, false, 1, 1, 1, 1.0f, p, p + 1, 0.0f, p + 2);  // makes cuBLAS's handle
        kernels::cuda::synchronize();
        return true;
      }();
      (void)cublas_workspace_made;
    }
#endif
    baseline_ = now().in_use;
  }
  void reset_peak() const {
#ifdef CXR_WITH_CUDA
    if (device_.is_cuda()) return kernels::cuda::reset_peak_bytes_in_use();
#endif
    reset_cpu_tensor_peak();
  }
  void report(benchmark::State& state) const {
    const TensorBytes bytes = now();
    state.counters["peak_MiB"] = static_cast<double>(bytes.peak - baseline_) / (1 << 20);
    state.counters["held_MiB"] = static_cast<double>(bytes.in_use - baseline_) / (1 << 20);
  }

 private:
  TensorBytes now() const {
#ifdef CXR_WITH_CUDA
    if (device_.is_cuda()) {
      const kernels::cuda::AllocatorStats stats = kernels::cuda::allocator_stats();
      return {static_cast<int64_t>(stats.requested_bytes_in_use),
              static_cast<int64_t>(stats.peak_requested_bytes_in_use)};
    }
#endif
    return cpu_tensor_bytes();
  }
  Device device_;
  int64_t baseline_ = 0;
};

ExperimentConfig experiment_config(int experiment) {
  return load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment" + std::to_string(experiment) +
                                ".yaml");
}

Model model_on(Device device, const ExperimentConfig& config) {
  Model model = build_model(config.model, config.train.seed);
  model.to(device);
  return model;
}

AdamOptions adam_options(const ExperimentConfig& config) {
  const OptimizerConfig& o = config.train.optimizer;
  return AdamOptions{static_cast<float>(o.learning_rate), static_cast<float>(o.beta_1), static_cast<float>(o.beta_2),
                     static_cast<float>(o.epsilon)};
}

// The benchmark's loop: each iteration queues one step with queue() and waits for the device.
// Counters: images/s, batch, and on the GPU host_ms/step, how long the host took to queue the step's
// work before waiting for the device. Close to the whole step, the host is the bottleneck (launch and
// engine overhead); far below it, the GPU is. (CPU time cannot tell: the final cudaStreamSynchronize
// spins, so it counts the wait too.)
template <class Queue>
void time_steps(benchmark::State& state, Device device, Queue queue) {
  double total = 0, issuing = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    queue();
    const auto issued = std::chrono::steady_clock::now();
    synchronize(device);
    const auto end = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(end - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
    issuing += std::chrono::duration<double>(issued - start).count();
  }
  state.counters["images/s"] = total > 0 ? kBatch * static_cast<double>(state.iterations()) / total : 0.0;
  if (device.is_cuda() && state.iterations() > 0)
    state.counters["host_ms/step"] = 1e3 * issuing / static_cast<double>(state.iterations());
  state.counters["batch"] = kBatch;
}

// The arithmetic a step does (its convolutions and matrix products, layers/arithmetic.h) and at what
// rate: report.py holds it against the machine's measured ceiling, for cxrnet and for the peers.
void report_arithmetic(benchmark::State& state, const Model& model) {
  const StepArithmetic a = step_arithmetic(model, kBatch);
  const double gflop = (a.total.forward + a.total.backward) / 1e9;
  state.counters["GFLOP/step"] = gflop;
  state.counters["GFLOP/s"] = gflop * state.counters.at("images/s").value / kBatch;
}

void train_step(benchmark::State& state, int experiment, Device device, std::optional<KernelChoice> kernels) {
  if (device.is_cuda() && !cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const ExperimentConfig config = experiment_config(experiment);
  const StepMemory memory(device);
  Model model = model_on(device, config);
  Adam adam(model.trainable_tensors(), adam_options(config));
  const RandomBatch data = random_batch(config, model.input_shape, kBatch, device);
  const Tensor &x = data.images, &y = data.labels;
  const KernelChoiceScope scope(kernels);
  auto step = [&] {
    return train_on_batch(model, adam, x, y, {true, config.train.seed, static_cast<uint64_t>(adam.iterations())});
  };
  // Warm-up (allocations, OpenBLAS threads, cuDNN's algorithm search), and a sanity check.
  for (int i = 0; i < 2; ++i) {
    const float loss = step().item();
    if (!std::isfinite(loss)) {
      state.SkipWithError(("loss is " + std::to_string(loss)).c_str());
      return;
    }
  }
  const double cpu_start = process_cpu_seconds();
  memory.reset_peak();
  time_steps(state, device, step);
  memory.report(state);
  report_arithmetic(state, model);
  // CPU time of every thread of the process per step: on a loaded machine, where wall time also
  // counts the time other processes held the cores, the steadier measure of the work done (it also
  // counts OpenBLAS threads spinning while they wait for work).
  if (state.iterations() > 0)
    state.counters["cpu_ms/step"] = 1e3 * (process_cpu_seconds() - cpu_start) / static_cast<double>(state.iterations());
}

#ifdef CXR_WITH_CUDA
// A model and its Adam on the GPU, built from a config as train_step builds them.
struct GpuTrainee {
  Model model;
  Adam adam;
  explicit GpuTrainee(const ExperimentConfig& config)
      : model(model_on(Device::cuda(), config)), adam(model.trainable_tensors(), adam_options(config)) {}
  Tensor step(const Tensor& x, const Tensor& y, const ForwardContext& context) {
    return train_on_batch(model, adam, x, y, context);
  }
  std::vector<std::vector<float>> parameters() {
    std::vector<std::vector<float>> out;
    for (Parameter* p : model.parameters()) out.push_back(p->value.to_vector());
    return out;
  }
};

// train_step's custom GPU step, captured once as a CUDA graph (kernels/cuda/graph.h) and replayed:
// the step's work without the host's launches, which bound experiments 1, 2 and 4 (70-87% of their
// step on an H100). A replay repeats the captured step exactly, its dropout masks and Adam step
// count included: the work of a training step, not training. Validated first: a replay from the
// state of a twin model (same seed, same two eager steps) must give the twin's eager step, bit for bit.
void graph_step(benchmark::State& state, int experiment) {
  if (!cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  const ExperimentConfig config = experiment_config(experiment);
  const KernelChoiceScope scope(KernelChoice::Custom);
  GpuTrainee eager(config), graphed(config);  // one seed: the same weights
  const RandomBatch data = random_batch(config, eager.model.input_shape, kBatch, Device::cuda());
  const Tensor &x = data.images, &y = data.labels;
  const auto context = [&](uint64_t step) { return ForwardContext{true, config.train.seed, step}; };
  for (uint64_t i = 0; i < 2; ++i) {  // warm-up: the allocator's cache, the same state in both
    eager.step(x, y, context(i));
    graphed.step(x, y, context(i));
  }
  const float eager_loss = eager.step(x, y, context(2)).item();
  Tensor graph_loss;  // kept: the graph writes it on every replay
  std::optional<kernels::cuda::StreamGraph> graph;
  try {
    graph.emplace([&] { graph_loss = graphed.step(x, y, context(2)); });
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("the step cannot be captured: ") + e.what()).c_str());
    return;
  }
  graph->replay();
  const float replayed_loss = graph_loss.item();
  if (std::memcmp(&eager_loss, &replayed_loss, sizeof(float)) != 0 || eager.parameters() != graphed.parameters()) {
    state.SkipWithError(("the replayed step differs from the launched one: loss " + std::to_string(replayed_loss) +
                         " against " + std::to_string(eager_loss)).c_str());
    return;
  }
  time_steps(state, Device::cuda(), [&] { graph->replay(); });  // nothing allocates between replays (graph.h)
  report_arithmetic(state, graphed.model);
  // What the launched step queues one by one: with its host_ms/step, the host's time a launch.
  state.counters["launches/step"] = static_cast<double>(graph->nodes());
}

// The host's time to queue one kernel, the floor under the training step's host time a launch
// (report.py's graph table): a 1-float fill through kernels/ (the CUDA runtime's launch and our
// check), and a relu of a 1-float tensor that needs its gradient (an engine op: its output from the
// caching allocator, its autograd node, the launch, the output's release). 1,000 launches are queued,
// then the device is waited for; the counter is the queueing time over the launches.
void host_per_launch(benchmark::State& state, bool engine_op) {
  if (!cuda_available()) {
    state.SkipWithError("no GPU");
    return;
  }
  constexpr int kLaunches = 1000;
  Tensor x = Tensor::full({1}, 1.0f, Device::cuda(), "one float");
  x.set_requires_grad(true);
  const auto queue = [&] {
    for (int i = 0; i < kLaunches; ++i) {
      if (engine_op)
        benchmark::DoNotOptimize(relu(x));
      else
        kernels::cuda::fill(1, 0.0f, x.data());
    }
  };
  queue();  // warm-up: the allocator's cache, the module's first launch
  kernels::cuda::synchronize();
  double issuing = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    queue();
    const auto issued = std::chrono::steady_clock::now();
    kernels::cuda::synchronize();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    issuing += std::chrono::duration<double>(issued - start).count();
  }
  state.counters["host_us/launch"] = 1e6 * issuing / (static_cast<double>(state.iterations()) * kLaunches);
}
#endif

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
    add(name + "/cuda_custom_graph", [e](benchmark::State& st) { graph_step(st, e); });
#endif
  }
#ifdef CXR_WITH_CUDA
  for (bool op : {false, true})
    benchmark::RegisterBenchmark(op ? "host_per_launch/cuda_custom/relu_op" : "host_per_launch/cuda_custom/fill_kernel",
                                 [op](benchmark::State& st) { host_per_launch(st, op); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(0.2);
#endif
  benchmark::AddCustomContext("cpu_threads", std::to_string(omp_get_max_threads()));
  return true;
}();

}  // namespace
}  // namespace cxr
