// Sanity limits on the sizes a config asks for, checked before anything that size is allocated: a
// slip such as `filters: 2000000000` or `batch_size: 1000000000` must be an error naming the layer
// and the size, not std::bad_alloc (or the OOM killer) after the data has loaded.
#pragma once
#include <cstdint>
#include <string>

#include "engine/tensor.h"

namespace cxr {

class Model;

// At most this many elements in one tensor (8 GiB of float32): far above any real layer (the
// largest of ResNet50V2 holds 2.4 million), and the last count 32-bit indexing still holds (a kernel's
// `int` count of pixels or elements: 2^31 itself overflowed it).
constexpr int64_t kMaxTensorElements = (int64_t{1} << 31) - 1;

// "0.000559 GiB": bytes in GiB to 3 significant digits, as the size errors write them.
std::string gib(double bytes);

// InputError "WHAT SHAPE would hold N elements, over the limit of ..." when `shape` is too large.
void check_tensor_size(const Shape& shape, const std::string& what);

// After build_model: one sample's input and every layer's output, and batch_size times each, within
// kMaxTensorElements; and the parameters (with their gradients) plus one batch's activations within
// memory_bytes, the device's (engine/device.h), which `memory_name` names in the error ("memory
// here", "memory of GPU cuda:0"). InputError naming the layer (model.layers[i], its type and name)
// and the size.
void check_model_size(const Model& model, int64_t batch_size, uint64_t memory_bytes,
                      const std::string& memory_name = "memory here");

}  // namespace cxr
