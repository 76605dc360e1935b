// Dense: YAML `type: Dense` -> engine/ops/dense.cpp -> kernels/cpu/dense.cpp (OpenBLAS sgemm).
#include "engine/error.h"
#include "engine/init.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "layers/activation_fn.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Dense : public Layer {
 public:
  int units = 0;
  bool use_bias = true;
  ActivationFn activation = ActivationFn::Linear;
  std::optional<KernelChoice> kernels;  // YAML `kernels: custom | vendor`: this layer's CUDA implementation

  const char* class_name() const override { return "Dense"; }

  Shape build(const Shape& in, uint64_t seed, uint64_t index) override {
    CXR_CHECK(in.size() == 1, "layer '" << name << "' (Dense) needs a flat input [features], got " << shape_str(in)
                                        << ": add a Flatten before it");
    Tensor& w = add_parameter("kernel", {in[0], units}, true);  // (in, out), Keras's layout
    glorot_uniform_(w, in[0], units, seed, index * 16);
    if (use_bias) add_parameter("bias", {units}, true);
    return {units};
  }

  Tensor forward_before_activation(const Tensor& x, const ForwardContext&) override {
    const KernelChoiceScope choice(kernels);  // the op keeps it for its backward
    return dense(x, parameters()[0].value, use_bias ? parameters()[1].value : Tensor());
  }
  Tensor forward(const Tensor& x, const ForwardContext& context) override {
    return apply_activation(forward_before_activation(x, context), activation);
  }
  ActivationFn output_activation() const override { return activation; }
  std::vector<Product> products() const override {  // one multiply-add per weight
    return {{"", static_cast<double>(parameters()[0].value.numel()), trainable && parameters()[0].trainable}};
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Dense>();
  layer->units = spec.get_int("units");
  if (layer->units < 1) spec.child("units").fail("units must be at least 1");
  layer->use_bias = spec.get_bool("use_bias", true);
  layer->activation = parse_activation(spec, "activation", "linear");
  layer->kernels = parse_kernels_key(spec);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Dense, "dense", (std::vector<std::string>{"units", "use_bias", "activation", "kernels"}), make);

}  // namespace cxr
