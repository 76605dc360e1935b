#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "kernels/elementwise.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace cxr {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    CXR_CHECK(!__builtin_mul_overflow(n, d, &n), "shape " << shape_str(shape) << " has too many elements");
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

namespace {

// Copies `count` floats between any two devices.
void copy_floats(float* dst, Device dst_device, const float* src, Device src_device, int64_t count) {
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef CXR_WITH_CUDA
  if (dst_device.is_cuda() && src_device.is_cpu()) return kernels::cuda::copy_host_to_device(dst, src, bytes);
  if (dst_device.is_cpu() && src_device.is_cuda()) return kernels::cuda::copy_device_to_host(dst, src, bytes);
  return kernels::cuda::copy_device_to_device(dst, src, bytes);
#else
  CXR_CHECK(false, "copy between devices: this cxrnet was built without CUDA");
#endif
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, Device device, const std::string& name) {
  for (int64_t d : shape) CXR_CHECK(d >= 0, "tensor '" << name << "': negative dimension in " << shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)), device, name);
  impl->shape = shape;
  impl->name = name;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, Device device, const std::string& name) {
  return full(shape, 0.0f, device, name);
}

Tensor Tensor::full(const Shape& shape, float value, Device device, const std::string& name) {
  Tensor t = empty(shape, device, name);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device,
                           const std::string& name) {
  CXR_CHECK(numel_of(shape) == static_cast<int64_t>(values.size()),
            "tensor '" << name << "': " << values.size() << " values do not fill shape " << shape_str(shape));
  Tensor t = empty(shape, device, name);
  copy_floats(t.data(), device, values.data(), Device::cpu(), t.numel());
  return t;
}

int64_t Tensor::dim(int axis) const {
  const int r = rank();
  const int a = axis < 0 ? axis + r : axis;
  CXR_CHECK(a >= 0 && a < r, describe() << ": axis " << axis << " out of range");
  return impl_->shape[a];
}

Tensor& Tensor::set_name(const std::string& name) {
  impl_->name = name;
  return *this;
}

std::string Tensor::describe() const {
  if (!impl_) return "<undefined tensor>";
  return "'" + (impl_->name.empty() ? std::string("unnamed") : impl_->name) + "' " + shape_str(impl_->shape) +
         " on " + device().str();
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  copy_floats(out.data(), Device::cpu(), data(), device(), numel());
  return out;
}

float Tensor::item() const {
  CXR_CHECK(numel() == 1, describe() << ": item() needs exactly one element");
  return to_vector()[0];
}

Tensor Tensor::to(Device target) const {
  Tensor out = empty(shape(), target, name());
  copy_floats(out.data(), target, data(), device(), numel());
  return out;
}

Tensor Tensor::clone() const { return to(device()); }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->name = impl_->name;
  return Tensor(std::move(impl));
}

void Tensor::copy_from(const Tensor& source) {
  CXR_CHECK(source.shape() == shape(),
            "copy into " << describe() << ": source " << source.describe() << " has another shape");
  copy_floats(data(), device(), source.data(), source.device(), numel());
}

void Tensor::fill_(float value) {
  if (device().is_cpu()) return kernels::cpu::fill(numel(), value, data());
#ifdef CXR_WITH_CUDA
  kernels::cuda::fill(numel(), value, data());
#endif
}

Tensor& Tensor::set_requires_grad(bool value) {
  impl_->requires_grad = value;
  return *this;
}

void Tensor::backward() const { run_backward(*this); }

}  // namespace cxr
