#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/dense.h"

namespace cxr {

Tensor dense(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Device device = common_device("dense", {&x, &weight, &bias});
  CXR_CHECK(x.rank() == 2, "dense: input " << x.describe() << " must be [batch, features] (add a Flatten)");
  CXR_CHECK(weight.rank() == 2 && weight.dim(0) == x.dim(1),
            "dense: weight " << weight.describe() << " does not fit input " << x.describe());
  const int batch = static_cast<int>(x.dim(0)), in = static_cast<int>(x.dim(1)), out = static_cast<int>(weight.dim(1));
  CXR_CHECK(!bias.defined() || bias.shape() == Shape{out}, "dense: bias " << bias.describe() << " must be [" << out << "]");
  Tensor y = Tensor::empty({batch, out}, device, "dense");
  const KernelChoice choice = current_kernel_choice();  // backward uses the forward's choice
  CXR_DISPATCH_CHOICE(device, choice,
                      dense_forward(batch, in, out, x.data(), weight.data(), bias.defined() ? bias.data() : nullptr,
                                      y.data()));
  record(y, "dense", {x, weight, bias},
         [batch, in, out, choice, x = x.detach(), w = weight.detach(), want_dx = x.requires_grad(),
          want_dw = weight.requires_grad(), want_db = bias.defined() && bias.requires_grad()](const Tensor& g) {
           Tensor dx, dw, db;
           if (want_dx) dx = Tensor::empty(x.shape(), x.device(), "dense_dx");
           if (want_dw) dw = Tensor::empty(w.shape(), w.device(), "dense_dw");
           if (want_db) db = Tensor::empty({out}, w.device(), "dense_db");
           CXR_DISPATCH_CHOICE(x.device(), choice,
                               dense_backward(batch, in, out, x.data(), w.data(), g.data(),
                                                want_dx ? dx.data() : nullptr, want_dw ? dw.data() : nullptr,
                                                want_db ? db.data() : nullptr));
           return std::vector<Tensor>{dx, dw, db};
         });
  return y;
}

}  // namespace cxr
