// The cxrnet subcommands, callable from tests. Each returns the process exit code; errors are
// exceptions (InputError/ConfigError: exit 2, anything else: exit 1), mapped in main.cpp.
#pragma once
#include <iosfwd>
#include <optional>
#include <string>

#include "apps/run_training.h"

namespace cxr {

// `cxrnet split`: the config's splits (carved ones included) as real folders, for users who want them.
struct SplitOptions {
  std::string config_path;
  std::string data_dir;
  std::string out_dir;  // must not exist or be empty
  bool copy = false;    // copy the files; default: hard links (a copy where links are impossible)
  std::optional<double> test_from_train;
};

int command_summary(const std::string& config_path, std::ostream& out);
int command_train(const TrainOptions& options, std::ostream& out, std::ostream& log);
// small: the quick test-sized set (96-192 px); otherwise radiograph sizes (400-1700 px, varied aspect).
int command_synth(const std::string& out_dir, uint64_t seed, std::ostream& out, bool small = false);
int command_split(const SplitOptions& options, std::ostream& out);

}  // namespace cxr
