// The CUDA runtime as cxrnet uses it: which GPUs there are, the one stream per device that every
// kernel, copy, cuDNN and cuBLAS call is queued on, a caching device allocator, and copies.
//
// Why one stream: work queued on a single stream runs in order, so a block freed after its last
// kernel was queued can be handed to the next allocation at once (the next user's kernels run
// later on the same stream), and the whole training step can later be captured as a CUDA graph.
//
// Binaries link the CUDA runtime, never the driver, so they start on machines with no GPU or no
// driver; there device_count() is 0 and everything else that needs a device throws a clear message.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

namespace cxr::kernels::cuda {

// Number of usable GPUs. Any CUDA error (no driver, driver too old, no device) counts as "no GPU":
// returns 0 and never throws. Probed once per process.
int device_count();
bool available();  // device_count() > 0

// Makes `index` the current device of the calling thread; throws when it is out of range.
void set_device(int index);

// Device `index`'s global memory in bytes (what cudaDeviceProp calls totalGlobalMem).
size_t total_memory(int index);

// One paragraph for logs and reports: every device's name, SM count, memory, compute capability,
// the CUDA runtime and driver versions, and the cuDNN and cuBLAS versions.
std::string device_report();

// The stream of the current device that all our work goes on (created on first use).
cudaStream_t stream();

// Caching allocator. Blocks are rounded up (kernels/cuda/block_size.h) and kept for reuse when
// freed, so a steady-state training step makes no cudaMalloc/cudaFree. On out-of-memory the cache is
// released and the allocation tried once more; then it throws a message naming `what` (the tensor),
// the size asked and the device's free/total memory. device_alloc(0, ...) returns nullptr and
// device_free(nullptr) does nothing.
void* device_alloc(size_t bytes, const std::string& what);
void device_free(void* ptr);  // the block goes back to the cache, reusable by work queued after this call
void empty_cache();           // cudaFree every cached block (synchronises the device)

// Over all devices together. bytes_in_use counts whole blocks (block_size.h's size classes, up to 25%
// above a request of more than 1 MiB); requested_bytes_in_use what device_alloc was asked for, which
// PyTorch's memory_stats() calls requested_bytes.
struct AllocatorStats {
  size_t cuda_malloc_calls = 0, cuda_free_calls = 0, bytes_in_use = 0, bytes_cached = 0;
  size_t requested_bytes_in_use = 0;
  size_t peak_bytes_in_use = 0, peak_requested_bytes_in_use = 0;  // since reset_peak_bytes_in_use()
};
AllocatorStats allocator_stats();
void reset_peak_bytes_in_use();  // both peaks start again from what is in use now

// Page-locked host memory: needed for copies that overlap with compute. Not cached.
void* pinned_host_alloc(size_t bytes);
void pinned_host_free(void* ptr);

// Copies on stream(). A host-to-device copy from pinned memory reads `src` later, when the stream
// gets there: keep it unchanged until then. From ordinary (pageable) memory `src` may be reused on return.
void copy_host_to_device(void* dst, const void* src, size_t bytes);  // async
void copy_device_to_host(void* dst, const void* src, size_t bytes);  // waits for stream(): the host needs the data
void copy_device_to_device(void* dst, const void* src, size_t bytes);  // async

// Waits for everything queued on stream() and reports any error it raised.
void synchronize();

}  // namespace cxr::kernels::cuda
