#include "engine/optimizer.h"

#include "engine/ops/dispatch.h"
#include "kernels/optim.h"

namespace cxr {

void Optimizer::zero_grad() {
  for (Tensor& p : parameters_) p.zero_grad();
}

Adam::Adam(std::vector<Tensor> parameters, const AdamOptions& options)
    : Optimizer(std::move(parameters)), options_(options) {
  for (const Tensor& p : parameters_) {
    m_.push_back(Tensor::zeros(p.shape(), p.device(), p.name() + "/m"));
    v_.push_back(Tensor::zeros(p.shape(), p.device(), p.name() + "/v"));
  }
}

void Adam::step() {
  const int64_t t = iterations_ + 1;  // Keras: local_step = iterations + 1
  const kernels::AdamParams params{options_.learning_rate, options_.beta_1, options_.beta_2, options_.epsilon};
  // CUDA parameters are updated by one fused launch for all of them (kernels/optim.h).
  std::vector<kernels::AdamTensor> on_gpu;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Tensor& p = parameters_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (p.device().is_cpu()) {
      kernels::cpu::adam_update(p.numel(), params, t, p.data(), g.data(), m_[i].data(), v_[i].data());
    } else {
      CXR_CHECK(g.device() == p.device() && m_[i].device() == p.device(),
                "adam: " << p.describe() << ", its gradient and its moments must be on one device");
      on_gpu.push_back({p.data(), g.data(), m_[i].data(), v_[i].data(), p.numel()});
    }
  }
  if (!on_gpu.empty()) {
#ifdef CXR_WITH_CUDA
    kernels::cuda::adam_update_multi(on_gpu.data(), static_cast<int>(on_gpu.size()), params, t);
#else
    throw InputError("this cxrnet was built without CUDA");
#endif
  }
  ++iterations_;
}

void SGD::step() {
  for (Tensor& p : parameters_) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    CXR_DISPATCH(p.device(), sgd_update(p.numel(), lr_, p.data(), g.data()));
  }
  ++iterations_;
}

}  // namespace cxr
