#include "layers/registry.h"

#include <algorithm>
#include <map>

namespace cxr {

namespace {
// A function-local static: registration runs from other files' static initialisers.
std::map<std::string, LayerType>& table() {
  static std::map<std::string, LayerType> types;
  return types;
}
}  // namespace

bool register_layer_type(LayerType type) {
  const std::string key = type.type;
  table().emplace(key, std::move(type));
  return true;
}

const LayerType* find_layer_type(const std::string& type) {
  auto it = table().find(type);
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> layer_type_names() {
  std::vector<std::string> names;
  for (const auto& [name, type] : table()) names.push_back(name);
  return names;
}

std::unique_ptr<Layer> make_layer(const SpecNode& spec) {
  if (!spec.is_map()) spec.fail("a layer must be a map such as {type: Dense, units: 64}");
  const std::string type_name = spec.get_string("type");
  const LayerType* type = find_layer_type(type_name);
  if (!type) {
    const std::vector<std::string> names = layer_type_names();
    std::string known;
    for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
    spec.child("type").fail("unknown layer type '" + type_name + "'" + did_you_mean(type_name, names) +
                            "; known types: " + known);
  }
  std::vector<std::string> allowed = type->keys;
  allowed.insert(allowed.end(), {"type", "name", "trainable"});
  spec.check_keys(allowed);
  std::unique_ptr<Layer> layer = type->make(spec);
  layer->name = spec.get_string("name", "");
  layer->trainable = spec.get_bool("trainable", true);
  return layer;
}

}  // namespace cxr
