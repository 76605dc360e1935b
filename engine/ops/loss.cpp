#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/loss.h"

namespace cxr {

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weights) {
  const Device device = common_device("bce_with_logits", {&logits, &targets, &weights});
  CXR_CHECK(logits.numel() == targets.numel(), "bce_with_logits: logits " << logits.describe() << " and targets "
                                                                          << targets.describe() << " differ in size");
  CXR_CHECK(!weights.defined() || weights.numel() == logits.numel(),
            "bce_with_logits: weights " << weights.describe() << " need one value per sample of logits "
                                        << logits.describe());
  CXR_CHECK(logits.numel() > 0, "bce_with_logits: empty batch " << logits.describe());
  const float* w = weights.defined() ? weights.data() : nullptr;  // null: unweighted, bit for bit
  // On CUDA the loss is written to device memory and the backward reads its scale from there: a
  // training step never waits for the GPU. The CPU kernel returns the value (reading it is free).
  Tensor loss;
  if (device.is_cpu()) {
    loss = Tensor::full({1}, kernels::cpu::bce_logits_forward(logits.numel(), logits.data(), targets.data(), w), device,
                        "loss");
  } else {
    loss = Tensor::empty({1}, device, "loss");
#ifdef CXR_WITH_CUDA
    kernels::cuda::bce_logits_forward(logits.numel(), logits.data(), targets.data(), loss.data(), w);
#endif
  }
  const Tensor weights_kept = weights.defined() ? weights.detach() : Tensor();
  record(loss, "bce_with_logits", {logits, targets, weights},
         [z = logits.detach(), y = targets.detach(), sw = weights_kept](const Tensor& g) {
           const float* w = sw.defined() ? sw.data() : nullptr;
           Tensor dz = Tensor::empty(z.shape(), z.device(), "bce_dz");
           if (z.device().is_cpu()) {
             kernels::cpu::bce_logits_backward(z.numel(), z.data(), y.data(), g.item(), dz.data(), w);
           } else {
#ifdef CXR_WITH_CUDA
             kernels::cuda::bce_logits_backward(z.numel(), z.data(), y.data(), g.data(), dz.data(), w);
#endif
           }
           return std::vector<Tensor>{dz, Tensor(), Tensor()};  // targets and weights get no gradient
         });
  return loss;
}

Tensor label_weights(const Tensor& labels, float weight0, float weight1) {
  CXR_CHECK(labels.defined(), "label_weights: no labels");
  Tensor w = Tensor::empty(labels.shape(), labels.device(), "sample_weights");
  CXR_DISPATCH(labels.device(), label_weights(labels.numel(), labels.data(), weight0, weight1, w.data()));
  return w;
}

}  // namespace cxr
