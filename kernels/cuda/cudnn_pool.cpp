// cuDNN max pooling (kernels/pool.h, namespace vendor): CUDNN_POOLING_MAX_DETERMINISTIC, so the
// gradient is the same on every run. cuDNN pads symmetrically and ignores padded positions (they
// never win, as on the CPU); TensorFlow's 'same' padding puts an odd pixel at the end, which cuDNN
// cannot express, so such shapes (and any whose output size cuDNN computes differently) run on the
// custom kernel. Which of several equal maxima gets the gradient is cuDNN's undocumented choice: the
// conformance test compares the vendor backward on tie-free inputs only.
#include "kernels/cuda/check.h"
#include "kernels/cuda/cudnn_descriptors.h"
#include "kernels/cuda/vendor_handles.h"
#include "kernels/pool.h"

namespace cxr::kernels::vendor {
namespace {

using cuda::detail::PoolingDesc;
using cuda::detail::TensorDesc;

struct PoolPlan {
  TensorDesc x, y;
  PoolingDesc pool;
  bool expressible = false;
  explicit PoolPlan(const Pool2dShape& s) : x(s.N, s.H, s.W, s.C), y(s.N, s.OH, s.OW, s.C) {
    if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) return;
    CXR_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pool.get(), CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN, s.ph,
                                                s.pw, s.pad_top, s.pad_left, s.sh, s.sw));
    int n = 0, c = 0, h = 0, w = 0;
    CXR_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool.get(), x.get(), &n, &c, &h, &w));
    expressible = n == s.N && c == s.C && h == s.OH && w == s.OW;
  }
};

}  // namespace

void maxpool2d_forward(const Pool2dShape& s, const float* x, float* y) {
  const PoolPlan plan(s);
  if (!plan.expressible) return cuda::maxpool2d_forward(s, x, y);
  const float alpha = 1.0f, beta = 0.0f;
  CXR_CUDNN_CHECK(
      cudnnPoolingForward(cuda::detail::cudnn_handle(), plan.pool.get(), &alpha, plan.x.get(), x, &beta, plan.y.get(), y));
}

void maxpool2d_backward(const Pool2dShape& s, const float* x, const float* y, const float* dy, float* dx) {
  const PoolPlan plan(s);
  if (!plan.expressible) return cuda::maxpool2d_backward(s, x, dy, dx);
  const float alpha = 1.0f, beta = 0.0f;  // beta 0: dx is overwritten, as the custom kernel does
  CXR_CUDNN_CHECK(cudnnPoolingBackward(cuda::detail::cudnn_handle(), plan.pool.get(), &alpha, plan.y.get(), y,
                                       plan.y.get(), dy, plan.x.get(), x, &beta, plan.x.get(), dx));
}

}  // namespace cxr::kernels::vendor
