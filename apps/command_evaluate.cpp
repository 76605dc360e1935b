// `cxrnet evaluate --run RUN`: the run's weights on its test split again, with training's report.
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "apps/commands.h"
#include "apps/plots.h"
#include "apps/run_folder.h"
#include "apps/test_report.h"
#include "apps/text_file.h"
#include "apps/trainer.h"
#include "engine/error.h"

namespace cxr {

namespace fs = std::filesystem;

namespace {

data::LoadedImages load_split(const data::DatasetIndex& index, const DataConfig& config, const char* what,
                              std::ostream& log) {
  data::LoadedImages images = load_inference_images(index, config);
  for (const auto& [path, reason] : images.skipped) log << "skipped " << path << ": " << reason << "\n";
  log << "Found " << images.size() << " images belonging to " << index.class_names.size() << " classes (" << what
      << ")";
  if (!images.skipped.empty()) log << "; " << images.skipped.size() << " unreadable files left out";
  log << ".\n";
  CXR_CHECK(!config.strict || images.skipped.empty(),
            "strict: " << images.skipped.size() << " unreadable " << what << " files (listed above)");
  CXR_CHECK(images.size() > 0, "no readable " << what << " images");
  return images;
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

int command_evaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& log, Evaluation* test_out) {
  CXR_CHECK(!options.test_from_train || !options.data_dir.empty(),
            "--test-from-train carves the test split from --data's train/: give --data DIR too (without --data, "
            "evaluate uses the files RUN/split.csv lists, carved as training carved them)");
  RunFolder run = open_run_folder(options.run_dir);
  if (!options.out_dir.empty()) check_not_a_file(options.out_dir, "--out");  // before the evaluation's work
  ExperimentConfig& config = run.config;
  if (options.test_from_train) {  // as `train --test-from-train`: only changes what --data resolves to
    CXR_CHECK(*options.test_from_train > 0 && *options.test_from_train < 1, "--test-from-train must be in (0, 1)");
    config.data.test = SplitConfig{.dir = "", .split_from = config.data.train, .fraction = *options.test_from_train,
                                   .seed = config.train.seed};
  }
  const Device device = select_device(config, options.device, options.kernels);
  const std::string weights = run_weights_path(run, options.weights_path);
  const RunSplitFiles files = run_split_files(run, options.data_dir, options.allow_other_files);
  if (!files.mismatch.empty()) log << "warning: evaluating other files than the run's: " << files.mismatch << "\n";

  Model model = load_run_model(run, weights, device);
  data::LoadedImages validation_images;
  if (files.has_validation) validation_images = load_split(files.validation, config.data, "validation", log);
  const data::LoadedImages test_images = load_split(files.test, config.data, "test", log);

  Trainer trainer(model, config);
  Evaluation validation;
  if (files.has_validation) validation = trainer.evaluate(validation_images);
  const Evaluation test = trainer.evaluate(test_images);
  const std::string report =
      test_report(test, files.has_validation ? &validation : nullptr, run.class_names, TestReportOptions{}, log);

  const fs::path out_dir = options.out_dir.empty() ? run.dir / "evaluation" : fs::path(options.out_dir);
  CXR_CHECK(fs::weakly_canonical(out_dir) != fs::weakly_canonical(run.dir),
            "--out " << out_dir.string() << " is the run folder: evaluate never overwrites training's outputs");
  fs::create_directories(out_dir);
  std::ostringstream about;
  about << "run: " << run.dir.string() << "\nweights: " << weights << "\nfiles: " << files.source << " ("
        << test.labels.size() << " test";
  if (files.has_validation) about << ", " << validation.labels.size() << " validation";
  about << " images)\n";
  if (!files.mismatch.empty()) about << "NOT the run's test files: " << files.mismatch << "\n";
  const fs::path trained_report = run.dir / "test_report.txt";
  if (fs::exists(trained_report))
    about << (read_text(trained_report) == report ? "the same report as training's test_report.txt\n"
                                                  : "differs from training's test_report.txt\n");
  out << about.str() << report;
  write_text_file(out_dir / "evaluation.txt", about.str());
  write_text_file(out_dir / "test_report.txt", report);
  // The plots' script draws the training curves from ../history.csv: give it the run's.
  if (fs::exists(run.dir / "history.csv"))
    fs::copy_file(run.dir / "history.csv", out_dir / "history.csv", fs::copy_options::overwrite_existing);
  write_plots({out_dir, test.probabilities, test.labels, run.class_names, files.has_validation}, log);
  out << "evaluation folder: " << out_dir.string() << "\n";
  if (test_out) *test_out = test;
  return 0;
}

}  // namespace cxr
