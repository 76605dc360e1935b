// The optimizer benchmarks (benchmarks/common/shapes.h's adam_cases) time each experiment's own
// trainable tensors: the sizes, in the order the engine hands them to Adam, of the models built from
// configs/. A layer added to a config, or a freeze pattern changed, without the benchmark following
// fails here rather than leaving the Adam rows timing another model.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "benchmarks/common/shapes.h"
#include "layers/model.h"

namespace cxr {
namespace {

std::vector<int64_t> trainable_sizes(const std::string& config) {
  const std::string path = std::string(CXR_SOURCE_DIR) + "/configs/" + config;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  // The fine-tuning config starts from a trained head's weights file, which a clone does not have; the
  // sizes do not depend on the values.
  const size_t weights = yaml.find("\n  weights: ");
  if (weights != std::string::npos) yaml.erase(weights, yaml.find('\n', weights + 1) - weights);
  Model m = build_model(SpecNode::load_string(yaml, path).child("model"), 42);
  std::vector<int64_t> sizes;
  for (const Tensor& t : m.trainable_tensors()) sizes.push_back(t.numel());
  return sizes;
}

TEST(BenchmarkParams, AdamCasesAreTheExperimentsTrainableTensorsInOrder) {
  const std::map<std::string, std::string> configs{
      {"e1_params", "experiment1.yaml"},
      {"e2_params", "experiment2.yaml"},
      {"e3_params", "experiment3.yaml"},
      {"e4_params", "experiment4.yaml"},
      {"e4_finetune_params", "improved/experiment4-finetune.yaml"},
  };
  ASSERT_EQ(bench::adam_cases().size(), configs.size());
  for (const bench::ParamsCase& c : bench::adam_cases()) {
    ASSERT_TRUE(configs.count(c.name)) << c.name << ": which config?";
    EXPECT_EQ(c.tensors, trainable_sizes(configs.at(c.name))) << c.name;
  }
}

}  // namespace
}  // namespace cxr
