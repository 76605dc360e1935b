// The between-epoch callbacks on hand-made metric sequences, against what Keras 2.8's
// ModelCheckpoint(save_best_only), EarlyStopping and ReduceLROnPlateau do with the same values
// (worked out from keras/callbacks.py by hand in the comments).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "apps/training_callbacks.h"

namespace cxr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Monitor, ModeRuleAndValues) {
  EXPECT_FALSE(monitor_maximizes("val_loss", "auto"));
  EXPECT_FALSE(monitor_maximizes("loss", "auto"));
  EXPECT_TRUE(monitor_maximizes("val_binary_accuracy", "auto"));
  EXPECT_TRUE(monitor_maximizes("binary_accuracy", "auto"));
  EXPECT_TRUE(monitor_maximizes("val_loss", "max"));
  EXPECT_FALSE(monitor_maximizes("val_binary_accuracy", "min"));

  EpochResult r;
  r.loss = 0.5;
  r.accuracy = 0.75;
  EXPECT_EQ(monitored_value(r, "loss"), 0.5);
  EXPECT_EQ(monitored_value(r, "binary_accuracy"), 0.75);
  EXPECT_FALSE(monitored_value(r, "val_loss").has_value());  // no validation this epoch
  r.has_validation = true;
  r.val_loss = 0.25;
  r.val_accuracy = 0.875;
  EXPECT_EQ(monitored_value(r, "val_loss"), 0.25);
  EXPECT_EQ(monitored_value(r, "val_binary_accuracy"), 0.875);
}

// Runs `values` (epochs 1, 2, ...) and returns the epochs that became the best.
std::vector<int> best_epochs(BestEpoch& best, const std::vector<double>& values) {
  std::vector<int> out;
  for (size_t i = 0; i < values.size(); ++i)
    if (best.update(static_cast<int>(i) + 1, values[i])) out.push_back(static_cast<int>(i) + 1);
  return out;
}

TEST(BestEpoch, StrictImprovementOnlyAndNaNNever) {
  BestEpoch min_best(CheckpointConfig{"val_loss", "auto"});
  EXPECT_EQ(best_epochs(min_best, {kNaN, 0.7, 0.7, 0.5, kNaN, 0.6, 0.4}), (std::vector<int>{2, 4, 7}));
  EXPECT_EQ(min_best.state().epoch, 7);
  EXPECT_EQ(min_best.state().best, 0.4);
  BestEpoch max_best(CheckpointConfig{"val_binary_accuracy", "auto"});
  EXPECT_EQ(best_epochs(max_best, {0.5, 0.6, 0.6, 0.55, 0.8}), (std::vector<int>{1, 2, 5}));
  BestEpoch forced_max(CheckpointConfig{"val_loss", "max"});
  EXPECT_EQ(best_epochs(forced_max, {0.5, 0.4, 0.6}), (std::vector<int>{1, 3}));
}

// The epoch at which the run stops (0: never) for `values`, and each epoch's kept-weights epoch.
struct StopRun {
  int stop_epoch = 0;
  std::vector<int> weights_epochs;
};
StopRun run_stopping(const EarlyStoppingConfig& config, const std::vector<double>& values) {
  EarlyStopping stopping(config);
  StopRun run;
  for (size_t i = 0; i < values.size(); ++i) {
    const EarlyStopping::Decision d = stopping.on_epoch_end(static_cast<int>(i) + 1, values[i]);
    run.weights_epochs.push_back(stopping.state().weights_epoch);
    if (d.stop) {
      run.stop_epoch = static_cast<int>(i) + 1;
      break;
    }
  }
  return run;
}

EarlyStoppingConfig stopping_config(const std::string& monitor, int patience, double min_delta) {
  EarlyStoppingConfig config;
  config.enabled = true;
  config.monitor = monitor;
  config.patience = patience;
  config.min_delta = min_delta;
  config.restore_best_weights = true;
  return config;
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  // patience 2: best at 2 (0.9); 3 and 4 fail (wait 1, 2) -> stops at epoch 4, keeps epoch 2.
  const StopRun a = run_stopping(stopping_config("val_loss", 2, 0), {1.0, 0.9, 0.95, 0.92, 0.5});
  EXPECT_EQ(a.stop_epoch, 4);
  EXPECT_EQ(a.weights_epochs, (std::vector<int>{1, 2, 2, 2}));
  // min_delta 0.05: 0.96 and 0.92 are not better than 1.0 and 0.96... by more than 0.05:
  // epoch 2 (0.96 + 0.05 >= 1.0) fails, epoch 3 (0.92 + 0.05 < 1.0) improves, 4 (0.9) fails, 5 fails.
  const StopRun b = run_stopping(stopping_config("val_loss", 2, 0.05), {1.0, 0.96, 0.92, 0.9, 0.89, 0.1});
  EXPECT_EQ(b.stop_epoch, 5);
  EXPECT_EQ(b.weights_epochs, (std::vector<int>{1, 1, 3, 3, 3}));
  // An accuracy maximizes; a later improvement resets the wait.
  const StopRun c = run_stopping(stopping_config("val_binary_accuracy", 2, 0), {0.5, 0.5, 0.6, 0.6, 0.6, 0.9});
  EXPECT_EQ(c.stop_epoch, 5);
  EXPECT_EQ(c.weights_epochs.back(), 3);
}

TEST(EarlyStopping, PatienceZeroNeverStopsAfterTheFirstEpochAndNaNKeepsTheFirst) {
  // Keras checks `epoch > 0`: epoch 1 cannot stop even when it fails (NaN) with patience 0.
  const StopRun a = run_stopping(stopping_config("val_loss", 0, 0), {kNaN, 0.5, 0.6});
  EXPECT_EQ(a.stop_epoch, 2 + 1);
  // No improvement at epoch 1: Keras keeps the first epoch's weights anyway, then epoch 2's.
  EXPECT_EQ(a.weights_epochs, (std::vector<int>{1, 2, 2}));
  const StopRun b = run_stopping(stopping_config("loss", 0, 0), {0.5, 0.4, 0.3, 0.3});
  EXPECT_EQ(b.stop_epoch, 4);
  const StopRun never = run_stopping(stopping_config("loss", 3, 0), {0.5, 0.4, 0.3, 0.31, 0.32, 0.2});
  EXPECT_EQ(never.stop_epoch, 0);
}

TEST(EarlyStopping, StateRoundTripContinuesTheSameSequence) {
  const EarlyStoppingConfig config = stopping_config("val_loss", 2, 0);
  EarlyStopping first(config);
  first.on_epoch_end(1, 1.0);
  first.on_epoch_end(2, 1.1);
  EarlyStopping resumed(config);
  resumed.set_state(first.state());
  EXPECT_FALSE(resumed.on_epoch_end(3, 0.95).stop);  // improves: wait back to 0
  EXPECT_FALSE(resumed.on_epoch_end(4, 0.96).stop);
  EXPECT_TRUE(resumed.on_epoch_end(5, 0.97).stop);
  EXPECT_EQ(resumed.state().stopped_epoch, 5);
  EXPECT_EQ(resumed.state().best_epoch, 3);
}

LrScheduleConfig plateau(int patience, double factor, double min_delta, double min_lr, int cooldown) {
  LrScheduleConfig config;
  config.type = "reduce_on_plateau";
  config.monitor = "val_loss";
  config.patience = patience;
  config.factor = factor;
  config.min_delta = min_delta;
  config.min_lr = min_lr;
  config.cooldown = cooldown;
  return config;
}

// The rate of each epoch when epoch i ends with values[i - 1].
std::vector<float> plateau_rates(LrSchedule& schedule, const std::vector<double>& values) {
  std::vector<float> rates;
  for (size_t i = 0; i < values.size(); ++i) {
    rates.push_back(schedule.lr_for_epoch(static_cast<int>(i) + 1, 100));
    schedule.on_epoch_end(static_cast<int>(i) + 1, values[i]);
  }
  rates.push_back(schedule.lr_for_epoch(static_cast<int>(values.size()) + 1, 100));
  return rates;
}

TEST(LrSchedule, ReduceOnPlateauWithPatienceCooldownAndFloor) {
  // patience 2, factor 0.5, cooldown 1, min_lr 0.02, start 0.1, every epoch ending at 1.0:
  //   1: best   2: wait 1   3: wait 2 -> 0.05, cooldown 1
  //   4: the cooldown ends (counter 1 -> 0, wait 0); out of it, the epoch counts: wait 1
  //   5: wait 2 -> 0.025, cooldown 1   6: cooldown ends, wait 1   7: wait 2 -> max(0.0125, 0.02)
  //   8, 9, ...: at the floor (0.02 is not above min_lr): no change
  LrSchedule schedule(plateau(2, 0.5, 1e-4, 0.02, 1), 0.1);
  const std::vector<float> rates = plateau_rates(schedule, std::vector<double>(12, 1.0));
  const auto f = [](double v) { return static_cast<float>(v); };
  const float r0 = 0.1f, r1 = f(double(r0) * 0.5), r2 = f(double(r1) * 0.5), floor = 0.02f;
  EXPECT_EQ(rates, (std::vector<float>{r0, r0, r0, r1, r1, r2, r2, floor, floor, floor, floor, floor, floor}));
}

TEST(LrSchedule, PlateauMinDeltaAndImprovementResetTheWait) {
  // min_delta 0.1: 0.95 does not improve on 1.0 by more than 0.1, 0.85 does.
  LrSchedule schedule(plateau(1, 0.1, 0.1, 0, 0), 0.001);
  const std::vector<float> rates = plateau_rates(schedule, {1.0, 0.95, 0.85, 0.8, 0.1});
  const float r0 = 0.001f, r1 = static_cast<float>(double(r0) * 0.1), r2 = static_cast<float>(double(r1) * 0.1);
  // 1 best; 2 fails -> r1; 3 improves; 4 fails -> r2; 5 improves.
  EXPECT_EQ(rates, (std::vector<float>{r0, r0, r1, r1, r2, r2}));
  // A resumed schedule continues from its state.
  LrSchedule resumed(plateau(1, 0.1, 0.1, 0, 0), 0.001);
  resumed.set_state(schedule.state());
  EXPECT_EQ(resumed.lr_for_epoch(6, 100), r2);
  EXPECT_TRUE(resumed.on_epoch_end(6, 0.5));
  EXPECT_EQ(resumed.lr_for_epoch(7, 100), static_cast<float>(double(r2) * 0.1));
}

TEST(LrSchedule, CosineWithWarmupAndConstant) {
  LrScheduleConfig cosine;
  cosine.type = "cosine";
  cosine.min_lr = 0.01;
  cosine.warmup_epochs = 2;
  const LrSchedule schedule(cosine, 0.1);
  // Warm-up: 0.1 * 1/2, 0.1 * 2/2; then 8 decay epochs: 0.01 + 0.09 * (1 + cos(pi * k / 8)) / 2.
  EXPECT_EQ(schedule.lr_for_epoch(1, 10), 0.05f);
  EXPECT_EQ(schedule.lr_for_epoch(2, 10), 0.1f);
  for (int k = 0; k < 8; ++k) {
    const double expected = 0.01 + 0.09 * (1 + std::cos(std::numbers::pi * k / 8)) / 2;
    EXPECT_FLOAT_EQ(schedule.lr_for_epoch(3 + k, 10), static_cast<float>(expected)) << k;
  }
  EXPECT_FLOAT_EQ(schedule.lr_for_epoch(7, 10), 0.055f);  // halfway: cos(pi/2) = 0
  EXPECT_GT(schedule.lr_for_epoch(10, 10), 0.01f);
  LrScheduleConfig no_warmup = cosine;
  no_warmup.warmup_epochs = 0;
  no_warmup.min_lr = 0;
  EXPECT_EQ(LrSchedule(no_warmup, 0.1).lr_for_epoch(1, 4), 0.1f);
  EXPECT_FLOAT_EQ(LrSchedule(no_warmup, 0.1).lr_for_epoch(3, 4), 0.05f);
  EXPECT_EQ(LrSchedule(LrScheduleConfig{}, 0.003).lr_for_epoch(17, 20), 0.003f);  // no schedule
}

}  // namespace
}  // namespace cxr
