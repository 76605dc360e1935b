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
#include "apps/trainer.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/safetensors.h"

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

std::string test_report(const Evaluation& test, const std::vector<std::string>& class_names, std::ostream& log) {
  std::vector<int> predicted;
  for (float p : test.probabilities) predicted.push_back(p > 0.5f ? 1 : 0);  // Keras's threshold, strict
  const auto cm = report::confusion_matrix(test.labels, predicted, static_cast<int>(class_names.size()));
  for (const std::string& warning : report::undefined_metric_warnings(cm)) log << warning << "\n";  // as sklearn warns
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == test.labels[i];
  std::ostringstream s;
  s << "Test accuracy: " << std::fixed << std::setprecision(4) << test.accuracy << " (" << correct << "/"
    << predicted.size() << "), test loss: " << test.loss << "\n"
    << "Confusion matrix (rows: true, columns: predicted; " << class_names[0] << ", " << class_names[1] << "):\n"
    << report::format_confusion_matrix(cm) << "\n"
    << "====The classification report====\n"
    << report::classification_report(cm, class_names);
  return s.str();
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

int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out) {
  data::SynthOptions options;
  options.out_dir = out_dir;
  options.seed = seed;
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
  const Device device = Device::parse(config.train.device);
  CXR_CHECK(device.is_cpu() || cuda_available(), "device " << device.str() << " requested but no CUDA GPU is available");

  // The model first (a config error is found in milliseconds), then the data (as Keras prints
  // "Found N images" before model.summary()), then the summary.
  Model model = build_model(config.model, config.train.seed);
  model.to(device);
  const Datasets data = load_datasets(config.data, options.data_dir, log);
  const std::string summary = model_summary(model);
  out << summary;
  const fs::path run_dir = options.out_dir.empty() ? fs::path("runs") / (config.name + "-" + timestamp())
                                                   : fs::path(options.out_dir);
  fs::create_directories(run_dir);
  write_text(run_dir / "config.yaml", resolved_yaml(config));
  write_text(run_dir / "summary.txt", summary);

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

  const std::string report_text = test_report(trainer.evaluate(data.test), data.class_names, log);
  out << report_text;
  write_text(run_dir / "test_report.txt", report_text);
  out << "run folder: " << run_dir.string() << "\n";
  return 0;
}

}  // namespace cxr
