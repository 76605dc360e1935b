#include "layers/activation_fn.h"

#include "engine/ops.h"

namespace cxr {

ActivationFn parse_activation(const SpecNode& spec, const std::string& key, const std::string& fallback) {
  const std::string name = spec.get_string(key, fallback);
  if (name == "linear") return ActivationFn::Linear;
  if (name == "relu") return ActivationFn::Relu;
  if (name == "sigmoid") return ActivationFn::Sigmoid;
  spec.child(key).fail("unknown activation '" + name + "'" + did_you_mean(name, {"linear", "relu", "sigmoid"}) +
                       "; known: linear, relu, sigmoid");
}

Tensor apply_activation(const Tensor& x, ActivationFn fn) {
  switch (fn) {
    case ActivationFn::Relu: return relu(x);
    case ActivationFn::Sigmoid: return sigmoid(x);
    case ActivationFn::Linear: break;
  }
  return x;
}

bool parse_padding(const SpecNode& spec) {
  const std::string padding = spec.get_string("padding", "valid");
  if (padding == "valid") return false;
  if (padding == "same") return true;
  spec.child("padding").fail("padding must be 'valid' or 'same', got '" + padding + "'");
}

std::optional<KernelChoice> parse_kernels_key(const SpecNode& spec) {
  if (!spec.has("kernels")) return std::nullopt;
  const std::string choice = spec.get_string("kernels");
  if (choice != "custom" && choice != "vendor") spec.child("kernels").fail("expected custom or vendor, got '" + choice + "'");
  return parse_kernel_choice(choice);
}

}  // namespace cxr
