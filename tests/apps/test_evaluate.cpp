// `cxrnet evaluate`: a run's saved weights reproduce training's test report, in RUN/evaluation/,
// and weights or files that are not the run's are refused by name.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "apps/commands.h"
#include "apps/run_folder.h"
#include "apps/text_file.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/model.h"
#include "cli_runner.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::contents;
using testing::read_text;
using testing::trained_run;

std::string error_of(const EvaluateOptions& options) {
  std::ostringstream out, log;
  try {
    command_evaluate(options, out, log);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError; output:\n" << out.str();
  return "";
}

TEST(CommandEvaluate, ReproducesTheTrainingRunsTestReport) {
  const auto& trained = trained_run();
  const std::string report_before = read_text(trained.run / "test_report.txt");
  const auto plots_time = fs::last_write_time(trained.run / "plots" / "roc.dat");

  EvaluateOptions options;
  options.run_dir = trained.run.string();
  std::ostringstream out, log;
  Evaluation test;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);

  // The same images in the same order through the same weights: the same numbers, bit for bit.
  EXPECT_EQ(test.labels, trained.result.test.labels);
  EXPECT_EQ(test.probabilities, trained.result.test.probabilities);
  EXPECT_EQ(test.accuracy, trained.result.test.accuracy);
  ASSERT_EQ(test.labels.size(), 20u);
  const std::string report = read_text(trained.run / "evaluation" / "test_report.txt");
  EXPECT_EQ(report, trained.result.test_report);
  EXPECT_NE(report.find("chosen on validation"), std::string::npos) << report;  // the config's validation split
  EXPECT_NE(out.str().find(report), std::string::npos);
  EXPECT_NE(out.str().find("the same report as training's test_report.txt"), std::string::npos) << out.str();
  EXPECT_NE(read_text(trained.run / "evaluation" / "evaluation.txt").find("files: " + trained.run.string() + "/split.csv"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(trained.run / "evaluation" / "plots" / "roc.dat"));
  // Training's outputs are untouched.
  EXPECT_EQ(read_text(trained.run / "test_report.txt"), report_before);
  EXPECT_EQ(fs::last_write_time(trained.run / "plots" / "roc.dat"), plots_time);
}

// A run that reported on restored weights (--restore-best) heads its test_report.txt with the epoch
// they came from; evaluate of those weights still gives the same report below that line.
TEST(CommandEvaluate, ARestoredWeightsHeaderIsNotADifference) {
  const auto& trained = trained_run();
  const fs::path run = trained.root / "restored-run";
  fs::remove_all(run);
  fs::copy(trained.run, run, fs::copy_options::recursive);
  fs::remove_all(run / "evaluation");
  const std::string body = read_text(run / "test_report.txt");
  write_text_file(run / "test_report.txt", "Weights: epoch 1 of 2 (the best val_loss, 0.6931)\n\n" + body);
  EvaluateOptions options;
  options.run_dir = run.string();
  std::ostringstream out, log;
  ASSERT_EQ(command_evaluate(options, out, log), 0);
  EXPECT_NE(out.str().find("the same report as training's test_report.txt"), std::string::npos) << out.str();
  write_text_file(run / "test_report.txt", "Weights: epoch 1 of 2 (the best val_loss, 0.6931)\n\n" + body + "x");
  options.out_dir = (trained.root / "restored-run-changed").string();
  std::ostringstream changed;
  ASSERT_EQ(command_evaluate(options, changed, log), 0);
  EXPECT_NE(changed.str().find("differs from training's test_report.txt"), std::string::npos) << changed.str();
  fs::remove_all(run);
}

TEST(CommandEvaluate, ResolvesTheSplitsFromAMovedDataFolder) {
  const auto& trained = trained_run();
  const fs::path moved = trained.root / "moved-data";
  fs::remove_all(moved);
  fs::copy(trained.data, moved, fs::copy_options::recursive);
  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.data_dir = moved.string();
  options.out_dir = (trained.root / "eval-moved").string();
  std::ostringstream out, log;
  Evaluation test;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);
  EXPECT_EQ(test.probabilities, trained.result.test.probabilities);
  EXPECT_NE(out.str().find("files: " + moved.string() + " (20 test, 10 validation images)"), std::string::npos)
      << out.str();

  // One test file less: not the run's split, said with the first file that differs.
  fs::remove(moved / "test" / "NORMAL" / "IM-0001-0001.jpeg");
  const std::string error = error_of(options);
  EXPECT_NE(error.find("are not the files this run was tested on: test file 1 differs"), std::string::npos) << error;
  EXPECT_NE(error.find("IM-0001-0001.jpeg"), std::string::npos) << error;
  options.allow_other_files = true;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);
  EXPECT_EQ(test.labels.size(), 19u);
  EXPECT_NE(read_text(trained.root / "eval-moved" / "evaluation.txt").find("NOT the run's test files"),
            std::string::npos);
  fs::remove_all(moved);
}

// split.csv keeps the paths train was given, relative ones included: evaluated from another folder,
// none is found, and the error says why instead of listing every file as unreadable.
TEST(CommandEvaluate, SplitPathsNotFoundFromHereAreExplained) {
  const auto& trained = trained_run();
  const fs::path run = trained.root / "relative-run";
  fs::remove_all(run);
  fs::copy(trained.run, run, fs::copy_options::recursive);
  std::string manifest = read_text(run / "split.csv");
  for (size_t at; (at = manifest.find(trained.data.string())) != std::string::npos;)
    manifest.replace(at, trained.data.string().size(), "not/from/here/data");
  write_text_file(run / "split.csv", manifest);
  EvaluateOptions options;
  options.run_dir = run.string();
  const std::string error = error_of(options);
  EXPECT_EQ(error.rfind((run / "split.csv").string() + ": none of its 20 test files is found from ", 0), 0u) << error;
  EXPECT_NE(error.find("(the first: not/from/here/data/test/"), std::string::npos) << error;
  EXPECT_NE(error.find("run this where train ran, or give --data DIR"), std::string::npos) << error;
  fs::remove_all(run);
}

TEST(CommandEvaluate, RefusesAnotherModelsWeightsNamingTheTensor) {
  const auto& trained = trained_run();
  // Experiment 2's model has a fourth convolution: its Dense sees 64 inputs, not 1024.
  const ExperimentConfig other = load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment2.yaml");
  Model model = build_model(other.model, 1);
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace(p->name, p->value);
  const fs::path other_weights = trained.root / "experiment2.safetensors";
  save_safetensors(other_weights.string(), tensors, {{"format", "cxrnet-weights-v1"}});

  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.weights_path = other_weights.string();
  options.out_dir = (trained.root / "eval-other").string();
  std::string error = error_of(options);
  EXPECT_NE(error.find(other_weights.string() + ": tensor 'dense/kernel' has shape [64, 64], expected [1024, 64]"),
            std::string::npos)
      << error;

  // A safetensors file that is not cxrnet's (no format in its metadata) is refused as such.
  save_safetensors(other_weights.string(), tensors);
  error = error_of(options);
  EXPECT_NE(error.find("not a cxrnet weights file"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(trained.root / "eval-other"));
}

// A copy of the trained run, for tests that might change it.
fs::path copy_of_run(const std::string& name) {
  const fs::path copy = trained_run().root / name;
  fs::remove_all(copy);
  fs::copy(trained_run().run, copy, fs::copy_options::recursive);
  return copy;
}

// evaluate replaces a previous evaluation's outputs (RUN/evaluation on each re-run), and nothing else: an
// --out that holds another run, or files evaluate does not write, is refused before any work, untouched.
TEST(CommandEvaluate, RefusesAnOutThatHoldsAnotherRunOrOtherFiles) {
  const auto& trained = trained_run();
  const fs::path other = copy_of_run("eval-other-run"), notes = trained.root / "eval-notes";
  fs::remove_all(notes);
  fs::create_directories(notes);
  std::ofstream(notes / "notes.txt") << "mine";
  const fs::path history_only = trained.root / "eval-history-only";  // a name evaluate writes, but no evaluation
  fs::remove_all(history_only);
  fs::create_directories(history_only);
  std::ofstream(history_only / "history.csv") << "someone else's";

  EvaluateOptions options;
  options.run_dir = trained.run.string();
  for (const fs::path& out : {other, notes, history_only}) {
    const auto before = contents(out);
    options.out_dir = out.string();
    const std::string error = error_of(options);
    EXPECT_EQ(error.find(out.string() + " holds "), 0u) << error;
    EXPECT_NE(error.find("is not a previous evaluation's folder"), std::string::npos) << error;
    EXPECT_EQ(contents(out), before) << out;  // the claim's hidden marker included: refused before it is made
  }

  // A previous evaluation's folder is evaluated into again.
  options.out_dir = (trained.root / "eval-again").string();
  fs::remove_all(options.out_dir);
  std::ostringstream out, log;
  ASSERT_EQ(command_evaluate(options, out, log), 0);
  ASSERT_EQ(command_evaluate(options, out, log), 0);
  fs::remove_all(other);
}

// An --out inside a folder of the run's images (here its test/NORMAL) would put 4 plots among the test
// images of the next run: refused before the folder is made, with --data or without.
TEST(CommandEvaluate, AnOutInsideTheRunsImagesIsRefused) {
  const auto& trained = trained_run();
  EvaluateOptions options;
  options.run_dir = trained.run.string();
  const fs::path inside = trained.data / "test" / "NORMAL" / "eval";
  options.out_dir = inside.string();
  for (const std::string& data_dir : {std::string(), trained.data.string()}) {
    options.data_dir = data_dir;
    const std::string error = error_of(options);
    EXPECT_EQ(error, "--out " + inside.string() + " is inside " + (trained.data / "test").string() +
                         ", which " + (data_dir.empty() ? "the run read" : "this run reads") +
                         " images from: its plots (PNG) would be read as images by the next run; pick a folder "
                         "outside it")
        << error;
    EXPECT_FALSE(fs::exists(inside));
  }
  // Images below their class folders (the scan is recursive): test/NORMAL/2021/x.jpeg is still
  // test's, so a folder beside the class folders is refused too.
  const fs::path run = copy_of_run("nested");
  std::string manifest = read_text(run / "split.csv");
  for (const char* label : {"NORMAL", "PNEUMONIA"}) {
    const std::string folder = (trained.data / "test" / label).string() + "/";
    for (size_t at = manifest.find(folder); at != std::string::npos; at = manifest.find(folder, at + 1))
      manifest.insert(at + folder.size(), "2021/");
  }
  std::ofstream(run / "split.csv") << manifest;
  options.run_dir = run.string();
  options.data_dir.clear();
  const fs::path beside = trained.data / "test" / "eval";
  options.out_dir = beside.string();
  EXPECT_EQ(error_of(options).find("--out " + beside.string() + " is inside " + (trained.data / "test").string() + ","),
            0u)
      << error_of(options);
  EXPECT_FALSE(fs::exists(beside));
  fs::remove_all(run);
}

// Two evaluations into one folder at once would mix their files: the second is refused while the first
// holds the folder's claim.
TEST(CommandEvaluate, ClaimsItsOutputFolderWhileItRuns) {
  const auto& trained = trained_run();
  const fs::path dir = trained.root / "eval-claimed";
  fs::remove_all(dir);
  fs::create_directories(dir);
  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.out_dir = dir.string();
  {
    const ClaimedFolder running = claim_existing_folder(dir);  // the other evaluation
    const std::string error = error_of(options);
    EXPECT_EQ(error.find(dir.string() + ": another cxrnet command is using it"), 0u) << error;
  }
  std::ostringstream out, log;
  ASSERT_EQ(command_evaluate(options, out, log), 0);  // once it is done
  EXPECT_TRUE(fs::exists(dir / "test_report.txt"));
}

// A file where the output folder, a folder above it or its plots/ should be is named, with nothing written.
TEST(CommandEvaluate, AFileInTheWayOfTheOutputFolderIsNamed) {
  const auto& trained = trained_run();
  const fs::path file = trained.root / "eval-a-file";
  std::ofstream(file) << "keep me";
  EvaluateOptions options;
  options.run_dir = trained.run.string();
  options.out_dir = (file / "x").string();
  std::string error = error_of(options);
  EXPECT_EQ(error.find("cannot create folder " + (file / "x").string() + ": "), 0u) << error;
  EXPECT_EQ(read_text(file), "keep me");

  const fs::path run = copy_of_run("eval-run-with-file");  // RUN/evaluation, the default --out, is a file
  fs::remove_all(run / "evaluation");
  std::ofstream(run / "evaluation") << "keep me";
  options.run_dir = run.string();
  options.out_dir.clear();
  error = error_of(options);
  EXPECT_EQ(error, (run / "evaluation").string() + ": exists and is not a folder (evaluate writes its outputs into "
                                                   "this folder)");
  EXPECT_EQ(read_text(run / "evaluation"), "keep me");

  const fs::path previous = trained.root / "eval-plots-file";  // a previous evaluation whose plots/ is a file
  fs::remove_all(previous);
  fs::create_directories(previous);
  std::ofstream(previous / "evaluation.txt") << "before";
  std::ofstream(previous / "plots") << "keep me";
  options.out_dir = previous.string();
  error = error_of(options);
  EXPECT_EQ(error.find((previous / "plots").string() + ": exists and is not a folder"), 0u) << error;
  EXPECT_EQ(read_text(previous / "plots"), "keep me");
  EXPECT_EQ(read_text(previous / "evaluation.txt"), "before");
  fs::remove_all(run);
}

// The shell's `ulimit -f` (512-byte blocks in dash, 1024 in bash) stands for a disk that fills: a write past
// it fails (SIGXFSZ ignored, as its default would kill the command instead).
std::string full_disk_after(int blocks) { return "trap '' XFSZ; ulimit -f " + std::to_string(blocks) + "; "; }

// The disk fills while evaluate copies the run's history: exit 2 naming the file; the previous evaluation
// stays whole, every file of it (its report not beside a new evaluation.txt), and nothing temporary is left.
TEST(CommandEvaluate, AFullDiskWhileCopyingTheHistoryIsNamedAndLeavesNothingHalfWritten) {
  const fs::path run = copy_of_run("eval-full-disk");
  {
    std::ofstream history(run / "history.csv", std::ios::app);
    for (int i = 0; i < 4000; ++i) history << 2 + i << ",0.5,0.5,0.5,0.5,1.0\n";  // about 100 KB
  }
  const fs::path out = run / "previous";
  fs::create_directories(out);
  std::ofstream(out / "evaluation.txt") << "before";
  std::ofstream(out / "test_report.txt") << "the previous report";
  std::ofstream(out / "history.csv") << "the previous history";
  const auto r = testing::run_cxrnet("--threads 1 evaluate --run '" + run.string() + "' --out '" + out.string() + "'",
                                     {}, full_disk_after(64));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot write " + (out / ".cxrnet-staging" / "history.csv").string() + ": writing"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("failed (disk full?)"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(out / "evaluation.txt"), "before");
  EXPECT_EQ(read_text(out / "test_report.txt"), "the previous report");
  EXPECT_EQ(read_text(out / "history.csv"), "the previous history");
  std::set<std::string> left;
  for (const auto& entry : fs::directory_iterator(out)) left.insert(entry.path().filename().string());
  EXPECT_EQ(left, (std::set<std::string>{".cxrnet-claim", "evaluation.txt", "history.csv", "test_report.txt"}));

  // Without the limit, the same folder takes the new evaluation whole.
  const auto ok = testing::run_cxrnet("--threads 1 evaluate --run '" + run.string() + "' --out '" + out.string() + "'");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(read_text(out / "history.csv"), read_text(run / "history.csv"));
  EXPECT_NE(read_text(out / "evaluation.txt"), "before");
  EXPECT_FALSE(fs::exists(out / ".cxrnet-staging"));
  fs::remove_all(run);
}

// The disk fills while gnuplot writes the PNGs: gnuplot exits 0 all the same. The cut-short PNGs are removed
// and named; the plots stay optional (the data and script are there to redraw them), so evaluate succeeds.
TEST(CommandEvaluate, PngsCutShortByAFullDiskAreRemovedAndNamed) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "needs gnuplot";
  const auto& trained = trained_run();
  const fs::path out = trained.root / "eval-full-pngs";
  fs::remove_all(out);
  const auto r = testing::run_cxrnet(
      "--threads 1 evaluate --run '" + trained.run.string() + "' --out '" + out.string() + "'", {}, full_disk_after(8));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("plots: gnuplot failed (loss.png, accuracy.png, roc.png, confusion_matrix.png not written "
                       "whole: disk full?)"),
            std::string::npos)
      << r.err;
  for (const char* png : {"loss.png", "accuracy.png", "roc.png", "confusion_matrix.png"})
    EXPECT_FALSE(fs::exists(out / "plots" / png)) << png;
  EXPECT_TRUE(fs::exists(out / "plots" / "plots.gp"));
}

// A run stopped before its end has checkpoints but no weights.safetensors: evaluate says so and how
// to go on, and evaluates a checkpoint given as --weights (here the 1-epoch run's last, whose
// parameters are its weights: the same probabilities, bit for bit).
TEST(CommandEvaluate, AnUnfinishedRunIsNamedAndItsCheckpointEvaluates) {
  const fs::path run = copy_of_run("unfinished");
  fs::remove(run / "weights.safetensors");
  EvaluateOptions options;
  options.run_dir = run.string();
  options.out_dir = (trained_run().root / "eval-unfinished").string();
  EXPECT_EQ(error_of(options), (run / "weights.safetensors").string() +
                                   ": missing: the run has not finished (stopped after a checkpoint). Finish it with "
                                   "cxrnet train --resume " + run.string() + " --data DIR, or give a checkpoint: "
                                   "--weights " + (run / "checkpoints" / "last.safetensors").string() +
                                   " (or best.safetensors, the best epoch's)");
  options.weights_path = (run / "checkpoints" / "last.safetensors").string();
  std::ostringstream out, log;
  Evaluation test;
  ASSERT_EQ(command_evaluate(options, out, log, &test), 0);
  EXPECT_EQ(test.probabilities, trained_run().result.test.probabilities);
  fs::remove_all(run);
  fs::remove_all(options.out_dir);
}

TEST(CommandEvaluate, NamesWhatIsMissingFromARunFolder) {
  EvaluateOptions options;
  options.run_dir = "/nonexistent/run";
  EXPECT_NE(error_of(options).find("/nonexistent/run: no such run folder"), std::string::npos);
  const fs::path empty = fs::temp_directory_path() / ("cxr_empty_run_" + std::to_string(::getpid()));
  fs::create_directories(empty);
  options.run_dir = empty.string();
  EXPECT_NE(error_of(options).find("config.yaml: missing"), std::string::npos);
  fs::remove_all(empty);
}

TEST(RunFolder, ParsesQuotedManifestFields) {
  const auto rows = parse_split_manifest("path,label,split\n\"a,b.jpeg\",NORMAL,train\n\"say \"\"hi\"\".png\",PNEUMONIA,test\n",
                                         "split.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].path, "a,b.jpeg");
  EXPECT_EQ(rows[1].path, "say \"hi\".png");
  EXPECT_EQ(rows[1].split, "test");
  EXPECT_THROW(parse_split_manifest("path,label,split\nx,NORMAL,holdout\n", "s.csv"), InputError);
}

}  // namespace
}  // namespace cxr
