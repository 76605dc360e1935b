#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/activation.h"

namespace cxr {

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device(), "relu");
  CXR_DISPATCH(x.device(), relu_forward(x.numel(), x.data(), y.data()));
  record(y, "relu", {x}, [x = x.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(x.shape(), x.device(), "relu_grad");
    CXR_DISPATCH(x.device(), relu_backward(x.numel(), x.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device(), "sigmoid");
  CXR_DISPATCH(x.device(), sigmoid_forward(x.numel(), x.data(), y.data()));
  record(y, "sigmoid", {x}, [y = y.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(y.shape(), y.device(), "sigmoid_grad");
    CXR_DISPATCH(y.device(), sigmoid_backward(y.numel(), y.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
