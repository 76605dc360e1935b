#include "engine/storage.h"

#include <malloc.h>

#include <atomic>
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

// cpu_tensor_bytes(): a Storage may be made or freed on any thread (training makes its tensors on
// one, but nothing requires it), so atomics; relaxed, as they order nothing else.
std::atomic<int64_t> cpu_in_use{0}, cpu_peak{0};

void raise_cpu_peak_to(int64_t now) {
  int64_t peak = cpu_peak.load(std::memory_order_relaxed);
  while (now > peak && !cpu_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

void count_cpu_allocation(int64_t bytes) {
  raise_cpu_peak_to(cpu_in_use.fetch_add(bytes, std::memory_order_relaxed) + bytes);
}

size_t cpu_block_bytes(size_t count) { return (count * sizeof(float) + 63) / 64 * 64; }

}  // namespace

TensorBytes cpu_tensor_bytes() {
  return {cpu_in_use.load(std::memory_order_relaxed), cpu_peak.load(std::memory_order_relaxed)};
}

void reset_cpu_tensor_peak() {
  cpu_peak.store(cpu_in_use.load(std::memory_order_relaxed), std::memory_order_relaxed);
  raise_cpu_peak_to(cpu_in_use.load(std::memory_order_relaxed));  // an allocation between the two lines
}

Storage::Storage(size_t count, Device device, const std::string& what) : count_(count), device_(device) {
  if (count == 0) return;
  if (device.is_cpu()) {
    (void)reuse_freed_cpu_memory;
    // 64-byte alignment: whole cache lines, and what AVX-512 loads like.
    data_ = static_cast<float*>(std::aligned_alloc(64, cpu_block_bytes(count)));
    if (!data_) throw std::bad_alloc();
    count_cpu_allocation(static_cast<int64_t>(cpu_block_bytes(count)));
    return;
  }
#ifdef CXR_WITH_CUDA
  kernels::cuda::set_device(device.index);
  data_ = static_cast<float*>(kernels::cuda::device_alloc(count * sizeof(float), what));
#else
  CXR_CHECK(false, "tensor '" << what << "': this cxrnet was built without CUDA (rebuild with nvcc on PATH)");
#endif
}

Storage::~Storage() {
  if (!data_) return;
  if (device_.is_cpu()) {
    std::free(data_);
    cpu_in_use.fetch_sub(static_cast<int64_t>(cpu_block_bytes(count_)), std::memory_order_relaxed);
    return;
  }
#ifdef CXR_WITH_CUDA
  kernels::cuda::device_free(data_);
#endif
}

}  // namespace cxr
