// Dropout: YAML `type: Dropout, rate: 0.5` -> engine/ops/dropout.cpp -> kernels/cpu/dropout.cpp.
// Followed by `type: Activation, activation: relu`, the two run as one op (forward_then_relu), or
// with a BatchNormalization before them, the three (fusable_dropout).
// Active only in training mode. Like Keras, it ignores `trainable`: a frozen Dropout still drops.
// `kernels: custom` keeps this layer on the custom CUDA kernel, whose masks are the CPU's bit for bit,
// when the rest of the model runs on cuDNN (whose dropout draws from its own generator).
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "layers/activation_fn.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Dropout : public Layer {
 public:
  float rate = 0.0f;
  std::optional<KernelChoice> kernels;  // YAML `kernels: custom | vendor`: this layer's CUDA implementation
  const char* class_name() const override { return "Dropout"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override { return in; }
  Tensor forward(const Tensor& x, const ForwardContext& context) override {
    if (!context.training) return x;
    const KernelChoiceScope choice(kernels);  // the op keeps it for its backward
    return dropout(x, rate, context.seed, mask_stream(context));
  }
  // The relu after it fused in (engine/ops.h's dropout_relu) where both run the custom kernels: cuDNN's
  // relu (the choice the Activation layer runs under) or cuDNN's dropout (this layer's) keep two ops.
  Tensor forward_then_relu(const Tensor& x, const ForwardContext& context) override {
    if (!context.training) return Tensor();
    const auto vendor = [&] { return x.device().is_cuda() && current_kernel_choice() == KernelChoice::Vendor; };
    if (vendor()) return Tensor();
    const KernelChoiceScope choice(kernels);
    if (vendor()) return Tensor();
    return dropout_relu(x, rate, context.seed, mask_stream(context));
  }
  // The BatchNormalization before it may fuse this dropout, with the custom kernels' mask: not where
  // this layer asks for cuDNN's (moot on the CPU, where the layers then only run apart, with the
  // same bits).
  std::optional<DropoutKey> fusable_dropout(const ForwardContext& context) const override {
    if (!context.training || kernels == KernelChoice::Vendor) return std::nullopt;
    return DropoutKey{rate, context.seed, mask_stream(context)};
  }

 private:
  // A fresh mask per step and per layer: the stream packs (layer index, step). One place for every
  // path, so the fused ops draw the very mask the plain one would.
  uint64_t mask_stream(const ForwardContext& context) const { return (index << 40) ^ context.step; }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Dropout>();
  const double rate = spec.get_double("rate");
  if (!(rate >= 0.0 && rate < 1.0)) spec.child("rate").fail("rate must be in [0, 1)");
  layer->rate = static_cast<float>(rate);  // the kernels take a float32 rate: 0.99999999999 would be 1
  if (!(layer->rate < 1.0f)) spec.child("rate").fail("rate must be in [0, 1): " + spec.child("rate").as_string() +
                                                     " rounds to 1 as a float32");
  layer->kernels = parse_kernels_key(spec);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Dropout, "dropout", (std::vector<std::string>{"rate", "kernels"}), make);

}  // namespace cxr
