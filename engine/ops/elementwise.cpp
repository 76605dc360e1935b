#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/elementwise.h"

namespace cxr {

Tensor add(const Tensor& a, const Tensor& b) {
  const Device device = common_device("add", {&a, &b});
  CXR_CHECK(a.shape() == b.shape(), "add: " << a.describe() << " and " << b.describe() << " differ in shape");
  Tensor y = Tensor::empty(a.shape(), device, "add");
  CXR_DISPATCH(device, add(a.numel(), a.data(), b.data(), y.data()));
  record(y, "add", {a, b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  const Device device = common_device("mul", {&a, &b});
  CXR_CHECK(a.shape() == b.shape(), "mul: " << a.describe() << " and " << b.describe() << " differ in shape");
  Tensor y = Tensor::empty(a.shape(), device, "mul");
  CXR_DISPATCH(device, mul(a.numel(), a.data(), b.data(), y.data()));
  record(y, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g) {
    return std::vector<Tensor>{mul(g, b), mul(g, a)};
  });
  return y;
}

Tensor scale(const Tensor& x, float alpha) {
  Tensor y = Tensor::empty(x.shape(), x.device(), "scale");
  CXR_DISPATCH(x.device(), scale(x.numel(), alpha, x.data(), y.data()));
  record(y, "scale", {x}, [alpha](const Tensor& g) { return std::vector<Tensor>{scale(g, alpha)}; });
  return y;
}

Tensor sum(const Tensor& x) {
  Tensor y = Tensor::empty({1}, x.device(), "sum");
  CXR_DISPATCH(x.device(), sum(x.numel(), x.data(), y.data()));
  record(y, "sum", {x}, [shape = x.shape()](const Tensor& g) {
    // d(sum)/dx_i = 1: broadcast the scalar gradient. On CUDA it is broadcast on the device, so
    // backward never waits for the GPU; on the CPU reading it is free.
    if (g.device().is_cpu()) return std::vector<Tensor>{Tensor::full(shape, g.item(), g.device(), "sum_grad")};
    Tensor dx = Tensor::empty(shape, g.device(), "sum_grad");
#ifdef CXR_WITH_CUDA
    kernels::cuda::broadcast_fill(dx.numel(), g.data(), dx.data());
#endif
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor mean(const Tensor& x) {
  CXR_CHECK(x.numel() > 0, "mean: " << x.describe() << " is empty");
  return scale(sum(x), 1.0f / static_cast<float>(x.numel()));
}

}  // namespace cxr
