#include "engine/storage.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

#include "engine/error.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/runtime.h"
#endif

namespace cxr {
namespace {

// A training step allocates and frees the same large activations every time. By default glibc
// serves big blocks with fresh mmap'd pages and hands a freed heap top back to the OS, so every
// step paid page faults and page zeroing again (~4% of experiment 1's CPU step, by perf). With
// these two settings the next step reuses the memory the last one freed; the process keeps its peak
// footprint, as any training loop's allocator does. 32 MiB is glibc's largest mmap threshold.
const bool reuse_freed_cpu_memory = [] {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}();

}  // namespace

Storage::Storage(size_t count, Device device, const std::string& what) : count_(count), device_(device) {
  if (count == 0) return;
  const size_t bytes = count * sizeof(float);
  if (device.is_cpu()) {
    (void)reuse_freed_cpu_memory;
    // 64-byte alignment: whole cache lines, and what AVX-512 loads like.
    data_ = static_cast<float*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (!data_) throw std::bad_alloc();
    return;
  }
#ifdef CXR_WITH_CUDA
  kernels::cuda::set_device(device.index);
  data_ = static_cast<float*>(kernels::cuda::device_alloc(bytes, what));
#else
  CXR_CHECK(false, "tensor '" << what << "': this cxrnet was built without CUDA (rebuild with nvcc on PATH)");
#endif
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    std::free(data_);
    return;
  }
#ifdef CXR_WITH_CUDA
  kernels::cuda::device_free(data_);
#endif
}

}  // namespace cxr
