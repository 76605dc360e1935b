// color_mode: grayscale end to end: experiment 1's model with a one-channel input trains on the
// synthetic set (grey JPEGs and, every 11th, colour ones), and evaluate and predict load the same
// one-channel pixels again, giving training's test probabilities.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/commands.h"
#include "apps/run_training.h"
#include "data/synth.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::read_text;

// experiment1.yaml with its data and input switched to one channel.
std::string grayscale_experiment1() {
  std::string yaml = read_text(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml");
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"color_mode: rgb", "color_mode: grayscale"},
                                 {"input: [50, 50, 3]", "input: [50, 50, 1]"}}) {
    const size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) yaml.replace(at, from.size(), to);
  }
  return yaml;
}

TEST(Grayscale, TrainsEvaluatesAndPredictsOnOneChannel) {
  const fs::path root = fs::temp_directory_path() / ("cxr_grayscale_" + std::to_string(::getpid()));
  fs::remove_all(root);
  // 56 training images after the validation split: one full batch of 32 and a partial one.
  data::write_synthetic_dataset({.out_dir = (root / "data").string(), .train_normal = 40, .train_pneumonia = 40,
                                 .test_normal = 10, .test_pneumonia = 10, .min_size = 56, .max_size = 80});
  fs::create_directories(root);
  std::ofstream(root / "grey.yaml") << grayscale_experiment1();

  TrainOptions train;
  train.config_path = (root / "grey.yaml").string();
  train.data_dir = (root / "data").string();
  train.epochs = 1;
  train.out_dir = (root / "run").string();
  train.cache_dir = (root / "cache").string();
  std::ostringstream out, log;
  const RunResult result = run_training(train, out, log);
  ASSERT_EQ(result.test.probabilities.size(), 20u);
  EXPECT_EQ(result.config.data.color_mode, "grayscale");
  // The first convolution has 5·5·1·16 + 16 = 416 parameters where RGB's has 1,216.
  const std::string summary = read_text(root / "run" / "summary.txt");
  EXPECT_NE(summary.find("conv2d (Conv2D)             (None, 46, 46, 16)        416 "), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total params: 130,881"), std::string::npos) << summary;

  EvaluateOptions evaluate;
  evaluate.run_dir = (root / "run").string();
  Evaluation test;
  ASSERT_EQ(command_evaluate(evaluate, out, log, &test), 0);
  EXPECT_EQ(test.probabilities, result.test.probabilities);

  PredictOptions predict;
  predict.run_dir = (root / "run").string();
  predict.paths = {(root / "data" / "test").string()};
  std::ostringstream csv;
  ASSERT_EQ(command_predict(predict, csv, log), 0);
  std::istringstream rows(csv.str());
  std::string line;
  std::getline(rows, line);  // header
  size_t read = 0;
  for (; std::getline(rows, line); ++read) {
    ASSERT_LT(read, result.test.probabilities.size());
    const size_t a = line.find(','), b = line.find(',', a + 1);
    EXPECT_NEAR(std::stof(line.substr(a + 1, b - a - 1)), result.test.probabilities[read], 1e-6f) << line;
  }
  EXPECT_EQ(read, result.test.probabilities.size());
  fs::remove_all(root);
}

}  // namespace
}  // namespace cxr
