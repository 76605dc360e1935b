// What happens between epochs, as Keras's callbacks do it: remembering the best epoch
// (ModelCheckpoint with save_best_only), EarlyStopping, and the learning-rate schedules
// (ReduceLROnPlateau, cosine). Each keeps its state in a plain struct, so a checkpoint can save it
// and a resumed run continue exactly where the interrupted one was. Epochs are 1-based here.
#pragma once
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "apps/experiment_config.h"
#include "apps/trainer.h"

namespace cxr {

// The value of `monitor` (loss, binary_accuracy, val_loss, val_binary_accuracy) in an epoch's
// results; nullopt for a validation metric of an epoch without validation.
std::optional<double> monitored_value(const EpochResult& epoch, const std::string& monitor);

// Keras's mode rule: max for min/max "max", or "auto" on a name containing "acc"; else min.
bool monitor_maximizes(const std::string& monitor, const std::string& mode);

// ModelCheckpoint(save_best_only=True): an epoch is best when its value is strictly better than
// every earlier epoch's (a NaN never is).
class BestEpoch {
 public:
  struct State {
    double best;    // +inf (min) or -inf (max) before the first epoch
    int epoch = 0;  // 0: none yet
  };
  explicit BestEpoch(const CheckpointConfig& config);
  bool update(int epoch, double value);  // true when `epoch` is the new best
  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  bool maximize_;
  State state_;
};

// Keras's EarlyStopping.on_epoch_end: an improvement is a value better than the best by more
// than min_delta; it resets the wait, anything else adds one to it; the run stops once the wait
// reaches patience, but never after the first epoch nor after an improving one (as tf-keras and
// Keras 3; Keras 2.11 and earlier also stopped on an improving epoch when patience was 0).
// restore_best_weights applies at the end of the run, stopped or not, as in Keras 3 and tf-keras
// >= 2.16 (tf.keras 2.15 and earlier restored only on stopping).
class EarlyStopping {
 public:
  struct State {
    double best;
    int best_epoch = 0;  // 0: none yet
    int wait = 0;
    int stopped_epoch = 0;  // 0: still running
    // The epoch whose weights restore_best_weights keeps: the best one, or (as Keras) the first
    // epoch when none has improved yet (a NaN monitor).
    int weights_epoch = 0;
  };
  struct Decision {
    bool keep_weights = false;  // `epoch` becomes weights_epoch: keep its weights
    bool stop = false;
  };
  explicit EarlyStopping(const EarlyStoppingConfig& config);
  Decision on_epoch_end(int epoch, double value);
  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  EarlyStoppingConfig config_;
  bool maximize_;
  State state_;
};

// The learning rate of each epoch, set on the optimizer before the epoch runs.
//   no schedule:        the optimizer's learning_rate, every epoch.
//   cosine (epoch e of E, base rate r, W warm-up epochs, floor m):
//                       e <= W:  r * e / W                       (linear warm-up, r at epoch W)
//                       e >  W:  m + (r - m) * (1 + cos(pi * (e - W - 1) / (E - W))) / 2
//                       so the first epoch after the warm-up runs at r and the rate falls towards m
//                       (Keras's CosineDecay with decay_steps = E - W, counted in epochs). It follows
//                       the current total E: extending a resumed run stretches the remaining decay.
//   reduce_on_plateau:  Keras 2.8's ReduceLROnPlateau: after `patience` epochs without the monitor
//                       improving by more than min_delta (a cooldown's epochs do not count), the
//                       rate becomes max(rate * factor, min_lr) if it is above min_lr; then
//                       `cooldown` epochs pass before the wait counts again.
// Rates are float, as the optimizer holds them (Keras's float32 variable).
class LrSchedule {
 public:
  struct State {
    float lr = 0;  // reduce_on_plateau: the current rate
    double best;
    int wait = 0;
    int cooldown = 0;  // epochs of cooldown left
  };
  LrSchedule(const LrScheduleConfig& config, double learning_rate);
  float lr_for_epoch(int epoch, int epochs) const;
  // reduce_on_plateau: the epoch's monitored value (other types ignore it). True when it reduced
  // the rate (for the log).
  bool on_epoch_end(int epoch, double value);
  const State& state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  LrScheduleConfig config_;
  double base_lr_;
  bool maximize_ = false;
  State state_;
};

}  // namespace cxr
