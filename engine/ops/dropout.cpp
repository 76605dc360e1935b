#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/dropout.h"

namespace cxr {

Tensor dropout(const Tensor& x, float rate, uint64_t seed, uint64_t stream) {
  CXR_CHECK(rate >= 0.0f && rate < 1.0f, "dropout on " << x.describe() << ": rate " << rate << " must be in [0, 1)");
  if (rate == 0.0f) return x;
  Tensor y = Tensor::empty(x.shape(), x.device(), "dropout");
  CXR_DISPATCH(x.device(), dropout_forward(x.numel(), rate, seed, stream, x.data(), y.data()));
  // The mask is recomputed from (seed, stream) in backward: nothing to store.
  record(y, "dropout", {x}, [rate, seed, stream](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), "dropout_dx");
    CXR_DISPATCH(g.device(), dropout_backward(g.numel(), rate, seed, stream, g.data(), dx.data()));
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace cxr
