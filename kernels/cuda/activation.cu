// CUDA twins of kernels/cpu/activation.cpp. The arithmetic is written exactly as on the CPU (same
// operations in the same order), so only expf's rounding can differ between the two.
#include "kernels/activation.h"
#include "kernels/cuda/map.cuh"

namespace cxr::kernels::cuda {
namespace {

struct ReluForward {
  __device__ float operator()(float x, float) const { return x <= 0.0f ? 0.0f : x; }  // NaN stays NaN
};
struct ReluBackward {  // (x, dy)
  __device__ float operator()(float x, float dy) const { return x > 0.0f ? dy : 0.0f; }
};
struct SigmoidForward {  // stable for large |x|: never evaluates exp of a large positive number
  __device__ float operator()(float x, float) const {
    const float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  }
};
struct SigmoidBackward {  // (y, dy)
  __device__ float operator()(float y, float dy) const { return dy * y * (1.0f - y); }
};

}  // namespace

void relu_forward(int64_t n, const float* x, float* y) { detail::launch_map<1>(n, x, nullptr, y, ReluForward{}); }

void relu_backward(int64_t n, const float* x, const float* dy, float* dx) {
  detail::launch_map<2>(n, x, dy, dx, ReluBackward{});
}

void sigmoid_forward(int64_t n, const float* x, float* y) {
  detail::launch_map<1>(n, x, nullptr, y, SigmoidForward{});
}

void sigmoid_backward(int64_t n, const float* y, const float* dy, float* dx) {
  detail::launch_map<2>(n, y, dy, dx, SigmoidBackward{});
}

}  // namespace cxr::kernels::cuda
