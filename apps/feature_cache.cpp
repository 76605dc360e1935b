#include "apps/feature_cache.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <string_view>

#include "data/batch.h"
#include "engine/autograd.h"
#include "engine/error.h"

namespace cxr {

namespace {

// Layers whose forward pass is the same function in training and inference once they have no
// trainable parameter. Deliberately a list: a new layer type is not cached until it is added here.
bool deterministic_when_frozen(const Layer& layer) {
  const std::string_view type = layer.class_name();
  if (type == "Dropout") return false;  // drops in training even when frozen (Keras, facts §3)
  // A top-level BatchNormalization runs in inference mode when the layer or its gamma is frozen
  // (layers/batch_normalization.cpp), the ResNet's inner ones' rule.
  if (type == "BatchNormalization") return !layer.trainable || !layer.parameters()[0].trainable;
  // ResNet50V2: a BN inside runs in inference mode when the layer or that BN's gamma is frozen,
  // which holds for every BN once no parameter is trainable.
  return type == "Functional" || type == "Conv2D" || type == "Dense" || type == "Activation" || type == "Flatten" ||
         type == "GlobalAveragePooling2D" || type == "MaxPooling2D" || type == "Rescaling" || type == "ZeroPadding2D";
}

// Identifies an image set beyond its address: a set destroyed and another built at the same
// address (as tests do) must not hit the old features.
uint64_t fingerprint(const data::LoadedImages& images) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(&images.height, sizeof images.height);
  mix(&images.width, sizeof images.width);
  mix(&images.channels, sizeof images.channels);
  mix(images.labels.data(), images.labels.size() * sizeof(int));
  for (const std::string& f : images.files) mix(f.data(), f.size() + 1);
  // A sample of the pixels: 4096 bytes spread over the buffer.
  const size_t n = images.pixels.size();
  const size_t stride = std::max<size_t>(1, n / 4096);
  for (size_t i = 0; i < n; i += stride) mix(&images.pixels[i], 1);
  return h;
}

}  // namespace

size_t cacheable_prefix_length(const Model& model) {
  size_t k = 0;
  while (k + 1 < model.layers.size()) {
    const Layer& layer = *model.layers[k];
    if (layer.trainable_parameter_count() != 0 || !deterministic_when_frozen(layer)) break;
    ++k;
  }
  // A prefix without parameters (a Rescaling, a padding) is cheap to recompute: caching its large
  // output would only cost memory.
  int64_t parameters = 0;
  for (size_t i = 0; i < k; ++i) parameters += model.layers[i]->parameter_count();
  return parameters > 0 ? k : 0;
}

std::string describe_prefix(const Model& model, size_t length) {
  std::string s = "input";
  for (size_t i = 0; i < length; ++i) {
    if (length > 5 && i == 2) {
      s += "..(" + std::to_string(length - 3) + " more)";
      i = length - 2;
      continue;
    }
    s += ".." + model.layers[i]->name;
  }
  return s;
}

struct FeatureCache::Entry {
  const data::LoadedImages* images = nullptr;
  const uint8_t* pixels = nullptr;
  size_t count = 0;
  uint64_t fingerprint = 0;
  bool cached = false;  // false: over the cap, remembered so it is not retried every epoch
  Tensor features;      // [N, feature shape...] on the host
  std::vector<float> labels;
};

FeatureCache::FeatureCache(Model& model, const ExperimentConfig& config, FeatureCacheOptions options)
    : model_(model), config_(config), options_(options) {
  if (const char* env = std::getenv("CXR_FEATURE_CACHE"); env && std::string_view(env) == "0") options_.enabled = false;
  augmented_ = !(config.data.augment == AugmentConfig{});
  if (!options_.enabled) return;
  prefix_ = cacheable_prefix_length(model);
  if (prefix_ == 0) return;
  feature_shape_ = model.layers[prefix_ - 1]->output_shape;
  floats_per_image_ = static_cast<size_t>(numel_of(feature_shape_));
}

FeatureCache::~FeatureCache() = default;

bool FeatureCache::holds(const data::LoadedImages& images) const {
  for (const auto& e : entries_)
    if (e->cached && e->images == &images && e->pixels == images.pixels.data() && e->count == images.size() &&
        e->fingerprint == fingerprint(images))
      return true;
  return false;
}

FeatureCache::Entry* FeatureCache::find_or_compute(const data::LoadedImages& images, std::ostream& log) {
  const uint64_t fp = fingerprint(images);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    Entry& e = **it;
    if (e.images != &images) continue;
    if (e.pixels == images.pixels.data() && e.count == images.size() && e.fingerprint == fp) return &e;
    // The same address now holds other images: forget the stale features.
    if (e.cached) bytes_ -= e.features.numel() * sizeof(float);
    entries_.erase(it);
    break;
  }
  auto entry = std::make_unique<Entry>();
  Entry& e = *entry;
  e.images = &images;
  e.pixels = images.pixels.data();
  e.count = images.size();
  e.fingerprint = fp;
  const size_t bytes = e.count * floats_per_image_ * sizeof(float);
  if (bytes_ + bytes > options_.max_bytes) {
    log << "feature cache: not caching the prefix features of " << e.count << " images (" << bytes
        << " bytes would pass the cap of " << options_.max_bytes << " bytes); these passes run the whole model\n";
    entries_.push_back(std::move(entry));
    return &e;
  }
  if (!announced_) {
    announced_ = true;
    log << "caching the frozen prefix " << describe_prefix(model_, prefix_) << ": " << floats_per_image_
        << " floats per image, train: " << (augmented_ ? "no (augmented)" : "yes") << ", validation/test: yes\n";
  }

  // The prefix's outputs in inference mode (identical to training mode for these layers), in
  // batches of the configured size in data order, through the same fill_batch as the trainer.
  NoGrad no_grad;
  Shape full{static_cast<int64_t>(e.count)};
  full.insert(full.end(), feature_shape_.begin(), feature_shape_.end());
  e.features = Tensor::empty(full, Device::cpu(), "cached_features");
  e.labels.resize(e.count);
  const int n = static_cast<int>(e.count), batch = config_.data.batch_size;
  std::vector<int> indices(e.count);
  for (int i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  const ForwardContext context{false, config_.train.seed, 0};
  for (int start = 0; start < n; start += batch) {
    const int count = std::min(batch, n - start);
    Tensor x = Tensor::empty({count, images.height, images.width, images.channels}, Device::cpu(), "batch_images");
    data::fill_batch(images, indices.data() + start, count, static_cast<float>(config_.data.rescale), nullptr,
                     config_.train.seed, 0, x.data(), e.labels.data() + start);
    if (!model_.device().is_cpu()) x = x.to(model_.device());
    Tensor h = model_.forward_range(0, prefix_, x, context);
    if (!h.device().is_cpu()) h = h.to(Device::cpu());
    CXR_CHECK(static_cast<size_t>(h.numel()) == static_cast<size_t>(count) * floats_per_image_,
              "feature cache: the prefix gave " << h.describe() << " for " << count << " images");
    std::memcpy(e.features.data() + static_cast<size_t>(start) * floats_per_image_, h.data(),
                static_cast<size_t>(h.numel()) * sizeof(float));
  }
  e.cached = true;
  bytes_ += bytes;
  entries_.push_back(std::move(entry));
  return &e;
}

bool FeatureCache::for_each_batch(const data::LoadedImages& images, const std::vector<int>& order, bool training,
                                  int epoch, const std::function<void(const Tensor&, const Tensor&, int)>& step,
                                  std::ostream& log) {
  if (prefix_ == 0 || (training && augmented_) || images.size() == 0) return false;
  const Entry* e = find_or_compute(images, log);
  if (!e->cached) return false;
  // As Trainer::for_each_batch: batch k holds order[b*batch ..] for b = batch_order[k]; in training
  // the batch order is reshuffled every epoch (Keras's fit), the last batch is partial.
  const int n = static_cast<int>(order.size()), batch = config_.data.batch_size;
  const int batches = data::num_batches(n, batch);
  const std::vector<int> batch_order = data::fit_batch_order(batches, training, config_.train.seed, epoch);
  const size_t f = floats_per_image_;
  for (int k = 0; k < batches; ++k) {
    const int first = batch_order[static_cast<size_t>(k)] * batch;
    const int count = std::min(batch, n - first);
    Shape shape{count};
    shape.insert(shape.end(), feature_shape_.begin(), feature_shape_.end());
    Tensor x = Tensor::empty(shape, Device::cpu(), "batch_features");
    Tensor y = Tensor::empty({count, 1}, Device::cpu(), "batch_labels");
    for (int j = 0; j < count; ++j) {
      const size_t i = static_cast<size_t>(order[static_cast<size_t>(first + j)]);
      std::memcpy(x.data() + static_cast<size_t>(j) * f, e->features.data() + i * f, f * sizeof(float));
      y.data()[j] = e->labels[i];
    }
    if (model_.device().is_cpu()) {
      step(x, y, count);
    } else {
      step(x.to(model_.device()), y.to(model_.device()), count);
    }
  }
  return true;
}

}  // namespace cxr
