// Conv2D: YAML `type: Conv2D` -> engine/ops/conv2d.cpp -> kernels/cpu/conv2d.cpp (and kernels/cuda/).
#include "engine/error.h"
#include "engine/init.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "kernels/conv2d.h"
#include "layers/activation_fn.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class Conv2D : public Layer {
 public:
  int filters = 0;
  std::pair<int, int> kernel{1, 1}, strides{1, 1};
  bool same_padding = false, use_bias = true;
  ActivationFn activation = ActivationFn::Linear;
  std::optional<KernelChoice> kernels;  // YAML `kernels: custom | vendor`: this layer's CUDA implementation

  const char* class_name() const override { return "Conv2D"; }

  Shape build(const Shape& in, uint64_t seed, uint64_t index) override {
    CXR_CHECK(in.size() == 3, "layer '" << name << "' (Conv2D) needs an image input [H, W, C], got " << shape_str(in));
    const int H = static_cast<int>(in[0]), W = static_cast<int>(in[1]), C = static_cast<int>(in[2]);
    const auto [kh, kw] = kernel;
    kernels::Conv2dShape s;
    try {
      s = kernels::make_conv2d_shape(1, H, W, C, filters, kh, kw, strides.first, strides.second, same_padding);
    } catch (const std::exception& e) {
      CXR_CHECK(false, "layer '" << name << "' (Conv2D " << kh << "x" << kw << ", strides " << strides.first << ")"
                                 << " cannot be applied to its input " << shape_str(in) << ": the output would be "
                                 << "smaller than 1 pixel (" << e.what() << ")");
    }
    // Keras's shapes: kernel (kh, kw, C, filters); ours is OHWI = (filters, kh, kw, C).
    Tensor& w = add_parameter("kernel", {filters, kh, kw, C}, true);
    glorot_uniform_(w, int64_t{kh} * kw * C, int64_t{kh} * kw * filters, seed, index * 16);
    if (use_bias) add_parameter("bias", {filters}, true);  // zeros, as Keras
    return {s.OH, s.OW, filters};
  }

  Tensor forward_before_activation(const Tensor& x, const ForwardContext&) override {
    const Tensor bias = use_bias ? parameters()[1].value : Tensor();
    const KernelChoiceScope choice(kernels);  // the op keeps it for its backward
    return conv2d(x, parameters()[0].value, bias, strides.first, strides.second, same_padding);
  }
  Tensor forward(const Tensor& x, const ForwardContext& context) override {
    return apply_activation(forward_before_activation(x, context), activation);
  }
  ActivationFn output_activation() const override { return activation; }
  // Per output value (OH x OW x filters), a multiply-add per kernel element per input channel.
  std::vector<Product> products() const override {
    const double outputs = static_cast<double>(output_shape[0] * output_shape[1] * output_shape[2]);
    const double taps = static_cast<double>(parameters()[0].value.numel() / filters);  // kh * kw * C
    return {{"", outputs * taps, trainable && parameters()[0].trainable}};  // the kernel's gradient
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<Conv2D>();
  layer->filters = spec.get_int("filters");
  if (layer->filters < 1) spec.child("filters").fail("filters must be at least 1");
  if (spec.has("kernel") == spec.has("kernel_size")) spec.fail("Conv2D needs exactly one of kernel or kernel_size");
  layer->kernel = spec.get_int_pair(spec.has("kernel") ? "kernel" : "kernel_size", {1, 1});
  layer->strides = spec.get_int_pair("strides", {1, 1});
  if (layer->kernel.first < 1 || layer->kernel.second < 1) spec.fail("kernel sizes must be at least 1");
  if (layer->strides.first < 1 || layer->strides.second < 1) spec.fail("strides must be at least 1");
  layer->same_padding = parse_padding(spec);
  layer->use_bias = spec.get_bool("use_bias", true);
  layer->activation = parse_activation(spec, "activation", "linear");
  layer->kernels = parse_kernels_key(spec);
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(Conv2D, "conv2d", (std::vector<std::string>{"filters", "kernel", "kernel_size", "strides", "padding", "use_bias", "activation", "kernels"}), make);

}  // namespace cxr
