#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/zero_pad2d.h"

namespace cxr {

Tensor zero_pad2d(const Tensor& x, int top, int bottom, int left, int right) {
  CXR_CHECK(x.rank() == 4, "zero_pad2d: input " << x.describe() << " must be NHWC (rank 4)");
  CXR_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0,
            "zero_pad2d on " << x.describe() << ": pads (" << top << ", " << bottom << ", " << left << ", " << right
                             << ") must not be negative");
  const kernels::Pad2dShape s{static_cast<int>(x.dim(0)), static_cast<int>(x.dim(1)), static_cast<int>(x.dim(2)),
                              static_cast<int>(x.dim(3)), top, bottom, left, right};
  Tensor y = Tensor::empty({s.N, s.OH(), s.OW(), s.C}, x.device(), "zero_pad2d");
  CXR_DISPATCH(x.device(), zero_pad2d_forward(s, x.data(), y.data()));
  record(y, "zero_pad2d", {x}, [s, in_shape = x.shape()](const Tensor& g) {
    Tensor dx = Tensor::empty(in_shape, g.device(), "zero_pad2d_dx");
    CXR_DISPATCH(g.device(), zero_pad2d_backward(s, g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
