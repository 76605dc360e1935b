// ResNet50V2: YAML `type: ResNet50V2, include_top: false, weights: PATH|none` is ONE nested layer
// ("resnet50v2 (Functional)" in the summary), as the notebook used it. The architecture lives in
// layers/resnet50v2_graph.h; here a Builder creates its parameters ("resnet50v2/conv1_conv/kernel",
// ...) and a Runner calls the engine ops. `weights:` is a safetensors file from
// tools/convert_keras_h5.py, matched by name (layers/weights.h).
//
// Freezing: the whole layer (`trainable: false`) or parts of it by parameter name (model `freeze:`,
// layers/model.cpp). A BatchNormalization whose gamma is frozen runs in inference mode, as in Keras.
#include <filesystem>
#include <map>
#include <memory>

#include "engine/error.h"
#include "engine/init.h"
#include "engine/ops.h"
#include "engine/profile.h"
#include "kernels/conv2d.h"
#include "kernels/pool.h"
#include "layers/registry.h"
#include "layers/resnet50v2_graph.h"
#include "layers/weights.h"

namespace cxr {
namespace {

constexpr float kBnEpsilon = 1.001e-5f;  // resnet.py passes epsilon=1.001e-5 to every BN
constexpr float kBnMomentum = 0.99f;     // Keras's default

class ResNet50V2 : public Layer {
 public:
  std::string weights_path;  // empty: Keras's initialisers (weights=None)

  const char* class_name() const override { return "Functional"; }
  Shape build(const Shape& in, uint64_t seed, uint64_t index) override;
  Tensor forward(const Tensor& x, const ForwardContext& context) override;
  std::vector<Product> products() const override;

  Shape input_shape;  // [H, W, C], kept by build() for products()

  // Where each Keras layer's parameters start in parameters(): kernel[, bias] or gamma, beta, mean, variance.
  std::map<std::string, size_t> first_parameter;
  std::map<std::string, bool> has_bias;
  Tensor& new_parameter(const std::string& short_name, const Shape& shape, bool is_trainable) {
    return add_parameter(short_name, shape, is_trainable);
  }
};

// Values as shapes [H, W, C]: the ops without parameters, for the Builder and the Counter.
struct ShapeOps {
  static kernels::Conv2dShape conv_shape(const Shape& x, int filters, int k, int stride) {
    return kernels::make_conv2d_shape(1, static_cast<int>(x[0]), static_cast<int>(x[1]), static_cast<int>(x[2]),
                                      filters, k, k, stride, stride, false);
  }
  Shape relu(const Shape& x) { return x; }
  int part(const std::string&) { return 0; }  // building times nothing
  Shape zero_pad(const Shape& x, int p) { return {x[0] + 2 * p, x[1] + 2 * p, x[2]}; }
  Shape max_pool(const Shape& x, int k, int stride) {
    const auto s = kernels::make_pool2d_shape(1, static_cast<int>(x[0]), static_cast<int>(x[1]),
                                              static_cast<int>(x[2]), k, k, stride, stride, false);
    return {s.OH, s.OW, x[2]};
  }
  Shape add(const Shape& a, const Shape& b) {
    CXR_CHECK(a == b, "resnet50v2: residual branches differ: " << shape_str(a) << " vs " << shape_str(b));
    return a;
  }
};

// Build mode: conv and batch_norm create the parameters.
struct Builder : ShapeOps {
  ResNet50V2& layer;
  uint64_t seed, index;
  uint64_t convs = 0;

  Builder(ResNet50V2& l, uint64_t s, uint64_t i) : layer(l), seed(s), index(i) {}
  Shape conv(const Shape& x, const std::string& name, int filters, int k, int stride, bool bias) {
    const int C = static_cast<int>(x[2]);
    const auto s = conv_shape(x, filters, k, stride);
    layer.first_parameter[name] = layer.parameters().size();
    layer.has_bias[name] = bias;
    Tensor& w = layer.new_parameter(name + "/kernel", {filters, k, k, C}, true);
    // Streams above every top-level layer's (index * 16 + ...), one per conv.
    glorot_uniform_(w, int64_t{k} * k * C, int64_t{k} * k * filters, seed, (uint64_t{1} << 40) + index * 4096 + convs++);
    if (bias) layer.new_parameter(name + "/bias", {filters}, true);
    return {s.OH, s.OW, filters};
  }
  Shape batch_norm(const Shape& x, const std::string& name) {
    layer.first_parameter[name] = layer.parameters().size();
    layer.new_parameter(name + "/gamma", {x[2]}, true).fill_(1.0f);
    layer.new_parameter(name + "/beta", {x[2]}, true);
    layer.new_parameter(name + "/moving_mean", {x[2]}, false);
    layer.new_parameter(name + "/moving_variance", {x[2]}, false).fill_(1.0f);
    return x;
  }
};

// products() mode: each conv's multiply-adds, under the part (block) it runs in.
struct Counter : ShapeOps {
  const ResNet50V2& layer;
  std::vector<Product> products;
  std::string current_part;

  explicit Counter(const ResNet50V2& l) : layer(l) {}
  bool trains(const std::string& name) const {  // its kernel, or its gamma
    return layer.trainable && layer.parameters()[layer.first_parameter.at(name)].trainable;
  }
  int part(const std::string& name) {
    current_part = name;
    return 0;
  }
  Shape conv(const Shape& x, const std::string& name, int filters, int k, int stride, bool) {
    const auto s = conv_shape(x, filters, k, stride);
    const double outputs = static_cast<double>(s.OH) * s.OW * filters;
    products.push_back({current_part, outputs * k * k * static_cast<double>(x[2]), trains(name)});
    return {s.OH, s.OW, filters};
  }
  Shape batch_norm(const Shape& x, const std::string& name) {
    if (trains(name)) products.push_back({current_part, 0, true});
    return x;
  }
};

// Run mode: values are NHWC tensors.
struct Runner {
  ResNet50V2& layer;
  const ForwardContext& context;

  Tensor conv(const Tensor& x, const std::string& name, int, int, int stride, bool) {
    auto& p = layer.parameters();
    const size_t i = layer.first_parameter.at(name);
    return conv2d(x, p[i].value, layer.has_bias.at(name) ? p[i + 1].value : Tensor(), stride, stride, false);
  }
  Tensor batch_norm(const Tensor& x, const std::string& name) {
    auto& p = layer.parameters();
    const size_t i = layer.first_parameter.at(name);
    // Keras forces training=False in a frozen BN (facts §3): the whole backbone or this BN.
    const bool training = context.training && layer.trainable && p[i].trainable;
    return cxr::batch_norm(x, p[i].value, p[i + 1].value, p[i + 2].value, p[i + 3].value,
                           {training, kBnMomentum, kBnEpsilon});
  }
  Tensor relu(const Tensor& x) { return cxr::relu(x); }
  // A stage or block of the backbone as a row of its own, "resnet50v2/conv4_block6", with a Profile
  // alive; the layer's own row keeps only the moments between them.
  ProfileRegion part(const std::string& name) {
    return ProfileRegion(ProfilePhase::Forward, active_profile() ? layer.name + "/" + name : std::string());
  }
  Tensor zero_pad(const Tensor& x, int p) { return zero_pad2d(x, p, p, p, p); }
  Tensor max_pool(const Tensor& x, int k, int stride) { return max_pool2d(x, k, k, stride, stride, false); }
  Tensor add(const Tensor& a, const Tensor& b) { return cxr::add(a, b); }
};

Shape ResNet50V2::build(const Shape& in, uint64_t seed, uint64_t index) {
  CXR_CHECK(in.size() == 3, "layer '" << name << "' (ResNet50V2) needs an image input [H, W, C], got " << shape_str(in));
  // keras obtain_input_shape(min_size=32).
  CXR_CHECK(in[0] >= 32 && in[1] >= 32, "layer '" << name << "' (ResNet50V2): input " << shape_str(in)
                                                  << " is smaller than Keras's minimum of 32x32");
  input_shape = in;
  Builder builder(*this, seed, index);
  const Shape out = resnet::resnet50v2(builder, in);
  if (!weights_path.empty()) {
    // The file names tensors as the Keras model does ("resnet50v2/conv1_conv/kernel"), whatever
    // this layer is called in the YAML.
    std::vector<NamedDestination> wanted;
    for (const Parameter& p : parameters())
      wanted.push_back({"resnet50v2" + p.name.substr(name.size()), p.value});
    load_named_weights(weights_path, wanted);
  }
  return out;
}

Tensor ResNet50V2::forward(const Tensor& x, const ForwardContext& context) {
  Runner runner{*this, context};
  return resnet::resnet50v2(runner, x);
}

std::vector<Product> ResNet50V2::products() const {
  Counter counter(*this);
  resnet::resnet50v2(counter, input_shape);
  return std::move(counter.products);
}

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<ResNet50V2>();
  if (spec.get_bool("include_top", false)) spec.child("include_top").fail("only include_top: false is supported");
  if (spec.has("weights") && !spec.child("weights").is_null()) {
    const std::string path = spec.get_string("weights");
    if (path == "imagenet")
      spec.child("weights").fail("give the converted file's path (tools/convert_keras_h5.py), not 'imagenet'");
    if (path != "none") layer->weights_path = spec.get_path("weights");  // or beside the config
  }
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(ResNet50V2, "resnet50v2", (std::vector<std::string>{"include_top", "weights"}), make);

}  // namespace cxr
