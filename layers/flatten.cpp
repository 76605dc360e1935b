// Flatten: NHWC -> [N, H*W*C] in Keras's order (a view, no copy).
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Flatten : public Layer {
 public:
  const char* class_name() const override { return "Flatten"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override { return {numel_of(in)}; }
  Tensor forward(const Tensor& x, const ForwardContext&) override { return flatten(x); }
};

}  // namespace

CXR_REGISTER_LAYER(Flatten, "flatten", std::vector<std::string>{},
                   [](const SpecNode&) -> std::unique_ptr<Layer> { return std::make_unique<Flatten>(); });

}  // namespace cxr
