// A run folder to evaluate and predict with: experiment 1's model (configs/experiment1.yaml, its
// carved validation split included) trained for one epoch on a tiny synthetic set, once per test
// process, with the RunResult that training returned.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "apps/run_training.h"
#include "data/synth.h"

namespace cxr::testing {

namespace fs = std::filesystem;

inline std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Every file under `dir` (hidden ones too) with its bytes: a refused command must leave them all as they were.
inline std::map<fs::path, std::string> contents(const fs::path& dir) {
  std::map<fs::path, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[entry.path()] = read_text(entry.path());
  return files;
}

inline void write_tiny_synthetic_set(const fs::path& dir) {
  data::write_synthetic_dataset({.out_dir = dir.string(), .train_normal = 16, .train_pneumonia = 16, .test_normal = 10,
                                 .test_pneumonia = 10, .min_size = 56, .max_size = 80});
}

struct TrainedRun {
  fs::path root, data, run;
  RunResult result;

  TrainedRun() {
    root = fs::temp_directory_path() / ("cxr_trained_run_" + std::to_string(::getpid()));
    fs::remove_all(root);
    data = root / "data";
    run = root / "run";
    write_tiny_synthetic_set(data);
    TrainOptions options;
    options.config_path = std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml";
    options.data_dir = data.string();
    options.epochs = 1;
    options.out_dir = run.string();
    std::ostringstream out, log;
    result = run_training(options, out, log);
  }
  ~TrainedRun() { fs::remove_all(root); }
};

inline const TrainedRun& trained_run() {
  static const TrainedRun run;
  return run;
}

}  // namespace cxr::testing
