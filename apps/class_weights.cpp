#include "apps/class_weights.h"

#include <algorithm>
#include <ostream>

#include "engine/error.h"

namespace cxr {
namespace {

std::string names_of(const std::vector<std::string>& class_names) {
  std::string out;
  for (const std::string& name : class_names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::vector<double> balanced(const std::vector<std::string>& class_names, const std::vector<int>& labels) {
  std::vector<double> counts(class_names.size(), 0.0);
  for (int label : labels) {
    CXR_ASSERT(label >= 0 && static_cast<size_t>(label) < counts.size(), "label " << label << " has no class");
    counts[static_cast<size_t>(label)] += 1;
  }
  std::vector<double> weights;
  for (size_t k = 0; k < counts.size(); ++k) {
    CXR_CHECK(counts[k] > 0, "class_weight: balanced needs training images of every class, and class "
                                 << class_names[k] << " has none");
    weights.push_back(static_cast<double>(labels.size()) / (static_cast<double>(counts.size()) * counts[k]));
  }
  return weights;
}

std::vector<double> by_name(const ClassWeightConfig& config, const std::vector<std::string>& class_names) {
  std::vector<double> weights(class_names.size(), 0.0);
  std::vector<bool> given(class_names.size(), false);
  for (const auto& [name, weight] : config.weights) {
    const auto it = std::find(class_names.begin(), class_names.end(), name);
    if (it == class_names.end()) {
      config.node.child(name).fail("'" + name + "' is not a class folder of the data (the classes are " +
                                   names_of(class_names) + ")" + did_you_mean(name, class_names));
    }
    const size_t k = static_cast<size_t>(it - class_names.begin());
    weights[k] = weight;
    given[k] = true;
  }
  for (size_t k = 0; k < class_names.size(); ++k) {
    if (!given[k]) {
      config.node.fail("gives no weight for class " + class_names[k] + " (every class folder needs one: " +
                       names_of(class_names) + ")");
    }
  }
  return weights;
}

}  // namespace

std::vector<double> resolve_class_weights(const ClassWeightConfig& config, const std::vector<std::string>& class_names,
                                          const std::vector<int>& train_labels, std::ostream& log) {
  if (config.mode.empty()) return {};
  CXR_ASSERT(config.mode == "balanced" || !class_names.empty(), "class_weight: a map needs the class names");
  const std::vector<std::string> names = class_names.empty() ? std::vector<std::string>{"label 0", "label 1"} : class_names;
  const std::vector<double> weights = config.mode == "balanced" ? balanced(names, train_labels) : by_name(config, names);
  log << "class_weight (" << (config.mode == "balanced" ? "balanced, from the training images" : "as given") << "):";
  for (size_t k = 0; k < weights.size(); ++k) log << (k ? ", " : " ") << names[k] << " " << weights[k];
  log << "\n";
  return weights;
}

}  // namespace cxr
