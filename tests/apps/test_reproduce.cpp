// `cxrnet reproduce`: experiments through run_training(), report.md beside the notebook's numbers,
// and --quick's smaller experiments.
#include <gtest/gtest.h>

#include <sstream>

#include "apps/commands.h"
#include "apps/notebook_results.h"
#include "apps/reproduce_report.h"
#include "engine/device.h"
#include "engine/error.h"
#include "layers/model.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::read_text;

std::string configs() { return std::string(CXR_SOURCE_DIR) + "/configs"; }

TEST(CommandReproduce, QuickExperiment1ReportsBesideTheNotebook) {
  const fs::path root = fs::temp_directory_path() / ("cxr_reproduce_" + std::to_string(::getpid()));
  fs::remove_all(root);
  testing::write_tiny_synthetic_set(root / "data");

  ReproduceOptions options;
  options.data_dir = (root / "data").string();
  options.configs_dir = configs();
  options.out_dir = (root / "out").string();
  options.experiments = {1};
  options.quick = true;
  std::ostringstream out, log;
  ASSERT_EQ(command_reproduce(options, out, log), 0);

  const fs::path run = root / "out" / "experiment1";
  const std::string history = read_text(run / "history.csv");
  EXPECT_EQ(std::count(history.begin(), history.end(), '\n'), 1 + kQuickEpochs) << history;
  // The row: the notebook's 85.7% beside this run's accuracy, as its test report counts it.
  const std::string test_report = read_text(run / "test_report.txt");
  const size_t open = test_report.find('('), close = test_report.find(')');
  ASSERT_NE(close, std::string::npos) << test_report;
  const std::string counts = test_report.substr(open, close - open + 1);  // e.g. "(11/20)"
  const std::string report = read_text(root / "out" / "report.md");
  EXPECT_NE(report.find("| 1: 3 conv layers, 50x50 | 85.7% (300 epochs) | "), std::string::npos) << report;
  EXPECT_NE(report.find("% " + counts + " | "), std::string::npos) << counts << "\n" << report;
  EXPECT_NE(report.find(" | 2 (300) | "), std::string::npos) << report;  // epochs: cxrnet (notebook)
  EXPECT_NE(report.find("NOT comparable to the notebook"), std::string::npos);
  EXPECT_NE(report.find("run folder [`experiment1/`](experiment1/)"), std::string::npos) << report;
  EXPECT_NE(report.find("```text\n" + test_report + "```"), std::string::npos);
  EXPECT_NE(report.find("| NORMAL | 0.94 | 0.63 | 0.75 | 206 |"), std::string::npos) << report;
  // Each drawn plot is linked, and only a drawn one (without gnuplot, none is: the report says so).
  for (const char* plot : {"loss", "accuracy", "roc", "confusion_matrix"}) {
    const std::string link = "![" + std::string(plot) + "](experiment1/plots/" + plot + ".png)";
    EXPECT_EQ(report.find(link) != std::string::npos, fs::exists(run / "plots" / (std::string(plot) + ".png")))
        << link << "\n" << report;
  }
  EXPECT_EQ(report.find("No plots were drawn") != std::string::npos, !fs::exists(run / "plots" / "roc.png")) << report;
  EXPECT_EQ(report.find("Experiment 2"), std::string::npos);  // only what was asked for

  // A second reproduce into the same folder would mix runs: refused.
  EXPECT_THROW(command_reproduce(options, out, log), InputError);
  fs::remove_all(root);
}

TEST(CommandReproduce, MissingConfigsAreNamedBeforeAnyTraining) {
  ReproduceOptions options;
  options.configs_dir = "/nonexistent/configs";
  options.out_dir = (fs::temp_directory_path() / ("cxr_reproduce_none_" + std::to_string(::getpid()))).string();
  std::ostringstream out, log;
  try {
    command_reproduce(options, out, log);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/configs/experiment1.yaml: not found"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--configs DIR"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(options.out_dir));
  options.configs_dir = configs();
  options.experiments = {5};
  EXPECT_THROW(command_reproduce(options, out, log), InputError);
}

// A flag every experiment's train would refuse is refused before the output folder and the synthetic
// set are written: a mistyped --test-from-train or a --device without a GPU used to leave a folder
// (a report even saying "fraction 2") that the corrected command then refused as not empty.
TEST(CommandReproduce, BadFlagsAreRefusedBeforeTheOutputFolderIsMade) {
  ReproduceOptions options;
  options.configs_dir = configs();
  options.quick = true;
  options.experiments = {1};
  options.out_dir = (fs::temp_directory_path() / ("cxr_reproduce_flags_" + std::to_string(::getpid()))).string();
  std::ostringstream out, log;
  const auto error_of = [&](const ReproduceOptions& o) -> std::string {
    try {
      command_reproduce(o, out, log);
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  ReproduceOptions fraction = options;
  fraction.test_from_train = 2.0;
  EXPECT_EQ(error_of(fraction), "--test-from-train must be in (0, 1)");
  EXPECT_FALSE(fs::exists(options.out_dir));
  ReproduceOptions kernels = options;
  kernels.kernels = "fastest";
  EXPECT_NE(error_of(kernels), "no error");
  EXPECT_FALSE(fs::exists(options.out_dir));
  if (!cuda_available()) {
    ReproduceOptions device = options;
    device.device = "cuda";
    EXPECT_EQ(error_of(device), "device cuda:0 requested but no CUDA GPU is available");
    EXPECT_FALSE(fs::exists(options.out_dir));
  }
}

TEST(CommandReproduce, QuickShrinksExperiments3And4) {
  ExperimentConfig three = load_experiment_config(configs() + "/experiment3.yaml");
  make_quick(three);
  EXPECT_EQ(three.train.epochs, kQuickEpochs);
  EXPECT_EQ(three.data.image_height, 50);
  EXPECT_EQ(three.data.image_width, 50);
  const Model model = build_model(three.model, 1);  // the model follows: 50x50 input, a smaller Dense
  EXPECT_EQ(model.input_shape, (Shape{50, 50, 3}));
  EXPECT_EQ(model.total_parameter_count(), 131681);  // experiment 1's model at 50x50

  ExperimentConfig four = load_experiment_config(configs() + "/experiment4.yaml");
  EXPECT_TRUE(has_random_resnet(four));  // shipped with weights: none
  make_quick(four);
  EXPECT_EQ(four.data.image_height, 32);
  EXPECT_EQ(four.model.get_int_list("input"), (std::vector<int>{32, 32, 3}));
  EXPECT_FALSE(has_random_resnet(load_experiment_config(configs() + "/experiment1.yaml")));

  // The layers keep their places in the file, so a config error of a quick run names its line.
  ExperimentConfig one = load_experiment_config(configs() + "/experiment1.yaml");
  make_quick(one);
  EXPECT_EQ(one.model.child("layers").items()[0].where(), configs() + "/experiment1.yaml:33:7");
}

TEST(NotebookResults, HoldThePublishedAccuracies) {
  // configs/experiment*.yaml cite the same figures.
  EXPECT_EQ(notebook_result(1).test_accuracy, 0.8573825503355704);
  EXPECT_EQ(notebook_result(2).test_accuracy, 0.6543624161073825);
  EXPECT_EQ(notebook_result(3).test_accuracy, 0.8674496644295302);
  EXPECT_EQ(notebook_result(4).test_accuracy, 0.7869127516778524);
  for (const NotebookResult& r : notebook_results()) {
    EXPECT_EQ(r.normal.support + r.pneumonia.support, 596);
    // Accuracy is the support-weighted recall: the two published recalls agree with it to rounding.
    EXPECT_NEAR((r.normal.recall * 206 + r.pneumonia.recall * 390) / 596, r.test_accuracy, 0.005) << r.experiment;
  }
  EXPECT_THROW(notebook_result(5), std::out_of_range);
}

}  // namespace
}  // namespace cxr
