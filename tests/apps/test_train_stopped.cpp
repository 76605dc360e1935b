// A fresh `cxrnet train` stopped by SIGINT or SIGTERM before its first files (here: while it loads
// its data) gives its run folder back: the default runs/<name>-<time> goes, a folder named with --out
// that existed empty is empty again, and the process still ends by the signal. It used to leave the
// folder holding only its hidden claim marker, under a timestamped name no command reuses.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "data/synth.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

class TrainStopped : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("cxr_train_stopped_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    data::write_synthetic_dataset({.out_dir = (root_ / "data").string(), .train_normal = 12, .train_pneumonia = 12,
                                   .test_normal = 2, .test_pneumonia = 2, .min_size = 160, .max_size = 200});
    // An epoch of a few hundred milliseconds after the data is loaded: the window the signal is sent in.
    std::ofstream(root_ / "slow.yaml") << "name: slow\n"
                                          "data: {image_size: 160, batch_size: 8}\n"
                                          "model:\n"
                                          "  input: [160, 160, 3]\n"
                                          "  layers:\n"
                                          "    - {type: Conv2D, filters: 32, kernel: 7}\n"
                                          "    - {type: Flatten}\n"
                                          "    - {type: Dense, units: 1}\n"
                                          "    - {type: Activation, activation: sigmoid}\n"
                                          "train: {optimizer: {type: Adam, learning_rate: 0.001}, epochs: 1}\n";
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // Runs `cxrnet train` in `cwd` with `out_args`, sends `signal` once it reports the training images
  // found (on stderr, unbuffered), and returns its wait status. *lost_race: the first epoch's files
  // were written before the signal came (a very slow machine), so the run said nothing of the claim.
  static int train_and_stop(const fs::path& cwd, const std::string& out_args, int signal, bool* lost_race,
                            const fs::path& run_dir_if_named = {}) {
    int err[2];
    EXPECT_EQ(::pipe(err), 0);
    const std::string config = (root_ / "slow.yaml").string(), data_dir = (root_ / "data").string();
    const pid_t child = ::fork();
    if (child == 0) {
      ::signal(SIGINT, SIG_DFL);  // as in a terminal: a test runner may start its tests ignoring it
      ::signal(SIGTERM, SIG_DFL);
      if (::chdir(cwd.c_str()) != 0) ::_exit(120);
      ::dup2(err[1], 2);
      ::close(err[0]);
      const std::string command = std::string("exec '") + CXR_CLI_PATH + "' train --threads 1 --config '" + config +
                                  "' --data '" + data_dir + "' " + out_args + " > /dev/null";
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(121);
    }
    ::close(err[1]);
    std::string seen;
    char buffer[512];
    ssize_t n;
    while (seen.find("Found ") == std::string::npos && (n = ::read(err[0], buffer, sizeof buffer)) > 0)
      seen.append(buffer, static_cast<size_t>(n));
    EXPECT_NE(seen.find("Found "), std::string::npos) << seen;
    ::kill(child, signal);
    while (::read(err[0], buffer, sizeof buffer) > 0) {
    }
    ::close(err[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    // Written at the end of epoch 1: the signal came too late to test anything.
    const fs::path probe = run_dir_if_named.empty() ? fs::path() : run_dir_if_named / "config.yaml";
    *lost_race = !probe.empty() && fs::exists(probe);
    if (run_dir_if_named.empty() && fs::exists(cwd / "runs"))
      for (const auto& entry : fs::directory_iterator(cwd / "runs"))
        if (fs::exists(entry.path() / "config.yaml")) *lost_race = true;
    return status;
  }

  static inline fs::path root_;
};

TEST_F(TrainStopped, BeforeItsFirstFilesTheDefaultRunFolderGoes) {
  for (const int signal : {SIGINT, SIGTERM}) {
    const fs::path cwd = root_ / ("default-" + std::to_string(signal));
    int attempt = 0;
    for (; attempt < 3; ++attempt) {
      fs::remove_all(cwd);
      fs::create_directories(cwd);
      bool lost_race = false;
      const int status = train_and_stop(cwd, "", signal, &lost_race);
      if (lost_race) continue;
      ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
      EXPECT_EQ(WTERMSIG(status), signal);
      ASSERT_TRUE(fs::is_directory(cwd / "runs"));  // the parent folder made for it stays
      EXPECT_TRUE(fs::is_empty(cwd / "runs")) << fs::directory_iterator(cwd / "runs")->path();
      break;
    }
    EXPECT_LT(attempt, 3) << "each of 3 runs wrote its first files before the signal came";
  }
}

TEST_F(TrainStopped, BeforeItsFirstFilesANamedEmptyFolderIsEmptyAgain) {
  const fs::path out = root_ / "named";
  int attempt = 0;
  for (; attempt < 3; ++attempt) {
    fs::remove_all(out);
    fs::create_directories(out);
    bool lost_race = false;
    const int status = train_and_stop(root_, "--out '" + out.string() + "'", SIGTERM, &lost_race, out);
    if (lost_race) continue;
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGTERM);
    ASSERT_TRUE(fs::is_directory(out));  // the user's folder stays, as it was
    EXPECT_TRUE(fs::is_empty(out)) << fs::directory_iterator(out)->path();
    break;
  }
  EXPECT_LT(attempt, 3) << "each of 3 runs wrote its first files before the signal came";
}

}  // namespace
}  // namespace cxr
