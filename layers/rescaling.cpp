// Rescaling: y = x * scale + offset, Keras's `layers.Rescaling(scale, offset)`. With data
// `rescale: 1.0`, `{type: Rescaling, scale: 0.00784313725490196, offset: -1}` is ResNet50V2's
// preprocess_input (mode 'tf': x / 127.5 - 1, facts §1) inside the model.
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Rescaling : public Layer {
 public:
  float scale = 1.0f, offset = 0.0f;
  const char* class_name() const override { return "Rescaling"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override { return in; }
  Tensor forward(const Tensor& x, const ForwardContext&) override {
    const Tensor scaled = cxr::scale(x, scale);
    if (offset == 0.0f) return scaled;
    return add(scaled, Tensor::full(x.shape(), offset, x.device(), "rescaling_offset"));
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Rescaling>();
  layer->scale = spec.get_float("scale");
  layer->offset = spec.get_float("offset", 0.0);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Rescaling, "rescaling", (std::vector<std::string>{"scale", "offset"}), make);

}  // namespace cxr
