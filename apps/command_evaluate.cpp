// `cxrnet evaluate --run RUN`: the run's weights on its test split again, with training's report.
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>

#include "apps/commands.h"
#include "apps/datasets.h"
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

// A test report without the line training puts above it when it reports on restored weights
// (--restore-best, restore_best_weights: "Weights: epoch N of M ...", then a blank line).
std::string report_body(const std::string& report) {
  const size_t blank = report.find("\n\n");
  return report.rfind("Weights: epoch ", 0) == 0 && blank != std::string::npos ? report.substr(blank + 2) : report;
}

std::string read_text(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  CXR_CHECK(f, "cannot read " << path.string());
  return s.str();
}

// What evaluate writes into its output folder (and the claim's marker, and the staging folder a killed
// evaluation may leave). A re-run of evaluate replaces a previous evaluation's outputs; a folder that
// holds anything else (a run, a data set) is someone else's.
constexpr const char* kStaging = ".cxrnet-staging";
const std::set<std::string> kEvaluationNames = {"evaluation.txt", "test_report.txt", "history.csv", "plots",
                                                ".cxrnet-claim", kStaging};

// The evaluation's files, written whole into a staging folder inside the output folder, then moved into
// place together by renames, which need no space: a failure part way (a full disk) leaves the previous
// evaluation as it was, never its report beside a new evaluation.txt. evaluation.txt, which marks a
// whole evaluation, moves last.
class StagedEvaluation {
 public:
  explicit StagedEvaluation(const fs::path& out) : out_(out), dir_(out / kStaging) {
    std::error_code ec;
    fs::remove_all(dir_, ec);  // a killed evaluation's (the output folder is claimed: nobody else's)
    fs::create_directory(dir_, ec);
    CXR_CHECK(!ec, "cannot create folder " << dir_.string() << ": " << ec.message());
  }
  StagedEvaluation(const StagedEvaluation&) = delete;
  StagedEvaluation& operator=(const StagedEvaluation&) = delete;
  ~StagedEvaluation() {
    std::error_code ec;  // no throwing while an exception unwinds
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

  void commit() {
    const fs::path replaced = dir_ / "replaced";  // the previous evaluation's files, removed with the staging
    std::error_code ec;
    fs::create_directory(replaced, ec);
    CXR_CHECK(!ec, "cannot create folder " << replaced.string() << ": " << ec.message());
    // The previous evaluation's files out first, its evaluation.txt before the rest: a kill part way
    // leaves no evaluation.txt beside a mix of two evaluations' files (moving each file out and its
    // successor in, one name at a time, left the old evaluation.txt describing the new report).
    for (const char* name : {"evaluation.txt", "history.csv", "test_report.txt", "plots"})
      if (fs::exists(fs::symlink_status(out_ / name))) move(out_ / name, replaced / name);
    for (const char* name : {"history.csv", "test_report.txt", "plots", "evaluation.txt"})
      if (fs::exists(fs::symlink_status(dir_ / name))) move(dir_ / name, out_ / name);
  }

 private:
  static void move(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::rename(from, to, ec);
    CXR_CHECK(!ec, "cannot move " << from.string() << " to " << to.string() << ": " << ec.message());
  }

  fs::path out_, dir_;
};

// The output folder, checked and claimed before the evaluation's work and held until it is done, so
// that two evaluations never mix their files. A folder this command made is removed again if it fails.
class OutputFolder {
 public:
  // `named`: the user gave it as --out (else it is RUN/evaluation).
  OutputFolder(const fs::path& dir, const RunFolder& run, bool named) : dir_(dir) {
    std::error_code ec;
    CXR_CHECK(!fs::exists(dir, ec) || fs::is_directory(dir, ec),
              dir.string() << ": exists and is not a folder ("
                           << (named ? "--out names a folder" : "evaluate writes its outputs into this folder") << ")");
    CXR_CHECK(fs::weakly_canonical(dir) != fs::weakly_canonical(run.dir),
              "--out " << dir.string() << " is the run folder: evaluate never overwrites training's outputs");
    made_ = fs::create_directories(dir, ec);
    CXR_CHECK(!ec, "cannot create folder " << dir.string() << ": " << ec.message());
    check_contents(dir);  // before the claim's marker is made in someone else's folder
    claim_ = claim_existing_folder(dir);
  }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  ~OutputFolder() {
    std::error_code ec;  // no throwing while an exception unwinds
    if (made_ && !kept_) fs::remove_all(dir_, ec);
  }
  void keep() { kept_ = true; }

 private:
  static void check_contents(const fs::path& dir) {
    bool previous_evaluation = false, empty = true;
    std::error_code ec;
    fs::directory_iterator it(dir, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      // A temporary file of an evaluation that was killed while writing NAME is that evaluation's too.
      const bool ours = kEvaluationNames.contains(name.substr(0, name.find(".tmp")));
      CXR_CHECK(ours, dir.string() << " holds " << name << ", which evaluate does not write: it is not a previous "
                                   << "evaluation's folder, and evaluate overwrites nothing else; pick another --out");
      // Replaced whole later, so what is not of the kind evaluate writes is no previous output of it.
      const bool folder = it->is_directory(ec);
      CXR_CHECK(name != "plots" || folder, it->path().string() << ": exists and is not a folder (evaluate writes its "
                                                                  "plots into a folder of that name); pick another --out");
      CXR_CHECK(name == "plots" || name == kStaging || !folder,
                it->path().string() << ": is a folder (evaluate writes a file of that name); pick another --out");
      previous_evaluation |= name == "evaluation.txt";
      empty &= name == ".cxrnet-claim";
    }
    CXR_CHECK(!ec, "cannot read folder " << dir.string() << ": " << ec.message());
    CXR_CHECK(empty || previous_evaluation,
              dir.string() << " holds files but no evaluation.txt: it is not a previous evaluation's folder, and "
                           << "evaluate overwrites nothing else; pick another --out");
  }

  fs::path dir_;
  bool made_ = false, kept_ = false;
  ClaimedFolder claim_;
};

// An --out inside a folder of images that the run was trained or tested on, or that --data gives,
// would hold plots (PNG) that the next run there reads as images: refused, as train, split and
// reproduce refuse theirs.
void check_out_of_images(const fs::path& out, const RunFolder& run, const std::string& data_dir) {
  if (!data_dir.empty()) check_out_of_data(out, run.config.data, data_dir, "--out");
  // The split folder above each file's class folder (data/train for data/train/NORMAL/x.jpeg, and for
  // data/train/NORMAL/2021/x.jpeg: the scan is recursive below the class folder).
  std::set<std::string> folders;
  for (const ManifestRow& row : run.manifest) {
    fs::path folder = fs::path(row.path).parent_path();
    while (folder.has_relative_path() && folder.filename() != row.label) folder = folder.parent_path();
    folders.insert((folder.has_relative_path() ? folder : fs::path(row.path).parent_path()).parent_path().string());
  }
  check_out_of_image_folders(out, {folders.begin(), folders.end()}, "--out", "the run read");
}

}  // namespace

int command_evaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& log, Evaluation* test_out) {
  CXR_CHECK(!options.test_from_train || !options.data_dir.empty(),
            "--test-from-train carves the test split from --data's train/: give --data DIR too (without --data, "
            "evaluate uses the files RUN/split.csv lists, carved as training carved them)");
  RunFolder run = open_run_folder(options.run_dir);
  const fs::path out_dir = options.out_dir.empty() ? run.dir / "evaluation" : fs::path(options.out_dir);
  if (!options.out_dir.empty()) check_out_of_images(out_dir, run, options.data_dir);
  OutputFolder output(out_dir, run, !options.out_dir.empty());  // before the evaluation's work
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

  std::ostringstream about;
  about << "run: " << run.dir.string() << "\nweights: " << weights << "\nfiles: " << files.source << " ("
        << test.labels.size() << " test";
  if (files.has_validation) about << ", " << validation.labels.size() << " validation";
  about << " images)\n";
  if (!files.mismatch.empty()) about << "NOT the run's test files: " << files.mismatch << "\n";
  const fs::path trained_report = run.dir / "test_report.txt";
  if (fs::exists(trained_report))
    about << (report_body(read_text(trained_report)) == report ? "the same report as training's test_report.txt\n"
                                                               : "differs from training's test_report.txt\n");
  out << about.str() << report;
  StagedEvaluation staged(out_dir);
  write_text_file(staged.dir() / "evaluation.txt", about.str());
  write_text_file(staged.dir() / "test_report.txt", report);
  // The plots' script draws the training curves from ../history.csv: give it the run's.
  // Through write_text_file: a full disk is an error naming the file, and never leaves half of it.
  if (fs::exists(run.dir / "history.csv"))
    write_text_file(staged.dir() / "history.csv", read_text(run.dir / "history.csv"));
  write_plots({staged.dir(), test.probabilities, test.labels, run.class_names, files.has_validation, out_dir}, log);
  staged.commit();
  output.keep();
  out << "evaluation folder: " << out_dir.string() << "\n";
  if (test_out) *test_out = test;
  return 0;
}

}  // namespace cxr
