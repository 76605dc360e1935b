#include <gtest/gtest.h>
#include <fcntl.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "apps/plots.h"
#include "engine/error.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

TEST(RocPoints, StepsThroughEveryDistinctScore) {
  // Descending: 0.9(+) 0.8(-) 0.8(+) 0.1(-): the tie at 0.8 moves both rates at once.
  const auto points = roc_points({0.1f, 0.8f, 0.9f, 0.8f}, {0, 0, 1, 1});
  const std::vector<std::pair<double, double>> expected{{0, 0}, {0, 0.5}, {0.5, 1}, {1, 1}};
  EXPECT_EQ(points, expected);
}

TEST(WritePlots, WritesDataAndScriptAndDrawsWhenGnuplotIsThere) {
  const fs::path run = fs::temp_directory_path() / ("cxr_plots_test_" + std::to_string(::getpid()));
  fs::remove_all(run);
  fs::create_directories(run);
  std::ofstream(run / "history.csv") << "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,seconds\n"
                                     << "1,0.9,0.5,0.8,0.6,1.0\n2,0.7,0.6,0.7,0.7,1.0\n";
  std::ostringstream log;
  const bool drawn = write_plots({run, {0.2f, 0.7f, 0.9f, 0.4f}, {0, 1, 1, 0}, {"NORMAL", "PNEUMONIA"}, true}, log);
  for (const char* f : {"plots/plots.gp", "plots/roc.dat", "plots/confusion.dat"}) EXPECT_TRUE(fs::exists(run / f)) << f;
  std::ifstream confusion(run / "plots" / "confusion.dat");
  std::stringstream text;
  text << confusion.rdbuf();
  EXPECT_EQ(text.str(), "0 0 2\n1 0 0\n0 1 0\n1 1 2\n");  // predicted, true, count
  const bool have_gnuplot = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  EXPECT_EQ(drawn, have_gnuplot) << log.str();
  for (const char* png : {"loss.png", "accuracy.png", "roc.png", "confusion_matrix.png"})
    EXPECT_EQ(fs::exists(run / "plots" / png), have_gnuplot) << png;
  if (!have_gnuplot) {
    EXPECT_NE(log.str().find("apt-get install gnuplot-nox"), std::string::npos);
  }
  fs::remove_all(run);
}

// One epoch without validation: a single x and a single loss. gnuplot warned "empty x range" and
// "empty y range" on the command's stderr for each such plot.
TEST(WritePlots, AOneEpochRunDrawsWithoutGnuplotWarnings) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gnuplot";
  const fs::path run = fs::temp_directory_path() / ("cxr_plots_one_epoch_" + std::to_string(::getpid()));
  fs::remove_all(run);
  fs::create_directories(run);
  std::ofstream(run / "history.csv") << "epoch,loss,binary_accuracy,lr,seconds\n1,0.9,0.5,0.001,1.0\n";
  const fs::path err = run / "stderr.txt";
  std::fflush(stderr);
  const int saved = ::dup(2), file = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(saved, 0);
  ASSERT_GE(file, 0);
  ::dup2(file, 2);  // gnuplot inherits the command's stderr
  std::ostringstream log;
  const bool drawn = write_plots({run, {0.2f, 0.7f}, {0, 1}, {"NORMAL", "PNEUMONIA"}, false}, log);
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(file);
  EXPECT_TRUE(drawn) << log.str();
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "");
  fs::remove_all(run);
}

// A fresh run folder with a history, under a name of this process.
fs::path plots_run(const std::string& name) {
  const fs::path run = fs::temp_directory_path() / ("cxr_plots_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(run);
  fs::create_directories(run);
  std::ofstream(run / "history.csv") << "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,seconds\n"
                                     << "1,0.9,0.5,0.8,0.6,1.0\n";
  return run;
}

// The disk fills while roc.dat is written (a file size limit stands for it): an error naming the file, and
// no file cut short.
TEST(WritePlots, AFullDiskWhileWritingTheDataIsAnErrorNamingTheFile) {
  const fs::path run = plots_run("full");
  std::vector<float> scores;
  std::vector<int> labels;
  for (int i = 0; i < 5000; ++i) {  // 5000 distinct scores: a roc.dat of about 90 KB
    scores.push_back(static_cast<float>(i) / 5000);
    labels.push_back(i % 2);
  }
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &limit), 0);
  const rlimit small{16384, limit.rlim_max};
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // else the write past the limit kills this process
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error = "(no error)";
  std::ostringstream log;
  try {
    write_plots({run, scores, labels, {"NORMAL", "PNEUMONIA"}, true}, log);
  } catch (const InputError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(error.find("cannot write " + (run / "plots" / "roc.dat").string() + ": writing"), 0u) << error;
  EXPECT_TRUE(fs::is_empty(run / "plots"));  // neither roc.dat cut short nor its temporary file
  fs::remove_all(run);
}

// Runs write_plots with `script` as gnuplot (a shell script, run in the plots folder).
bool plots_with_fake_gnuplot(const fs::path& run, const std::string& script, std::ostream& log) {
  fs::create_directories(run / "bin");
  std::ofstream(run / "bin" / "gnuplot") << "#!/bin/sh\n" << script;
  fs::permissions(run / "bin" / "gnuplot", fs::perms::owner_all);
  const char* set = std::getenv("PATH");
  const std::string path = set ? set : "/usr/bin:/bin";
  ::setenv("PATH", ((run / "bin").string() + ":" + path).c_str(), 1);
  struct Restore {
    std::string path;
    ~Restore() { ::setenv("PATH", path.c_str(), 1); }
  } restore{path};
  return write_plots({run, {0.2f, 0.7f, 0.9f, 0.4f}, {0, 1, 1, 0}, {"NORMAL", "PNEUMONIA"}, true}, log);
}

// Ctrl-C while gnuplot draws reaches gnuplot, while std::system ignores it in this process: the command
// must stop all the same, saying so, rather than go on and exit 0 without its plots.
TEST(WritePlots, AGnuplotStoppedByCtrlCStopsTheCommand) {
  const fs::path run = plots_run("interrupted");
  const auto old_handler = std::signal(SIGINT, SIG_DFL);  // the child's, as in a terminal (a test runner may ignore it)
  std::ostringstream log;
  try {
    plots_with_fake_gnuplot(run, "printf '\\211PNG' > loss.png\nkill -INT $$\n", log);
    ADD_FAILURE() << "no Interrupted; log:\n" << log.str();
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal, SIGINT);
    EXPECT_EQ(std::string(e.what()), "interrupted: gnuplot was stopped by SIGINT while it drew the plots in " +
                                         (run / "plots").string());
  }
  std::signal(SIGINT, old_handler);
  EXPECT_FALSE(fs::exists(run / "plots" / "loss.png"));  // the PNG it had begun
  fs::remove_all(run);
}

// A SIGINT sent to this process alone (kill -INT PID, not a terminal's Ctrl-C) while gnuplot draws: passed on
// to gnuplot, which stops at once, and the command stops saying so. (Through std::system, which ignores
// SIGINT in the caller while the child runs, it was lost: the command waited for gnuplot and went on.)
TEST(WritePlots, ASigintSentToTheCommandAloneStopsGnuplotAndTheCommand) {
  const fs::path run = plots_run("interrupted-alone");
  std::ostringstream log;
  const auto start = std::chrono::steady_clock::now();
  try {
    plots_with_fake_gnuplot(run, "kill -INT " + std::to_string(::getpid()) + "\nexec sleep 20\n", log);
    ADD_FAILURE() << "no Interrupted; log:\n" << log.str();
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal, SIGINT);
    EXPECT_EQ(std::string(e.what()), "interrupted: gnuplot was stopped by SIGINT while it drew the plots in " +
                                         (run / "plots").string());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "gnuplot was not stopped";
  fs::remove_all(run);
}

// gnuplot exits 0 although a PNG was cut short (the disk filled): not drawn, the PNG removed and named.
TEST(WritePlots, APngCutShortIsRemovedAndNamed) {
  const fs::path run = plots_run("cut");
  std::ostringstream log;
  EXPECT_FALSE(plots_with_fake_gnuplot(run, "printf '\\211PNG\\r\\n\\032\\n' > roc.png\nexit 0\n", log));
  EXPECT_EQ(log.str(), "plots: gnuplot failed (loss.png, accuracy.png, roc.png, confusion_matrix.png not written "
                       "whole: disk full?); the script is " + (run / "plots" / "plots.gp").string() + "\n");
  EXPECT_FALSE(fs::exists(run / "plots" / "roc.png"));
  EXPECT_TRUE(fs::exists(run / "plots" / "roc.dat"));
  fs::remove_all(run);
}

}  // namespace
}  // namespace cxr
