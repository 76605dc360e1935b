// Cached features of a model's frozen prefix (issue 6): when the leading layers of a model have no
// trainable parameters and behave the same in training as in inference (a frozen ResNet50V2 whose
// BatchNorms run in inference mode, Rescaling, pooling, a frozen Dense, ...), their output for an
// image never changes, so it is computed once and later passes run only the remaining layers.
//
//   - Validation and test sets: always cached (inference mode, no augmentation).
//   - The training set: cached only when the config sets no augmentation option; augmented images
//     differ every epoch, so training then runs the whole model each step.
//   - A Dropout ends the prefix even when frozen: Keras's Dropout ignores `trainable` and still
//     drops in training (facts §3). So does a BatchNormalization whose layer and gamma are both
//     trainable (it would use batch statistics), any layer with a trainable parameter, and any layer
//     type not known to be deterministic. The last layer is never cached (it gives the logits).
//   - Features live on the host as one float tensor per image set, computed in batches of the
//     config's batch size in data order (the same batches the uncached evaluation, and unshuffled
//     training, feed the prefix), and are gathered per batch by the epoch's index order.
//   - A set whose features would push the cache past `max_bytes` is not cached (logged once).
//
// The cache assumes the prefix's weights do not change while the trainer lives (they are frozen;
// loading new weights into the model needs a new Trainer). `CXR_FEATURE_CACHE=0` in the
// environment turns it off (to time or compare against the uncached path).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "apps/experiment_config.h"
#include "data/loader.h"
#include "layers/model.h"

namespace cxr {

// How many leading layers of `model` may be cached (0: none), by the rule above; at most
// layers.size() - 1, and 0 when those layers hold no parameter at all (nothing costly to skip).
size_t cacheable_prefix_length(const Model& model);

// "input..resnet50v2..global_average_pooling2d..dense" for the first `length` layers (long
// prefixes elide their middle).
std::string describe_prefix(const Model& model, size_t length);

struct FeatureCacheOptions {
  bool enabled = true;
  size_t max_bytes = size_t{2} << 30;  // 2 GiB for all cached image sets together
};

class FeatureCache {
 public:
  // Reads CXR_FEATURE_CACHE from the environment ("0" disables) on top of `options`.
  FeatureCache(Model& model, const ExperimentConfig& config, FeatureCacheOptions options = {});
  ~FeatureCache();
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;

  size_t prefix_length() const { return prefix_; }  // 0 when nothing is cacheable or caching is off
  bool caches_training() const { return prefix_ > 0 && !augmented_; }
  size_t floats_per_image() const { return floats_per_image_; }
  size_t bytes_cached() const { return bytes_; }
  // Whether the features of `images` are held now (tests).
  bool holds(const data::LoadedImages& images) const;

  // Runs `step(features, labels, count)` on every batch of `order` as the trainer's for_each_batch
  // would, with the prefix's outputs in place of the images: in training the batch order is
  // shuffled per epoch exactly as there (Keras's fit), in evaluation it is data order. The tensors
  // are on the model's device. Computes the features of `images` on first use. Returns false (and
  // calls nothing) when this pass cannot use the cache: nothing cacheable, caching off, a training
  // pass with augmentation, or a set over the size cap. The log line saying what is cached is
  // printed to `log` on the first call that caches.
  bool for_each_batch(const data::LoadedImages& images, const std::vector<int>& order, bool training, int epoch,
                      const std::function<void(const Tensor& x, const Tensor& y, int count)>& step,
                      std::ostream& log);

 private:
  struct Entry;
  Entry* find_or_compute(const data::LoadedImages& images, std::ostream& log);

  Model& model_;
  const ExperimentConfig& config_;
  FeatureCacheOptions options_;
  size_t prefix_ = 0;
  bool augmented_ = false;
  Shape feature_shape_;  // the prefix's output per image
  size_t floats_per_image_ = 0;
  size_t bytes_ = 0;
  bool announced_ = false;
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace cxr
