#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/pool.h"

namespace cxr {

Tensor max_pool2d(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w, bool same_padding) {
  CXR_CHECK(x.rank() == 4, "max_pool2d: input " << x.describe() << " must be NHWC (rank 4)");
  kernels::Pool2dShape s;
  try {
    s = kernels::make_pool2d_shape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), pool_h, pool_w, stride_h, stride_w,
                                   same_padding);
  } catch (const std::invalid_argument& e) {
    throw InputError("max_pool2d on input " + x.describe() + ": " + e.what());
  }
  Tensor y = Tensor::empty({s.N, s.OH, s.OW, s.C}, x.device(), "max_pool2d");
  const KernelChoice choice = current_kernel_choice();  // backward uses the forward's choice
  CXR_DISPATCH_CHOICE(x.device(), choice, maxpool2d_forward(s, x.data(), y.data()));
  // cuDNN's backward reads the forward's output too; the custom one finds the maxima again in x.
  const bool keep_y = takes_vendor_path(x.device(), choice);
  record(y, "max_pool2d", {x}, [s, choice, x = x.detach(), y = keep_y ? y.detach() : Tensor()](const Tensor& g) {
    Tensor dx = Tensor::empty(x.shape(), x.device(), "max_pool2d_dx");
    CXR_DISPATCH_VENDOR(x.device(), choice, maxpool2d_backward(s, x.data(), y.data(), g.data(), dx.data()),
                        maxpool2d_backward(s, x.data(), g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
