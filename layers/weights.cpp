#include "layers/weights.h"

#include <map>
#include <set>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace cxr {

void load_named_weights(const std::string& path, const std::vector<NamedDestination>& wanted) {
  const SafetensorsFile file = load_safetensors(path);
  std::set<std::string> expected;
  for (const NamedDestination& w : wanted) {
    CXR_CHECK(expected.insert(w.file_name).second, "weights: '" << w.file_name << "' is expected twice");
    const auto it = file.tensors.find(w.file_name);
    CXR_CHECK(it != file.tensors.end(), path << ": missing tensor '" << w.file_name << "' (expected shape "
                                             << shape_str(w.destination.shape()) << ")");
    CXR_CHECK(it->second.shape() == w.destination.shape(),
              path << ": tensor '" << w.file_name << "' has shape " << shape_str(it->second.shape()) << ", expected "
                   << shape_str(w.destination.shape()));
  }
  for (const auto& [name, tensor] : file.tensors)
    CXR_CHECK(expected.count(name), path << ": extra tensor '" << name << "' " << shape_str(tensor.shape())
                                         << " that the model does not have");
  for (const NamedDestination& w : wanted) {
    Tensor destination = w.destination;
    destination.copy_from(file.tensors.at(w.file_name));
  }
}

}  // namespace cxr
