// `cxrnet profile --device cuda`: every layer of experiment 1 in one row, with each kernel choice, and
// the rows (each waiting for the GPU) adding up to no more than the step.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "apps/commands.h"
#include "apps/experiment_config.h"
#include "layers/model.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {
namespace {

namespace fs = std::filesystem;

class ProfileOnGpu : public GpuTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ProfileOnGpu, EveryLayerInOneRowAndTheRowsWithinTheStep) {
  const std::string config = std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml";
  const fs::path json = fs::temp_directory_path() / (std::string("cxr_profile_gpu_") + GetParam() + ".json");
  ProfileOptions options;
  options.config_path = config;
  options.device = "cuda";
  options.kernels = GetParam();
  options.steps = 3;
  options.json_path = json.string();
  std::ostringstream out;
  ASSERT_EQ(command_profile(options, out), 0);
  std::ifstream file(json);
  const nlohmann::json report = nlohmann::json::parse(file);
  fs::remove(json);

  const ExperimentConfig c = load_experiment_config(config);
  const Model model = build_model(c.model, c.train.seed);
  std::multiset<std::string> expected, seen;
  for (const auto& layer : model.layers) expected.insert(layer->name);
  double timed = 0;
  for (const nlohmann::json& row : report["rows"]) {
    const std::string label = row["label"];
    timed += row["total_ms"].get<double>();
    if (label.front() == '(') continue;  // the loss and the optimizer
    for (size_t begin = 0; begin <= label.size();) {
      const size_t end = std::min(label.find(" + ", begin), label.size());
      seen.insert(label.substr(begin, end - begin));
      begin = end + 3;
    }
  }
  EXPECT_EQ(seen, expected) << out.str();
  EXPECT_GT(report["rows"][0]["forward_ms"].get<double>(), 0.0) << out.str();
  EXPECT_GT(report["rows"][0]["backward_ms"].get<double>(), 0.0) << out.str();
  EXPECT_LE(timed, report["step_ms"].get<double>()) << out.str();
}

INSTANTIATE_TEST_SUITE_P(Kernels, ProfileOnGpu, ::testing::Values("custom", "vendor"));

}  // namespace
}  // namespace cxr::test
