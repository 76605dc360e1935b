// The live bar `cxrnet train` draws on a terminal: at most one redraw per interval, Keras's ETA
// estimate, and the epoch line replacing the bar.
#include <gtest/gtest.h>

#include "apps/keras_progress.h"

namespace cxr::report {
namespace {

TEST(LiveProgressBar, RedrawsAtMostOncePerIntervalAndNeverOnTheLastStep) {
  LiveProgressBar bar(10, 0.25);
  std::vector<int> drawn;
  // Steps every 0.1 s: drawn at step 1 (t 0.1), then once 0.25 s have passed since the last draw.
  for (int step = 1; step <= 10; ++step) {
    const double t = 0.1 * step;
    if (bar.due(step, t)) {
      drawn.push_back(step);
      bar.draw(step, t, {});
    }
  }
  EXPECT_EQ(drawn, (std::vector<int>{1, 4, 7}));  // 10 is the epoch line's
}

TEST(LiveProgressBar, EtaFromTheTimeAfterTheFirstStepAndInPlaceRewrite) {
  LiveProgressBar bar(114, 0.25);
  ASSERT_TRUE(bar.due(1, 5.0));  // a slow first step (set-up) does not count in the estimate
  const std::string first = bar.draw(1, 5.0, {{"loss", 0.5}});
  // One step of 5 s, 113 to go: the first estimate is 5 s a step.
  EXPECT_EQ(first, "\r  1/114 [..............................] - ETA: 9:25 - loss: 0.5000");
  ASSERT_FALSE(bar.due(2, 5.1));
  ASSERT_TRUE(bar.due(11, 6.0));
  // (6 - 5) / 10 = 0.1 s a step after step 1: 103 steps left -> 10 s.
  const std::string second = bar.draw(11, 6.0, {{"loss", 0.25}});
  const std::string second_line = " 11/114 [=>............................] - ETA: 10s - loss: 0.2500";
  // Keras's rewrite: back over the previous line, then blanks over the one character it was longer.
  EXPECT_EQ(second, std::string(first.size() - 1, '\b') + "\r" + second_line + " ");
  const std::string epoch_line = "114/114 [==============================] - 16s 100ms/step - loss: 0.2000";
  EXPECT_EQ(bar.finish(epoch_line), std::string(second_line.size(), '\b') + "\r" + epoch_line + "\n");
  EXPECT_TRUE(bar.due(1, 0.01));  // the next epoch starts afresh
}

}  // namespace
}  // namespace cxr::report
