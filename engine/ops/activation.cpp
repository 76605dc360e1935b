#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/activation.h"

namespace cxr {

// Under the vendor choice (cuDNN) backward reads both the forward's input and output, so the one the
// custom backward does not need is kept only then.
Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device(), "relu");
  const KernelChoice choice = current_kernel_choice();  // backward uses the forward's choice
  CXR_DISPATCH_CHOICE(x.device(), choice, relu_forward(x.numel(), x.data(), y.data()));
  const bool keep_y = takes_vendor_path(x.device(), choice);
  record(y, "relu", {x}, [choice, x = x.detach(), y = keep_y ? y.detach() : Tensor()](const Tensor& g) {
    Tensor dx = Tensor::empty(x.shape(), x.device(), "relu_grad");
    CXR_DISPATCH_VENDOR(x.device(), choice, relu_backward(x.numel(), x.data(), y.data(), g.data(), dx.data()),
                        relu_backward(x.numel(), x.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device(), "sigmoid");
  const KernelChoice choice = current_kernel_choice();
  CXR_DISPATCH_CHOICE(x.device(), choice, sigmoid_forward(x.numel(), x.data(), y.data()));
  const bool keep_x = takes_vendor_path(x.device(), choice);
  record(y, "sigmoid", {x}, [choice, x = keep_x ? x.detach() : Tensor(), y = y.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(y.shape(), y.device(), "sigmoid_grad");
    CXR_DISPATCH_VENDOR(y.device(), choice, sigmoid_backward(y.numel(), x.data(), y.data(), g.data(), dx.data()),
                        sigmoid_backward(y.numel(), y.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
