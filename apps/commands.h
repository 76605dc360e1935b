// The cxrnet subcommands, callable from tests. Each returns the process exit code; errors are
// exceptions (InputError/ConfigError: exit 2, anything else: exit 1), mapped in main.cpp.
#pragma once
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "apps/run_training.h"

namespace cxr {

// `cxrnet split`: the config's splits (carved ones included) as real folders, for users who want them.
struct SplitOptions {
  std::string config_path;
  std::string data_dir;
  std::string out_dir;  // must not exist or be empty
  bool copy = false;    // copy the files; default: hard links (a copy where links are impossible)
  std::optional<double> test_from_train;
  // Tests: called before each file is linked or copied, with how many were made so far.
  std::function<void(size_t made)> before_each_file = {};
};

int command_summary(const std::string& config_path, std::ostream& out);
int command_train(const TrainOptions& options, std::ostream& out, std::ostream& log);
// small: the quick test-sized set (96-192 px); otherwise radiograph sizes (400-1700 px, varied aspect).
int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out, bool small = false);
int command_split(const SplitOptions& options, std::ostream& out);

// `cxrnet profile`: one experiment's training step, layer by layer (engine/profile.h), on random images
// at the config's input size and batch: a table of each layer's forward, backward and update time.
struct ProfileOptions {
  std::string config_path;
  std::string device, kernels;  // override the config's, as train's flags
  int steps = 20;               // timed steps
  int warmup = 2;               // untimed steps before them, besides the one that checks the loss
  std::string json_path;        // also write the table as JSON here (empty: no file)
};
int command_profile(const ProfileOptions& options, std::ostream& out);

}  // namespace cxr

namespace cxr {

// `cxrnet evaluate`: a trained run's weights on its own test split again, with the same report as
// training, written to RUN/evaluation/ (the training outputs are left alone).
struct EvaluateOptions {
  std::string run_dir;
  std::string data_dir;      // empty: the files split.csv lists; else the config's splits of this folder,
                             // which must be the files split.csv lists (relative to their data folder)
  std::string weights_path;  // empty: RUN/weights.safetensors
  std::optional<double> test_from_train;  // as train's flag (the run's config.yaml normally has it already)
  std::string device, kernels;            // override the config's, as train's flags
  bool allow_other_files = false;         // evaluate --data's splits even when they differ from split.csv
  std::string out_dir;                    // empty: RUN/evaluation
};
// Returns 0; the Evaluation of the test split is written to `test` when it is not null.
int command_evaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& log,
                     Evaluation* test = nullptr);

// `cxrnet predict`: probabilities and labels for image files and folders, as CSV path,probability,label.
struct PredictOptions {
  std::string run_dir;
  std::vector<std::string> paths;  // image files, or folders searched recursively (sorted paths)
  std::string out_csv;             // empty: `out`
  std::optional<double> threshold;  // label = class 1 when probability > threshold (default 0.5)
  bool threshold_from_validation = false;  // the test report's threshold (sensitivity >= 0.98 on validation)
  std::string data_dir;                    // for the validation files when split.csv's paths moved
  std::string weights_path;                // empty: RUN/weights.safetensors
  std::string device, kernels;
  bool skip_unreadable = false;  // unreadable images become rows with no probability instead of exit 2
};
int command_predict(const PredictOptions& options, std::ostream& out, std::ostream& log);

// `cxrnet reproduce`: experiments 1-4 through run_training(), then OUT/report.md comparing each
// with the notebook's published numbers (apps/notebook_results.h).
struct ReproduceOptions {
  std::string data_dir;              // empty: a small synthetic set written to OUT/synthetic-data
  std::string configs_dir = "configs";
  std::string out_dir;               // empty: runs/reproduce-<time>
  std::vector<int> experiments{1, 2, 3, 4};
  std::optional<double> test_from_train;
  std::string device, kernels;
  bool quick = false;  // 2 epochs and small images: a smoke run, not comparable to the notebook
};
int command_reproduce(const ReproduceOptions& options, std::ostream& out, std::ostream& log);

}  // namespace cxr
