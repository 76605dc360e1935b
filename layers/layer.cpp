#include "layers/layer.h"

#include "engine/error.h"
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
  const std::string what = "layer '" + name + "' (" + class_name() + "): its " + short_name;
  check_tensor_size(shape, what);  // before allocating
  if (parameter_budget) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // within kMaxTensorElements, checked above
    CXR_CHECK(n <= parameter_budget->left,
              what << " " << shape_str(shape) << " would take the model past " << parameter_budget->total
                   << " parameters, the most whose float32 values and gradients fit in the "
                   << gib(static_cast<double>(parameter_budget->memory_bytes)) << " of memory here");
    parameter_budget->left -= n;
  }
  parameters_.push_back({full, Tensor::zeros(shape, Device::cpu(), full), is_trainable});
  return parameters_.back().value;
}

}  // namespace cxr
