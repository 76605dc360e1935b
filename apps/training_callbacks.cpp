#include "apps/training_callbacks.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace cxr {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double worst(bool maximize) { return maximize ? -kInf : kInf; }

// Keras's monitor_op with min_delta: np.greater(value - delta, best) or np.less(value + delta, best).
// False for a NaN value.
bool improves(double value, double best, double min_delta, bool maximize) {
  return maximize ? value - min_delta > best : value + min_delta < best;
}

}  // namespace

std::optional<double> monitored_value(const EpochResult& epoch, const std::string& monitor) {
  if (monitor == "loss") return epoch.loss;
  if (monitor == "binary_accuracy") return epoch.accuracy;
  CXR_ASSERT(monitor == "val_loss" || monitor == "val_binary_accuracy", "unknown monitor " << monitor);
  if (!epoch.has_validation) return std::nullopt;
  return monitor == "val_loss" ? epoch.val_loss : epoch.val_accuracy;
}

bool monitor_maximizes(const std::string& monitor, const std::string& mode) {
  if (mode == "auto") return monitor.find("acc") != std::string::npos;
  return mode == "max";
}

BestEpoch::BestEpoch(const CheckpointConfig& config)
    : maximize_(monitor_maximizes(config.monitor, config.mode)), state_{worst(maximize_), 0} {}

bool BestEpoch::update(int epoch, double value) {
  if (!improves(value, state_.best, 0, maximize_)) return false;
  state_ = {value, epoch};
  return true;
}

EarlyStopping::EarlyStopping(const EarlyStoppingConfig& config)
    : config_(config), maximize_(monitor_maximizes(config.monitor, config.mode)) {
  state_.best = worst(maximize_);
}

EarlyStopping::Decision EarlyStopping::on_epoch_end(int epoch, double value) {
  Decision decision;
  if (state_.weights_epoch == 0) decision.keep_weights = true;  // Keras: the first epoch's, until one improves
  ++state_.wait;
  if (improves(value, state_.best, config_.min_delta, maximize_)) {
    state_.best = value;
    state_.best_epoch = epoch;
    state_.wait = 0;
    state_.weights_epoch = epoch;
    decision.keep_weights = true;
    return decision;  // an improving epoch never stops the run (tf-keras, Keras 3; 2.11 did with patience 0)
  }
  if (decision.keep_weights) state_.weights_epoch = epoch;
  if (state_.wait >= config_.patience && epoch > 1) {
    state_.stopped_epoch = epoch;
    decision.stop = true;
  }
  return decision;
}

LrSchedule::LrSchedule(const LrScheduleConfig& config, double learning_rate)
    : config_(config), base_lr_(learning_rate) {
  maximize_ = monitor_maximizes(config.monitor, config.mode);
  state_.lr = static_cast<float>(learning_rate);
  state_.best = worst(maximize_);
}

float LrSchedule::lr_for_epoch(int epoch, int epochs) const {
  if (config_.type == "reduce_on_plateau") return state_.lr;
  if (config_.type != "cosine") return static_cast<float>(base_lr_);
  const int warmup = config_.warmup_epochs;
  if (epoch <= warmup) return static_cast<float>(base_lr_ * epoch / warmup);
  const double progress = static_cast<double>(epoch - warmup - 1) / std::max(1, epochs - warmup);
  const double cosine = (1 + std::cos(std::numbers::pi * progress)) / 2;
  return static_cast<float>(config_.min_lr + (base_lr_ - config_.min_lr) * cosine);
}

bool LrSchedule::on_epoch_end(int /*epoch*/, double value) {
  if (config_.type != "reduce_on_plateau") return false;
  if (state_.cooldown > 0) {
    --state_.cooldown;
    state_.wait = 0;
  }
  if (improves(value, state_.best, config_.min_delta, maximize_)) {
    state_.best = value;
    state_.wait = 0;
    return false;
  }
  if (state_.cooldown > 0) return false;
  if (++state_.wait < config_.patience) return false;
  // Keras: float32 old rate times a Python float (in double), the max with min_lr, stored as float32.
  if (!(state_.lr > static_cast<float>(config_.min_lr))) return false;
  state_.lr = static_cast<float>(std::max(static_cast<double>(state_.lr) * config_.factor, config_.min_lr));
  state_.cooldown = config_.cooldown;
  state_.wait = 0;
  return true;
}

}  // namespace cxr
