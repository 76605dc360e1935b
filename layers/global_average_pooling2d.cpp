// GlobalAveragePooling2D: [H, W, C] -> [C], the mean over each channel's pixels
// (engine/ops/global_pool.cpp -> kernels/cpu/global_pool.cpp).
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class GlobalAveragePooling2D : public Layer {
 public:
  const char* class_name() const override { return "GlobalAveragePooling2D"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override {
    CXR_CHECK(in.size() == 3, "layer '" << name << "' (GlobalAveragePooling2D) needs an image input [H, W, C], got "
                                        << shape_str(in));
    return {in[2]};
  }
  Tensor forward(const Tensor& x, const ForwardContext&) override { return global_avg_pool2d(x); }
};

}  // namespace

CXR_REGISTER_LAYER(GlobalAveragePooling2D, "global_average_pooling2d", std::vector<std::string>{},
                   [](const SpecNode&) -> std::unique_ptr<Layer> { return std::make_unique<GlobalAveragePooling2D>(); });

}  // namespace cxr
