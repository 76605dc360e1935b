#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace cxr {

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int64_t known = 1;
  int infer_axis = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      CXR_CHECK(infer_axis < 0, "reshape " << x.describe() << ": more than one -1 in " << shape_str(requested));
      infer_axis = static_cast<int>(i);
    } else {
      // A negative size other than -1 made a product that could still match the element count.
      CXR_CHECK(shape[i] >= 0, "reshape " << x.describe() << " to " << shape_str(requested) << ": size " << shape[i]
                                          << " (sizes are >= 0, or -1 for one inferred axis)");
      known *= shape[i];
    }
  }
  if (infer_axis >= 0) {
    // Beside a size of 0 any value fits: -1 says nothing (it was left in the shape as -1).
    CXR_CHECK(known > 0, "reshape " << x.describe() << " to " << shape_str(requested)
                                    << ": -1 cannot be inferred beside a size of 0");
    shape[infer_axis] = x.numel() / known;
  }
  CXR_CHECK(numel_of(shape) == x.numel(), "reshape " << x.describe() << " to " << shape_str(requested)
                                                     << ": element counts differ");
  // A view: same storage and offset, new shape. Contiguous storage makes this free.
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->offset = x.impl()->offset;
  impl->shape = shape;
  impl->name = x.name();
  Tensor y(std::move(impl));
  record(y, "reshape", {x}, [in_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{reshape(g, in_shape)};
  });
  return y;
}

Tensor flatten(const Tensor& x) {
  CXR_CHECK(x.rank() >= 1, "flatten: " << x.describe() << " has no batch axis");
  int64_t features = 1;  // not -1: an empty batch still flattens to [0, features]
  for (int axis = 1; axis < x.rank(); ++axis) features *= x.dim(axis);
  return reshape(x, {x.dim(0), features});
}

}  // namespace cxr
