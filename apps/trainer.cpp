#include "apps/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "data/batch.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/loss.h"

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
}

void Trainer::for_each_batch(const data::LoadedImages& images, const std::vector<int>& order, bool training, int epoch,
                             const std::function<void(const Tensor&, const Tensor&, int)>& step) {
  const DataConfig& d = config_.data;
  const data::Augment augmentation{d.augment.zoom_range, d.augment.width_shift_range, d.augment.height_shift_range};
  const bool augment = training && (augmentation.zoom_range > 0 || augmentation.width_shift_range > 0 ||
                                       augmentation.height_shift_range > 0);
  const int n = static_cast<int>(order.size()), batch = d.batch_size;
  const int batches = data::num_batches(n, batch);
  // Keras's fit shuffles the order of a Sequence's batches every epoch even when the generator
  // itself does not shuffle samples (facts §6), so batch k is always the same images but comes
  // at a different point of the epoch.
  const std::vector<int> batch_order = training ? data::epoch_order(batches, true, config_.train.seed + 1, epoch)
                                               : data::epoch_order(batches, false, 0, 0);
  Tensor x = Tensor::empty({batch, images.height, images.width, 3}, Device::cpu(), "batch_images");
  Tensor y = Tensor::empty({batch, 1}, Device::cpu(), "batch_labels");
  for (int b : batch_order) {
    const int begin = b * batch, count = std::min(batch, n - begin);
    Tensor xb = count == batch ? x : Tensor::empty({count, images.height, images.width, 3}, Device::cpu(), "batch_images");
    Tensor yb = count == batch ? y : Tensor::empty({count, 1}, Device::cpu(), "batch_labels");
    data::fill_batch(images, order.data() + begin, count, static_cast<float>(d.rescale),
                     augment ? &augmentation : nullptr, config_.train.seed, static_cast<uint64_t>(epoch), xb.data(),
                     yb.data());
    if (model_.device().is_cpu()) {
      step(xb, yb, count);
    } else {
      step(xb.to(model_.device()), yb.to(model_.device()), count);
    }
  }
}

EpochResult Trainer::train_epoch(int epoch, const data::LoadedImages& train, const data::LoadedImages* validation) {
  EpochResult r;
  r.epoch = epoch;
  const auto start = Clock::now();
  auto after_first_step = start;
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  const std::vector<int> order =
      data::epoch_order(static_cast<int>(train.labels.size()), config_.data.shuffle, config_.train.seed, epoch);
  for_each_batch(train, order, true, epoch, [&](const Tensor& x, const Tensor& y, int count) {
    const ForwardContext context{true, config_.train.seed, static_cast<uint64_t>(optimizer_->iterations())};
    Tensor logits = model_.forward_logits(x, context);
    Tensor loss = bce_with_logits(logits, y);
    const float loss_value = loss.item();
    CXR_CHECK(std::isfinite(loss_value), "training diverged: loss is " << loss_value << " at epoch " << epoch
                                                                       << ", step " << r.steps + 1);
    loss_sum += static_cast<double>(loss_value) * count;  // Keras: mean weighted by batch size
    correct += correct_count(logits, y);
    seen += count;
    loss.backward();
    optimizer_->step();
    optimizer_->zero_grad();
    if (++r.steps == 1) after_first_step = Clock::now();
  });
  r.loss = loss_sum / static_cast<double>(seen);
  r.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
  if (validation && !validation->labels.empty()) {
    const Evaluation v = evaluate(*validation);
    r.val_loss = v.loss;
    r.val_accuracy = v.accuracy;
    r.has_validation = true;
  }
  r.seconds = seconds_since(start);
  // Keras's ms/step: time since the end of the first step over the remaining steps, validation included.
  r.seconds_per_step = r.steps > 1 ? std::chrono::duration<double>(Clock::now() - after_first_step).count() / (r.steps - 1)
                                   : r.seconds;
  return r;
}

Evaluation Trainer::evaluate(const data::LoadedImages& images) {
  NoGrad no_grad;
  Evaluation e;
  double loss_sum = 0;
  int64_t correct = 0;
  const std::vector<int> order = data::epoch_order(static_cast<int>(images.labels.size()), false, 0, 0);
  for_each_batch(images, order, false, 0, [&](const Tensor& x, const Tensor& y, int count) {
    const ForwardContext context{false, config_.train.seed, 0};
    Tensor logits = model_.forward_logits(x, context);
    loss_sum += static_cast<double>(bce_with_logits(logits, y).item()) * count;
    correct += correct_count(logits, y);
    for (float p : sigmoid(logits).to_vector()) e.probabilities.push_back(p);
    for (float label : y.to_vector()) e.labels.push_back(label > 0.5f ? 1 : 0);
  });
  const double n = static_cast<double>(e.labels.size());
  e.loss = n > 0 ? loss_sum / n : 0.0;
  e.accuracy = n > 0 ? static_cast<double>(correct) / n : 0.0;
  return e;
}

}  // namespace cxr
