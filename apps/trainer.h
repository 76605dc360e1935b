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
#include "engine/optimizer.h"
#include "layers/model.h"

namespace cxr {

struct EpochResult {
  int epoch = 0;  // 1-based
  double loss = 0, accuracy = 0;
  double val_loss = 0, val_accuracy = 0;
  bool has_validation = false;
  int steps = 0;
  double seconds = 0, seconds_per_step = 0;
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
};

}  // namespace cxr
