#include "apps/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "apps/class_weights.h"
#include "data/batch.h"
#include "data/prefetch.h"
#include "engine/autograd.h"
#include "engine/epoch_sums.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "kernels/loss.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/pinned_staging.h"
#endif

namespace cxr {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Correct predictions in a batch, by Keras's binary_accuracy rule (sigmoid(z) > 0.5, strict).
int64_t correct_count(const Tensor& logits, const Tensor& labels) {
  const std::vector<float> z = logits.to_vector(), y = labels.to_vector();
  return kernels::cpu::binary_accuracy_count(static_cast<int64_t>(z.size()), z.data(), y.data());
}

}  // namespace

Trainer::Trainer(Model& model, const ExperimentConfig& config) : model_(model), config_(config) {
  const OptimizerConfig& o = config.train.optimizer;
  if (o.type == "Adam") {
    optimizer_ = std::make_unique<Adam>(model.trainable_tensors(),
                                        AdamOptions{static_cast<float>(o.learning_rate), static_cast<float>(o.beta_1),
                                                    static_cast<float>(o.beta_2), static_cast<float>(o.epsilon)});
  } else {
    optimizer_ = std::make_unique<SGD>(model.trainable_tensors(), static_cast<float>(o.learning_rate));
  }
  set_feature_cache({});
}

void Trainer::resolve_class_weights(const std::vector<int>& train_labels) {
  if (class_weights_.empty() && !config_.train.class_weight.mode.empty())
    class_weights_ = cxr::resolve_class_weights(config_.train.class_weight, class_names_, train_labels, std::clog);
}

void Trainer::set_feature_cache(FeatureCacheOptions options) {
  feature_cache_ = std::make_unique<FeatureCache>(model_, config_, options);
}

void Trainer::for_each_batch(const data::LoadedImages& images, const std::vector<int>& order, bool training, int epoch,
                             const std::function<void(const Tensor&, const Tensor&, int)>& step) {
  const DataConfig& d = config_.data;
  data::Augment augmentation{d.augment.zoom_range, d.augment.width_shift_range, d.augment.height_shift_range};
  augmentation.rotation_range = d.augment.rotation_range;
  augmentation.horizontal_flip = d.augment.horizontal_flip;
  augmentation.brightness_min = d.augment.brightness_min;
  augmentation.brightness_max = d.augment.brightness_max;
  augmentation.contrast_range = d.augment.contrast_range;
  const bool augment = training && augmentation.any();
  const int n = static_cast<int>(order.size()), batch = d.batch_size;
  const int batches = data::num_batches(n, batch);
  const std::vector<int> batch_order = data::fit_batch_order(batches, training, config_.train.seed, epoch);
  // Two full-size buffers (the worker fills one while the step uses the other) and one for the
  // partial batch, which occurs at most once per pass and so never needs a second buffer. A set
  // smaller than one batch is a single partial batch: no full-size buffers, however large batch_size.
  constexpr int kSlots = 2;
  const Device device = model_.device();
  std::vector<Tensor> xs, ys;
  for (int s = 0; s < kSlots && device.is_cpu() && n >= batch; ++s) {
    xs.push_back(Tensor::empty({batch, images.height, images.width, images.channels}, Device::cpu(), "batch_images"));
    ys.push_back(Tensor::empty({batch, 1}, Device::cpu(), "batch_labels"));
  }
  const int partial = device.is_cpu() ? n % batch : 0;
  Tensor x_partial =
      partial ? Tensor::empty({partial, images.height, images.width, images.channels}, Device::cpu(), "batch_images")
              : Tensor();
  Tensor y_partial = partial ? Tensor::empty({partial, 1}, Device::cpu(), "batch_labels") : Tensor();
#ifdef CXR_WITH_CUDA
  const size_t image_floats = images.image_bytes();
  const auto rows = static_cast<size_t>(std::min(batch, n));  // the largest batch this pass has
  const size_t labels_offset = sizeof(float) * image_floats * rows;  // after the images
  // On CUDA the worker fills a page-locked buffer per slot (images, then labels; a partial batch
  // uses its front) and the step's inputs are uploaded from it asynchronously on the stream, so the
  // copy overlaps the previous step's kernels. The prefetcher frees a slot once the HOST is done with
  // its batch; the stream may still be reading it, so the worker also waits on the slot's upload
  // event before refilling it. Declared before the prefetcher: its worker is joined first.
  std::vector<std::unique_ptr<kernels::cuda::PinnedStaging>> staging;
  for (int s = 0; s < kSlots && device.is_cuda(); ++s)
    staging.push_back(std::make_unique<kernels::cuda::PinnedStaging>(
        device.index, labels_offset + sizeof(float) * rows));
#endif
  auto count_of = [&](int k) { return std::min(batch, n - batch_order[static_cast<size_t>(k)] * batch); };
  // The worker only does the augmentation and copying (fill_batch), which reads `images` and writes
  // the slot's buffers; the model and the step stay on this thread.
  data::BatchPrefetcher prefetch(batches, kSlots, [&](int k, int slot) {
    const int count = count_of(k);
    float* x_out = nullptr;
    float* y_out = nullptr;
    if (device.is_cpu()) {
      x_out = (count == batch ? xs[static_cast<size_t>(slot)] : x_partial).data();
      y_out = (count == batch ? ys[static_cast<size_t>(slot)] : y_partial).data();
    } else {
#ifdef CXR_WITH_CUDA
      kernels::cuda::PinnedStaging& buffer = *staging[static_cast<size_t>(slot)];
      buffer.wait_until_free();
      x_out = static_cast<float*>(buffer.host());
      y_out = static_cast<float*>(static_cast<void*>(static_cast<char*>(buffer.host()) + labels_offset));
#endif
    }
    data::fill_batch(images, order.data() + batch_order[static_cast<size_t>(k)] * batch, count,
                     static_cast<float>(d.rescale), augment ? &augmentation : nullptr, config_.train.seed,
                     static_cast<uint64_t>(epoch), x_out, y_out);
  });
  for (int k = 0; k < batches; ++k) {
    const int slot = prefetch.next(), count = count_of(k);
    if (device.is_cpu()) {
      const Tensor& xb = count == batch ? xs[static_cast<size_t>(slot)] : x_partial;
      const Tensor& yb = count == batch ? ys[static_cast<size_t>(slot)] : y_partial;
      step(xb, yb, count);
    } else {
#ifdef CXR_WITH_CUDA
      // Device tensors come from the caching allocator: steady-state batches allocate nothing.
      Tensor xd = Tensor::empty({count, images.height, images.width, images.channels}, device, "batch_images");
      Tensor yd = Tensor::empty({count, 1}, device, "batch_labels");
      kernels::cuda::PinnedStaging& buffer = *staging[static_cast<size_t>(slot)];
      buffer.upload(xd.data(), 0, sizeof(float) * image_floats * static_cast<size_t>(count));
      buffer.upload(yd.data(), labels_offset, sizeof(float) * static_cast<size_t>(count));
      step(xd, yd, count);
#endif
    }
  }
}

EpochResult Trainer::train_epoch(int epoch, const data::LoadedImages& train, const data::LoadedImages* validation) {
  EpochResult r;
  r.epoch = epoch;
  const auto start = Clock::now();
  auto after_first_step = start;
  const bool on_cpu = model_.device().is_cpu();
  if (!on_cpu && epoch == 1) std::clog << gpu_run_report(model_.device()) << std::flush;
  const KernelChoiceScope kernels(config_.train.kernels.empty()
                                      ? std::nullopt
                                      : std::optional<KernelChoice>(parse_kernel_choice(config_.train.kernels)));
  // Loss and correct counts stay on the GPU until the epoch ends: no step waits for the device.
  EpochSums sums(model_.device());
  int64_t seen = 0;
  const std::vector<int> order =
      data::epoch_order(static_cast<int>(train.labels.size()), config_.data.shuffle, config_.train.seed, epoch);
  const int steps_total = data::num_batches(static_cast<int>(train.labels.size()), config_.data.batch_size);
  r.learning_rate = optimizer_->learning_rate();
  // Keras's class_weight, resolved once from the training labels (validation is never weighted).
  if (class_weights_.empty()) resolve_class_weights(train.labels);
  // With the frozen prefix's features cached (no augmentation), x is the prefix's output.
  bool cached = true;  // the cache calls no step when it declines the pass
  const auto train_step = [&](const Tensor& x, const Tensor& y, int count) {
    const ForwardContext context{true, config_.train.seed, static_cast<uint64_t>(optimizer_->iterations())};
    Tensor logits = cached ? model_.forward_logits_from(feature_cache_->prefix_length(), x, context)
                           : model_.forward_logits(x, context);
    // Class weights scale each sample's loss; binary_accuracy stays unweighted, as Keras 2.8's
    // compiled `metrics` get no sample weights (apps/class_weights.h).
    const Tensor weights = class_weights_.empty() ? Tensor()
                                                  : label_weights(y, static_cast<float>(class_weights_[0]),
                                                                  static_cast<float>(class_weights_[1]));
    Tensor loss = bce_with_logits(logits, y, weights);
    if (on_cpu) {  // reading the loss is free here; on CUDA the check waits for the epoch's sum
      const float loss_value = loss.item();
      CXR_CHECK(std::isfinite(loss_value), "training diverged: loss is " << loss_value << " at epoch " << epoch
                                                                         << ", step " << r.steps + 1);
    }
    sums.add(loss, logits, y, count);  // Keras: mean weighted by batch size
    seen += count;
    loss.backward();
    optimizer_->step();
    optimizer_->zero_grad();
    if (++r.steps == 1) after_first_step = Clock::now();
    if (on_step_) on_step_({r.steps, steps_total, &sums, seen});
  };
  if (!feature_cache_->for_each_batch(train, order, true, epoch, train_step, std::clog)) {
    cached = false;
    for_each_batch(train, order, true, epoch, train_step);
  }
  r.loss = sums.loss_sum() / static_cast<double>(seen);
  CXR_CHECK(std::isfinite(r.loss), "training diverged: the mean loss of epoch " << epoch << " is " << r.loss);
  r.accuracy = static_cast<double>(sums.correct()) / static_cast<double>(seen);
  if (validation && !validation->labels.empty()) {
    const Evaluation v = evaluate(*validation);
    r.val_loss = v.loss;
    r.val_accuracy = v.accuracy;
    r.has_validation = true;
  }
  r.seconds = seconds_since(start);
  r.seconds_after_first_step = std::chrono::duration<double>(Clock::now() - after_first_step).count();
  return r;
}

Evaluation Trainer::evaluate(const data::LoadedImages& images) {
  NoGrad no_grad;
  const KernelChoiceScope kernels(config_.train.kernels.empty()
                                      ? std::nullopt
                                      : std::optional<KernelChoice>(parse_kernel_choice(config_.train.kernels)));
  Evaluation e;
  double loss_sum = 0;
  int64_t correct = 0;
  const std::vector<int> order = data::epoch_order(static_cast<int>(images.labels.size()), false, 0, 0);
  bool cached = true;  // x is the frozen prefix's cached output (the cache calls no step when it declines)
  const auto eval_step = [&](const Tensor& x, const Tensor& y, int count) {
    const ForwardContext context{false, config_.train.seed, 0};
    Tensor logits = cached ? model_.forward_logits_from(feature_cache_->prefix_length(), x, context)
                           : model_.forward_logits(x, context);
    loss_sum += static_cast<double>(bce_with_logits(logits, y).item()) * count;
    correct += correct_count(logits, y);
    for (float p : sigmoid(logits).to_vector()) e.probabilities.push_back(p);
    for (float label : y.to_vector()) e.labels.push_back(label > 0.5f ? 1 : 0);
  };
  if (!feature_cache_->for_each_batch(images, order, false, 0, eval_step, std::clog)) {
    cached = false;
    for_each_batch(images, order, false, 0, eval_step);
  }
  const double n = static_cast<double>(e.labels.size());
  e.loss = n > 0 ? loss_sum / n : 0.0;
  e.accuracy = n > 0 ? static_cast<double>(correct) / n : 0.0;
  return e;
}

}  // namespace cxr
