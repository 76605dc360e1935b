#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/global_pool.h"

namespace cxr {

Tensor global_avg_pool2d(const Tensor& x) {
  CXR_CHECK(x.rank() == 4, "global_avg_pool2d: input " << x.describe() << " must be NHWC (rank 4)");
  CXR_CHECK(x.dim(1) * x.dim(2) > 0, "global_avg_pool2d: input " << x.describe() << " has no pixels");
  const int N = static_cast<int>(x.dim(0)), HW = static_cast<int>(x.dim(1) * x.dim(2)), C = static_cast<int>(x.dim(3));
  Tensor y = Tensor::empty({N, C}, x.device(), "global_avg_pool2d");
  CXR_DISPATCH(x.device(), global_avg_pool2d_forward(N, HW, C, x.data(), y.data()));
  record(y, "global_avg_pool2d", {x}, [N, HW, C, in_shape = x.shape()](const Tensor& g) {
    Tensor dx = Tensor::empty(in_shape, g.device(), "global_avg_pool2d_dx");
    CXR_DISPATCH(g.device(), global_avg_pool2d_backward(N, HW, C, g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
