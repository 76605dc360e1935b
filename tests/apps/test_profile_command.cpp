// `cxrnet profile` and the model's profile rows: every layer of experiment 1 in its row, fused
// layers together, backward under the layer that ran the forward, and the table adding up.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/commands.h"
#include "apps/experiment_config.h"
#include "apps/trainer.h"
#include "engine/error.h"
#include "engine/optimizer.h"
#include "engine/profile.h"
#include "layers/spec.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

std::string config(const std::string& name) { return std::string(CXR_SOURCE_DIR) + "/configs/" + name; }

// Experiment 1's layers, in their rows: each Conv2D alone, then its BatchNormalization, Dropout and relu
// Activation as one op, the rest one a row; the loss and the optimizer after them.
const std::vector<std::string> kExperiment1Rows = {
    "conv2d",
    "batch_normalization + dropout + activation",
    "conv2d_1",
    "batch_normalization_1 + dropout_1 + activation_1",
    "conv2d_2",
    "batch_normalization_2 + dropout_2 + activation_2",
    "max_pooling2d",
    "dropout_3",
    "batch_normalization_3",
    "flatten",
    "dense",
    "activation_3",
    "dropout_4",
    "dense_1",
    "activation_4",
    "(loss)",
    "(optimizer)",
};

TEST(ProfileTrainStep, EveryLayerHasItsRowAndEveryTrainedLayerItsBackward) {
  const ExperimentConfig c = load_experiment_config(config("experiment1.yaml"));
  Model model = build_model(c.model, c.train.seed);
  Trainer trainer(model, c);
  Tensor x = Tensor::full({2, 50, 50, 3}, 0.5f, Device::cpu(), "images");
  x.data()[7] = 3.0f;  // not every pixel alike, so batch norm's variance is not zero
  const Tensor y = Tensor::from_vector({2, 1}, {0, 1});
  Profile profile(Device::cpu());
  const int steps = 2;
  for (int s = 0; s < steps; ++s) train_on_batch(model, trainer.optimizer(), x, y, {true, c.train.seed, 0});

  std::vector<std::string> labels;
  for (const ProfileRow& row : profile.rows()) labels.push_back(row.label);
  ASSERT_EQ(labels, kExperiment1Rows);
  for (const ProfileRow& row : profile.rows()) {
    const bool optimizer = row.label == "(optimizer)";
    EXPECT_EQ(row.calls[0], optimizer ? 0 : steps) << row.label;  // one forward a step
    EXPECT_EQ(row.calls[2], optimizer ? steps : 0) << row.label;
    // Every layer's forward records a node, as its input needs a gradient (a parameter below it)
    // or it has parameters itself; the first Conv2D's input is the images, its weights need one.
    // The sigmoid is outside the logits, and the optimizer has no backward.
    const bool has_backward = !optimizer && row.label != "activation_4";
    EXPECT_EQ(row.calls[1] > 0, has_backward) << row.label;
    if (has_backward) {
      EXPECT_EQ(row.calls[1] % steps, 0) << row.label << ": the same nodes every step";
    }
  }
}

TEST(ProfileTrainStep, ResNet50V2sStagesAndBlocksAreRowsOfTheirOwn) {
  const ExperimentConfig c = load_experiment_config(config("experiment4.yaml"));
  Model model = build_model(c.model, c.train.seed);
  Trainer trainer(model, c);
  const Tensor x = Tensor::full({2, 50, 50, 3}, 100.0f, Device::cpu(), "images");
  const Tensor y = Tensor::from_vector({2, 1}, {0, 1});
  Profile profile(Device::cpu());
  train_on_batch(model, trainer.optimizer(), x, y, {true, c.train.seed, 0});
  std::vector<std::string> backbone;
  for (const ProfileRow& row : profile.rows())
    if (row.label.rfind("resnet50v2", 0) == 0) {
      backbone.push_back(row.label);
      EXPECT_EQ(row.calls[0], 1) << row.label;
      EXPECT_EQ(row.calls[1], 0) << row.label << ": the backbone is frozen and its input needs no gradient";
    }
  std::vector<std::string> expected = {"resnet50v2/conv1"};
  for (const auto& [stage, blocks] : std::vector<std::pair<int, int>>{{2, 3}, {3, 4}, {4, 6}, {5, 3}})
    for (int b = 1; b <= blocks; ++b)
      expected.push_back("resnet50v2/conv" + std::to_string(stage) + "_block" + std::to_string(b));
  expected.push_back("resnet50v2/post");
  expected.push_back("resnet50v2");  // its own row, added last: where the layer's region ends
  EXPECT_EQ(backbone, expected);
}

TEST(ProfileCommand, PrintsEveryRowAndWritesATableThatAddsUp) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_profile_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  ProfileOptions options;
  options.config_path = config("experiment1.yaml");
  options.steps = 2;
  options.warmup = 0;
  options.json_path = (dir / "profile.json").string();
  std::ostringstream out;
  ASSERT_EQ(command_profile(options, out), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("cxrnet profile: experiment1 on cpu"), std::string::npos) << text;
  EXPECT_NE(text.find("batch 32, 2 steps after 1 warm-up"), std::string::npos) << text;
  for (const std::string& label : kExperiment1Rows)
    EXPECT_NE(text.find("\n" + label + " "), std::string::npos) << label;
  const size_t fused = text.find("\nbatch_normalization + dropout + activation ");
  ASSERT_NE(fused, std::string::npos) << text;
  const std::string fused_line = text.substr(fused + 1, text.find('\n', fused + 1) - fused - 1);
  EXPECT_NE(fused_line.find(" BatchNormalization+Dropout+Activation "), std::string::npos) << fused_line;

  std::ifstream file(options.json_path);
  const nlohmann::json report = nlohmann::json::parse(file);
  EXPECT_EQ(report["batch"], 32);
  EXPECT_EQ(report["steps"], 2);
  ASSERT_EQ(report["rows"].size(), kExperiment1Rows.size());
  double timed = 0;
  for (size_t i = 0; i < kExperiment1Rows.size(); ++i) {
    const nlohmann::json& row = report["rows"][i];
    EXPECT_EQ(row["label"], kExperiment1Rows[i]);
    const double parts =
        row["forward_ms"].get<double>() + row["backward_ms"].get<double>() + row["update_ms"].get<double>();
    EXPECT_NEAR(row["total_ms"].get<double>(), parts, 1e-9) << kExperiment1Rows[i];
    timed += parts;
  }
  // Each Conv2D's and Dense's operations a step: 2 x batch x output positions x kernel elements
  // forward; backward the weight gradient, and the input gradient above the first layer.
  const std::map<std::string, std::pair<double, double>> gflop = {
      {"conv2d", {2.0 * 32 * 46 * 46 * (16 * 5 * 5 * 3) / 1e9, 2.0 * 32 * 46 * 46 * (16 * 5 * 5 * 3) / 1e9}},
      {"conv2d_1", {2.0 * 32 * 21 * 21 * (32 * 5 * 5 * 16) / 1e9, 4.0 * 32 * 21 * 21 * (32 * 5 * 5 * 16) / 1e9}},
      {"conv2d_2", {2.0 * 32 * 9 * 9 * (64 * 5 * 5 * 32) / 1e9, 4.0 * 32 * 9 * 9 * (64 * 5 * 5 * 32) / 1e9}},
      {"dense", {2.0 * 32 * 1024 * 64 / 1e9, 4.0 * 32 * 1024 * 64 / 1e9}},
      {"dense_1", {2.0 * 32 * 64 / 1e9, 4.0 * 32 * 64 / 1e9}}};
  for (const nlohmann::json& row : report["rows"]) {
    const auto it = gflop.find(row["label"]);
    const std::pair<double, double> expected = it == gflop.end() ? std::pair<double, double>{0, 0} : it->second;
    EXPECT_NEAR(row["forward_gflop"].get<double>(), expected.first, 1e-12) << row["label"];
    EXPECT_NEAR(row["backward_gflop"].get<double>(), expected.second, 1e-12) << row["label"];
  }
  EXPECT_EQ(report["rows"][0]["kind"], "Conv2D");
  EXPECT_EQ(report["rows"][15]["kind"], "");  // the loss is no layer
  EXPECT_GT(report["rows"][0]["backward_ms"].get<double>(), 0.0);
  EXPECT_GT(report["rows"][16]["update_ms"].get<double>(), 0.0);
  // The rows are parts of the step: together no longer than it, and the rest reported as untimed.
  const double step = report["step_ms"].get<double>();
  EXPECT_LE(timed, step);
  EXPECT_NEAR(report["untimed_ms"].get<double>(), step - timed, 1e-9);
  EXPECT_NEAR(report["images_per_s"].get<double>(), 32 * 1e3 / step, 1e-6 * (32 * 1e3 / step));
  fs::remove_all(dir);
}

TEST(ProfileTrainStep, ADropoutAndTheReluAfterItShareARow) {
  const SpecNode spec = SpecNode::load_string(
      "input: [4, 4, 1]\nlayers:\n  - {type: Flatten}\n  - {type: Dense, units: 8}\n"
      "  - {type: Dropout, rate: 0.5}\n  - {type: Activation, activation: relu}\n"
      "  - {type: Dense, units: 1, activation: sigmoid}\n",
      "dropout-relu.yaml");
  Model model = build_model(spec, 1);
  Adam adam(model.trainable_tensors(), AdamOptions{});
  const Tensor x = Tensor::full({2, 4, 4, 1}, 1.0f, Device::cpu(), "images");
  Profile profile(Device::cpu());
  train_on_batch(model, adam, x, Tensor::from_vector({2, 1}, {0, 1}), {true, 1, 0});
  std::vector<std::string> labels;
  for (const ProfileRow& row : profile.rows()) labels.push_back(row.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"flatten", "dense", "dropout + activation", "dense_1", "(loss)",
                                              "(optimizer)"}));
}

TEST(ProfileCommand, NeedsNoPretrainedWeightsFile) {
  ProfileOptions options;
  options.config_path = config("improved/experiment4.yaml");  // names weights/resnet50v2_notop.safetensors
  options.steps = 1;
  options.warmup = 0;
  std::ostringstream out;
  ASSERT_EQ(command_profile(options, out), 0);
  EXPECT_NE(out.str().find("\nresnet50v2/conv5_block3 "), std::string::npos) << out.str();
}

TEST(ProfileCommand, AFrozenLayerCountsNoBackwardOperations) {
  const fs::path json = fs::temp_directory_path() / ("cxr_profile_frozen_" + std::to_string(::getpid()) + ".json");
  ProfileOptions options;
  options.config_path = config("experiment4.yaml");  // a frozen backbone, a frozen Dense, the last Dense trains
  options.steps = 1;
  options.warmup = 0;
  options.json_path = json.string();
  std::ostringstream out;
  ASSERT_EQ(command_profile(options, out), 0);
  std::ifstream file(json);
  const nlohmann::json report = nlohmann::json::parse(file);
  fs::remove(json);
  std::map<std::string, std::pair<double, double>> seen;
  double sum = 0;
  for (const nlohmann::json& row : report["rows"]) {
    seen[row["label"]] = {row["forward_gflop"].get<double>(), row["backward_gflop"].get<double>()};
    sum += seen[row["label"]].first + seen[row["label"]].second;
  }
  EXPECT_NEAR(report["step_gflop"].get<double>(), sum, 1e-9);
  EXPECT_NEAR(seen.at("dense").first, 2.0 * 32 * 2048 * 64 / 1e9, 1e-12);
  EXPECT_EQ(seen.at("dense").second, 0.0);  // frozen, and nothing below it trains
  EXPECT_NEAR(seen.at("dense_1").first, 2.0 * 32 * 64 / 1e9, 1e-12);
  EXPECT_NEAR(seen.at("dense_1").second, 2.0 * 32 * 64 / 1e9, 1e-12);  // its weight gradient only
  // A part of the backbone counts its own convolutions: the stem's 7x7x3 kernels over 25x25x64 outputs.
  EXPECT_NEAR(seen.at("resnet50v2/conv1").first, 2.0 * 32 * 25 * 25 * 64 * 7 * 7 * 3 / 1e9, 1e-12);
  EXPECT_EQ(seen.at("resnet50v2/conv1").second, 0.0);
}

TEST(ProfileCommand, RefusesAJsonPathItCannotWriteBeforeAnyWork) {
  ProfileOptions options;
  options.config_path = config("experiment1.yaml");
  for (const std::string& path : {std::string("/nonexistent-folder/profile.json"), fs::temp_directory_path().string()}) {
    options.json_path = path;
    std::ostringstream out;
    try {
      command_profile(options, out);
      FAIL() << path << " accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
    EXPECT_TRUE(out.str().empty()) << "the steps ran before the path was refused";
  }
}

TEST(ProfileCommand, RefusesZeroStepsAndAMissingGpuBeforeAnyWork) {
  ProfileOptions options;
  options.config_path = config("experiment1.yaml");
  options.steps = 0;
  std::ostringstream out;
  try {
    command_profile(options, out);
    FAIL() << "zero steps accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--steps must be at least 1, got 0"), std::string::npos) << e.what();
  }
  if (cuda_available()) GTEST_SKIP() << "a GPU is present: cuda is a valid device here";
  options.steps = 1;
  options.device = "cuda";
  EXPECT_THROW(command_profile(options, out), InputError);
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace cxr
