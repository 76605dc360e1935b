// The cxrnet binary's exit codes for the run commands: 0 ok (and --help), 2 bad input (a parse
// error, a missing run folder, an unreadable image), with the message on stderr.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_evaluate_fixture.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::Result;
using testing::run_cxrnet;

TEST(Cli, HelpOnEveryCommandIsSuccess) {
  const Result top = run_cxrnet("--help");
  EXPECT_EQ(top.code, 0);
  for (const char* command : {"evaluate", "predict", "reproduce"}) EXPECT_NE(top.out.find(command), std::string::npos);
  const Result evaluate = run_cxrnet("evaluate --help");
  EXPECT_EQ(evaluate.code, 0);
  EXPECT_NE(evaluate.out.find("--run"), std::string::npos) << evaluate.out;
  const Result predict = run_cxrnet("predict --help");
  EXPECT_EQ(predict.code, 0);
  EXPECT_NE(predict.out.find("--threshold-from-validation"), std::string::npos) << predict.out;
  const Result reproduce = run_cxrnet("reproduce --help");
  EXPECT_EQ(reproduce.code, 0);
  EXPECT_NE(reproduce.out.find("--quick"), std::string::npos) << reproduce.out;
}

TEST(Cli, ParseErrorsAreBadInput) {
  EXPECT_EQ(run_cxrnet("evaluate").code, 2);                            // --run is required
  EXPECT_EQ(run_cxrnet("predict --run somewhere").code, 2);             // no image paths
  EXPECT_EQ(run_cxrnet("predict --run r --threshold 1.5 x.jpeg").code, 2);
  EXPECT_EQ(run_cxrnet("reproduce --experiments 1,5").code, 2);
  EXPECT_EQ(run_cxrnet("no-such-command").code, 2);
  EXPECT_EQ(run_cxrnet("--threads 0 evaluate --run r").code, 2);
  const std::string config = std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml";
  EXPECT_EQ(run_cxrnet("profile --config '" + config + "' --steps 0").code, 2);
  EXPECT_EQ(run_cxrnet("profile --config /nonexistent.yaml").code, 2);
}

TEST(Cli, ProfilePrintsTheStepLayerByLayer) {
  const std::string config = std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml";
  const Result r = run_cxrnet("profile --config '" + config + "' --steps 1 --warmup 0 --threads 1");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("cxrnet profile: experiment1 on cpu (1 thread), batch 32, 1 step after 1 warm-up\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\nconv2d_1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n(optimizer) "), std::string::npos) << r.out;
}

// An empty value (an unset shell variable: --out "$OUT") fell back to the option's default.
TEST(Cli, AnEmptyValueIsRefusedNamingTheOption) {
  const fs::path out = fs::temp_directory_path() / ("cxr_cli_empty_" + std::to_string(::getpid()));
  for (const auto& [args, message] :
       {std::pair<std::string, std::string>{"synth --small --out ''", "cxrnet synth: --out was given an empty value\n"},
        {"evaluate --run ''", "cxrnet evaluate: --run was given an empty value\n"},
        {"evaluate --run '" + out.string() + "' --out ''", "cxrnet evaluate: --out was given an empty value\n"}}) {
    const Result r = run_cxrnet(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.err, message) << args;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(Cli, RunCommandsMapErrorsToExitCodes) {
  const Result missing = run_cxrnet("evaluate --run /nonexistent/run");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("cxrnet: /nonexistent/run: no such run folder"), std::string::npos) << missing.err;

  const auto& trained = testing::trained_run();
  const fs::path bad = trained.root / "cli-broken.png";
  std::ofstream(bad) << "not an image";
  const Result unreadable = run_cxrnet("predict --run '" + trained.run.string() + "' '" + bad.string() + "'");
  EXPECT_EQ(unreadable.code, 2);
  EXPECT_NE(unreadable.err.find(bad.string() + ": not a JPEG or PNG"), std::string::npos) << unreadable.err;

  const fs::path image = trained.data / "test" / "NORMAL" / "IM-0001-0001.jpeg";
  const Result ok = run_cxrnet("predict --run '" + trained.run.string() + "' '" + image.string() + "'");
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out.rfind("path,probability,label\n" + image.string() + ",", 0), 0u) << ok.out;

  // --threads is accepted after the command, and the CPU kernels give the same result on 1 and 3
  // threads (kernels/cpu/parallel.h: the convolutions never split by thread count).
  const std::string folder = "'" + (trained.data / "test").string() + "'";
  const Result one = run_cxrnet("predict --threads 1 --run '" + trained.run.string() + "' " + folder);
  const Result three = run_cxrnet("predict --run '" + trained.run.string() + "' " + folder + " --threads 3");
  EXPECT_EQ(one.code, 0) << one.err;
  EXPECT_EQ(three.code, 0) << three.err;
  EXPECT_GT(one.out.size(), 100u);
  EXPECT_EQ(one.out, three.out);
}

}  // namespace
}  // namespace cxr
