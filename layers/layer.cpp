#include "layers/layer.h"

#include "layers/size_limits.h"

namespace cxr {

int64_t Layer::parameter_count() const {
  int64_t n = 0;
  for (const Parameter& p : parameters_) n += p.value.numel();
  return n;
}

int64_t Layer::trainable_parameter_count() const {
  if (!trainable) return 0;
  int64_t n = 0;
  for (const Parameter& p : parameters_)
    if (p.trainable) n += p.value.numel();
  return n;
}

Tensor& Layer::add_parameter(const std::string& short_name, const Shape& shape, bool is_trainable) {
  const std::string full = name + "/" + short_name;
  check_tensor_size(shape, "layer '" + name + "' (" + class_name() + "): its " + short_name);  // before allocating
  parameters_.push_back({full, Tensor::zeros(shape, Device::cpu(), full), is_trainable});
  return parameters_.back().value;
}

}  // namespace cxr
