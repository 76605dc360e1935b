// Tensor: float32, a shape, contiguous storage shared by views, a device, and (for autograd) a
// gradient and the node that produced it. Images are NHWC.
//
// A Tensor is a cheap handle (a shared_ptr to TensorImpl): copying it aliases the same data,
// exactly like a PyTorch tensor. Use clone() for a deep copy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/storage.h"

namespace cxr {

using Shape = std::vector<int64_t>;
int64_t numel_of(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[32, 50, 50, 3]"

struct Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in floats: views (reshape) share storage at an offset
  Shape shape;
  std::string name;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient, same shape and device
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (null for leaves)
  bool graph_freed = false;          // a backward() has consumed grad_fn
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. `name` travels into error messages (out of memory, shape mismatch).
  static Tensor empty(const Shape& shape, Device device = Device::cpu(), const std::string& name = "");
  static Tensor zeros(const Shape& shape, Device device = Device::cpu(), const std::string& name = "");
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu(), const std::string& name = "");
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values, Device device = Device::cpu(),
                            const std::string& name = "");

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int64_t dim(int axis) const;  // negative axes count from the end
  int rank() const { return static_cast<int>(impl_->shape.size()); }
  int64_t numel() const { return numel_of(impl_->shape); }
  Device device() const { return impl_->storage->device(); }
  const std::string& name() const { return impl_->name; }
  Tensor& set_name(const std::string& name);
  std::string describe() const;  // "'conv2d/kernel' [16, 5, 5, 3] on cpu"

  // The writable pointer counts as a write (Storage::version): what was derived from the contents
  // before it is stale. Read through a const Tensor to leave it be.
  float* data() {
    impl_->storage->mark_written();
    return impl_->storage->data() + impl_->offset;
  }
  const float* data() const { return impl_->storage->data() + impl_->offset; }

  std::vector<float> to_vector() const;  // copies to the host
  float item() const;                    // the only element of a one-element tensor
  Tensor to(Device device) const;        // a copy on `device` (no autograd edge)
  Tensor clone() const;                  // a deep copy on the same device (no autograd edge)
  Tensor detach() const;                 // shares storage, no grad_fn, requires_grad false
  void copy_from(const Tensor& source);  // same shape; any devices
  void fill_(float value);

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& set_requires_grad(bool value);
  Tensor grad() const { return Tensor(impl_->grad); }  // undefined until a backward reaches it
  void zero_grad() { impl_->grad.reset(); }
  void backward() const;  // from a one-element tensor, seeding d(self)/d(self) = 1

  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace cxr
