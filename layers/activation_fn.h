// Keys shared by several layers: activation functions by their Keras names (Activation, Dense,
// Conv2D), padding, and the CUDA kernel choice.
#pragma once
#include <optional>
#include <string>

#include "engine/kernel_choice.h"
#include "engine/tensor.h"
#include "layers/layer.h"
#include "layers/spec.h"

namespace cxr {

ActivationFn parse_activation(const SpecNode& spec, const std::string& key, const std::string& fallback);
Tensor apply_activation(const Tensor& x, ActivationFn fn);
bool parse_padding(const SpecNode& spec);  // `padding: valid|same` -> true for same
// `kernels: custom|vendor` on a Conv2D or Dense layer: its CUDA implementation (unset: the global one).
std::optional<KernelChoice> parse_kernels_key(const SpecNode& spec);

}  // namespace cxr
