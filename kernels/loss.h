// Binary cross-entropy on logits and binary accuracy, as Keras computes them for a model whose
// output is a sigmoid (keras-facts §4: Keras swaps in the cached logits, so the loss is the stable
// logits form with no clipping). z are the logits, y the 0/1 labels, n the batch size.
// Same conventions as kernels/activation.h.
//
// w, when not null, holds a weight per sample (Keras's sample_weight, which model.fit builds from
// class_weight): the loss is then the mean of w[i] * loss[i], still divided by n (Keras's
// SUM_OVER_BATCH_SIZE reduction, not a division by the weights' sum). Null gives exactly the
// unweighted results.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
// Mean over the n samples of (w[i] *) max(z,0) - z*y + log1p(exp(-|z|)), computed and accumulated in double.
float bce_logits_forward(int64_t n, const float* z, const float* y, const float* w = nullptr);
// dz = grad_scale * (w[i] *) (sigmoid(z) - y) / n: the gradient of grad_scale * the mean loss. dz is OVERWRITTEN.
void bce_logits_backward(int64_t n, const float* z, const float* y, float grad_scale, float* dz,
                         const float* w = nullptr);
// Number of samples whose prediction (sigmoid(z) computed in float > 0.5f, strictly, Keras's
// threshold) equals their label (y > 0.5). z = 0 gives p = 0.5, which predicts class 0.
int64_t binary_accuracy_count(int64_t n, const float* z, const float* y);
// w[i] = y[i] > 0.5 ? weight1 : weight0: per-sample weights from 0/1 labels and a weight per class
// (Keras's class_weight, gathered by label).
void label_weights(int64_t n, const float* y, float weight0, float weight1, float* w);
}  // namespace cpu

// CUDA twins (kernels/cuda/loss.cu). Scalars stay on the device so a training step never waits for
// the GPU: the loss is written to device memory, the backward reads its scale from device memory,
// and the correct-count is added onto a device counter the trainer reads once per epoch.
namespace cuda {
void bce_logits_forward(int64_t n, const float* z, const float* y, float* mean_out, const float* w = nullptr);
void bce_logits_backward(int64_t n, const float* z, const float* y, const float* grad_scale, float* dz,
                         const float* w = nullptr);
void binary_accuracy_count(int64_t n, const float* z, const float* y, unsigned long long* counter);  // *counter += count
void label_weights(int64_t n, const float* y, float weight0, float weight1, float* w);
// *sum += double(*value) * weight: the epoch's loss sum, weighted by batch size as Keras does.
void accumulate_weighted(const float* value, double weight, double* sum);
}  // namespace cuda
}  // namespace cxr::kernels
