// `cxrnet evaluate`: a run's saved weights reproduce training's test report, in RUN/evaluation/,
// and weights or files that are not the run's are refused by name.
#include <gtest/gtest.h>

#include <sstream>

#include "apps/commands.h"
#include "apps/run_folder.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/model.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::trained_run;

std::string error_of(const EvaluateOptions& options) {
  std::ostringstream out, log;
  try {
    command_evaluate(options, out, log);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError; output:\n" << out.str();
  return "";
}

TEST(CommandEvaluate, ReproducesTheTrainingRunsTestReport) {
  const auto& trained = trained_run();
  const std::string report_before = read_text(trained.run / "test_report.txt");
  const auto plots_time = fs::last_write_time(trained.run / "plots" / "roc.dat");

  EvaluateOptions options;
  options.run_dir = trained.run.string();
  std::ostringstream out, log;
  Evaluation test;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);

  // The same images in the same order through the same weights: the same numbers, bit for bit.
  EXPECT_EQ(test.labels, trained.result.test.labels);
  EXPECT_EQ(test.probabilities, trained.result.test.probabilities);
  EXPECT_EQ(test.accuracy, trained.result.test.accuracy);
  ASSERT_EQ(test.labels.size(), 20u);
  const std::string report = read_text(trained.run / "evaluation" / "test_report.txt");
  EXPECT_EQ(report, trained.result.test_report);
  EXPECT_NE(report.find("chosen on validation"), std::string::npos) << report;  // the config's validation split
  EXPECT_NE(out.str().find(report), std::string::npos);
  EXPECT_NE(out.str().find("the same report as training's test_report.txt"), std::string::npos) << out.str();
  EXPECT_NE(read_text(trained.run / "evaluation" / "evaluation.txt").find("files: " + trained.run.string() + "/split.csv"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(trained.run / "evaluation" / "plots" / "roc.dat"));
  // Training's outputs are untouched.
  EXPECT_EQ(read_text(trained.run / "test_report.txt"), report_before);
  EXPECT_EQ(fs::last_write_time(trained.run / "plots" / "roc.dat"), plots_time);
}

TEST(CommandEvaluate, ResolvesTheSplitsFromAMovedDataFolder) {
  const auto& trained = trained_run();
  const fs::path moved = trained.root / "moved-data";
  fs::remove_all(moved);
  fs::copy(trained.data, moved, fs::copy_options::recursive);
  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.data_dir = moved.string();
  options.out_dir = (trained.root / "eval-moved").string();
  std::ostringstream out, log;
  Evaluation test;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);
  EXPECT_EQ(test.probabilities, trained.result.test.probabilities);
  EXPECT_NE(out.str().find("files: " + moved.string() + " (20 test, 10 validation images)"), std::string::npos)
      << out.str();

  // One test file less: not the run's split, said with the first file that differs.
  fs::remove(moved / "test" / "NORMAL" / "IM-0001-0001.jpeg");
  const std::string error = error_of(options);
  EXPECT_NE(error.find("are not the files this run was tested on: test file 1 differs"), std::string::npos) << error;
  EXPECT_NE(error.find("IM-0001-0001.jpeg"), std::string::npos) << error;
  options.allow_other_files = true;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);
  EXPECT_EQ(test.labels.size(), 19u);
  EXPECT_NE(read_text(trained.root / "eval-moved" / "evaluation.txt").find("NOT the run's test files"),
            std::string::npos);
  fs::remove_all(moved);
}

TEST(CommandEvaluate, RefusesAnotherModelsWeightsNamingTheTensor) {
  const auto& trained = trained_run();
  // Experiment 2's model has a fourth convolution: its Dense sees 64 inputs, not 1024.
  const ExperimentConfig other = load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment2.yaml");
  Model model = build_model(other.model, 1);
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace(p->name, p->value);
  const fs::path other_weights = trained.root / "experiment2.safetensors";
  save_safetensors(other_weights.string(), tensors, {{"format", "cxrnet-weights-v1"}});

  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.weights_path = other_weights.string();
  options.out_dir = (trained.root / "eval-other").string();
  std::string error = error_of(options);
  EXPECT_NE(error.find(other_weights.string() + ": tensor 'dense/kernel' has shape [64, 64], expected [1024, 64]"),
            std::string::npos)
      << error;

  // A safetensors file that is not cxrnet's (no format in its metadata) is refused as such.
  save_safetensors(other_weights.string(), tensors);
  error = error_of(options);
  EXPECT_NE(error.find("not a cxrnet weights file"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(trained.root / "eval-other"));
}

TEST(CommandEvaluate, NamesWhatIsMissingFromARunFolder) {
  EvaluateOptions options;
  options.run_dir = "/nonexistent/run";
  EXPECT_NE(error_of(options).find("/nonexistent/run: no such run folder"), std::string::npos);
  const fs::path empty = fs::temp_directory_path() / ("cxr_empty_run_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  options.run_dir = empty.string();
  EXPECT_NE(error_of(options).find("config.yaml: missing"), std::string::npos);
  fs::remove_all(empty);
}

TEST(RunFolder, ParsesQuotedManifestFields) {
  const auto rows = parse_split_manifest("path,label,split\n\"a,b.jpeg\",NORMAL,train\n\"say \"\"hi\"\".png\",PNEUMONIA,test\n",
                                         "split.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].path, "a,b.jpeg");
  EXPECT_EQ(rows[1].path, "say \"hi\".png");
  EXPECT_EQ(rows[1].split, "test");
  EXPECT_THROW(parse_split_manifest("path,label,split\nx,NORMAL,holdout\n", "s.csv"), InputError);
}

}  // namespace
}  // namespace cxr
