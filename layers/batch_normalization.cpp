// BatchNormalization: YAML `type: BatchNormalization` -> engine/ops/batchnorm.cpp -> kernels/cpu/batchnorm.cpp.
// Followed by a Dropout and a relu Activation, the three run as one op in training (forward_then_dropout_relu).
// gamma and beta are trainable; the moving statistics are not (Keras's counts: 4C params, 2C trainable).
// A frozen layer (trainable: false) always runs in inference mode, as Keras 2 does (facts §3).
#include "engine/error.h"
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class BatchNormalization : public Layer {
 public:
  float momentum = 0.99f, epsilon = 1e-3f;  // Keras's defaults

  const char* class_name() const override { return "BatchNormalization"; }

  Shape build(const Shape& in, uint64_t, uint64_t) override {
    CXR_CHECK(!in.empty(), "layer '" << name << "' (BatchNormalization) needs a channel axis");
    const int64_t C = in.back();
    add_parameter("gamma", {C}, true).fill_(1.0f);
    add_parameter("beta", {C}, true);
    add_parameter("moving_mean", {C}, false);
    add_parameter("moving_variance", {C}, false).fill_(1.0f);
    return in;
  }

  // Frozen, by the layer's `trainable: false` or by a `freeze:` entry that freezes its gamma, the
  // layer runs in inference mode and its moving statistics stay as they are (Keras 2's rule for a
  // non-trainable BatchNormalization; the ResNet's inner ones decide by gamma the same way).
  bool updates_statistics() const { return trainable && parameters()[0].trainable; }

  Tensor forward(const Tensor& x, const ForwardContext& context) override {
    auto& p = parameters();
    const BatchNormOptions options{context.training && updates_statistics(), momentum, epsilon};
    return batch_norm(x, p[0].value, p[1].value, p[2].value, p[3].value, options);
  }

  // With the Dropout and relu after it: one op in training (engine/ops.h's batch_norm_dropout_relu).
  // Where that op has no kernels of its own (cuDNN's batch norm), the model runs the layers apart,
  // each under its own kernel choice.
  Tensor forward_then_dropout_relu(const Tensor& x, const ForwardContext& context, const DropoutKey& key) override {
    if (!context.training || !batch_norm_dropout_relu_is_fused(x)) return Tensor();
    auto& p = parameters();
    const BatchNormOptions options{updates_statistics(), momentum, epsilon};
    return batch_norm_dropout_relu(x, p[0].value, p[1].value, p[2].value, p[3].value, options, key);
  }
};

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<BatchNormalization>();
  layer->momentum = spec.get_float("momentum", 0.99);
  layer->epsilon = spec.get_float("epsilon", 1e-3, /*positive=*/true);
  if (!(layer->momentum >= 0.0f && layer->momentum <= 1.0f)) spec.child("momentum").fail("momentum must be in [0, 1]");
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(BatchNormalization, "batch_normalization", (std::vector<std::string>{"momentum", "epsilon"}), make);

}  // namespace cxr
