// The layer registry: YAML `type:` names map to factories. Each layer file registers itself, so
// adding a layer touches no central switch.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "layers/spec.h"

namespace cxr {

struct LayerType {
  std::string type;                // YAML `type:` and Keras class name, e.g. "Conv2D"
  std::string auto_name;           // Keras's automatic name stem, e.g. "conv2d" -> conv2d, conv2d_1, ...
  std::vector<std::string> keys;   // the YAML keys it accepts besides type, name and trainable
  std::function<std::unique_ptr<Layer>(const SpecNode&)> make;
};

bool register_layer_type(LayerType type);
const LayerType* find_layer_type(const std::string& type);
std::vector<std::string> layer_type_names();

// Makes a layer from its spec: checks the keys (unknown ones are errors with a suggestion) and
// reads the common `name` and `trainable` keys. Names are assigned by the model.
std::unique_ptr<Layer> make_layer(const SpecNode& spec);

}  // namespace cxr

// At namespace scope in a layer's .cpp: CXR_REGISTER_LAYER(Conv2D, "conv2d", {"filters", ...}, factory)
#define CXR_REGISTER_LAYER(Type, auto_name, keys, factory) \
  static const bool cxr_registered_##Type = ::cxr::register_layer_type({#Type, auto_name, keys, factory})
