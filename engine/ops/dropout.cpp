#include <cstdint>
#include <memory>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/dropout.h"

namespace cxr {

// CPU: the forward keeps its mask (one byte per element) for the backward, which would otherwise
// draw it again: Philox words are most of dropout's cost there. CUDA custom kernels: the mask is
// recomputed from (seed, stream) in backward, nothing to store (drawing is cheap on the GPU). Vendor (cuDNN, `kernels: vendor`): cuDNN's forward writes its mask into a reserve space that
// the backward must read, so each forward allocates one (a device tensor, its bytes rounded up to
// floats) and the backward closure keeps it. Vendor masks come from cuDNN's RNG (kernels/dropout.h):
// not the CPU's, and not reproducible across a resume.
Tensor dropout(const Tensor& x, float rate, uint64_t seed, uint64_t stream) {
  CXR_CHECK(rate >= 0.0f && rate < 1.0f, "dropout on " << x.describe() << ": rate " << rate << " must be in [0, 1)");
  if (rate == 0.0f) return x;
  Tensor y = Tensor::empty(x.shape(), x.device(), "dropout");
  if (x.device().is_cpu()) {
    const int64_t n = x.numel();
    // Only a graph's backward reads the mask: without one (inference, NoGrad) it is not kept.
    std::shared_ptr<uint8_t[]> keep;
    if (needs_grad({x})) keep = std::make_shared_for_overwrite<uint8_t[]>(static_cast<size_t>(n));
    if (keep) kernels::cpu::dropout_forward_keep(n, rate, seed, stream, x.data(), y.data(), keep.get());
    else kernels::cpu::dropout_forward(n, rate, seed, stream, x.data(), y.data());
    record(y, "dropout", {x}, [rate, keep](const Tensor& g) {
      Tensor dx = Tensor::empty(g.shape(), g.device(), "dropout_dx");
      kernels::cpu::dropout_backward_keep(g.numel(), rate, keep.get(), g.data(), dx.data());
      return std::vector<Tensor>{dx};
    });
    return y;
  }
  const KernelChoice choice = current_kernel_choice();  // backward uses the forward's choice
  size_t reserve_bytes = 0;
  Tensor reserve;
#ifdef CXR_WITH_CUDA
  if (takes_vendor_path(x.device(), choice)) {
    reserve_bytes = kernels::vendor::dropout_reserve_bytes(x.numel());
    if (reserve_bytes > 0) {
      const auto floats = static_cast<int64_t>((reserve_bytes + sizeof(float) - 1) / sizeof(float));
      reserve = Tensor::empty({floats}, x.device(), "dropout_reserve");
    }
  }
#endif
  void* const reserve_ptr = reserve.defined() ? static_cast<void*>(reserve.data()) : nullptr;
  CXR_DISPATCH_VENDOR(x.device(), choice,
                      dropout_forward(x.numel(), rate, seed, stream, x.data(), y.data(), reserve_ptr, reserve_bytes),
                      dropout_forward(x.numel(), rate, seed, stream, x.data(), y.data()));
  // `reserve` rides along only to keep the mask alive until backward has read it through `mask`.
  record(y, "dropout", {x}, [choice, rate, seed, stream, reserve, mask = reserve_ptr, reserve_bytes](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), "dropout_dx");
    CXR_DISPATCH_VENDOR(g.device(), choice,
                        dropout_backward(g.numel(), rate, seed, stream, g.data(), dx.data(), mask, reserve_bytes),
                        dropout_backward(g.numel(), rate, seed, stream, g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

// Its backward needs the output y alone: y > 0 exactly where relu's input was (what relu's own
// backward tests), and only where the element was kept (kernels/dropout.h).
Tensor dropout_relu(const Tensor& x, float rate, uint64_t seed, uint64_t stream) {
  CXR_CHECK(rate >= 0.0f && rate < 1.0f,
            "dropout (then relu) on " << x.describe() << ": rate " << rate << " must be in [0, 1)");
  const KernelChoice choice = current_kernel_choice();
  if (rate == 0.0f || takes_vendor_path(x.device(), choice)) return relu(dropout(x, rate, seed, stream));
  Tensor y = Tensor::empty(x.shape(), x.device(), "dropout_relu");
  CXR_DISPATCH(x.device(), dropout_relu_forward(x.numel(), rate, seed, stream, x.data(), y.data()));
  record(y, "dropout_relu", {x}, [rate, y = y.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), "dropout_relu_dx");
    CXR_DISPATCH(g.device(), dropout_relu_backward(g.numel(), rate, y.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
