// cuDNN activations (kernels/activation.h, namespace vendor): cudnnActivationForward/Backward over
// the n elements viewed as one [n][1][1][1] tensor. Sizes cuDNN's int dimensions cannot hold (and
// n == 0) take the custom kernel.
#include "kernels/activation.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/cudnn_descriptors.h"
#include "kernels/cuda/vendor_handles.h"

namespace cxr::kernels::vendor {
namespace {

using cuda::detail::ActivationDesc;
using cuda::detail::TensorDesc;

void forward(cudnnActivationMode_t mode, int64_t n, const float* x, float* y) {
  const TensorDesc desc(static_cast<int>(n), 1, 1, 1);
  const ActivationDesc act(mode);
  const float alpha = 1.0f, beta = 0.0f;
  CXR_CUDNN_CHECK(cudnnActivationForward(cuda::detail::cudnn_handle(), act.get(), &alpha, desc.get(), x, &beta,
                                         desc.get(), y));
}

// cuDNN's backward takes both the forward's input and output and does not document which one each
// mode reads, so both are passed.
void backward(cudnnActivationMode_t mode, int64_t n, const float* x, const float* y, const float* dy, float* dx) {
  const TensorDesc desc(static_cast<int>(n), 1, 1, 1);
  const ActivationDesc act(mode);
  const float alpha = 1.0f, beta = 0.0f;
  CXR_CUDNN_CHECK(cudnnActivationBackward(cuda::detail::cudnn_handle(), act.get(), &alpha, desc.get(), y, desc.get(),
                                          dy, desc.get(), x, &beta, desc.get(), dx));
}

}  // namespace

void relu_forward(int64_t n, const float* x, float* y) {
  if (!cuda::detail::fits_int(n)) return cuda::relu_forward(n, x, y);
  forward(CUDNN_ACTIVATION_RELU, n, x, y);
}

void relu_backward(int64_t n, const float* x, const float* y, const float* dy, float* dx) {
  if (!cuda::detail::fits_int(n)) return cuda::relu_backward(n, x, dy, dx);
  backward(CUDNN_ACTIVATION_RELU, n, x, y, dy, dx);
}

void sigmoid_forward(int64_t n, const float* x, float* y) {
  if (!cuda::detail::fits_int(n)) return cuda::sigmoid_forward(n, x, y);
  forward(CUDNN_ACTIVATION_SIGMOID, n, x, y);
}

void sigmoid_backward(int64_t n, const float* x, const float* y, const float* dy, float* dx) {
  if (!cuda::detail::fits_int(n)) return cuda::sigmoid_backward(n, y, dy, dx);
  backward(CUDNN_ACTIVATION_SIGMOID, n, x, y, dy, dx);
}

}  // namespace cxr::kernels::vendor
