// `cxrnet profile --config FILE`: where an experiment's training step goes, layer by layer, forward,
// backward and the optimizer's update (engine/profile.h), on random images at the config's size and
// batch: no dataset needed. The step is train_on_batch's, as bench_e2e times it: forward, the plain
// loss, backward, update; `cxrnet train` adds class weights where a config has them, its running
// metrics and, for a frozen backbone, a cache of its features (apps/trainer.cpp), none of which this
// times.
#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <vector>

#include "apps/commands.h"
#include "apps/random_batch.h"
#include "apps/run_folder.h"
#include "apps/text_file.h"
#include "apps/trainer.h"
#include "engine/error.h"
#include "engine/profile.h"
#include "layers/arithmetic.h"

namespace cxr {

namespace {

using Clock = std::chrono::steady_clock;

// A row's layer classes, "Conv2D" or "BatchNormalization+Dropout+Activation" for a fused one, a part
// of a layer ("resnet50v2/conv4_block6") its layer's; empty for the loss and the optimizer.
std::string kinds_of(const std::string& label, const std::map<std::string, std::string>& class_of) {
  std::string kinds;
  size_t begin = 0;
  while (begin <= label.size()) {
    const size_t end = std::min(label.find(" + ", begin), label.size());
    const std::string layer = label.substr(begin, end - begin);
    const auto it = class_of.find(layer.substr(0, layer.find('/')));
    if (it == class_of.end()) return "";
    kinds += (kinds.empty() ? "" : "+") + it->second;
    begin = end + 3;
  }
  return kinds;
}

std::string count_of(int64_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

std::string fixed(double value, int decimals) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(decimals);
  s << value;
  return s.str();
}

std::string padded(const std::string& text, size_t width, bool right) {
  if (text.size() >= width) return text;
  const std::string pad(width - text.size(), ' ');
  return right ? pad + text : text + pad;
}

// --json's file can be written: its folder exists and it is not a folder itself (write_text_file says
// the rest, e.g. a folder without write permission).
void check_json_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  CXR_CHECK(!fs::is_directory(path, ec), path << ": is a folder (--json names the file to write)");
  const fs::path folder = fs::path(path).parent_path();
  CXR_CHECK(folder.empty() || fs::is_directory(folder, ec),
            path << ": no such folder " << folder.string() << " (--json names the file to write)");
}

}  // namespace

int command_profile(const ProfileOptions& options, std::ostream& out) {
  CXR_CHECK(options.steps >= 1, "cxrnet profile: --steps must be at least 1, got " << options.steps);
  CXR_CHECK(options.warmup >= 0, "cxrnet profile: --warmup must be at least 0, got " << options.warmup);
  if (!options.json_path.empty()) check_json_path(options.json_path);  // before the work, not after
  ExperimentConfig config = load_experiment_config(options.config_path);
  const Device device = select_device(config, options.device, options.kernels);
  // Random weights: the timing does not depend on them, and a pretrained file need not be present.
  Model model = build_model(without_pretrained_weights(config.model), config.train.seed);
  model.to(device);
  Trainer trainer(model, config);  // the optimizer `cxrnet train` would use
  const RandomBatch data = random_batch(config, model.input_shape, config.data.batch_size, device);
  const Tensor &x = data.images, &y = data.labels;

  Profile profile(device);
  uint64_t step = 0;
  auto train_step = [&] {
    return train_on_batch(model, trainer.optimizer(), x, y, {true, config.train.seed, step++});
  };
  // Warm-up: allocations, thread pools, cuDNN's algorithm choices; the loss must be a number.
  for (int i = 0; i < options.warmup; ++i) train_step();
  const float first_loss = train_step().item();
  CXR_CHECK(std::isfinite(first_loss), options.config_path << ": the training step's loss is " << first_loss
                                                            << " on random images; nothing to profile");
  profile.clear();
  const auto start = Clock::now();
  for (int i = 0; i < options.steps; ++i) train_step();
  profile.wait_for_device();
  const double step_s = std::chrono::duration<double>(Clock::now() - start).count() / options.steps;

  std::map<std::string, std::string> class_of;
  for (const auto& layer : model.layers) class_of[layer->name] = layer->class_name();
  const StepArithmetic arithmetic = step_arithmetic(model, config.data.batch_size);
  struct Line {
    std::string label, kind;
    std::array<double, 3> ms{};
    double total_ms = 0;
    StepFlops flops;  // zeros for rows without a convolution or matrix product
  };
  std::vector<Line> lines;
  double timed_ms = 0;
  for (const ProfileRow& row : profile.rows()) {
    const auto f = arithmetic.rows.find(row.label);
    Line line{row.label, kinds_of(row.label, class_of), {}, 0, f == arithmetic.rows.end() ? StepFlops{} : f->second};
    for (size_t p = 0; p < 3; ++p) line.ms[p] = 1e3 * row.seconds[p] / options.steps;
    line.total_ms = line.ms[0] + line.ms[1] + line.ms[2];
    timed_ms += line.total_ms;
    lines.push_back(line);
  }
  const double step_ms = 1e3 * step_s, untimed_ms = std::max(0.0, step_ms - timed_ms);
  const int64_t batch = config.data.batch_size;

  out << "cxrnet profile: " << config.name << " on " << device.str();
  if (device.is_cpu()) out << " (" << count_of(omp_get_max_threads(), "thread") << ")";
  out << ", batch " << batch << ", " << count_of(options.steps, "step") << " after " << options.warmup + 1
      << " warm-up\n";
  out << fixed(step_ms, 3) << " ms a step (" << fixed(batch / step_s, 0) << " images/s)";
  const double step_flop = arithmetic.total.forward + arithmetic.total.backward;
  out << "; " << fixed(step_flop / 1e9, 2) << " GFLOP of convolutions and matrix products a step, "
      << fixed(step_flop / (step_s * 1e9), 0) << " GFLOP/s";
  if (device.is_cuda())
    out << "; every row waits for the GPU where it starts and ends, so the step is slower here than in "
           "bench_e2e, where the host queues ahead";
  out << "\n\n";
  size_t label_width = 20, kind_width = 4;
  for (const Line& l : lines) {
    label_width = std::max(label_width, l.label.size());
    kind_width = std::max(kind_width, l.kind.size());
  }
  out << padded("layer", label_width, false) << "  " << padded("kind", kind_width, false)
      << "  forward ms  backward ms  update ms  total ms   share  GFLOP/s fwd / bwd\n";
  // GFLOP/s of `gflop` (per step) done in `ms` (per step); empty where there is none.
  auto rate = [](double flop, double ms) { return flop > 0 && ms > 0 ? fixed(flop / (ms * 1e6), 0) : "-"; };
  auto print = [&](const std::string& label, const std::string& kind, const std::array<double, 3>& ms, double total,
                   const StepFlops& f) {
    out << padded(label, label_width, false) << "  " << padded(kind, kind_width, false);
    const int widths[3] = {10, 11, 9};
    for (size_t p = 0; p < 3; ++p) out << "  " << padded(ms[p] > 0 ? fixed(ms[p], 3) : "", widths[p], true);
    out << "  " << padded(fixed(total, 3), 8, true) << "  " << padded(fixed(100.0 * total / step_ms, 1), 5, true)
        << "%";
    if (f.forward > 0) out << "  " << padded(rate(f.forward, ms[0]), 7, true) << " / " << rate(f.backward, ms[1]);
    out << "\n";
  };
  for (const Line& l : lines) print(l.label, l.kind, l.ms, l.total_ms, l.flops);
  print("(untimed: graph walk, allocation)", "", {}, untimed_ms, {});
  print("step", "", {}, step_ms, {});

  if (!options.json_path.empty()) {
    nlohmann::json rows = nlohmann::json::array();
    for (const Line& l : lines)
      rows.push_back({{"label", l.label}, {"kind", l.kind}, {"forward_ms", l.ms[0]}, {"backward_ms", l.ms[1]},
                      {"update_ms", l.ms[2]}, {"total_ms", l.total_ms}, {"forward_gflop", l.flops.forward / 1e9},
                      {"backward_gflop", l.flops.backward / 1e9}});
    const nlohmann::json report = {{"config", options.config_path},
                                   {"experiment", config.name},
                                   {"device", device.str()},
                                   {"threads", device.is_cpu() ? omp_get_max_threads() : 0},
                                   {"batch", batch},
                                   {"steps", options.steps},
                                   {"step_ms", step_ms},
                                   {"images_per_s", batch / step_s},
                                   {"untimed_ms", untimed_ms},
                                   {"step_gflop", step_flop / 1e9},
                                   {"rows", rows}};
    write_text_file(options.json_path, report.dump(2) + "\n");
  }
  return 0;
}

}  // namespace cxr
