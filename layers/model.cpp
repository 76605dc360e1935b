#include "layers/model.h"

#include <cstring>
#include <map>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optimizer.h"
#include "engine/device.h"
#include "engine/profile.h"
#include "layers/registry.h"
#include "layers/size_limits.h"
#include "layers/weights.h"

namespace cxr {

namespace {

// `freeze:` entries: "dense" is the layer dense (all its parameters); "resnet50v2/conv5_block3_3_conv"
// the parameters of that Keras layer inside the nested model; "dense/kernel" that one parameter (a
// BatchNormalization whose gamma is frozen runs in inference mode); a trailing * matches any continuation
// ("resnet50v2/conv4_*", "dense*"). An entry that matches nothing is an error: a typo must not
// silently train what was meant to be frozen.
void apply_freeze(Model& model, const SpecNode& list) {
  for (const SpecNode& item : list.items()) {
    const std::string entry = item.as_string();
    const bool prefix = !entry.empty() && entry.back() == '*';
    const std::string stem = prefix ? entry.substr(0, entry.size() - 1) : entry;
    bool matched = false;
    for (auto& layer : model.layers) {
      if (prefix ? layer->name.starts_with(stem) : layer->name == stem) {
        layer->trainable = false;
        matched = true;
      }
      for (Parameter& p : layer->parameters())
        if (prefix ? p.name.starts_with(stem) : p.name == stem || p.name.starts_with(stem + "/")) {
          p.trainable = false;
          matched = true;
        }
    }
    if (!matched) item.fail("'" + entry + "' names no layer or parameter of the model");
  }
}

// A Keras `Activation` layer of relu: what Layer::forward_then_relu may fuse into the layer before it.
bool is_relu_activation(const Layer& layer) {
  return std::strcmp(layer.class_name(), "Activation") == 0 && layer.output_activation() == ActivationFn::Relu;
}

}  // namespace

std::string Model::fused_label(size_t first, size_t count) const {
  std::string label = layers[first]->name;
  for (size_t k = 1; k < count; ++k) label += " + " + layers[first + k]->name;
  return label;
}

Tensor Model::forward(const Tensor& x, const ForwardContext& context) {
  CXR_CHECK(x.rank() == static_cast<int>(input_shape.size()) + 1 &&
                Shape(x.shape().begin() + 1, x.shape().end()) == input_shape,
            "model '" << name << "': input " << x.describe() << " does not match the model input "
                      << shape_str(input_shape) << " (plus a batch axis)");
  return forward_range(0, layers.size(), x, context);
}

bool Model::has_sigmoid_output() const {
  return !layers.empty() && layers.back()->output_activation() == ActivationFn::Sigmoid;
}

Tensor Model::forward_logits(const Tensor& x, const ForwardContext& context) {
  CXR_CHECK(has_sigmoid_output(), "model '" << name << "': binary_crossentropy needs a sigmoid output layer");
  CXR_CHECK(x.rank() == static_cast<int>(input_shape.size()) + 1 &&
                Shape(x.shape().begin() + 1, x.shape().end()) == input_shape,
            "model '" << name << "': input " << x.describe() << " does not match the model input "
                      << shape_str(input_shape) << " (plus a batch axis)");
  const Tensor before_last = forward_range(0, layers.size() - 1, x, context);
  const ProfileRegion timed(ProfilePhase::Forward, layers.back()->name);
  return layers.back()->forward_before_activation(before_last, context);
}

Tensor Model::forward_range(size_t begin, size_t end, const Tensor& h, const ForwardContext& context) {
  CXR_CHECK(begin <= end && end <= layers.size(),
            "model '" << name << "': layer range [" << begin << ", " << end << ") of " << layers.size() << " layers");
  Tensor out = h;
  for (size_t i = begin; i < end; ++i) {
    ProfileRegion timed(ProfilePhase::Forward, layers[i]->name);  // engine/profile.h; nothing without a Profile
    // A layer followed by a Dropout and a relu Activation may run the three as one op
    // (Layer::forward_then_dropout_relu).
    if (i + 2 < end && is_relu_activation(*layers[i + 2])) {
      if (const std::optional<DropoutKey> key = layers[i + 1]->fusable_dropout(context)) {
        Tensor fused = layers[i]->forward_then_dropout_relu(out, context, *key);
        if (fused.defined()) {
          if (active_profile()) timed.relabel(fused_label(i, 3));
          out = std::move(fused);
          i += 2;
          continue;
        }
      }
    }
    // A layer followed by a relu Activation may run both as one op (Layer::forward_then_relu).
    if (i + 1 < end && is_relu_activation(*layers[i + 1])) {
      Tensor fused = layers[i]->forward_then_relu(out, context);
      if (fused.defined()) {
        if (active_profile()) timed.relabel(fused_label(i, 2));
        out = std::move(fused);
        ++i;
        continue;
      }
    }
    out = layers[i]->forward(out, context);
  }
  return out;
}

Tensor Model::forward_logits_from(size_t begin, const Tensor& h, const ForwardContext& context) {
  CXR_CHECK(has_sigmoid_output(), "model '" << name << "': binary_crossentropy needs a sigmoid output layer");
  CXR_CHECK(begin < layers.size(), "model '" << name << "': no layers left after layer " << begin);
  const Tensor before_last = forward_range(begin, layers.size() - 1, h, context);
  const ProfileRegion timed(ProfilePhase::Forward, layers.back()->name);
  return layers.back()->forward_before_activation(before_last, context);
}

std::vector<Parameter*> Model::parameters() {
  std::vector<Parameter*> out;
  for (auto& layer : layers)
    for (Parameter& p : layer->parameters()) out.push_back(&p);
  return out;
}

std::vector<Tensor> Model::trainable_tensors() {
  std::vector<Tensor> out;
  for (auto& layer : layers)
    for (Parameter& p : layer->parameters())
      if (layer->trainable && p.trainable) out.push_back(p.value);
  return out;
}

int64_t Model::total_parameter_count() const {
  int64_t n = 0;
  for (const auto& layer : layers) n += layer->parameter_count();
  return n;
}

int64_t Model::trainable_parameter_count() const {
  int64_t n = 0;
  for (const auto& layer : layers) n += layer->trainable_parameter_count();
  return n;
}

void Model::to(Device device) {
  for (auto& layer : layers)
    for (Parameter& p : layer->parameters()) {
      const bool grad = p.value.requires_grad();
      p.value = p.value.to(device);
      p.value.set_requires_grad(grad);
    }
  device_ = device;
}

Model build_model(const SpecNode& spec, uint64_t seed, const std::string& name, uint64_t memory) {
  Model model;
  spec.check_keys({"input", "layers", "name", "functional", "input_name", "freeze", "weights"});
  model.functional = spec.get_bool("functional", false);
  model.name = spec.get_string("name", model.functional && name == "sequential" ? "model" : name);
  model.input_name = spec.get_string("input_name", model.input_name);
  if (spec.has("input_name") && !model.functional)  // it names the InputLayer row only a functional summary has
    spec.child("input_name").fail("only goes with functional: true (a Sequential model's summary has no input row)");
  const std::vector<int> input = spec.get_int_list("input");
  if (input.size() != 3) spec.child("input").fail("input must be [height, width, channels]");
  for (int d : input)
    if (d < 1) spec.child("input").fail("input sizes must be at least 1");
  model.input_shape = {input[0], input[1], input[2]};
  try {
    check_tensor_size(model.input_shape, "one image's");
  } catch (const InputError& e) {
    spec.child("input").fail(e.what());
  }
  // Each layer's parameters are counted against the memory before they are allocated.
  ParameterBudget budget;
  budget.memory_bytes = memory ? memory : memory_bytes(Device::cpu());
  budget.total = budget.left = static_cast<int64_t>(budget.memory_bytes / 8);  // float32 value and gradient

  std::map<std::string, int> name_counts;  // Keras's automatic names: conv2d, conv2d_1, ...
  // Weights are saved and loaded by "layer/parameter" name: two layers of one name would share a
  // file entry and one's weights would be lost, so names must be unique (as Keras requires).
  std::map<std::string, size_t> first_with_name;
  Shape shape = model.input_shape;
  const std::vector<SpecNode> items = spec.child("layers").items();
  if (items.empty()) spec.child("layers").fail("a model needs at least one layer");
  for (size_t i = 0; i < items.size(); ++i) {
    std::unique_ptr<Layer> layer = make_layer(items[i]);
    if (layer->name.empty()) {
      const std::string stem = find_layer_type(items[i].get_string("type"))->auto_name;
      const int n = name_counts[stem]++;
      layer->name = n == 0 ? stem : stem + "_" + std::to_string(n);
    }
    // Weights are named LAYER/PARAMETER, and freeze: entries match on that '/'.
    if (layer->name.find('/') != std::string::npos)
      items[i].child("name").fail("layer name '" + layer->name + "' contains '/', which separates a layer's name "
                                  "from its parameters' in weight files and freeze: entries");
    const auto [first, unique] = first_with_name.emplace(layer->name, i);
    if (!unique) {
      (items[i].has("name") ? items[i].child("name") : items[i])
          .fail("layer name '" + layer->name + "' is already used by the layer at " + items[first->second].where() +
                "; layer names must be unique");
    }
    layer->index = i;
    layer->parameter_budget = &budget;
    try {
      shape = layer->build(shape, seed, i);
      // Checked here, so the next layer never builds on a shape its int sizes cannot hold.
      check_tensor_size(shape, "its output, one image's");
    } catch (const InputError& e) {
      items[i].fail(e.what());
    }
    layer->parameter_budget = nullptr;
    layer->output_shape = shape;
    model.layers.push_back(std::move(layer));
  }
  if (spec.has("freeze")) apply_freeze(model, spec.child("freeze"));
  if (spec.has("weights")) {
    std::vector<NamedDestination> wanted;
    for (Parameter* p : model.parameters()) wanted.push_back({p->name, p->value});
    try {
      load_named_weights(spec.get_path("weights"), wanted);
    } catch (const InputError& e) {
      spec.child("weights").fail(e.what());
    }
  }
  for (auto& layer : model.layers)
    for (Parameter& p : layer->parameters()) p.value.set_requires_grad(layer->trainable && p.trainable);
  return model;
}

Tensor train_on_batch(Model& model, Optimizer& optimizer, const Tensor& x, const Tensor& y,
                      const ForwardContext& context) {
  const Tensor logits = model.forward_logits(x, context);
  Tensor loss;
  {
    const ProfileRegion timed(ProfilePhase::Forward, kLossProfileLabel);
    loss = bce_with_logits(logits, y);
  }
  loss.backward();
  const ProfileRegion timed(ProfilePhase::Optimizer, kOptimizerProfileLabel);
  optimizer.step();
  optimizer.zero_grad();
  return loss;
}

}  // namespace cxr
