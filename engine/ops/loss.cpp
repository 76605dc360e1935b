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
  CXR_CHECK(device.is_cpu(), "bce_with_logits: no CUDA kernel yet; run on --device cpu");
  const float value = kernels::cpu::bce_logits_forward(logits.numel(), logits.data(), targets.data());
  Tensor loss = Tensor::full({1}, value, device, "loss");
  record(loss, "bce_with_logits", {logits, targets}, [z = logits.detach(), y = targets.detach()](const Tensor& g) {
    Tensor dz = Tensor::empty(z.shape(), z.device(), "bce_dz");
    kernels::cpu::bce_logits_backward(z.numel(), z.data(), y.data(), g.item(), dz.data());
    return std::vector<Tensor>{dz, Tensor()};  // targets get no gradient
  });
  return loss;
}

}  // namespace cxr
