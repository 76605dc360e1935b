// Activation: YAML `type: Activation, activation: relu|sigmoid|linear`.
#include "layers/activation_fn.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Activation : public Layer {
 public:
  ActivationFn fn = ActivationFn::Linear;
  const char* class_name() const override { return "Activation"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override { return in; }
  Tensor forward(const Tensor& x, const ForwardContext&) override { return apply_activation(x, fn); }
  ActivationFn output_activation() const override { return fn; }
  Tensor forward_before_activation(const Tensor& x, const ForwardContext&) override { return x; }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Activation>();
  if (!spec.has("activation")) spec.fail("Activation needs `activation: relu|sigmoid|linear`");
  layer->fn = parse_activation(spec, "activation", "linear");
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Activation, "activation", (std::vector<std::string>{"activation"}), make);

}  // namespace cxr
