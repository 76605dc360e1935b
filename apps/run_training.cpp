#include "apps/run_training.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/datasets.h"
#include "apps/keras_progress.h"
#include "apps/model_summary.h"
#include "apps/plots.h"
#include "apps/test_report.h"
#include "apps/text_file.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/safetensors.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/vendor.h"
#endif

namespace cxr {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return s.str();
}

void save_weights(const fs::path& path, Model& model, const ExperimentConfig& config, int epochs_done) {
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace(p->name, p->value);
  save_safetensors(path.string(), tensors,
                   {{"format", "cxrnet-weights-v1"}, {"epochs", std::to_string(epochs_done)},
                    {"config", resolved_yaml(config)}});
}

// The config with the command line's overrides applied.
ExperimentConfig resolve_config(const TrainOptions& options) {
  ExperimentConfig config = load_experiment_config(options.config_path);
  if (options.epochs) {
    CXR_CHECK(*options.epochs >= 1, "--epochs must be at least 1");
    config.train.epochs = *options.epochs;
  }
  if (options.test_from_train) {
    CXR_CHECK(*options.test_from_train > 0 && *options.test_from_train < 1, "--test-from-train must be in (0, 1)");
    config.data.test = SplitConfig{.dir = "", .split_from = config.data.train, .fraction = *options.test_from_train,
                                   .seed = config.train.seed};
  }
  if (!options.device.empty()) config.train.device = options.device;
  if (options.strict) config.data.strict = true;
  if (!options.kernels.empty()) config.train.kernels = options.kernels;  // written to config.yaml as resolved
  if (options.adjust_config) options.adjust_config(config);
  return config;
}

}  // namespace

RunResult run_training(const TrainOptions& options, std::ostream& out, std::ostream& log) {
  const auto run_start = Clock::now();
  RunResult result;
  result.config = resolve_config(options);
  const ExperimentConfig& config = result.config;
  const Device device = Device::parse(config.train.device);
  CXR_CHECK(device.is_cpu() || cuda_available(), "device " << device.str() << " requested but no CUDA GPU is available");
  // The process default too, not only the trainer's scope: the start-up GPU report names it.
  if (!config.train.kernels.empty()) set_default_kernel_choice(parse_kernel_choice(config.train.kernels));
  if (options.tf32) {
    CXR_CHECK(device.is_cuda(), "--tf32 applies to the CUDA vendor paths; device is " << device.str());
#ifdef CXR_WITH_CUDA
    kernels::vendor::VendorSettings settings = kernels::vendor::settings();
    settings.allow_tf32 = true;
    kernels::vendor::set_settings(settings);
#endif
  }

  // The model first (a config error is found in milliseconds), then the data (as Keras prints
  // "Found N images" before model.summary()), then the summary.
  Model model = build_model(config.model, config.train.seed);
  model.to(device);
  const Datasets data = load_datasets(config.data, options.data_dir, log, options.cache_dir);
  result.class_names = data.class_names;
  result.has_validation = data.has_validation;
  const std::string summary = model_summary(model);
  out << summary;
  const fs::path run_dir = options.out_dir.empty() ? fs::path("runs") / (config.name + "-" + timestamp())
                                                   : fs::path(options.out_dir);
  result.run_dir = run_dir.string();
  fs::create_directories(run_dir);
  write_text_file(run_dir / "config.yaml", resolved_yaml(config));
  write_text_file(run_dir / "summary.txt", summary);
  write_text_file(run_dir / "split.csv", split_manifest(data.splits));  // which file went where, from the seed

  Trainer trainer(model, config);
  std::ofstream history(run_dir / "history.csv");
  history << std::setprecision(9) << "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,seconds\n";
  // Keras prints a float steps_per_epoch (the notebook's n/32) truncated: "114/114".
  const double steps_target = static_cast<double>(data.train.labels.size()) / config.data.batch_size;
  const auto train_start = Clock::now();
  for (int epoch = 1; epoch <= config.train.epochs; ++epoch) {
    if (config.train.epochs > 1) out << report::format_epoch_header(epoch, config.train.epochs) << std::endl;
    const EpochResult r = trainer.train_epoch(epoch, data.train, data.has_validation ? &data.validation : nullptr);
    result.history.push_back(r);
    std::vector<std::pair<std::string, double>> metrics{{"loss", r.loss}, {"binary_accuracy", r.accuracy}};
    if (r.has_validation) {
      metrics.push_back({"val_loss", r.val_loss});
      metrics.push_back({"val_binary_accuracy", r.val_accuracy});
    }
    out << report::format_epoch_line(steps_target, r.seconds, r.seconds_per_step, metrics) << std::endl;
    history << epoch << "," << r.loss << "," << r.accuracy << ",";
    if (r.has_validation) history << r.val_loss << "," << r.val_accuracy;
    else history << ",";  // empty validation columns
    history << "," << r.seconds << "\n" << std::flush;
  }
  result.train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();
  result.epochs_run = static_cast<int>(result.history.size());
  save_weights(run_dir / "weights.safetensors", model, config, config.train.epochs);

  if (data.has_validation) result.validation = trainer.evaluate(data.validation);
  result.test = trainer.evaluate(data.test);
  result.test_report = test_report(result.test, data.has_validation ? &result.validation : nullptr, data.class_names,
                                   TestReportOptions{}, log);
  out << result.test_report;
  write_text_file(run_dir / "test_report.txt", result.test_report);
  history.close();  // the plots read it
  write_plots({run_dir, result.test.probabilities, result.test.labels, data.class_names, data.has_validation}, log);
  out << "run folder: " << run_dir.string() << "\n";
  result.seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
  return result;
}

}  // namespace cxr
