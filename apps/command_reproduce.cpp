// `cxrnet reproduce`: the notebook's four experiments, one run folder each, and OUT/report.md.
#include <algorithm>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/datasets.h"
#include "apps/reproduce_report.h"
#include "apps/run_folder.h"
#include "apps/text_file.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"

namespace cxr {

namespace fs = std::filesystem;

int command_reproduce(const ReproduceOptions& options, std::ostream& out, std::ostream& log) {
  CXR_CHECK(!options.experiments.empty(), "--experiments: give at least one of 1, 2, 3, 4");
  std::vector<int> experiments;
  for (int n : options.experiments) {
    CXR_CHECK(n >= 1 && n <= 4, "--experiments: " << n << " is not one of the notebook's experiments 1, 2, 3, 4");
    if (std::find(experiments.begin(), experiments.end(), n) == experiments.end()) experiments.push_back(n);
  }
  // Every config before any training: a typo must not surface after hours of experiment 1.
  ReproduceSummary summary;
  const bool named = !options.out_dir.empty();
  const fs::path wanted = named ? fs::path(options.out_dir) : fs::path("runs") / ("reproduce-" + timestamp());
  for (int n : experiments) {
    const fs::path config = fs::path(options.configs_dir) / ("experiment" + std::to_string(n) + ".yaml");
    std::error_code ec;
    CXR_CHECK(fs::is_regular_file(config, ec),
              config.string() << ": not found; reproduce reads experiment1.yaml ... experiment4.yaml from "
                              << options.configs_dir
                              << "/: run it in the cxrnet source folder or give --configs DIR");
    const ExperimentConfig loaded = load_experiment_config(config.string());  // a ConfigError now rather than later
    if (!options.data_dir.empty()) check_out_of_data(wanted, loaded.data, options.data_dir, "--out");
    ReproducedExperiment e;
    e.experiment = n;
    e.config_path = config.string();
    summary.experiments.push_back(e);
  }

  // The flags every experiment's train would check, checked before the output folder is claimed and
  // the synthetic set written: else a mistyped flag left a folder the corrected command refused.
  CXR_CHECK(!options.test_from_train || (*options.test_from_train > 0 && *options.test_from_train < 1),
            "--test-from-train must be in (0, 1)");
  if (!options.device.empty()) (void)available_device(options.device);
  if (!options.kernels.empty()) (void)parse_kernel_choice(options.kernels);

  // Claimed at once: a second reproduce started in the same second gets runs/reproduce-<time>-2.
  const ClaimedFolder claimed = claim_new_folder(wanted, !named, "--out", "(reproduce writes a fresh folder)");
  summary.out_dir = claimed.dir;
  summary.quick = options.quick;
  summary.device = options.device.empty() ? "as each config says" : options.device;

  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    data::SynthOptions synth;  // the small set: 240 train, 80 test images of 96-192 px
    synth.out_dir = (summary.out_dir / "synthetic-data").string();
    data::write_synthetic_dataset(synth);
    data_dir = synth.out_dir;
    summary.synthetic = true;
    summary.data = "a synthetic set written to `synthetic-data/` (`cxrnet synth --small`, seed 7)";
    log << "no --data: wrote a small synthetic dataset to " << data_dir << "\n";
  } else {
    summary.data = "`" + data_dir + "`";
  }
  if (options.test_from_train) {
    std::ostringstream fraction;
    fraction << *options.test_from_train;
    summary.data += ", the test split carved from train (fraction " + fraction.str() + ")";
  }

  const fs::path report_path = summary.out_dir / "report.md";
  for (ReproducedExperiment& e : summary.experiments) {
    out << "\n==== Experiment " << e.experiment << " (" << e.config_path << ")" << (options.quick ? ", quick" : "")
        << " ====\n";
    TrainOptions train;
    train.config_path = e.config_path;
    train.data_dir = data_dir;
    train.test_from_train = options.test_from_train;
    train.out_dir = (summary.out_dir / ("experiment" + std::to_string(e.experiment))).string();
    train.device = options.device;
    train.kernels = options.kernels;
    if (options.quick) train.adjust_config = make_quick;
    try {
      e.result = run_training(train, out, log);
      e.finished = true;
      if (options.device.empty()) summary.device = e.result.config.train.device;
    } catch (const std::exception& error) {
      e.failure = error.what();
      std::replace(e.failure.begin(), e.failure.end(), '\n', ' ');  // one table cell
      std::replace(e.failure.begin(), e.failure.end(), '|', '/');
      write_text_file(report_path, reproduce_report(summary));  // what finished stays reported
      throw;
    }
    write_text_file(report_path, reproduce_report(summary));  // after each: a long run reports as it goes
  }
  out << "\nreport: " << report_path.string() << "\n";
  return 0;
}

}  // namespace cxr
