// Dropout: YAML `type: Dropout, rate: 0.5` -> engine/ops/dropout.cpp -> kernels/cpu/dropout.cpp.
// Active only in training mode. Like Keras, it ignores `trainable`: a frozen Dropout still drops.
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Dropout : public Layer {
 public:
  float rate = 0.0f;
  const char* class_name() const override { return "Dropout"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override { return in; }
  Tensor forward(const Tensor& x, const ForwardContext& context) override {
    if (!context.training) return x;
    // A fresh mask per step and per layer: the stream packs (layer index, step).
    return dropout(x, rate, context.seed, (index << 40) ^ context.step);
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Dropout>();
  const double rate = spec.get_double("rate");
  if (!(rate >= 0.0 && rate < 1.0)) spec.child("rate").fail("rate must be in [0, 1)");
  layer->rate = static_cast<float>(rate);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Dropout, "dropout", std::vector<std::string>{"rate"}, make);

}  // namespace cxr
