#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "apps/plots.h"

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

}  // namespace
}  // namespace cxr
