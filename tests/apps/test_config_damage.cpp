// Every truncation and single-byte change of the experiment configs: a ConfigError that starts with
// the file's name and a position, or a config that loads, and then its resolved form (a run
// folder's config.yaml, which resume reads back) loads again to the same config. Never a crash,
// another exception type, or a resolved config.yaml that cannot be read back.
#include <gtest/gtest.h>

#include <fstream>

#include "apps/experiment_config.h"
#include "engine/error.h"
#include "tests/damaged_copies.h"

namespace cxr {
namespace {

using testing::DamagedCopy;

void expect_every_damage_handled(const std::string& config_name, size_t stride) {
  std::ifstream in(std::string(CXR_SOURCE_DIR) + "/configs/" + config_name, std::ios::binary);
  const std::vector<uint8_t> good{std::istreambuf_iterator<char>(in), {}};
  ASSERT_GT(good.size(), 500u) << config_name;
  const std::string name = "damaged/" + config_name;
  testing::DamageFindings findings;
  size_t copies = 0, refused = 0;
  auto visit = [&](const DamagedCopy& copy) {
    ++copies;
    const std::string text(copy.bytes.begin(), copy.bytes.end());
    ExperimentConfig config;
    try {
      config = parse_experiment_config(SpecNode::load_string(text, name));
    } catch (const ConfigError& e) {
      ++refused;
      if (std::string(e.what()).rfind(name + ":", 0) != 0)
        findings.add(copy, std::string("ConfigError not starting with the file's name: ") + e.what());
      return;
    } catch (const std::exception& e) {
      findings.add(copy, std::string("not a ConfigError: ") + e.what());
      return;
    }
    try {
      const std::string resolved = resolved_yaml(config);
      // Read back under the same name: the resolved text's first line names its source.
      const ExperimentConfig again = parse_experiment_config(SpecNode::load_string(resolved, name));
      if (resolved_yaml(again) != resolved) findings.add(copy, "resolves to another config when read back");
    } catch (const std::exception& e) {
      findings.add(copy, std::string("its resolved config.yaml does not load: ") + e.what());
    }
  };
  // Cuts at every byte; changes at every byte of the first 200 (the header comments), then sampled.
  testing::for_each_damaged_copy(good, visit, /*first_position=*/200, stride);
  EXPECT_TRUE(findings.empty()) << config_name << ": " << findings.report();
  EXPECT_GT(refused, copies / 10) << config_name << ": " << refused << " of " << copies << " refused";
}

TEST(ConfigDamage, EveryCutAndByteChangeOfExperiment1IsAConfigErrorOrAConfigThatReadsBack) {
  expect_every_damage_handled("experiment1.yaml", 3);
}

TEST(ConfigDamage, EveryCutAndByteChangeOfExperiment4IsAConfigErrorOrAConfigThatReadsBack) {
  expect_every_damage_handled("experiment4.yaml", 3);
}

}  // namespace
}  // namespace cxr
