// Binary cross-entropy on logits and binary accuracy, as Keras computes them for a model whose
// output is a sigmoid (keras-facts §4: Keras swaps in the cached logits, so the loss is the stable
// logits form with no clipping). z are the logits, y the 0/1 labels, n the batch size.
// Same conventions as kernels/activation.h.
#pragma once
#include <cstdint>

namespace cxr::kernels {
namespace cpu {
// Mean over the n samples of max(z,0) - z*y + log1p(exp(-|z|)), computed and accumulated in double.
float bce_logits_forward(int64_t n, const float* z, const float* y);
// dz = grad_scale * (sigmoid(z) - y) / n: the gradient of grad_scale * the mean loss. dz is OVERWRITTEN.
void bce_logits_backward(int64_t n, const float* z, const float* y, float grad_scale, float* dz);
// Number of samples whose prediction (sigmoid(z) computed in float > 0.5f, strictly, Keras's
// threshold) equals their label (y > 0.5). z = 0 gives p = 0.5, which predicts class 0.
int64_t binary_accuracy_count(int64_t n, const float* z, const float* y);
}  // namespace cpu

// CUDA twins (kernels/cuda/loss.cu). Scalars stay on the device so a training step never waits for
// the GPU: the loss is written to device memory, the backward reads its scale from device memory,
// and the correct-count is added onto a device counter the trainer reads once per epoch.
namespace cuda {
void bce_logits_forward(int64_t n, const float* z, const float* y, float* mean_out);
void bce_logits_backward(int64_t n, const float* z, const float* y, const float* grad_scale, float* dz);
void binary_accuracy_count(int64_t n, const float* z, const float* y, unsigned long long* counter);  // *counter += count
// *sum += double(*value) * weight: the epoch's loss sum, weighted by batch size as Keras does.
void accumulate_weighted(const float* value, double weight, double* sum);
}  // namespace cuda
}  // namespace cxr::kernels
