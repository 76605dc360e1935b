// The differentiable ops. Each one checks shapes and devices (errors name the tensors), runs the
// CPU kernel or its CUDA twin (kernels/), and records its backward for autograd.
// One file per op family in engine/ops/.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace cxr {

// Elementwise and reductions (engine/ops/elementwise.cpp).
Tensor add(const Tensor& a, const Tensor& b);  // same shape
Tensor mul(const Tensor& a, const Tensor& b);  // same shape
Tensor scale(const Tensor& x, float alpha);
Tensor sum(const Tensor& x);   // one element
Tensor mean(const Tensor& x);  // one element

// Activations (engine/ops/activation.cpp).
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);

// Shape (engine/ops/reshape.cpp): a view sharing storage; -1 infers one dimension.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x);  // [N, ...] -> [N, prod(...)], NHWC order as Keras's Flatten

// Conv2D (engine/ops/conv2d.cpp): x NHWC, weight OHWI [K, R, S, C], bias [K] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride_h, int stride_w,
              bool same_padding);

// Dense (engine/ops/dense.cpp): x [B, in], weight [in, out] (Keras's layout), bias [out] or undefined.
Tensor dense(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ZeroPadding2D (engine/ops/zero_pad2d.cpp), NHWC: zeros on each side, possibly unequal.
Tensor zero_pad2d(const Tensor& x, int top, int bottom, int left, int right);

// GlobalAveragePooling2D (engine/ops/global_pool.cpp): [N, H, W, C] -> [N, C], the mean over H and W.
Tensor global_avg_pool2d(const Tensor& x);

// MaxPool2D (engine/ops/pool.cpp), NHWC.
Tensor max_pool2d(const Tensor& x, int pool_h, int pool_w, int stride_h, int stride_w, bool same_padding);

// BatchNormalization over the last axis (engine/ops/batchnorm.cpp). In training mode it normalises
// with batch statistics and updates the moving statistics in place (Keras's rule, facts §3);
// in inference mode it uses the moving statistics.
struct BatchNormOptions {
  bool training = false;
  float momentum = 0.99f;
  float epsilon = 1e-3f;
};
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                  Tensor& moving_var, const BatchNormOptions& options);

// Inverted dropout (engine/ops/dropout.cpp) with a counter-based mask keyed by (seed, stream):
// the same key gives the same mask on every device. Identity when rate == 0.
Tensor dropout(const Tensor& x, float rate, uint64_t seed, uint64_t stream);
// relu(dropout(x, rate, seed, stream)) as one op: a pass each way instead of two (the model fuses a
// Dropout followed by a relu Activation this way, layers/model.cpp). The same values and gradients,
// bit for bit; under the vendor choice on CUDA (cuDNN's dropout and relu) it is the two ops.
Tensor dropout_relu(const Tensor& x, float rate, uint64_t seed, uint64_t stream);

// What keys a dropout mask: element i is kept iff philox_uniform(seed, stream, i) >= rate.
struct DropoutKey {
  float rate = 0.0f;
  uint64_t seed = 0, stream = 0;
};
// dropout_relu(batch_norm(x, ...), key) as one op (engine/ops/batchnorm.cpp; the model fuses a
// BatchNormalization, a Dropout and a relu Activation this way, layers/model.cpp): the same values,
// moving statistics and gradients, bit for bit. In training mode under the custom kernels, on the
// CPU and on CUDA, one kernel each way (kernels/batchnorm.h), with neither batch norm's output nor
// dropout's gradient ever written; otherwise (and on CUDA with CXR_BATCHNORM_DROPOUT_RELU=0) the
// two ops.
Tensor batch_norm_dropout_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                               Tensor& moving_var, const BatchNormOptions& options, const DropoutKey& key);
// Whether it runs its own kernels for x in training (else batch_norm, then dropout_relu).
bool batch_norm_dropout_relu_is_fused(const Tensor& x);

// Binary cross-entropy on logits, mean over the batch (engine/ops/loss.cpp): what Keras computes
// for a sigmoid output (facts §4). z and y have the same shape. `weights` (optional, one per
// sample) multiply each sample's loss as Keras's sample_weight does; the mean still divides by the
// batch size (SUM_OVER_BATCH_SIZE). Undefined: unweighted, bit for bit.
Tensor bce_with_logits(const Tensor& logits, const Tensor& targets, const Tensor& weights = Tensor());
// Per-sample weights from 0/1 labels: weight1 where label > 0.5, else weight0 (Keras's class_weight
// gathered by label). Same shape and device as `labels`.
Tensor label_weights(const Tensor& labels, float weight0, float weight1);

}  // namespace cxr
