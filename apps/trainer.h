// model.fit and model.evaluate as Keras runs them for the notebook (facts §6): per-epoch training
// loss and accuracy as sample-weighted means computed before each update, then validation in
// inference mode.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "apps/experiment_config.h"
#include "apps/feature_cache.h"
#include "data/loader.h"
#include "engine/epoch_sums.h"
#include "engine/optimizer.h"
#include "layers/model.h"

namespace cxr {

struct EpochResult {
  int epoch = 0;  // 1-based
  double loss = 0, accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  bool has_validation = false;
  int steps = 0;
  double seconds = 0;
  double seconds_after_first_step = 0;  // from the end of step 1 to the end of the epoch (validation included)
  double seconds_per_step = 0;          // Keras's estimate, set by run_training (keras_seconds_per_step)
  double learning_rate = 0;  // the optimizer's during this epoch
};

// Reported after each training step, for a live progress bar. Reading the running sums waits for
// the GPU on CUDA: read them only when a redraw is due.
struct StepProgress {
  int step = 0, steps = 0;  // 1-based step, and the epoch's number of steps
  const EpochSums* sums = nullptr;
  int64_t seen = 0;  // samples so far this epoch
};

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::vector<float> probabilities;  // P(class 1) per image, in data order
  std::vector<int> labels;
};

class Trainer {
 public:
  Trainer(Model& model, const ExperimentConfig& config);

  EpochResult train_epoch(int epoch, const data::LoadedImages& train, const data::LoadedImages* validation);
  Evaluation evaluate(const data::LoadedImages& images);  // inference mode, no augmentation, data order
  const Optimizer& optimizer() const { return *optimizer_; }
  Optimizer& optimizer() { return *optimizer_; }  // a schedule sets its rate; a resume, its state
  void set_step_callback(std::function<void(const StepProgress&)> on_step) { on_step_ = std::move(on_step); }
  // The class folders in label order: a class_weight map names them (balanced works without).
  void set_class_names(std::vector<std::string> names) { class_names_ = std::move(names); }
  // Resolves train.class_weight from the training labels now (else the first epoch does): a map that
  // names a class the data lacks is then refused before anything is written.
  void resolve_class_weights(const std::vector<int>& train_labels);
  // The frozen-prefix feature cache (apps/feature_cache.h), on by default; replacing the options
  // drops what was cached.
  void set_feature_cache(FeatureCacheOptions options);
  const FeatureCache& feature_cache() const { return *feature_cache_; }

 private:
  // Runs `step` on every batch of `order` (batches of the configured size, the last one partial);
  // in training, with augmentation and the batch order shuffled as Keras's fit does.
  void for_each_batch(const data::LoadedImages& images, const std::vector<int>& order, bool training, int epoch,
                      const std::function<void(const Tensor& x, const Tensor& y, int count)>& step);

  Model& model_;
  const ExperimentConfig& config_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<FeatureCache> feature_cache_;
  std::function<void(const StepProgress&)> on_step_;
  std::vector<std::string> class_names_;
  std::vector<double> class_weights_;  // per label, resolved from the training labels on first use; empty: none
};

}  // namespace cxr
