// The cxrnet subcommands, callable from tests. Each returns the process exit code; errors are
// exceptions (InputError/ConfigError: exit 2, anything else: exit 1), mapped in main.cpp.
#pragma once
#include <iosfwd>
#include <optional>
#include <string>

namespace cxr {

struct TrainOptions {
  std::string config_path;
  std::string data_dir;               // a folder with train/ (and test/ unless carved from train)
  std::optional<int> epochs;          // overrides the config
  std::optional<double> test_from_train;  // carve the test split from train (no test/ folder needed)
  std::string out_dir;                // the run folder; default runs/<name>-<timestamp>
  std::string device = "";            // overrides the config's device
};

int command_summary(const std::string& config_path, std::ostream& out);
int command_train(const TrainOptions& options, std::ostream& out, std::ostream& log);
int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out);

}  // namespace cxr
