// One training run, start to finish: config, data, model, the epochs, the test report, the run
// folder. `cxrnet train` is this plus printing; `cxrnet reproduce` calls it once per experiment.
#pragma once
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "apps/experiment_config.h"
#include "apps/trainer.h"

namespace cxr {

struct TrainOptions {
  std::string config_path;
  std::string data_dir;               // a folder with train/ (and test/ unless carved from train)
  std::optional<int> epochs;          // overrides the config
  std::optional<double> test_from_train;  // carve the test split from train (no test/ needed)
  std::string out_dir;                // the run folder; default runs/<name>-<timestamp>(-2, -3, ... if taken)
  std::string device = "";            // overrides the config's device
  bool strict = false;                // any unreadable file fails the run (as the config's strict: true)
  std::string cache_dir;              // non-empty: keep decoded, resized images in an on-disk cache there
  std::string kernels;                // custom | vendor: overrides the config's train.kernels (CUDA only)
  bool tf32 = false;                  // allow TF32 in the vendor (cuDNN/cuBLAS) paths; default plain FP32
  // Continue the run in this folder from its checkpoints/last.safetensors, with its config.yaml
  // (config_path and out_dir must be empty); `epochs` may raise the total.
  std::string resume_dir;
  bool restore_best = false;       // report on (and save as weights.safetensors) checkpoints/best.safetensors
  std::string progress = "lines";  // auto (a bar when `out` is std::cout on a terminal) | bar | lines
  // Tests: end the run after this epoch as an interruption would, leaving only its checkpoints
  // (no weights.safetensors, no report).
  std::optional<int> interrupt_after_epoch;
  // Tests: called as each epoch starts, with its number (what a kill at that moment would leave).
  std::function<void(int epoch)> on_epoch_start;
  // Tests: called after an epoch's run files are written and before its checkpoints are saved
  // (what a kill during the save would leave).
  std::function<void(int epoch)> before_checkpoint;
  // Applied to the loaded config before anything else (after the overrides above): how
  // `reproduce --quick` shrinks an experiment. Empty: the config as written.
  std::function<void(ExperimentConfig&)> adjust_config;
};

struct RunResult {
  std::string run_dir;
  ExperimentConfig config;                // as resolved (what config.yaml holds)
  std::vector<std::string> class_names;   // NORMAL, PNEUMONIA
  std::vector<EpochResult> history;       // one per epoch run (a resumed run's earlier epochs included)
  int epochs_run = 0;
  int resumed_after = 0;                  // epochs the checkpoint had completed; 0: a fresh run
  int best_epoch = 0;                     // by train.checkpoint's monitor; 0: none (no such metric)
  bool stopped_early = false;             // early_stopping ended the run
  bool restored_best = false;             // the report describes an earlier epoch's weights:
  int weights_epoch = 0;                  // this one (--restore-best or restore_best_weights)
  double seconds = 0;                     // the whole run: loading, epochs, evaluation, reports
  double train_seconds = 0;               // the epochs alone (validation included)
  bool has_validation = false;
  Evaluation validation, test;            // of the weights the report describes
  std::string test_report;                // as printed and saved as test_report.txt
};

// Throws InputError/ConfigError for bad input (exit 2), anything else for internal errors.
RunResult run_training(const TrainOptions& options, std::ostream& out, std::ostream& log);

}  // namespace cxr
