// The caching device allocator (device_alloc, device_free, empty_cache, allocator_stats,
// reset_peak_bytes_in_use).
//
// cudaMalloc and cudaFree are slow and cudaFree synchronises the whole device, so freed blocks are
// kept in per-(device, size class) free lists and handed out again. Reuse needs no event or fence:
// all our work runs on one stream per device, so whatever is queued after device_free() runs after
// the freed block's last user. Blocks are never split or merged; the size classes of
// kernels/cuda/block_size.h keep the slack small instead.
#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/cuda/block_size.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/current_device.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda {
namespace {

// No GPU has 4 EiB: larger requests are refused before rounding could overflow.
constexpr size_t kLargestRequest = size_t{1} << 62;

struct Block {
  size_t size = 0;
  int device = 0;
  size_t requested = 0;  // what device_alloc was asked for
};

struct Allocator {
  std::mutex mutex;
  std::unordered_map<void*, Block> in_use;
  std::map<std::pair<int, size_t>, std::vector<void*>> cached;  // (device, block size) -> free blocks
  AllocatorStats stats;
};

// Never destroyed: tensors held by static objects may be freed after other statics are gone.
Allocator& allocator() {
  static auto* instance = new Allocator;
  return *instance;
}

void release_cached_blocks(Allocator& a) {  // call with a.mutex held
  for (auto& [key, blocks] : a.cached) {
    for (void* ptr : blocks) {
      CXR_CUDA_CHECK(cudaFree(ptr));
      ++a.stats.cuda_free_calls;
      a.stats.bytes_cached -= key.second;
    }
  }
  a.cached.clear();
}

void count_in_use(Allocator& a, size_t block, size_t requested) {  // call with a.mutex held
  a.stats.bytes_in_use += block;
  a.stats.requested_bytes_in_use += requested;
  a.stats.peak_bytes_in_use = std::max(a.stats.peak_bytes_in_use, a.stats.bytes_in_use);
  a.stats.peak_requested_bytes_in_use = std::max(a.stats.peak_requested_bytes_in_use, a.stats.requested_bytes_in_use);
}

[[noreturn]] void throw_out_of_memory(const Allocator& a, const std::string& what, size_t bytes, size_t block,
                                      int device, cudaError_t status) {
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
  std::string message = "CUDA out of memory: cannot allocate '" + what + "', " + detail::format_bytes(bytes) +
                        " (" + std::to_string(bytes) + " bytes";
  if (block != bytes) message += ", a block of " + std::to_string(block);
  message += ") on device " + std::to_string(device) + ": " + detail::format_bytes(free_bytes) + " free of " +
             detail::format_bytes(total_bytes) + "; cxrnet tensors hold " + detail::format_bytes(a.stats.bytes_in_use) +
             " (" + cudaGetErrorString(status) + ")";
  throw std::runtime_error(message);
}

}  // namespace

void* device_alloc(size_t bytes, const std::string& what) {
  if (bytes == 0) return nullptr;
  int device = 0;
  try {
    device = detail::current_device("cxr::kernels::cuda::device_alloc");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("cannot allocate '" + what + "' (" + std::to_string(bytes) + " bytes): " + e.what());
  }
  Allocator& a = allocator();
  std::lock_guard lock(a.mutex);
  if (bytes > kLargestRequest) throw_out_of_memory(a, what, bytes, bytes, device, cudaErrorMemoryAllocation);
  const size_t block = round_block_size(bytes);

  auto hit = a.cached.find({device, block});
  if (hit != a.cached.end() && !hit->second.empty()) {
    void* ptr = hit->second.back();
    hit->second.pop_back();
    a.stats.bytes_cached -= block;
    count_in_use(a, block, bytes);
    a.in_use[ptr] = Block{block, device, bytes};
    return ptr;
  }

  void* ptr = nullptr;
  cudaError_t status = cudaMalloc(&ptr, block);
  ++a.stats.cuda_malloc_calls;
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // out-of-memory is not sticky: clear it so later checks do not trip on it
    release_cached_blocks(a);
    status = cudaMalloc(&ptr, block);
    ++a.stats.cuda_malloc_calls;
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw_out_of_memory(a, what, bytes, block, device, status);
    }
  }
  if (status != cudaSuccess) {
    const std::string call = "cudaMalloc for '" + what + "'";
    detail::throw_cuda_error(status, call.c_str(), __FILE__, __LINE__);
  }
  count_in_use(a, block, bytes);
  a.in_use[ptr] = Block{block, device, bytes};
  return ptr;
}

void device_free(void* ptr) {
  if (ptr == nullptr) return;
  Allocator& a = allocator();
  std::lock_guard lock(a.mutex);
  auto it = a.in_use.find(ptr);
  if (it == a.in_use.end())
    throw std::invalid_argument(
        "cxr::kernels::cuda::device_free: pointer was not returned by device_alloc, or was freed twice");
  const Block block = it->second;
  a.in_use.erase(it);
  a.cached[{block.device, block.size}].push_back(ptr);
  a.stats.bytes_in_use -= block.size;
  a.stats.requested_bytes_in_use -= block.requested;
  a.stats.bytes_cached += block.size;
}

void empty_cache() {
  Allocator& a = allocator();
  std::lock_guard lock(a.mutex);
  release_cached_blocks(a);
}

AllocatorStats allocator_stats() {
  Allocator& a = allocator();
  std::lock_guard lock(a.mutex);
  return a.stats;
}

void reset_peak_bytes_in_use() {
  Allocator& a = allocator();
  std::lock_guard lock(a.mutex);
  a.stats.peak_bytes_in_use = a.stats.bytes_in_use;
  a.stats.peak_requested_bytes_in_use = a.stats.requested_bytes_in_use;
}

}  // namespace cxr::kernels::cuda
