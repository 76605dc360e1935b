// Full training checkpoints: everything a run needs to continue after an epoch as if it had never
// stopped, in one safetensors file (written atomically: a crash leaves the old file or the new one).
//
//   tensors   model/<parameter>          every parameter, BatchNorm moving statistics included
//             optimizer/m/<parameter>    Adam's moments, one per trainable parameter (SGD: none)
//             optimizer/v/<parameter>
//             early_stopping/<parameter> the weights early_stopping.restore_best_weights keeps
//                                        (only with that option)
//   metadata  format              cxrnet-checkpoint-v1
//             resolved_yaml       the run's config (config.yaml's text)
//             epochs_completed, next_epoch (where the data resumes: epochs start at their first batch)
//             optimizer, iterations, learning_rate
//             rng                 cxrnet's randomness is counter-based (Philox keyed by the seed, the
//                                 epoch and the optimizer's iteration): the seed and the scheme's name
//                                 are recorded and checked on resume; epoch and iteration restore it
//             train_samples, train_files_hash: the training set the run saw (checked on resume)
//             history             JSON: one row per epoch (numbers as shortest round-trip text)
//             callbacks           JSON: the best epoch, early stopping and schedule states
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "apps/trainer.h"
#include "apps/training_callbacks.h"
#include "engine/optimizer.h"
#include "layers/model.h"

namespace cxr {

inline constexpr const char* kCheckpointFormat = "cxrnet-checkpoint-v1";
// The name of the random-number scheme, recorded so that a future change refuses old checkpoints.
inline constexpr const char* kRngScheme = "philox4x32-10(seed, epoch, iteration)";

struct TrainingState {
  int epochs_completed = 0;
  int64_t iterations = 0;   // the optimizer's
  float learning_rate = 0;  // the optimizer's at the end of the last epoch
  std::uint64_t seed = 0;
  int64_t train_samples = 0;
  std::string train_files_hash;
  std::vector<EpochResult> history;
  BestEpoch::State best;
  EarlyStopping::State early_stopping;
  LrSchedule::State lr_schedule;
  // restore_best_weights: CPU copies of the weights of early_stopping.weights_epoch, by parameter name.
  std::map<std::string, Tensor> early_stopping_weights;
};

// Writes `state` with the model's parameters and the optimizer's state to `path`.
void save_checkpoint(const std::string& path, Model& model, Optimizer& optimizer, const TrainingState& state,
                     const std::string& resolved_yaml);

struct LoadedCheckpoint {
  TrainingState state;
  std::string resolved_yaml;
  std::string optimizer_type;  // Adam | SGD
};

// Reads `path` into the model's parameters and, unless `optimizer` is null, the optimizer's moments
// and iterations. Refuses, naming the file and the tensor, a file of another format, a missing or
// extra tensor, a shape that differs, another optimizer type; nothing is copied unless all match.
// With copy false, only checks that the file would load (a --restore-best run checks its best
// checkpoint before the epochs it adds, not after).
LoadedCheckpoint load_checkpoint(const std::string& path, Model& model, Optimizer* optimizer, bool copy = true);

// The copies restore_best_weights keeps, and putting them back.
std::map<std::string, Tensor> copy_weights(Model& model);
// InputError naming the first parameter that holds a NaN or an infinity, and where. Training checks
// this after every epoch: a finite loss does not prove finite weights (a batch norm's moving
// variance, which the training loss never reads, can overflow float32), and a checkpoint must never
// hold one.
void check_weights_finite(Model& model, int epoch);
void set_weights(Model& model, const std::map<std::string, Tensor>& weights);

// A hash of the training files (paths relative to `root`, labels) in order: a resumed run must
// see the same images in the same order.
std::string files_hash(const std::vector<std::string>& files, const std::vector<int>& labels, const std::string& root);

}  // namespace cxr
