// cuDNN dropout (kernels/dropout.h, namespace vendor): cudnnDropoutForward/Backward over the n elements
// viewed as one [n][1][1][1] tensor. cudnnSetDropoutDescriptor initialises the RNG states on the
// device (slow, and the states are megabytes), so each (device, rate, seed) gets one descriptor and
// one states buffer, created on first use and kept for the process, like the handles; the states
// advance with every forward, which is why vendor masks are not reproducible across a resume.
// Sizes cuDNN's int dimensions cannot hold (and rate 0, a copy) take the custom kernel.
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "kernels/cuda/check.h"
#include "kernels/cuda/cudnn_descriptors.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor_handles.h"
#include "kernels/dropout.h"

namespace cxr::kernels::vendor {
namespace {

using cuda::detail::TensorDesc;

// (device, rate's bits, seed) -> its descriptor, whose states buffer is never freed.
using DropoutKey = std::tuple<int, uint32_t, uint64_t>;

struct DropoutCache {
  std::mutex mutex;
  std::map<DropoutKey, cudnnDropoutDescriptor_t> descriptors;
};

DropoutCache& cache() {
  static auto* c = new DropoutCache;  // never destroyed: static objects may still queue work during exit
  return *c;
}

cudnnDropoutDescriptor_t dropout_descriptor(float rate, uint64_t seed) {
  const int device = cuda::detail::current_device("cuDNN dropout");
  const cudnnHandle_t handle = cuda::detail::cudnn_handle();
  uint32_t rate_bits = 0;
  std::memcpy(&rate_bits, &rate, sizeof(rate_bits));
  DropoutCache& c = cache();
  std::lock_guard lock(c.mutex);
  const DropoutKey key{device, rate_bits, seed};
  if (const auto it = c.descriptors.find(key); it != c.descriptors.end()) return it->second;
  size_t state_bytes = 0;
  CXR_CUDNN_CHECK(cudnnDropoutGetStatesSize(handle, &state_bytes));
  void* states = cuda::device_alloc(state_bytes, "cuDNN dropout RNG states");
  cudnnDropoutDescriptor_t desc = nullptr;
  try {
    CXR_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&desc));
    CXR_CUDNN_CHECK(cudnnSetDropoutDescriptor(desc, handle, rate, states, state_bytes,
                                              static_cast<unsigned long long>(seed)));
  } catch (...) {
    if (desc != nullptr) cudnnDestroyDropoutDescriptor(desc);
    cuda::device_free(states);
    throw;
  }
  c.descriptors.emplace(key, desc);
  return desc;
}

void check_rate(float rate) {
  if (!(rate >= 0.0f && rate < 1.0f))
    throw std::invalid_argument("dropout: rate " + std::to_string(rate) + " is not in [0, 1)");
}

bool expressible(int64_t n, float rate, size_t reserve_bytes) {
  return cuda::detail::fits_int(n) && rate > 0.0f && reserve_bytes > 0;
}

}  // namespace

size_t dropout_reserve_bytes(int64_t n) {
  if (!cuda::detail::fits_int(n)) return 0;
  const TensorDesc desc(static_cast<int>(n), 1, 1, 1);
  size_t bytes = 0;
  CXR_CUDNN_CHECK(cudnnDropoutGetReserveSpaceSize(desc.get(), &bytes));
  return bytes;
}

void dropout_forward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* x, float* y, void* reserve,
                     size_t reserve_bytes) {
  check_rate(rate);
  if (!expressible(n, rate, reserve_bytes)) return cuda::dropout_forward(n, rate, seed, stream, x, y);
  const cudnnDropoutDescriptor_t dropout = dropout_descriptor(rate, seed);
  const TensorDesc desc(static_cast<int>(n), 1, 1, 1);
  CXR_CUDNN_CHECK(cudnnDropoutForward(cuda::detail::cudnn_handle(), dropout, desc.get(), x, desc.get(), y, reserve,
                                      reserve_bytes));
}

void dropout_backward(int64_t n, float rate, uint64_t seed, uint64_t stream, const float* dy, float* dx,
                      void* reserve, size_t reserve_bytes) {
  check_rate(rate);
  if (!expressible(n, rate, reserve_bytes)) return cuda::dropout_backward(n, rate, seed, stream, dy, dx);
  const cudnnDropoutDescriptor_t dropout = dropout_descriptor(rate, seed);
  const TensorDesc desc(static_cast<int>(n), 1, 1, 1);
  CXR_CUDNN_CHECK(cudnnDropoutBackward(cuda::detail::cudnn_handle(), dropout, desc.get(), dy, desc.get(), dx,
                                       reserve, reserve_bytes));
}

}  // namespace cxr::kernels::vendor
