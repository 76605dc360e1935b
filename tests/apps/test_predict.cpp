// `cxrnet predict`: CSV rows for files and folders (sorted, recursive), the probabilities evaluate
// gives for the same images, labels by threshold, and unreadable images named, never dropped.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "apps/commands.h"
#include "apps/metrics.h"
#include "engine/error.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::contents;
using testing::read_text;
using testing::trained_run;

struct Row {
  std::string path, probability, label;
};

std::vector<Row> parse_csv(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "path,probability,label");
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.find(',', a + 1);
    EXPECT_NE(b, std::string::npos) << line;
    rows.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1)});
  }
  return rows;
}

TEST(CommandPredict, FolderGivesEvaluatesProbabilitiesAndLabelsByThreshold) {
  const auto& trained = trained_run();
  const std::vector<float>& expected = trained.result.test.probabilities;  // the test split, in Keras's order
  ASSERT_EQ(expected.size(), 20u);
  std::vector<float> sorted = expected;
  std::sort(sorted.begin(), sorted.end());
  const float threshold = (sorted[9] + sorted[10]) / 2;  // both labels occur

  PredictOptions options;
  options.run_dir = trained.run.string();
  options.paths = {(trained.data / "test").string()};
  options.threshold = threshold;
  options.out_csv = (trained.root / "predictions.csv").string();
  std::ostringstream out, log;
  ASSERT_EQ(command_predict(options, out, log), 0);
  EXPECT_EQ(out.str(), "");  // the CSV went to --out
  const std::vector<Row> rows = parse_csv(read_text(options.out_csv));
  ASSERT_EQ(rows.size(), 20u);
  int pneumonia = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(rows[i - 1].path, rows[i].path);
    }
    // The folder's images sorted by path: NORMAL/ then PNEUMONIA/, the test split's order.
    EXPECT_EQ(rows[i].path.find((trained.data / "test" / (i < 10 ? "NORMAL" : "PNEUMONIA")).string()), 0u)
        << rows[i].path;
    const float p = std::stof(rows[i].probability);
    EXPECT_GE(p, 0.0f);
    EXPECT_LE(p, 1.0f);
    EXPECT_NEAR(p, expected[i], 1e-6f) << rows[i].path;
    EXPECT_EQ(rows[i].label, p > threshold ? "PNEUMONIA" : "NORMAL") << p << " vs " << threshold;
    pneumonia += rows[i].label == "PNEUMONIA";
  }
  EXPECT_EQ(pneumonia, 10);
}

TEST(CommandPredict, WalksFoldersRecursivelyInPathOrderAndKeepsFileArguments) {
  const auto& trained = trained_run();
  const fs::path dir = trained.root / "predict-walk";
  fs::remove_all(dir);
  fs::create_directories(dir / "b");
  fs::create_directories(dir / "a" / "deeper");
  const fs::path source = trained.data / "test" / "NORMAL";
  fs::copy_file(source / "IM-0002-0001.jpeg", dir / "b" / "x.jpeg");
  fs::copy_file(source / "IM-0003-0001.jpeg", dir / "a" / "deeper" / "y.JPG");
  fs::copy_file(source / "IM-0004-0001.jpeg", dir / "a" / "z.png.jpeg");
  std::ofstream(dir / "a" / ".hidden.jpeg") << "ignored";
  std::ofstream(dir / "a" / "notes.txt") << "not an image";

  PredictOptions options;
  options.run_dir = trained.run.string();
  options.paths = {dir.string(), (source / "IM-0002-0001.jpeg").string()};
  std::ostringstream out, log;
  ASSERT_EQ(command_predict(options, out, log), 0);
  const std::vector<Row> rows = parse_csv(out.str());
  ASSERT_EQ(rows.size(), 4u) << out.str();
  EXPECT_EQ(rows[0].path, (dir / "a" / "deeper" / "y.JPG").string());
  EXPECT_EQ(rows[1].path, (dir / "a" / "z.png.jpeg").string());
  EXPECT_EQ(rows[2].path, (dir / "b" / "x.jpeg").string());
  EXPECT_EQ(rows[3].path, (source / "IM-0002-0001.jpeg").string());
  EXPECT_NEAR(std::stof(rows[2].probability), std::stof(rows[3].probability), 1e-6f);  // the same image
  EXPECT_NE(log.str().find("predicted 4 images"), std::string::npos) << log.str();
  fs::remove_all(dir);
}

TEST(CommandPredict, UnreadableImageIsNamedAndNeverDropped) {
  const auto& trained = trained_run();
  const fs::path bad = trained.root / "broken.jpeg";
  std::ofstream(bad) << "not an image";
  const std::string good = (trained.data / "test" / "NORMAL" / "IM-0001-0001.jpeg").string();

  PredictOptions options;
  options.run_dir = trained.run.string();
  options.paths = {good, bad.string()};
  std::ostringstream out, log;
  try {
    command_predict(options, out, log);
    ADD_FAILURE() << "an unreadable image must fail the command";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(bad.string() + ": not a JPEG or PNG"), std::string::npos) << e.what();
  }
  EXPECT_EQ(out.str(), "");  // no partial CSV

  options.skip_unreadable = true;
  ASSERT_EQ(command_predict(options, out, log), 0);
  const std::vector<Row> rows = parse_csv(out.str());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].path, bad.string());
  EXPECT_EQ(rows[1].probability, "");
  EXPECT_EQ(rows[1].label, "unreadable");
  EXPECT_FALSE(rows[0].probability.empty());
  EXPECT_NE(log.str().find("unreadable " + bad.string() + ": not a JPEG or PNG"), std::string::npos) << log.str();
}

TEST(CommandPredict, ThresholdFromValidationIsTheTestReportsOperatingPoint) {
  const auto& trained = trained_run();
  const Evaluation& validation = trained.result.validation;
  ASSERT_EQ(validation.labels.size(), 10u);
  const float expected = report::threshold_for_sensitivity(validation.probabilities, validation.labels, 0.98);

  PredictOptions options;
  options.run_dir = trained.run.string();
  options.paths = {(trained.data / "test").string()};
  options.threshold_from_validation = true;
  std::ostringstream out, log;
  ASSERT_EQ(command_predict(options, out, log), 0);
  std::ostringstream t;
  t << "threshold " << expected << ": chosen on 10 validation images";
  EXPECT_NE(log.str().find(t.str()), std::string::npos) << log.str();
  for (const Row& row : parse_csv(out.str()))
    EXPECT_EQ(row.label, std::stof(row.probability) > expected ? "PNEUMONIA" : "NORMAL");

  options.threshold = 0.5;  // both: refused
  EXPECT_THROW(command_predict(options, out, log), InputError);
}

// --out replaces only an earlier predictions CSV: never the run's weights or config, another run's
// files, an image, or any other file (the CSV had replaced them, with exit 0).
TEST(CommandPredict, ReplacesOnlyAnEarlierPredictionsCsv) {
  const auto& trained = trained_run();
  const fs::path copy = trained.root / "predict-inputs";  // the shared run stays whole whatever happens here
  fs::remove_all(copy);
  fs::create_directories(copy);
  fs::copy(trained.run, copy / "run", fs::copy_options::recursive);
  fs::copy(trained.run, copy / "other-run", fs::copy_options::recursive);
  const fs::path image = copy / "image.jpeg";
  fs::copy_file(trained.data / "test" / "NORMAL" / "IM-0001-0001.jpeg", image);
  fs::create_hard_link(copy / "run" / "weights.safetensors", copy / "weights-link.safetensors");
  std::ofstream(copy / "notes.csv") << "path,label\n";
  const auto before = contents(copy);

  PredictOptions options;
  options.run_dir = (copy / "run").string();
  options.paths = {image.string()};
  for (const fs::path& out : {copy / "run" / "weights.safetensors", copy / "run" / "config.yaml",
                              copy / "run" / "checkpoints" / "last.safetensors", image,
                              copy / "weights-link.safetensors", copy / "other-run" / "weights.safetensors",
                              copy / "other-run" / "split.csv", copy / "notes.csv", copy / "run"}) {
    options.out_csv = out.string();
    std::ostringstream csv, log;
    try {
      command_predict(options, csv, log);
      ADD_FAILURE() << "--out " << out << " was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).find("--out " + out.string() + " exists and is not a "), 0u) << e.what();
      EXPECT_NE(std::string(e.what()).find("predict replaces only its own earlier output"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(contents(copy), before);  // byte for byte, and no temporary file left

  options.out_csv = (copy / "run" / "predictions.csv").string();  // a new file, even in the run folder, is fine
  for (int run = 0; run < 2; ++run) {  // and so is running again into it
    std::ostringstream csv, log;
    ASSERT_EQ(command_predict(options, csv, log), 0);
    EXPECT_EQ(parse_csv(read_text(options.out_csv)).size(), 1u);
  }
  // A folder that is not there is said before the inference (it was found only when the CSV was written).
  options.out_csv = (copy / "no-such-folder" / "predictions.csv").string();
  std::ostringstream csv, log;
  try {
    command_predict(options, csv, log);
    ADD_FAILURE() << "--out in a missing folder was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--out " + options.out_csv + ": no folder " + (copy / "no-such-folder").string());
  }
  EXPECT_EQ(log.str(), "");
  fs::remove_all(copy);
}

// A FIFO named like an image in a folder (or given by name) is named as unreadable, never skipped
// without a word or reported as missing.
TEST(CommandPredict, AFifoNamedLikeAnImageIsNamedAsUnreadable) {
  const auto& trained = trained_run();
  const fs::path dir = trained.root / "predict-fifo";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(trained.data / "test" / "NORMAL" / "IM-0001-0001.jpeg", dir / "a.jpeg");
  ASSERT_EQ(::mkfifo((dir / "b.jpeg").c_str(), 0644), 0);
  PredictOptions options;
  options.run_dir = trained.run.string();
  for (const std::string& path : {dir.string(), (dir / "b.jpeg").string()}) {
    options.paths = {path};
    std::ostringstream csv, log;
    try {
      command_predict(options, csv, log);
      ADD_FAILURE() << path << ": the FIFO was not reported";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find((dir / "b.jpeg").string() + ": not a regular file"), std::string::npos)
          << e.what();
    }
  }
  fs::remove_all(dir);
}

// A stream whose every write fails, as standard output does on a full disk or a closed pipe.
struct FailingBuffer : std::streambuf {
  int overflow(int) override { return traits_type::eof(); }
};

TEST(CommandPredict, AFailedWriteToStandardOutputIsAnError) {
  PredictOptions options;
  options.run_dir = trained_run().run.string();
  options.paths = {(trained_run().data / "test" / "NORMAL" / "IM-0001-0001.jpeg").string()};
  FailingBuffer full;
  std::ostream out(&full);
  std::ostringstream log;
  try {
    command_predict(options, out, log);
    ADD_FAILURE() << "the lost CSV was not reported; log:\n" << log.str();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write the predictions to standard output"), std::string::npos)
        << e.what();
  }
}

// `--out -` is standard output, as for most command-line tools, not a file named "-".
TEST(CommandPredict, OutDashIsStandardOutput) {
  PredictOptions options;
  options.run_dir = trained_run().run.string();
  options.paths = {(trained_run().data / "test" / "NORMAL" / "IM-0001-0001.jpeg").string()};
  options.out_csv = "-";
  ASSERT_FALSE(fs::exists("-"));
  std::ostringstream out, log;
  ASSERT_EQ(command_predict(options, out, log), 0);
  EXPECT_FALSE(fs::exists("-")) << "a file named '-' was written";
  ASSERT_EQ(parse_csv(out.str()).size(), 1u) << out.str();
  EXPECT_EQ(log.str().find("wrote"), std::string::npos) << log.str();
}

TEST(CommandPredict, MissingPathIsBadInput) {
  PredictOptions options;
  options.run_dir = trained_run().run.string();
  options.paths = {"/nonexistent/image.jpeg"};
  std::ostringstream out, log;
  try {
    command_predict(options, out, log);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/image.jpeg: no such file or folder"), std::string::npos);
  }
}

}  // namespace
}  // namespace cxr
