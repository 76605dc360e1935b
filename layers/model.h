// A sequential model built from the `model:` section of an experiment's YAML:
//   model: {input: [50, 50, 3], layers: [{type: Conv2D, ...}, ...]}
// Optional keys:
//   name: model          the summary's "Model: ..." (default "sequential", or "model" when functional)
//   functional: true     a Keras functional model: the summary starts with its InputLayer row,
//                        `input_name` (default input_1), as the notebook's transfer model does
//   freeze: [dense, resnet50v2/conv4_*]   freezes by name: an entry is a layer name, or a path to
//                        parameters inside a nested layer; a trailing * makes it a prefix. A frozen
//                        layer or parameter is non-trainable; frozen BatchNorms run in inference mode
//   weights: PATH        after building, loads EVERY parameter by name from a cxrnet safetensors
//                        file (a run's weights.safetensors), strictly (layers/weights.h)
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "layers/spec.h"

namespace cxr {

class Model {
 public:
  std::string name = "sequential";
  Shape input_shape;  // without the batch axis
  bool functional = false;             // the summary lists an InputLayer first
  std::string input_name = "input_1";  // its name
  std::vector<std::unique_ptr<Layer>> layers;

  Tensor forward(const Tensor& x, const ForwardContext& context);
  // The model's output before its final sigmoid. Keras computes binary cross-entropy from these
  // logits when the output comes from a sigmoid (facts §4); requires has_sigmoid_output().
  Tensor forward_logits(const Tensor& x, const ForwardContext& context);
  bool has_sigmoid_output() const;
  // The same passes split at layer `begin`: forward_range runs layers [begin, end) on h (no input
  // check; h is layer begin's input), forward_logits_from runs [begin, end) and returns the logits.
  // forward_logits(x) == forward_logits_from(k, forward_range(0, k, x)) for any k < layers.size().
  Tensor forward_range(size_t begin, size_t end, const Tensor& h, const ForwardContext& context);
  Tensor forward_logits_from(size_t begin, const Tensor& h, const ForwardContext& context);

  std::vector<Parameter*> parameters();
  std::vector<Tensor> trainable_tensors();  // what the optimizer updates
  int64_t total_parameter_count() const;
  int64_t trainable_parameter_count() const;

  void to(Device device);  // moves every parameter
  Device device() const { return device_; }

 private:
  // A profile row's label for layers [first, first + count) run as one op: their names joined by " + ".
  std::string fused_label(size_t first, size_t count) const;

  Device device_ = Device::cpu();
};

// Builds and initialises the model (weights keyed by `seed`). Errors name the file, line and layer.
// `memory_bytes` bounds the parameters (their float32 values and gradients), checked before each is
// allocated; 0: this machine's memory.
Model build_model(const SpecNode& model_spec, uint64_t seed, const std::string& name = "sequential",
                  uint64_t memory_bytes = 0);

class Optimizer;  // engine/optimizer.h

// One training step on a batch, as Trainer::train_epoch takes it less its class weights and metrics:
// forward to the logits, binary cross-entropy, backward, the optimizer's step, zero_grad. Returns
// the loss on the model's device (nothing waits for it).
Tensor train_on_batch(Model& model, Optimizer& optimizer, const Tensor& x, const Tensor& y,
                      const ForwardContext& context);
// The rows train_on_batch times the loss and the optimizer (step and zero_grad) under, with a Profile
// alive (engine/profile.h); the layers' rows carry their names (Keras's automatic names never have brackets).
inline constexpr const char* kLossProfileLabel = "(loss)";
inline constexpr const char* kOptimizerProfileLabel = "(optimizer)";

}  // namespace cxr
