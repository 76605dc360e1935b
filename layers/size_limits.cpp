#include "layers/size_limits.h"

#include <limits>
#include <sstream>

#include "engine/error.h"
#include "layers/model.h"

namespace cxr {
namespace {

constexpr int64_t kSaturated = std::numeric_limits<int64_t>::max();

// The element count, saturated instead of overflowing: four int sizes can pass 2^63.
int64_t numel_saturated(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return kSaturated;
  return n;
}

int64_t times(int64_t a, int64_t b) {
  int64_t n = 0;
  return __builtin_mul_overflow(a, b, &n) ? kSaturated : n;
}

std::string count(int64_t n) { return n == kSaturated ? "more than 9.2e18" : std::to_string(n); }

const std::string kLimit = " elements, over the limit of 2147483647 (2^31 - 1) per tensor";

}  // namespace

std::string gib(double bytes) {
  std::ostringstream s;
  s.precision(3);
  s << bytes / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return s.str();
}

void check_tensor_size(const Shape& shape, const std::string& what) {
  const int64_t n = numel_saturated(shape);
  CXR_CHECK(n <= kMaxTensorElements, what << " " << shape_str(shape) << " would hold " << count(n) << kLimit);
}

void check_model_size(const Model& model, int64_t batch_size, uint64_t memory_bytes, const std::string& memory_name) {
  // Every activation a training step keeps for the backward pass: the input, then each layer's output.
  double activation_elements = 0;
  const auto check = [&](const Shape& sample, const std::string& what) {
    check_tensor_size(sample, what + ": one image's");
    const int64_t batch = times(numel_saturated(sample), batch_size);
    CXR_CHECK(batch <= kMaxTensorElements, what << ": data.batch_size " << batch_size << " times one image's "
                                                << shape_str(sample) << " would hold " << count(batch) << kLimit);
    activation_elements += static_cast<double>(batch);
  };
  check(model.input_shape, "model.input");
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = *model.layers[i];
    check(layer.output_shape, "model.layers[" + std::to_string(i) + "] (" + layer.class_name() + " '" +
                                  layer.name + "') output");
  }
  // A lower bound: float32 values and gradients of the parameters, and the batch's activations.
  const double bytes = 4.0 * (2.0 * static_cast<double>(model.total_parameter_count()) + activation_elements);
  CXR_CHECK(bytes <= static_cast<double>(memory_bytes),
            "model '" << model.name << "' with data.batch_size " << batch_size << " needs at least " << gib(bytes)
                      << " (" << model.total_parameter_count() << " parameters and their gradients, and one batch's "
                      << "activations), more than the " << gib(static_cast<double>(memory_bytes))
                      << " of " << memory_name << ": lower data.batch_size, image_size or the layer sizes");
}

}  // namespace cxr
