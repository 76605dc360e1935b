// The progress lines against keras 2.8.0's own Progbar, run on a scripted clock by
// tools/fixtures/make_report_fixtures.py (tests/apps/fixtures/report/progbar_*).
#include "apps/keras_progress.h"

#include <gtest/gtest.h>

#include "report_fixtures.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cxr::report {
namespace {

using testing::read_fixture;
using testing::split;

// Python's repr() of a float, "nan" and "inf" included, reads back exactly with strtod.
double parse_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

// One printed update. seconds: since the epoch began ("epoch") or the ETA ("live").
struct Update {
  std::string session, mode;
  double current, target, seconds, per_step;
  Metrics metrics;
  std::string expected;

  std::string format() const {
    return mode == "epoch" ? format_epoch_line(target, seconds, per_step, metrics)
                           : format_progress_bar(int(current), target, seconds, metrics);
  }
};

std::vector<Update> load_updates() {
  std::vector<Update> updates;
  for (const std::string& line : split(read_fixture("progbar_lines.tsv"), '\n')) {
    const auto f = split(line, '\t');
    Update u{f.at(0), f.at(1), parse_double(f.at(2)), parse_double(f.at(3)),
             parse_double(f.at(4)), parse_double(f.at(5)), {}, f.at(7)};
    if (f.at(6) != "-")
      for (const std::string& pair : split(f[6], '|')) {
        const auto eq = pair.find('=');
        u.metrics.emplace_back(pair.substr(0, eq), parse_double(pair.substr(eq + 1)));
      }
    updates.push_back(std::move(u));
  }
  return updates;
}

TEST(KerasProgress, EveryLineMatchesKeras) {
  const auto updates = load_updates();
  ASSERT_GE(updates.size(), 20u);
  for (const Update& u : updates) {
    SCOPED_TRACE(u.session + " " + u.mode + " " + std::to_string(u.current));
    EXPECT_EQ(u.format(), u.expected);
  }
}

TEST(KerasProgress, RewritesTheLineInPlaceLikeKeras) {
  std::map<std::string, std::string> written;
  std::map<std::string, ProgressLine> lines;
  for (const Update& u : load_updates())
    written[u.session] += lines[u.session].update(u.format(), u.mode == "epoch");
  ASSERT_GE(written.size(), 5u);
  for (const auto& [session, bytes] : written) {
    SCOPED_TRACE(session);
    EXPECT_EQ(bytes, read_fixture("progbar_session_" + session + ".txt"));
  }
}

TEST(KerasProgress, NotebookEpochLine) {
  // The seed's epoch 294, all numbers as printed there.
  EXPECT_EQ(format_epoch_line(3662 / 32.0, 49.2, 0.431,
                              {{"loss", 0.3601}, {"binary_accuracy", 0.8359},
                               {"val_loss", 0.2957}, {"val_binary_accuracy", 0.9236}}),
            "114/114 [==============================] - 49s 431ms/step - loss: 0.3601 - "
            "binary_accuracy: 0.8359 - val_loss: 0.2957 - val_binary_accuracy: 0.9236");
}

TEST(KerasProgress, StepTimeIsKerasEstimate) {
  // The notebook's 3662 images: Keras divides the time after step 1 by 3662/32 - 1 = 113.4375, not by
  // the 114 steps that follow the first of 115.
  EXPECT_DOUBLE_EQ(keras_seconds_per_step(3662 / 32.0, 49.2, 48.9), 48.9 / 113.4375);
  // Fewer images than a batch: the epoch's time over the fraction of a batch, more than the epoch.
  EXPECT_DOUBLE_EQ(keras_seconds_per_step(20 / 32.0, 2.0, 1.0), 3.2);
  EXPECT_DOUBLE_EQ(keras_seconds_per_step(1.0, 2.0, 1.0), 2.0);
  EXPECT_THROW(keras_seconds_per_step(0, 1, 1), std::invalid_argument);
}

TEST(KerasProgress, EpochHeader) {
  EXPECT_EQ(format_epoch_header(3, 300), "Epoch 3/300");
  EXPECT_EQ(format_epoch_header(1, 1), "Epoch 1/1");
}

TEST(KerasProgress, NewEpochStartsAFreshLine) {
  ProgressLine line;
  EXPECT_EQ(line.update("abc", false), "\rabc");
  EXPECT_EQ(line.update("de", true), "\b\b\b\rde \n");
  EXPECT_EQ(line.update("f", false), "\rf");
}

}  // namespace
}  // namespace cxr::report
