// split_stratified (declared in directory.h).
#include <cmath>
#include <stdexcept>
#include <string>

#include "data/directory.h"
#include "data/permutation.h"

namespace cxr::data {

std::pair<DatasetIndex, DatasetIndex> split_stratified(const DatasetIndex& index, double fraction, uint64_t seed) {
  if (!(fraction >= 0.0 && fraction <= 1.0))
    throw std::invalid_argument("split fraction must be in [0, 1], got " + std::to_string(fraction));
  if (index.files.size() != index.labels.size()) throw std::invalid_argument("split: files and labels differ in length");

  // Mark the carved-out files class by class, each class with its own stream so that adding files
  // to one class does not change which files of another class are chosen.
  std::vector<char> carved(index.files.size(), 0);
  for (size_t label = 0; label < index.class_names.size(); ++label) {
    std::vector<size_t> members;
    for (size_t i = 0; i < index.labels.size(); ++i)
      if (index.labels[i] == static_cast<int>(label)) members.push_back(i);
    const auto take = static_cast<size_t>(std::llround(fraction * static_cast<double>(members.size())));
    const std::vector<int> order = seeded_permutation(static_cast<int>(members.size()), seed ^ kSplitStreamKey, label);
    for (size_t j = 0; j < take; ++j) carved[members[static_cast<size_t>(order[j])]] = 1;
  }

  std::pair<DatasetIndex, DatasetIndex> parts;
  parts.first.class_names = parts.second.class_names = index.class_names;
  for (size_t i = 0; i < index.files.size(); ++i) {
    DatasetIndex& part = carved[i] ? parts.second : parts.first;
    part.files.push_back(index.files[i]);
    part.labels.push_back(index.labels[i]);
  }
  return parts;
}

}  // namespace cxr::data
