// The pieces of `cxrnet reproduce`: the --quick shrinking of an experiment, and report.md, which
// sets each run beside the notebook's published numbers (apps/notebook_results.h).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "apps/experiment_config.h"
#include "apps/run_training.h"

namespace cxr {

// --quick: at most kQuickEpochs epochs; images larger than 50x50 shrink to 50x50 (experiment 3);
// a ResNet50V2 model runs at 32x32, the smallest input Keras's ResNet50V2 accepts (experiment 4).
// The data section and the model's input change together.
constexpr int kQuickEpochs = 2;
void make_quick(ExperimentConfig& config);

// Whether the model holds a ResNet50V2 layer without pretrained weights (`weights: none` or no
// weights key): experiment 4 as shipped, until the ImageNet weights are converted.
bool has_random_resnet(const ExperimentConfig& config);

struct ReproducedExperiment {
  int experiment = 0;
  std::string config_path;
  bool finished = false;
  std::string failure;  // what stopped it, when it did not finish
  RunResult result;     // when finished
};

struct ReproduceSummary {
  std::filesystem::path out_dir;  // where report.md goes; run folders are linked relative to it
  std::string data;               // what the runs trained on, in words
  bool synthetic = false;
  bool quick = false;
  std::string device;
  std::vector<ReproducedExperiment> experiments;  // in the order asked for, unfinished ones too
};

// report.md: the table cxrnet vs notebook, then per experiment its plots and test report.
std::string reproduce_report(const ReproduceSummary& summary);

}  // namespace cxr
