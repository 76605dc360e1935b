// RAII owners of the cuDNN descriptors the vendor batch-norm, pooling and activation paths build per
// call (descriptor creation is host-only and cheap next to the kernels it describes, and no cache
// means no lock and nothing to invalidate). Host code of the vendor paths only.
//
// These paths use cuDNN's legacy API (cudnnBatchNormalization*, cudnnPooling*, cudnnActivation*),
// deprecated in cuDNN 9 in favour of the graph API but still shipped and supported; the deprecation
// warnings are off unless CUDNN_WARN_DEPRECATED is defined.
#pragma once

#include <cudnn.h>

#include <cstdint>

#include "kernels/cuda/check.h"

namespace cxr::kernels::cuda::detail {

class TensorDesc {
 public:
  TensorDesc() { CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_)); }
  // A float tensor [n][h][w][c] in memory (NHWC); cuDNN's dimension order is n, c, h, w.
  TensorDesc(int n, int h, int w, int c) : TensorDesc() {
    CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc_); }  // cannot fail for a created descriptor
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class PoolingDesc {
 public:
  PoolingDesc() { CXR_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&desc_)); }
  ~PoolingDesc() { cudnnDestroyPoolingDescriptor(desc_); }
  PoolingDesc(const PoolingDesc&) = delete;
  PoolingDesc& operator=(const PoolingDesc&) = delete;
  cudnnPoolingDescriptor_t get() const { return desc_; }

 private:
  cudnnPoolingDescriptor_t desc_ = nullptr;
};

class ActivationDesc {
 public:
  explicit ActivationDesc(cudnnActivationMode_t mode) {
    CXR_CUDNN_CHECK(cudnnCreateActivationDescriptor(&desc_));
    // NaNs pass through, as tf.nn.relu and tf.sigmoid let them: a diverging run must show NaN.
    CXR_CUDNN_CHECK(cudnnSetActivationDescriptor(desc_, mode, CUDNN_PROPAGATE_NAN, 0.0));
  }
  ~ActivationDesc() { cudnnDestroyActivationDescriptor(desc_); }
  ActivationDesc(const ActivationDesc&) = delete;
  ActivationDesc& operator=(const ActivationDesc&) = delete;
  cudnnActivationDescriptor_t get() const { return desc_; }

 private:
  cudnnActivationDescriptor_t desc_ = nullptr;
};

// cuDNN takes int dimensions.
inline bool fits_int(int64_t n) { return n > 0 && n <= INT32_MAX; }

}  // namespace cxr::kernels::cuda::detail
