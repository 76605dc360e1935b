#include "apps/commands.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/classification_report.h"
#include "apps/datasets.h"
#include "apps/experiment_config.h"
#include "apps/keras_progress.h"
#include "apps/model_summary.h"
#include "apps/plots.h"
#include "apps/test_report.h"
#include "apps/trainer.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/safetensors.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/vendor.h"
#endif

namespace cxr {

namespace fs = std::filesystem;

namespace {

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path);
  CXR_CHECK(f, "cannot write " << path.string());
  f << text;
}

void save_weights(const fs::path& path, Model& model, const ExperimentConfig& config, int epochs_done) {
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace(p->name, p->value);
  save_safetensors(path.string(), tensors,
                   {{"format", "cxrnet-weights-v1"}, {"epochs", std::to_string(epochs_done)},
                    {"config", resolved_yaml(config)}});
}

}  // namespace

int command_summary(const std::string& config_path, std::ostream& out) {
  const ExperimentConfig config = load_experiment_config(config_path);
  const Model model = build_model(config.model, config.train.seed);
  out << model_summary(model);
  return 0;
}

int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out, bool small) {
  data::SynthOptions options = data::SynthOptions::realistic(out_dir, seed);
  if (small) {
    options = data::SynthOptions{};
    options.out_dir = out_dir;
    options.seed = seed;
  }
  data::write_synthetic_dataset(options);
  out << "wrote a synthetic chest X-ray dataset to " << out_dir << " (train/ and test/, NORMAL and PNEUMONIA)\n";
  return 0;
}

int command_train(const TrainOptions& options, std::ostream& out, std::ostream& log) {
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
  const std::string summary = model_summary(model);
  out << summary;
  const fs::path run_dir = options.out_dir.empty() ? fs::path("runs") / (config.name + "-" + timestamp())
                                                   : fs::path(options.out_dir);
  fs::create_directories(run_dir);
  write_text(run_dir / "config.yaml", resolved_yaml(config));
  write_text(run_dir / "summary.txt", summary);
  write_text(run_dir / "split.csv", split_manifest(data.splits));  // which file went where, from the seed

  Trainer trainer(model, config);
  std::ofstream history(run_dir / "history.csv");
  history << std::setprecision(9) << "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,seconds\n";
  // Keras prints a float steps_per_epoch (the notebook's n/32) truncated: "114/114".
  const double steps_target = static_cast<double>(data.train.labels.size()) / config.data.batch_size;
  for (int epoch = 1; epoch <= config.train.epochs; ++epoch) {
    if (config.train.epochs > 1) out << report::format_epoch_header(epoch, config.train.epochs) << std::endl;
    const EpochResult r = trainer.train_epoch(epoch, data.train, data.has_validation ? &data.validation : nullptr);
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
  save_weights(run_dir / "weights.safetensors", model, config, config.train.epochs);

  const Evaluation validation = data.has_validation ? trainer.evaluate(data.validation) : Evaluation{};
  const Evaluation test = trainer.evaluate(data.test);
  const std::string report_text = test_report(test, data.has_validation ? &validation : nullptr, data.class_names,
                                              TestReportOptions{}, log);
  out << report_text;
  write_text(run_dir / "test_report.txt", report_text);
  history.close();  // the plots read it
  write_plots({run_dir, test.probabilities, test.labels, data.class_names, data.has_validation}, log);
  out << "run folder: " << run_dir.string() << "\n";
  return 0;
}

namespace {

// Links (or copies) one file to `to`. A hard link is impossible across file systems (and on some
// mounts): then it is copied, and `copied` says so.
void materialise(const fs::path& from, const fs::path& to, bool copy, bool& copied) {
  fs::create_directories(to.parent_path());
  if (!copy) {
    std::error_code ec;
    fs::create_hard_link(from, to, ec);
    if (!ec) return;
    copied = true;
  }
  fs::copy_file(from, to);
}

}  // namespace

int command_split(const SplitOptions& options, std::ostream& out) {
  ExperimentConfig config = load_experiment_config(options.config_path);
  if (options.test_from_train) {
    CXR_CHECK(*options.test_from_train > 0 && *options.test_from_train < 1, "--test-from-train must be in (0, 1)");
    config.data.test = SplitConfig{.dir = "", .split_from = config.data.train, .fraction = *options.test_from_train,
                                   .seed = config.train.seed};
  }
  const SplitIndices splits = resolve_splits(config.data, options.data_dir);
  const fs::path root(options.out_dir);
  std::error_code ec;
  CXR_CHECK(!fs::exists(root, ec) || (fs::is_directory(root, ec) && fs::is_empty(root, ec)),
            options.out_dir << ": already exists and is not empty (cxrnet split never overwrites)");
  fs::create_directories(root);

  bool copied = false;
  size_t files = 0;
  auto write = [&](const data::DatasetIndex& index, const std::string& source_dir, const std::string& split) {
    for (size_t i = 0; i < index.files.size(); ++i) {
      const std::string& class_name = index.class_names[static_cast<size_t>(index.labels[i])];
      // Keep the path below the class folder, so files in subfolders cannot collide.
      const fs::path inside = fs::path(index.files[i]).lexically_relative(fs::path(source_dir) / class_name);
      materialise(index.files[i], root / split / class_name / inside, options.copy, copied);
      ++files;
    }
  };
  write(splits.train, splits.train_dir, "train");
  if (splits.has_validation) write(splits.validation, splits.validation_dir, "validation");
  write(splits.test, splits.test_dir, "test");
  write_text(root / "split.csv", split_manifest(splits));

  out << (options.copy ? "copied " : "linked ") << files << " files into " << options.out_dir << ": train "
      << splits.train.files.size();
  if (splits.has_validation) out << ", validation " << splits.validation.files.size();
  out << ", test " << splits.test.files.size() << " (split.csv lists them)\n";
  if (!options.copy && copied) out << "note: some files were copied because hard links were impossible there\n";
  return 0;
}

}  // namespace cxr
