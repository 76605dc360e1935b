// kernels/cuda/pinned_staging.h
#include "kernels/cuda/pinned_staging.h"

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda {

PinnedStaging::PinnedStaging(int device, size_t bytes) : bytes_(bytes) {
  set_device(device);
  host_ = pinned_host_alloc(bytes);
  try {
    // No timing: the event only orders, and timing-free events are cheaper to record and wait on.
    CXR_CUDA_CHECK(cudaEventCreateWithFlags(&uploaded_, cudaEventDisableTiming));
  } catch (...) {
    pinned_host_free(host_);
    throw;
  }
}

PinnedStaging::~PinnedStaging() {
  // A destructor must not throw: after a device fault these calls fail too, and the fault has already
  // been (or will be) reported by the call that met it. An event never recorded is complete.
  (void)cudaEventSynchronize(uploaded_);
  (void)cudaEventDestroy(uploaded_);
  (void)cudaFreeHost(host_);
}

void PinnedStaging::wait_until_free() const { CXR_CUDA_CHECK(cudaEventSynchronize(uploaded_)); }

void PinnedStaging::upload(void* device_dst, size_t offset, size_t bytes) {
  if (offset > bytes_ || bytes > bytes_ - offset)
    throw std::out_of_range("PinnedStaging::upload: bytes [" + std::to_string(offset) + ", " +
                            std::to_string(offset + bytes) + ") outside a buffer of " + std::to_string(bytes_));
  copy_host_to_device(device_dst, static_cast<const char*>(host_) + offset, bytes);
  CXR_CUDA_CHECK(cudaEventRecord(uploaded_, stream()));
}

}  // namespace cxr::kernels::cuda
