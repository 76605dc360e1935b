// Activation functions by their Keras names, shared by Activation, Dense and Conv2D.
#pragma once
#include <string>

#include "engine/tensor.h"
#include "layers/layer.h"
#include "layers/spec.h"

namespace cxr {

ActivationFn parse_activation(const SpecNode& spec, const std::string& key, const std::string& fallback);
Tensor apply_activation(const Tensor& x, ActivationFn fn);
bool parse_padding(const SpecNode& spec);  // `padding: valid|same` -> true for same

}  // namespace cxr
