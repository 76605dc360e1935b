// A Layer is one Keras layer: built once from its input shape (creating its parameters), then
// called on batches. Layers are created from YAML by the registry (layers/registry.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/tensor.h"

namespace cxr {

// A weight with its Keras name ("conv2d/kernel") and whether the optimizer may change it.
// BatchNorm moving statistics are non-trainable parameters, as in Keras's parameter counts.
struct Parameter {
  std::string name;
  Tensor value;
  bool trainable = true;
};

// What a forward pass needs besides the input: the mode, and the keys that make dropout masks
// reproducible (every training step draws new masks from (seed, step, layer)).
struct ForwardContext {
  bool training = false;
  uint64_t seed = 0;
  uint64_t step = 0;
};

// A convolution or matrix product a layer runs, where nearly all of a training step's arithmetic is:
// the multiply-adds of one sample's forward pass, whether its weights train, and the part of a nested
// model it belongs to ("conv4_block6", as `cxrnet profile` labels its rows; empty in a plain layer).
// A nested model also lists each trainable layer without a product (a batch norm) with 0 multiply-adds,
// so that the products after it count their input gradients (layers/arithmetic.h).
struct Product {
  std::string part;
  double multiply_adds = 0;
  bool trains = false;
};

// Activation functions by their Keras names (layers/activation_fn.h parses and applies them).
enum class ActivationFn { Linear, Relu, Sigmoid };

// The parameter elements a model may have: as many as fit, float32 values and gradients, in memory.
struct ParameterBudget {
  int64_t total = 0, left = 0;
  uint64_t memory_bytes = 0;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* class_name() const = 0;  // Keras's class name, e.g. "Conv2D"

  // Creates the parameters for an input of `input_shape` (without the batch axis) and returns the
  // output shape. `seed` and `index` key the initial weights. Throws InputError naming the layer
  // when the shape does not work (e.g. a kernel larger than the image).
  virtual Shape build(const Shape& input_shape, uint64_t seed, uint64_t index) = 0;
  virtual Tensor forward(const Tensor& x, const ForwardContext& context) = 0;

  // The activation this layer ends with, and its output before it. Keras computes the loss of a
  // sigmoid output from these logits (facts §4), so the model asks its last layer for them.
  virtual ActivationFn output_activation() const { return ActivationFn::Linear; }
  virtual Tensor forward_before_activation(const Tensor& x, const ForwardContext& context) {
    return forward(x, context);
  }
  // This layer's forward followed by a relu, as one op, or an undefined tensor where the layer has
  // no such op: the model then runs the two layers one after the other (layers/model.cpp). Dropout
  // has one (a pass over the tensor each way instead of two).
  virtual Tensor forward_then_relu(const Tensor& /*x*/, const ForwardContext& /*context*/) { return Tensor(); }
  // This layer's forward, then the dropout `key` draws, then a relu, as one op, or an undefined
  // tensor where it has none. BatchNormalization has one (on the CPU: two passes each way instead
  // of three, with neither the normalised tensor nor dropout's gradient written), which the model
  // takes for a BatchNormalization, Dropout, relu Activation sequence.
  virtual Tensor forward_then_dropout_relu(const Tensor& /*x*/, const ForwardContext& /*context*/,
                                           const DropoutKey& /*key*/) {
    return Tensor();
  }
  // The mask this layer draws in this step, for the layer before it to fuse in: Dropout's, in
  // training mode; none for other layers.
  virtual std::optional<DropoutKey> fusable_dropout(const ForwardContext& /*context*/) const { return std::nullopt; }

  // This layer's convolutions and matrix products, in the order it runs them; none for most layers.
  virtual std::vector<Product> products() const { return {}; }

  std::vector<Parameter>& parameters() { return parameters_; }
  const std::vector<Parameter>& parameters() const { return parameters_; }
  int64_t parameter_count() const;
  int64_t trainable_parameter_count() const;  // 0 when the layer is frozen

  std::string name;
  bool trainable = true;  // false freezes every parameter (and puts BatchNorm in inference mode)
  uint64_t index = 0;     // position in the model, keys dropout streams
  Shape output_shape;     // without the batch axis; set by the model after build()

  // Set by build_model while build() runs: how many parameter elements the model may still create,
  // so that a slip such as two Dense layers of 46,000 units fails before gigabytes are allocated
  // and initialised. Null: no limit.
  ParameterBudget* parameter_budget = nullptr;

 protected:
  Tensor& add_parameter(const std::string& short_name, const Shape& shape, bool trainable);

 private:
  std::vector<Parameter> parameters_;
};

}  // namespace cxr
