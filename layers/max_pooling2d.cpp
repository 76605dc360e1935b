// MaxPooling2D: YAML `type: MaxPooling2D` -> engine/ops/pool.cpp -> kernels/cpu/pool.cpp.
#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/pool.h"
#include "layers/activation_fn.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class MaxPooling2D : public Layer {
 public:
  std::pair<int, int> pool{2, 2}, strides{2, 2};
  bool same_padding = false;

  const char* class_name() const override { return "MaxPooling2D"; }

  Shape build(const Shape& in, uint64_t, uint64_t) override {
    CXR_CHECK(in.size() == 3, "layer '" << name << "' (MaxPooling2D) needs an image input [H, W, C], got "
                                        << shape_str(in));
    try {
      const auto s = kernels::make_pool2d_shape(1, static_cast<int>(in[0]), static_cast<int>(in[1]),
                                                static_cast<int>(in[2]), pool.first, pool.second, strides.first,
                                                strides.second, same_padding);
      return {s.OH, s.OW, in[2]};
    } catch (const std::exception& e) {
      CXR_CHECK(false, "layer '" << name << "' (MaxPooling2D " << pool.first << "x" << pool.second
                                 << ") cannot be applied to its input " << shape_str(in) << ": " << e.what());
    }
  }

  Tensor forward(const Tensor& x, const ForwardContext&) override {
    return max_pool2d(x, pool.first, pool.second, strides.first, strides.second, same_padding);
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<MaxPooling2D>();
  layer->pool = spec.get_int_pair("pool_size", {2, 2});
  layer->strides = spec.get_int_pair("strides", layer->pool);  // Keras: strides=None means pool_size
  if (layer->pool.first < 1 || layer->pool.second < 1 || layer->strides.first < 1 || layer->strides.second < 1)
    spec.fail("pool_size and strides must be at least 1");
  layer->same_padding = parse_padding(spec);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(MaxPooling2D, "max_pooling2d", (std::vector<std::string>{"pool_size", "strides", "padding"}), make);

}  // namespace cxr
