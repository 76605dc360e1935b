// Loading named weights from a safetensors file into existing parameters, strictly: the file must
// hold exactly the expected tensors, each with the expected shape. Keras loads its HDF5 files by
// position (facts §2); cxrnet matches by name, so a converter bug or a different architecture is a
// clear error naming the tensor instead of silently shuffled weights.
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace cxr {

struct NamedDestination {
  std::string file_name;  // the tensor's name in the file
  Tensor destination;     // CPU tensor (a parameter) that receives the values; shapes must match
};

// Throws InputError naming the file and the tensor for: a missing tensor, a tensor the model does
// not have (extra), a shape mismatch; engine/safetensors.cpp adds a non-F32 dtype, a truncated file
// and a header pointing outside the file. Nothing is copied unless everything matches.
void load_named_weights(const std::string& path, const std::vector<NamedDestination>& wanted);

}  // namespace cxr
