#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/loss.h"

namespace cxr {

Tensor bce_with_logits(const Tensor& logits, const Tensor& targets) {
  const Device device = common_device("bce_with_logits", {&logits, &targets});
  CXR_CHECK(logits.numel() == targets.numel(), "bce_with_logits: logits " << logits.describe() << " and targets "
                                                                          << targets.describe() << " differ in size");
  CXR_CHECK(logits.numel() > 0, "bce_with_logits: empty batch " << logits.describe());
  // On CUDA the loss is written to device memory and the backward reads its scale from there: a
  // training step never waits for the GPU. The CPU kernel returns the value (reading it is free).
  Tensor loss;
  if (device.is_cpu()) {
    loss = Tensor::full({1}, kernels::cpu::bce_logits_forward(logits.numel(), logits.data(), targets.data()), device,
                        "loss");
  } else {
    loss = Tensor::empty({1}, device, "loss");
#ifdef CXR_WITH_CUDA
    kernels::cuda::bce_logits_forward(logits.numel(), logits.data(), targets.data(), loss.data());
#endif
  }
  record(loss, "bce_with_logits", {logits, targets}, [z = logits.detach(), y = targets.detach()](const Tensor& g) {
    Tensor dz = Tensor::empty(z.shape(), z.device(), "bce_dz");
    if (z.device().is_cpu()) {
      kernels::cpu::bce_logits_backward(z.numel(), z.data(), y.data(), g.item(), dz.data());
    } else {
#ifdef CXR_WITH_CUDA
      kernels::cuda::bce_logits_backward(z.numel(), z.data(), y.data(), g.data(), dz.data());
#endif
    }
    return std::vector<Tensor>{dz, Tensor()};  // targets get no gradient
  });
  return loss;
}

}  // namespace cxr
